//! Loading a plugin: check it without compiling (`engine::precheck`), take
//! its compiled code from the cache, or leave it pending for a compile
//! elsewhere (the reactor runs `brum __compile` in a child process; `brum
//! plugins` and `--strict-plugins` compile here, since they wait anyway);
//! then admit it: link, ask its name, check the name (not a switched-on
//! built-in's, not another loaded plugin's), find its settings
//! (`[plugin.DECLARED-NAME]`, else `[plugin.FILE-STEM]`), instantiate and
//! configure it.
//!
//! Also what settings tables named no plugin, once every plugin is known.

use std::path::{Path, PathBuf};
use std::time::Instant;

use wasmtime::Store;
use wasmtime::component::Component;

use super::cache::{Cache, Entry, Key};
use super::calls::reason;
use super::engine::{self, LoadError, Outline};
use super::host::{PluginHost, Slot, Status};
use super::sandbox::State;
use super::{BUILTINS, Info, Notice, Origin, PluginSpec, bindings};
use crate::config::{ConfigError, PluginConfig, PluginTable};

/// A plugin waiting for its compiled code.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: u64,
    pub spec: PluginSpec,
    /// Its file name (or built-in name) until it says its own.
    pub name: String,
    pub source: String,
    key: Key,
    pub since: Instant,
}

/// Why a component could not be compiled; `lasting` when the component
/// itself is at fault (it is refused every time: cached as such).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: String,
    pub lasting: bool,
}

/// What became of a plugin given to [`PluginHost::begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begun {
    Loaded,
    Rejected(String),
    /// Not compiled yet: compile it (`id`), then [`PluginHost::compiled`].
    Compile(u64),
}

/// The host's loading state: the session's plugin settings and cache, the
/// plugins waiting for a compile, and the names seen.
#[derive(Debug, Default)]
pub(super) struct Loading {
    config: PluginConfig,
    /// Names of the built-ins switched on in this session.
    builtins_on: Vec<&'static str>,
    cache: Option<Cache>,
    /// A cache made for this session only (no usable user cache), removed
    /// at the end.
    session_cache: Option<PathBuf>,
    pending: Vec<Pending>,
    next_id: u64,
    /// Names a table may have: built-ins, file stems, declared names.
    names: Vec<String>,
    /// Plugins refused before they said their name (for hints).
    unnamed: Vec<String>,
    /// The cache keys of the files begun, and their sources: the same file
    /// twice is one plugin twice.
    seen: Vec<(String, String)>,
}

