//! The on-disk cache of compiled components, and of components that were
//! refused when compiled, so that no start-up compiles the same bytes twice
//! (a large component takes seconds to compile; refusing it again would
//! take as long).
//!
//! Deserializing compiled code is `unsafe` (wasmtime runs it as native code
//! and trusts it), so the cache is kept to what brum itself wrote: a 0700
//! folder (tightened if wider, not used if another user owns it), files
//! named by the SHA-256 of the engine's compatibility hash and the wasm
//! bytes, and a file that another user owns or that others may write is
//! compiled again instead of loaded.
//!
//! Bounded: entries unused for [`MAX_AGE`] are removed, and beyond
//! [`MAX_BYTES`] in total the least recently used go first (a cache hit
//! touches its file). Cleaning runs after an entry is written, by whoever
//! compiled it (the `brum __compile` child or `brum plugins`), never in the
//! reactor.

use std::hash::{Hash, Hasher};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Entries not used for this long are removed.
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Total size of the cache beyond which the least recently used entries
/// are removed.
pub const MAX_BYTES: u64 = 512 << 20;
/// Half-written files (a brum killed while writing) older than this are
/// removed.
const STALE_TMP: Duration = Duration::from_secs(3600);

/// Where compiled components are cached: `$BRUM_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/brum`, else `~/.cache/brum`; `None` disables it.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("BRUM_CACHE_DIR") {
        return (!d.is_empty()).then(|| PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("brum"))
}

/// What the cache knows about some wasm bytes.
pub enum Entry {
    Compiled(Component),
    /// Refused when compiled or linked, by this very brum binary: why.
    Rejected(String),
    Missing,
}

/// The names of one component's cache files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// SHA-256 of the engine's compatibility hash, brum's version and the
    /// wasm: the compiled code depends on nothing else.
    pub compiled: String,
    /// Also of this brum binary: whether brum accepts a component depends
    /// on its code (what the sandbox links), not only its version.
    pub rejected: String,
}

