//! Plugins that are not compiled yet, made ready without the reactor ever
//! waiting: each is compiled by a child `brum __compile` (the same binary,
//! so the same engine), which stores the code in the cache and answers on a
//! pipe, `ok` or `rejected` and why; the reactor then loads the plugin from
//! the cache (milliseconds) and it catches up on what it missed
//! (`catchup.rs`). Processes start at once; `brum ps` answers throughout.
//!
//! At most [`MAX_COMPILES`] at once (each takes a core and memory); the
//! child dies with brum (PDEATHSIG) and is reaped with the other children.
//! When the last plugin is ready, settings tables that name no plugin are
//! reported (`config.error`; the run then exits 2).

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use mio::unix::pipe::Receiver;
use mio::{Interest, Token};

use super::Reactor;
use super::catchup::{CatchUp, Journal};
use crate::events::Event;
use crate::plugins::{Begun, Origin};

/// Compiles running at once, at most.
const MAX_COMPILES: usize = 2;
/// Tokens of the compiling children's pipes: `FIRST_COMPILE + slot`.
pub(super) const FIRST_COMPILE: usize = 3;
/// A child's answer is a word and a reason: more than this is cut.
const MAX_ANSWER: usize = 64 * 1024;

/// One compiling child.
#[derive(Debug)]
struct Compiling {
    id: u64,
    rx: Receiver,
    answer: Vec<u8>,
}

/// Plugins on their way to ready.
#[derive(Debug, Default)]
pub(super) struct Loading {
    children: [Option<Compiling>; MAX_COMPILES],
    queue: VecDeque<u64>,
    pub(super) journal: Journal,
    pub(super) catchups: Vec<CatchUp>,
    /// Configuration mistakes found while running (the run exits 2).
    pub(super) config_errors: usize,
}

impl Reactor {
    /// Starts compiling the plugins that were not in the cache.
    pub(super) fn start_compiles(&mut self) {
        let Some(host) = self.host.as_ref() else { return };
        self.loading.queue = host.pending().iter().map(|p| p.id).collect();
        self.launch_compiles();
    }

    /// Whether a plugin is still compiling or catching up.
    pub(super) fn plugins_loading(&self) -> bool {
        self.loading.children.iter().any(Option::is_some)
            || !self.loading.queue.is_empty()
            || !self.loading.catchups.is_empty()
    }

    /// Whether a token is a compiling child's pipe.
    pub(super) fn is_compile_token(t: usize) -> bool {
        (FIRST_COMPILE..FIRST_COMPILE + MAX_COMPILES).contains(&t)
    }

    fn launch_compiles(&mut self) {
        while let Some(slot) = self.loading.children.iter().position(Option::is_none) {
            let Some(id) = self.loading.queue.pop_front() else { return };
            let Some(host) = self.host.as_mut() else { return };
            let Some(p) = host.pending().iter().find(|p| p.id == id) else { continue };
            let source = p.spec.origin.clone();
            let cache = host.cache_base().map(std::path::Path::to_path_buf);
            let started = match cache {
                Some(cache) => spawn_compiler(&source, &cache),
                None => Err(io::Error::other("no folder to put compiled plugins in")),
            };
            let mut rx = match started {
                Ok(fd) => Receiver::from(fd),
                Err(e) => {
                    self.compiled(id, Err(format!("cannot start compiling {}: {e}", source.describe())));
                    continue;
                }
            };
            if let Err(e) = self.poll.registry().register(&mut rx, Token(FIRST_COMPILE + slot), Interest::READABLE) {
                self.compiled(id, Err(format!("cannot watch the compile of {}: {e}", source.describe())));
                continue;
            }
            self.loading.children[slot] = Some(Compiling { id, rx, answer: Vec::new() });
        }
    }

    /// A compiling child's pipe is readable: its answer, or its end.
    pub(super) fn compile_ready(&mut self, token: usize) {
        let slot = token - FIRST_COMPILE;
        let mut buf = [0u8; 4096];
        let ended = loop {
            let Some(c) = self.loading.children[slot].as_mut() else { return };
            match c.rx.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => {
                    let room = MAX_ANSWER.saturating_sub(c.answer.len());
                    c.answer.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if !ended {
            return;
        }
        let Some(mut c) = self.loading.children[slot].take() else { return };
        let _ = self.poll.registry().deregister(&mut c.rx);
        let answer = String::from_utf8_lossy(&c.answer);
        let (word, reason) = answer.split_once('\n').unwrap_or((answer.trim(), ""));
        let result = match word {
            "ok" => Ok(()),
            "rejected" | "error" => Err(reason.trim_end().to_string()),
            _ => Err("the compiling process ended without an answer (killed? out of memory?)".to_string()),
        };
        self.compiled(c.id, result);
        self.launch_compiles();
    }

    /// Plugin `id` is compiled (or not): load it, let it catch up.
    fn compiled(&mut self, id: u64, result: Result<(), String>) {
        // what was read this turn goes to the plugins ready so far first
        self.flush_batch();
        let Some(host) = self.host.as_mut() else { return };
        if host.compiled(id, result) == Begun::Loaded {
            for name in host.catching_up_names() {
                if !self.loading.catchups.iter().any(|c| c.plugin() == name) {
                    self.loading.catchups.push(CatchUp::new(name));
                }
            }
        }
        self.after_plugins();
        let Some(host) = self.host.as_ref() else { return };
        if host.pending().is_empty() {
            let errors = host.unmatched_tables();
            self.loading.config_errors += errors.len();
            for e in &errors {
                let file = e.file.display().to_string();
                self.em.publish(&Event::ConfigError {
                    file: &file,
                    line: e.line,
                    column: e.column,
                    key: e.key.as_deref(),
                    message: &e.message,
                });
            }
        }
        self.forget_journal_if_done();
    }
}

/// Starts `brum __compile` for one plugin; returns the read end of its
/// stdout (non-blocking).
fn spawn_compiler(origin: &Origin, cache: &std::path::Path) -> io::Result<OwnedFd> {
    // this very binary, even if the file was replaced since: the same engine
    let mut cmd = Command::new("/proc/self/exe");
    cmd.arg("__compile").arg("--cache").arg(cache);
    match origin {
        Origin::Builtin(b) => cmd.arg("--builtin").arg(b.name),
        Origin::File(p) => cmd.arg("--file").arg(p),
    };
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (setpgid, prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            // its own group: a Ctrl-C meant for brum does not reach it
            libc::setpgid(0, 0);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let out = child.stdout.take().ok_or_else(|| io::Error::other("no pipe"))?;
    let fd = OwnedFd::from(out);
    crate::supervise::set_nonblocking(&fd)?;
    // not waited for here: the reactor reaps every child with waitpid
    drop(child);
    Ok(fd)
}