impl Drop for Loading {
    fn drop(&mut self) {
        if let Some(d) = &self.session_cache {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// A plugin's file stem or built-in name.
pub fn file_name(origin: &Origin) -> String {
    match origin {
        Origin::Builtin(b) => b.name.to_string(),
        Origin::File(p) => p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
    }
}

impl PluginHost {
    /// The session's plugin settings (`[plugin.NAME]` tables) and which
    /// built-ins are on. Without this no plugin gets settings.
    pub fn set_config(&mut self, config: &PluginConfig, builtins_on: Vec<&'static str>) {
        self.loading.config = config.clone();
        self.loading.builtins_on = builtins_on;
    }

    /// Uses the compiled-component cache under `base`; without one (or if
    /// it is not usable: another user's, not writable) a private folder for
    /// this session only, since compiling happens in another process.
    pub fn set_cache(&mut self, base: Option<&Path>) {
        self.loading.cache = base.and_then(Cache::open);
        if self.loading.cache.is_none() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir().join(format!("brum-cache-{}-{nanos}", std::process::id()));
            self.loading.cache = Cache::open(&dir);
            self.loading.session_cache = Some(dir);
        }
    }

    /// The cache folder (to hand to a compiling child).
    pub fn cache_base(&self) -> Option<&Path> {
        self.loading.cache.as_ref().map(Cache::base)
    }

    /// Plugins waiting for their compiled code.
    pub fn pending(&self) -> &[Pending] {
        &self.loading.pending
    }

    /// Starts loading a plugin (before any process runs): checked without
    /// compiling, then loaded from the cache, refused (now or, by the cache,
    /// earlier), or left pending.
    pub fn begin(&mut self, spec: &PluginSpec) -> Begun {
        let start = Instant::now();
        let source = spec.origin.describe();
        let name = file_name(&spec.origin);
        if let Origin::File(_) = spec.origin
            && !self.loading.names.contains(&name)
        {
            self.loading.names.push(name.clone());
        }
        let bytes: std::borrow::Cow<'_, [u8]> = match &spec.origin {
            Origin::Builtin(b) => b.wasm.into(),
            Origin::File(p) => match std::fs::read(p) {
                Ok(b) => b.into(),
                Err(e) => return self.refuse(name, &source, format!("cannot read {}: {e}", p.display())),
            },
        };
        if let Err(e) = engine::precheck(&source, &bytes) {
            return self.refuse(name, &source, e.to_string());
        }
        let key = match &spec.origin {
            Origin::Builtin(b) => Key::of_digest(&self.engine, b.wasm.len(), b.digest),
            Origin::File(_) => Key::new(&self.engine, &bytes),
        };
        if let Some((_, other)) = self.loading.seen.iter().find(|(k, _)| *k == key.compiled) {
            let reason = format!("{source} is the same plugin as {other} (identical files): remove one of them");
            return self.refuse(name, &source, reason);
        }
        self.loading.seen.push((key.compiled.clone(), source.clone()));
        let entry = self.loading.cache.as_ref().map(|c| c.get(&self.engine, &key)).unwrap_or(Entry::Missing);
        match entry {
            Entry::Compiled(component) => self.admit(spec, component, true, start, false),
            Entry::Rejected(reason) => self.refuse(name, &source, reason),
            Entry::Missing => {
                let id = self.loading.next_id;
                self.loading.next_id += 1;
                self.loading.pending.push(Pending { id, spec: spec.clone(), name, source, key, since: start });
                Begun::Compile(id)
            }
        }
    }

    /// The compile of pending plugin `id` ended: `Ok` when its code is in
    /// the cache, else why not. Loads it (it then catches up on the lines
    /// it missed) or reports it refused.
    pub fn compiled(&mut self, id: u64, result: Result<(), String>) -> Begun {
        let Some(at) = self.loading.pending.iter().position(|p| p.id == id) else {
            return Begun::Rejected("unknown compile".into());
        };
        let p = self.loading.pending.remove(at);
        if let Err(reason) = result {
            return self.refuse(p.name, &p.source, reason);
        }
        let entry = self.loading.cache.as_ref().map(|c| c.get(&self.engine, &p.key)).unwrap_or(Entry::Missing);
        match entry {
            Entry::Compiled(component) => self.admit(&p.spec, component, false, p.since, true),
            Entry::Rejected(reason) => self.refuse(p.name, &p.source, reason),
            Entry::Missing => self.refuse(
                p.name,
                &p.source,
                format!("{}: its compiled code is not in the cache after compiling", p.source),
            ),
        }
    }

    /// Loads a plugin now, compiling it here if the cache does not have it
    /// (and filling the cache). For `brum plugins`, `--strict-plugins`, and
    /// tools; a session compiles in a child process instead.
    pub fn load(&mut self, spec: &PluginSpec) -> Result<(), String> {
        let id = match self.begin(spec) {
            Begun::Loaded => return Ok(()),
            Begun::Rejected(r) => return Err(r),
            Begun::Compile(id) => id,
        };
        let Some(p) = self.loading.pending.iter().find(|p| p.id == id).cloned() else {
            return Err("lost a pending plugin".into());
        };
        let at = self.loading.pending.iter().position(|q| q.id == id).unwrap_or(0);
        let result =
            read_wasm(&p.spec.origin).and_then(|wasm| self.compile_to_cache(&p.source, &wasm).map_err(|r| r.reason));
        match result {
            Ok(component) => {
                self.loading.pending.remove(at);
                match self.admit(&p.spec, component, false, p.since, false) {
                    Begun::Loaded => Ok(()),
                    Begun::Rejected(r) => Err(r),
                    Begun::Compile(_) => Err("compiled twice".into()),
                }
            }
            Err(reason) => {
                self.loading.pending.remove(at);
                match self.refuse(p.name, &p.source, reason) {
                    Begun::Rejected(r) => Err(r),
                    _ => Err("refused".into()),
                }
            }
        }
    }

    /// Compiles and links `wasm`, storing the code in the cache, or the
    /// refusal when the component itself is at fault (so no later start
    /// compiles it again to refuse it again). What `brum __compile` runs.
    pub fn compile_to_cache(&mut self, what: &str, wasm: &[u8]) -> Result<Component, Refusal> {
        let key = Key::new(&self.engine, wasm);
        let checked = engine::compile(&self.engine, what, wasm)
            .map_err(|e| e.to_string())
            .and_then(|component| self.link(what, &component).map(|_| component));
        let Some(cache) = self.loading.cache.as_ref() else {
            return checked.map_err(|reason| Refusal { reason, lasting: true });
        };
        let result = match checked {
            Ok(component) => match cache.put(&key, &component) {
                Ok(()) => Ok(component),
                Err(e) => Err(Refusal {
                    reason: format!("cannot store the compiled {what} in {}: {e}", cache.base().display()),
                    lasting: false,
                }),
            },
            Err(reason) => {
                let _ = cache.put_rejection(&key, &reason);
                Err(Refusal { reason, lasting: true })
            }
        };
        cache.clean(Some(&key), super::cache::MAX_AGE, super::cache::MAX_BYTES);
        result
    }

    /// The component linked against the sandbox and checked to be of the
    /// plugin world.
    fn link(&self, what: &str, component: &Component) -> Result<bindings::PluginPre<State>, String> {
        let pre = self.linker.instantiate_pre(component).map_err(|e| format!("{what}: cannot be linked: {e:#}"))?;
        bindings::PluginPre::new(pre)
            .map_err(|e| LoadError::WrongWorld { what: what.to_string(), detail: format!("{e:#}") }.to_string())
    }

    fn refuse(&mut self, name: String, source: &str, reason: String) -> Begun {
        if !self.loading.unnamed.iter().any(|s| s == source) {
            self.loading.unnamed.push(source.to_string());
        }
        self.reject(name, source, reason)
    }

    fn reject(&mut self, plugin: String, source: &str, reason: String) -> Begun {
        self.notices.push(Notice::Rejected { plugin, source: source.to_string(), reason: reason.clone() });
        Begun::Rejected(reason)
    }

    /// Links, names, configures and instantiates a compiled plugin.
    fn admit(
        &mut self,
        spec: &PluginSpec,
        component: Component,
        cached: bool,
        since: Instant,
        catch_up: bool,
    ) -> Begun {
        let source = spec.origin.describe();
        let stem = file_name(&spec.origin);
        let pre = match self.link(&source, &component) {
            Ok(p) => p,
            Err(reason) => return self.refuse(stem, &source, reason),
        };
        let info = match self.describe_only(&pre) {
            Ok(i) => i,
            Err(reason) => return self.refuse(stem, &source, format!("{source}: {reason}")),
        };
        let name = info.name.clone();
        if !self.loading.names.contains(&name) {
            self.loading.names.push(name.clone());
        }
        let settings = match self.settings_for(&spec.origin, &name, &stem, &source) {
            Ok(Some(s)) => s,
            Ok(None) => return Begun::Loaded, // switched off by its table
            Err(reason) => return self.reject(name, &source, reason),
        };
        let mut slot = Slot {
            name: name.clone(),
            source: source.clone(),
            rank: spec.rank,
            pre,
            live: None,
            info,
            settings,
            status: Status::Active,
            failures: 0,
            failed_at: std::collections::VecDeque::new(),
            calls: 0,
            busy: std::time::Duration::ZERO,
            want_procs: Vec::new(),
            want_stdout: true,
            want_stderr: true,
            tick_at_ms: None,
            max_seq: 0,
        };
        // one catching up learns the processes from the session's journal,
        // in order, with their lines: not from what runs now
        let running = if catch_up { Some(std::mem::take(&mut self.running)) } else { None };
        if let Some(r) = &running {
            self.running = vec![false; r.len()];
        }
        let result = self.instantiate(&mut slot);
        if let Some(r) = running {
            self.running = r;
        }
        if let Err(reason) = result {
            return self.reject(name, &source, format!("{source}: {reason}"));
        }
        if catch_up {
            slot.status = Status::CatchingUp;
        }
        self.notices.push(Notice::Loaded {
            plugin: name,
            version: slot.info.version.clone(),
            source,
            filter: slot.info.filter,
            cached,
            load_ms: since.elapsed().as_millis() as u64,
        });
        let at = self.slots.partition_point(|s| s.rank <= slot.rank);
        self.slots.insert(at, slot);
        Begun::Loaded
    }

    /// Instantiates the plugin once to ask its name.
    fn describe_only(&self, pre: &bindings::PluginPre<State>) -> Result<Info, String> {
        let _rt = self.rt.enter();
        let mut store = Store::new(&self.engine, State::new(self.budgets.memory));
        store.limiter(|s| &mut s.limits);
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let inst = pre.instantiate(&mut store).map_err(|e| format!("cannot be instantiated: {}", reason(&e)))?;
        store.set_fuel(self.budgets.fuel).map_err(|e| e.to_string())?;
        let info = inst.call_describe(&mut store).map_err(|e| format!("describe failed: {}", reason(&e)))?;
        if info.name.is_empty() || info.name.len() > 64 {
            return Err("describe returned an empty or over-long name".into());
        }
        Ok(info)
    }

    /// The settings of a plugin named `name` whose file stem is `stem`:
    /// `Ok(None)` when its table switches it off; an error when the name is
    /// taken or the settings are given twice.
    fn settings_for(
        &self,
        origin: &Origin,
        name: &str,
        stem: &str,
        source: &str,
    ) -> Result<Option<Vec<(String, String)>>, String> {
        let builtin = BUILTINS.iter().find(|b| b.name == name);
        if let (Origin::File(_), Some(b)) = (origin, builtin)
            && self.loading.builtins_on.contains(&b.name)
        {
            return Err(format!(
                "{source} calls itself `{name}`, the name of a built-in plugin: rename it (its describe() \
                 returns the name), or switch the built-in off with [plugin.{name}] enabled = false"
            ));
        }
        if let Some(other) = self.slots.iter().find(|s| s.name == name) {
            return Err(format!("two plugins are named `{name}`: {} and {source}; remove one of them", other.source));
        }
        let by_name = self.loading.config.table(name);
        let by_stem = if let Origin::File(_) = origin { self.loading.config.table(stem) } else { None };
        let table: Option<&PluginTable> = match (by_name, by_stem) {
            (Some(a), Some(b)) if a.name != b.name => {
                return Err(format!(
                    "{source}: its settings are given twice, in [plugin.{name}] (its name) and [plugin.{stem}] (its \
                     file name); keep [plugin.{name}]"
                ));
            }
            (a, b) => a.or(b),
        };
        // for a built-in's name, `enabled` switches the built-in
        let switches_it = builtin.is_none() || matches!(origin, Origin::Builtin(_));
        match table {
            Some(t) if !t.enabled && switches_it => Ok(None),
            Some(t) => Ok(Some(t.settings.clone())),
            None => Ok(Some(Vec::new())),
        }
    }

    /// Once no plugin is pending: every `[plugin.NAME]` table that names no
    /// plugin (not a built-in, a file stem, or a name a plugin declared),
    /// as configuration mistakes listing the plugins there are.
    pub fn unmatched_tables(&self) -> Vec<ConfigError> {
        if !self.loading.pending.is_empty() {
            return Vec::new();
        }
        let cfg = &self.loading.config;
        let mut errors = Vec::new();
        for t in &cfg.tables {
            let known = BUILTINS.iter().any(|b| b.name == t.name) || self.loading.names.contains(&t.name);
            if known {
                continue;
            }
            let mut loaded: Vec<String> = self
                .slots
                .iter()
                .map(|s| match s.source.strip_prefix("builtin:") {
                    Some(_) => s.name.clone(),
                    None => format!("{} ({})", s.name, s.source),
                })
                .collect();
            if loaded.is_empty() {
                loaded.push("none".into());
            }
            let mut msg = format!(
                "no plugin is named `{}`; loaded: {}. A table is named after the name a plugin declares (shown \
                 by `brum plugins`) or its file name without .wasm",
                t.name,
                loaded.join(", ")
            );
            if !self.loading.unnamed.is_empty() {
                msg.push_str(&format!("; not loaded (see their errors): {}", self.loading.unnamed.join(", ")));
            }
            errors.push(cfg.table_error(t, msg));
        }
        errors
    }
}

/// The wasm of a plugin.
fn read_wasm(origin: &Origin) -> Result<Vec<u8>, String> {
    match origin {
        Origin::Builtin(b) => Ok(b.wasm.to_vec()),
        Origin::File(p) => std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display())),
    }
}