/// Feeds what `Hash` writes into SHA-256, to hash the engine's
/// compatibility hash (only `impl Hash`) with the wasm bytes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Never called (`Hash` impls only write); the digest is read instead.
    fn finish(&self) -> u64 {
        0
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Key {
    pub fn new(engine: &Engine, wasm: &[u8]) -> Key {
        Key::of_digest(engine, wasm.len(), &Sha256::digest(wasm).into())
    }

    /// The key of wasm bytes of length `len` whose SHA-256 is `digest`
    /// (a built-in plugin's is computed at build time).
    pub fn of_digest(engine: &Engine, len: usize, digest: &[u8; 32]) -> Key {
        let mut h = Sha256Hasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        (len as u64).hash(&mut h);
        h.0.update(digest);
        let compiled = hex(&h.0.finalize());
        let mut r = Sha256::new();
        r.update(compiled.as_bytes());
        r.update(binary_identity().as_bytes());
        Key { compiled, rejected: hex(&r.finalize()) }
    }
}

/// This brum binary, as far as the file system tells: a rebuilt or
/// reinstalled brum is another one.
fn binary_identity() -> String {
    match std::fs::metadata("/proc/self/exe") {
        Ok(m) => format!("{}:{}:{}:{}.{}", m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()),
        Err(_) => String::new(),
    }
}

/// A usable cache folder.
#[derive(Debug, Clone)]
pub struct Cache {
    /// `base/components`, private to this user.
    dir: PathBuf,
}

impl Cache {
    /// The cache under `base` (`base/components`): created 0700, tightened
    /// to 0700 if wider; `None` (no cache) if that fails or another user
    /// owns it.
    pub fn open(base: &Path) -> Option<Cache> {
        let components = base.join("components");
        for d in [base, components.as_path()] {
            crate::files::private_dir(d).ok()?;
            if std::fs::symlink_metadata(d).ok()?.uid() != rustix::process::geteuid().as_raw() {
                return None;
            }
        }
        Some(Cache { dir: components })
    }

    /// The folder it lives in (`base` as given to [`Cache::open`]).
    pub fn base(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    fn compiled_file(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.cwasm", key.compiled))
    }

    fn rejected_file(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("{}.rejected", key.rejected))
    }

    /// Looks the component up: compiled code (deserialized), a rejection,
    /// or nothing. A hit counts as a use (its file is touched).
    pub fn get(&self, engine: &Engine, key: &Key) -> Entry {
        let file = self.compiled_file(key);
        if let Some(f) = open_trusted(&file) {
            // mapped, not read: no copy, and its pages come from the page
            // cache instead of fresh memory (about 2 ms less per start)
            let checked = format!("/proc/self/fd/{}", f.as_raw_fd());
            // SAFETY: wasmtime runs deserialized code as trusted native code,
            // so the bytes must be what `Component::serialize` produced for
            // this engine. The file mapped is the one `open_trusted` checked
            // (reopened through its descriptor, so it cannot be swapped in
            // between): a regular file owned by this user, not writable by
            // others, in a 0700 folder of this user (checked by `open`) — only
            // this user, brum itself (`put` below), can have written it. Its
            // name is the SHA-256 of this engine's compatibility hash and
            // these exact wasm bytes, so it is this component's code for this
            // engine; and wasmtime checks the header's engine and version
            // again and refuses a mismatch (then the caller compiles). The
            // mapping must not change while it is used: brum never rewrites a
            // cache file in place (`put` renames a new file over it, `clean`
            // unlinks; either leaves a mapped file as it was).
            if let Ok(component) = unsafe { Component::deserialize_file(engine, &checked) } {
                touch(&file);
                return Entry::Compiled(component);
            }
        }
        let file = self.rejected_file(key);
        if let Some(reason) = read_trusted(&file).and_then(|b| String::from_utf8(b).ok()) {
            touch(&file);
            return Entry::Rejected(reason);
        }
        Entry::Missing
    }

    /// Stores compiled code.
    pub fn put(&self, key: &Key, component: &Component) -> std::io::Result<()> {
        let bytes = component.serialize().map_err(|e| std::io::Error::other(format!("{e:#}")))?;
        write_whole(&self.compiled_file(key), &bytes)
    }

    /// Remembers that this binary refuses the component, and why.
    pub fn put_rejection(&self, key: &Key, reason: &str) -> std::io::Result<()> {
        write_whole(&self.rejected_file(key), reason.as_bytes())
    }

    /// Removes what is too old, then the least recently used entries while
    /// the total exceeds `max_bytes`; never the entry `keep` (just
    /// written). Returns the entries removed and the bytes left.
    pub fn clean(&self, keep: Option<&Key>, max_age: Duration, max_bytes: u64) -> (usize, u64) {
        let now = SystemTime::now();
        let kept: Vec<String> =
            keep.map(|k| vec![format!("{}.cwasm", k.compiled), format!("{}.rejected", k.rejected)]).unwrap_or_default();
        let Ok(rd) = std::fs::read_dir(&self.dir) else { return (0, 0) };
        let mut entries: Vec<(SystemTime, u64, PathBuf)> = Vec::new();
        let mut removed = 0;
        for e in rd.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            let age = meta.modified().ok().and_then(|m| now.duration_since(m).ok()).unwrap_or_default();
            let ours = name.ends_with(".cwasm") || name.ends_with(".rejected");
            let tmp = name.contains(".tmp");
            if !meta.is_file() || !(ours || tmp) || kept.contains(&name) {
                continue;
            }
            if (tmp && age > STALE_TMP) || (ours && age > max_age) {
                removed += usize::from(std::fs::remove_file(&path).is_ok());
            } else if ours {
                entries.push((meta.modified().unwrap_or(now), meta.len(), path));
            }
        }
        let kept_bytes: u64 =
            kept.iter().filter_map(|n| std::fs::metadata(self.dir.join(n)).ok()).map(|m| m.len()).sum();
        let mut total: u64 = kept_bytes + entries.iter().map(|e| e.1).sum::<u64>();
        entries.sort_by_key(|e| e.0);
        for (_, len, path) in entries {
            if total <= max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                removed += 1;
                total -= len;
            }
        }
        (removed, total)
    }
}

/// Marks a cache file as just used (its age is since its last use).
fn touch(file: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(file) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Writes `bytes` whole under a private name, then renames it into place,
/// so a concurrent brum never reads half a file.
fn write_whole(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = file.with_extension(format!("tmp{}", std::process::id()));
    let written = crate::files::private_file(&tmp, false)
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes));
    let renamed = written.and_then(|()| std::fs::rename(&tmp, file));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}

/// A cache file opened for reading, if it may be trusted: a regular file
/// (not a link) owned by this user that no one else may write.
fn open_trusted(file: &Path) -> Option<std::fs::File> {
    let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(file).ok()?;
    let meta = f.metadata().ok()?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    (meta.is_file() && ours && meta.mode() & 0o022 == 0).then_some(f)
}

/// The bytes of a cache file, if it may be trusted ([`open_trusted`]).
/// Read from the one open descriptor that was checked, so it cannot be
/// swapped in between.
fn read_trusted(file: &Path) -> Option<Vec<u8>> {
    let mut f = open_trusted(file)?;
    let mut bytes = Vec::with_capacity(f.metadata().ok()?.len() as usize);
    f.read_to_end(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).expect("exists").permissions().mode() & 0o777
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(Path::new(crate::plugins::fixture_wasm_dir()).join("misbehave.wasm")).expect("fixture")
    }

    fn compiled(cache: &Cache, engine: &Engine, key: &Key) -> bool {
        matches!(cache.get(engine, key), Entry::Compiled(_))
    }

    #[test]
    fn the_key_is_a_sha256_of_the_engine_and_the_exact_bytes() {
        let engine = super::super::engine::engine().expect("engine");
        let a = Key::new(&engine, b"\0asm\x0d\0\x01\0one");
        assert_eq!(a.compiled.len(), 64);
        assert!(a.compiled.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a, Key::new(&engine, b"\0asm\x0d\0\x01\0one"));
        assert_ne!(a.compiled, Key::new(&engine, b"\0asm\x0d\0\x01\0onf").compiled);
        assert_ne!(a.compiled, a.rejected, "a rejection is also keyed by this binary");
    }

    #[test]
    fn the_cache_folder_is_made_private_and_tightened_when_wider() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let fresh = tmp.path().join("new/brum");
        let cache = Cache::open(&fresh).expect("usable");
        assert_eq!((mode(&fresh), mode(&cache.dir)), (0o700, 0o700));
        let wide = tmp.path().join("wide");
        std::fs::create_dir_all(wide.join("components")).expect("mkdir");
        for d in [wide.clone(), wide.join("components")] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let cache = Cache::open(&wide).expect("usable");
        assert_eq!((mode(&wide), mode(&cache.dir)), (0o700, 0o700));
    }

    #[test]
    fn a_cache_file_others_may_write_or_a_link_is_not_trusted() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("x.cwasm");
        std::fs::write(&file, b"code").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read_trusted(&file).as_deref(), Some(&b"code"[..]));
        for wide in [0o620, 0o602, 0o666] {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(wide)).expect("chmod");
            assert_eq!(read_trusted(&file), None, "mode {wide:o}");
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let link = tmp.path().join("link.cwasm");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        assert_eq!(read_trusted(&link), None);
    }

    #[test]
    #[ignore = "needs root"]
    fn a_cache_file_another_user_owns_is_not_trusted_as_root() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("x.cwasm");
        std::fs::write(&file, b"code").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(read_trusted(&file).is_some());
        std::os::unix::fs::chown(&file, Some(65534), Some(65534)).expect("chown (needs root)");
        assert_eq!(read_trusted(&file), None);
    }

    #[test]
    fn a_tampered_cache_file_is_not_loaded() {
        let engine = super::super::engine::engine().expect("engine");
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(tmp.path()).expect("cache");
        let wasm = fixture();
        let key = Key::new(&engine, &wasm);
        assert!(matches!(cache.get(&engine, &key), Entry::Missing));
        let component = Component::new(&engine, &wasm).expect("compiles");
        cache.put(&key, &component).expect("put");
        let file = cache.compiled_file(&key);
        assert_eq!(mode(&file), 0o600);
        assert!(compiled(&cache, &engine, &key));
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(!compiled(&cache, &engine, &key));
        cache.put(&key, &component).expect("put");
        assert_eq!(mode(&file), 0o600, "rewritten privately");
        std::fs::write(&file, b"not code").expect("write");
        assert!(!compiled(&cache, &engine, &key));
    }

    #[test]
    fn a_rejection_is_remembered_with_its_reason() {
        let engine = super::super::engine::engine().expect("engine");
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(tmp.path()).expect("cache");
        let key = Key::new(&engine, b"\0asm\x0d\0\x01\0bad");
        cache.put_rejection(&key, "x.wasm: no good").expect("put");
        assert!(matches!(cache.get(&engine, &key), Entry::Rejected(r) if r == "x.wasm: no good"));
    }

    fn aged(path: &Path, ago: Duration) {
        let f = std::fs::OpenOptions::new().write(true).open(path).expect("open");
        f.set_modified(SystemTime::now() - ago).expect("set mtime");
    }

    #[test]
    fn cleaning_removes_old_entries_then_the_least_recently_used_beyond_the_size() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(tmp.path()).expect("cache");
        let file = |n: &str| cache.dir.join(n);
        let day = Duration::from_secs(86_400);
        for (name, age_days) in [("old.cwasm", 40), ("a.cwasm", 3), ("b.cwasm", 2), ("c.rejected", 1)] {
            std::fs::write(file(name), vec![0u8; 1000]).expect("write");
            aged(&file(name), day * age_days);
        }
        std::fs::write(file("x.tmp42"), b"half").expect("write");
        aged(&file("x.tmp42"), Duration::from_secs(7200));
        std::fs::write(file("notes.txt"), b"not ours").expect("write");
        let keep = Key { compiled: "new".into(), rejected: "none".into() };
        std::fs::write(file("new.cwasm"), vec![0u8; 1000]).expect("write");
        aged(&file("new.cwasm"), day * 50);
        // 30 days, 3,000 bytes: old and the tmp file go by age, then a (the
        // least recently used) by size; the kept entry stays however old
        let (removed, left) = cache.clean(Some(&keep), day * 30, 3000);
        assert_eq!((removed, left), (3, 3000));
        let mut names: Vec<String> = std::fs::read_dir(&cache.dir)
            .expect("read")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["b.cwasm", "c.rejected", "new.cwasm", "notes.txt"]);
    }
}