/// Checks one `.wasm` file as `brum plugins check` does: reads its
/// sections, compiles it (or takes it from the cache under `cache`, and
/// fills it), links, instantiates and describes it. Returns its info and
/// its imports.
pub fn check_file(path: &Path, cache: Option<&Path>) -> Result<(Info, Vec<String>), String> {
    let mut host = PluginHost::new(super::Budgets::default(), Vec::new()).map_err(|e| e.to_string())?;
    host.set_cache(cache);
    let what = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let Outline { imports, .. } = engine::precheck(&what, &bytes).map_err(|e| e.to_string())?;
    host.load(&PluginSpec::new(Origin::File(path.to_path_buf())))?;
    let info = host.slots.first().map(|s| s.info.clone()).ok_or("switched off")?;
    Ok((info, imports))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(cache: &Path) -> PluginHost {
        let mut h = PluginHost::new(super::super::Budgets::default(), Vec::new()).expect("host");
        h.set_cache(Some(cache));
        h
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(super::super::fixture_wasm_dir()).join(format!("{name}.wasm"))
    }

    #[test]
    fn a_plugin_compiled_once_is_loaded_from_the_cache_and_a_refusal_is_not_compiled_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let spec = PluginSpec::new(Origin::File(fixture("misbehave")));
        let mut first = host(tmp.path());
        let Begun::Compile(id) = first.begin(&spec) else { panic!("an empty cache has nothing") };
        assert_eq!(first.pending().len(), 1);
        let wasm = std::fs::read(fixture("misbehave")).expect("read");
        first.compile_to_cache("misbehave.wasm", &wasm).expect("compiles");
        assert_eq!(first.compiled(id, Ok(())), Begun::Loaded);
        assert!(first.pending().is_empty());
        assert_eq!(first.catching_up("misbehave"), Some(0), "loaded while running: it catches up");
        assert_eq!(host(tmp.path()).begin(&spec), Begun::Loaded, "from the cache, at once");

        // valid sections, an invalid function: refused when compiled
        let mut broken = wasm.clone();
        let module = b"\0asm\x01\0\0\0\x01\x05\x01\x60\0\x01\x7f\x03\x02\x01\0\x0a\x05\x01\x03\0\x6a\x0b";
        broken.push(1);
        broken.push(module.len() as u8);
        broken.extend_from_slice(module);
        let file = tmp.path().join("broken.wasm");
        std::fs::write(&file, &broken).expect("write");
        let spec = PluginSpec::new(Origin::File(file.clone()));
        let mut h = host(tmp.path());
        let Begun::Compile(id) = h.begin(&spec) else { panic!("not checked by compiling yet") };
        let refusal = h.compile_to_cache(&file.display().to_string(), &broken).expect_err("invalid");
        assert!(refusal.lasting && refusal.reason.contains("is not valid WebAssembly"), "{}", refusal.reason);
        assert_eq!(h.compiled(id, Err(refusal.reason.clone())), Begun::Rejected(refusal.reason.clone()));
        assert_eq!(host(tmp.path()).begin(&spec), Begun::Rejected(refusal.reason), "no second compile");
    }

    #[test]
    fn settings_are_found_by_declared_name_or_stem_and_unmatched_tables_are_listed() {
        use crate::config::PluginTable;
        let tmp = tempfile::tempdir().expect("tempdir");
        let table = |name: &str, line: usize| PluginTable {
            name: name.into(),
            enabled: true,
            settings: vec![("mode".into(), "stderr".into())],
            line,
            column: 1,
        };
        let cfg = PluginConfig {
            file: Some(PathBuf::from("/p/brum.toml")),
            tables: vec![table("misbehave", 3), table("nobody", 7), table("urls", 9)],
            ..PluginConfig::default()
        };
        let mut h = host(tmp.path());
        h.set_config(&cfg, vec!["errors"]);
        h.load(&PluginSpec::new(Origin::File(fixture("misbehave")))).expect("loads");
        assert_eq!(h.slots[0].settings, [("mode".to_string(), "stderr".to_string())]);
        let errors: Vec<String> = h.unmatched_tables().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("/p/brum.toml:7:1: plugin.nobody: no plugin is named `nobody`; loaded: misbehave ("),
            "{}",
            errors[0]
        );
    }
}
