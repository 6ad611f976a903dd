//! The reactor: one thread, one `mio::Poll`, owning every fd, token, timer
//! and signal of a session. Everything else (supervision, capture, events,
//! output) is plain code it calls.
//!
//! One turn: wait (timeout = nearest timer deadline, or zero while pipes
//! have unread data and the output has room) → note readiness → read pipes
//! round-robin with a bounded budget each → fire due timers → serve control
//! clients → flush output. An idle session sleeps in `poll` with no timeout.
//!
//! A child's life is [`crate::supervise::child`]'s state machine: the
//! reactor turns fds, signals and timers into its transitions and carries
//! out the effects they return ([`lifecycle`]). Lines a child wrote before it
//! exited are all read before its `process.exited`. Every event goes out
//! through the one [`Emitter`].
//!
//! Rooms: [`pipes`] (reading children's output), [`lifecycle`] (start, stop,
//! reap, restart), [`findings`] (the plugins' batch and what they found),
//! [`socket`] (the control socket: transport, answers, tails).

mod catchup;
mod compiles;
mod findings;
mod lifecycle;
mod pipes;
mod probes;
mod proxy;
mod reload;
pub use reload::start_only;
mod search;
mod socket;
mod timers;

pub use socket::BindError;

use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::unix::pipe::Receiver;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::capture::Capture;
use crate::config::{Config, ProcessSpec};
use crate::emit::Emitter;
use crate::events::{Event, ProcRef, now_ms};
use crate::output::{Flush, Output};
use crate::plugins::{Found, PluginHost, Verdict};
use crate::supervise::{self, child::Child};
use timers::{TimerKind, Timers};

const SIGNALS: Token = Token(0);
const STDOUT: Token = Token(1);
// Token(2) is the control socket's listener (socket::LISTENER); then the
// compiling plugins' pipes (compiles::FIRST_COMPILE); pipes start at
// pipes::FIRST_PIPE, probes at probes::PROBE_BASE, clients at
// socket::CLIENT_BASE, proxy listeners at proxy::LISTEN_BASE, proxied
// connections at proxy::CONN_BASE and source map fetches at
// proxy::FETCH_BASE.

/// Fatal reactor failures (per-process trouble becomes events instead).
#[derive(Debug, thiserror::Error)]
pub enum ReactorError {
    #[error("cannot create the event poller: {0}")]
    Poll(#[source] io::Error),
    #[error("cannot install signal handlers: {0}")]
    Signals(#[source] io::Error),
    #[error("waiting for events failed: {0}")]
    Wait(#[source] io::Error),
    #[error(transparent)]
    Control(#[from] BindError),
}

/// How `brum run` behaves beyond the configuration.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Indices of the processes to start, dependencies first.
    pub selection: Vec<usize>,
    /// Stop everything when one process fails for good.
    pub kill_others_on_fail: bool,
    /// Exit 1 (instead of 0) when detectors found errors, or warnings.
    pub fail_on: Option<FailOn>,
    /// Serve the control protocol on this Unix socket.
    pub socket: Option<std::path::PathBuf>,
    /// Keep running when every process has ended (until `brum down`).
    pub daemon: bool,
    /// brum's output has colour: children are asked for it too.
    pub child_color: bool,
    /// What brum.toml said at the start about what a reload cannot apply
    /// ([`start_only`]), before the command line's overrides.
    pub start_only: Vec<(String, String)>,
    /// Whether the plugin folders' files count among them (not with
    /// `--no-plugins`).
    pub plugin_files: bool,
}

/// What findings make a successful run fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
}

struct Pipe {
    rx: Receiver,
    queued: bool,
}

/// One configured process: its definition, its life, its output.
struct Proc {
    spec: ProcessSpec,
    index: usize,
    child: Child,
    pipes: [Option<Pipe>; 2],
    capture: Capture,
    stats: Stats,
    probe: probes::ProbeState,
    /// Gone from brum.toml at a reload (stopped; kept so indices hold).
    removed: bool,
    /// Seq of the current run's `process.started` (0 before the first).
    started_seq: u64,
}

/// What the plugins found in a process's output, for `ps` and the summary.
#[derive(Debug, Default)]
struct Stats {
    errors: u32,
    warnings: u32,
    tests_passed: u64,
    tests_failed: u64,
    /// URLs announced by the current run (a restart clears them).
    urls: Vec<String>,
    /// Errors reported from its pages through the proxy (of `errors`).
    browser_errors: u32,
    /// Seq of the last line of its previous full report (a watcher's).
    last_full_report: u64,
}

impl Proc {
    fn pref(&self) -> ProcRef<'_> {
        ProcRef { name: &self.spec.name, index: self.index }
    }
}

/// Why the session is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    Signal(i32),
    KillOthers,
    OutputClosed,
    /// `brum down` (a `shutdown` request).
    Requested,
}

/// Processes started per turn at start-up.
const SPAWNS_PER_TURN: usize = 8;

/// Identical stop signals this close together are one request (`timeout`
/// sends TERM to brum and then to its whole group, brum included).
const SAME_SIGNAL_WINDOW: Duration = Duration::from_secs(1);

/// Runs the selected processes until they have all ended; returns brum's
/// exit code.
pub fn run(config: &Config, opts: &RunOptions, out: Output, host: Option<PluginHost>) -> Result<i32, ReactorError> {
    let mut r = Reactor::new(config, opts, out)?;
    r.host = host.filter(|h| h.has_plugins());
    r.start();
    r.event_loop()?;
    Ok(r.finish())
}

struct Reactor {
    poll: Poll,
    signals: Signals,
    em: Emitter,
    procs: Vec<Proc>,
    ready: VecDeque<(usize, usize)>,
    timers: Timers,
    rbuf: Box<[u8]>,
    pipe_size: Option<i32>,
    selection: Vec<usize>,
    /// The groups this session started, recorded so that a later session
    /// can end them if this one is killed.
    records: Option<supervise::orphans::Records>,
    child_color: bool,
    /// Where the configuration came from (`brum reload` reads it again).
    source: crate::config::Source,
    /// What brum.toml said at the start about what a reload cannot apply.
    start_only: Vec<(String, String)>,
    plugin_files: bool,
    settings: crate::config::Settings,
    /// Selected processes not started yet (start-up goes a few per turn).
    to_spawn: VecDeque<usize>,
    kill_others_on_fail: bool,
    shutdown: Option<Shutdown>,
    /// When the signal that began the shutdown came.
    shutdown_signal_at: Option<Instant>,
    forced: bool,
    first_failure: Option<i32>,
    evict_report_armed: bool,
    /// A write of the events the output holds back is armed.
    flush_armed: bool,
    out_registered: bool,
    host: Option<PluginHost>,
    /// Plugins being compiled or catching up.
    loading: compiles::Loading,
    found: Vec<Found>,
    verdicts: Vec<(u64, Verdict)>,
    plugin_tick_armed: Option<Instant>,
    /// Which errors are open (the error lifecycle).
    book: crate::open_errors::OpenErrors,
    book_ts: crate::events::Timestamps,
    scratch: Vec<u8>,
    fail_on: Option<FailOn>,
    control: Option<socket::ControlServer>,
    daemon: bool,
    /// Bytes read from pipes in the current turn.
    turn_read: usize,
    /// The output failed with an error other than its reader going away.
    output_failed: bool,
    /// The reverse proxies (`--proxy`, `[proxy]`).
    proxy: Option<proxy::ProxyServer>,
}

impl Reactor {
    fn new(config: &Config, opts: &RunOptions, out: Output) -> Result<Self, ReactorError> {
        let poll = Poll::new().map_err(ReactorError::Poll)?;
        let mut signals = Signals::new([SIGCHLD, SIGINT, SIGTERM, SIGHUP]).map_err(ReactorError::Signals)?;
        poll.registry().register(&mut signals, SIGNALS, Interest::READABLE).map_err(ReactorError::Signals)?;
        let mut out_registered = false;
        if let Some(fd) = out.needs_poll() {
            out_registered = poll.registry().register(&mut SourceFd(&fd), STDOUT, Interest::WRITABLE).is_ok();
        }
        supervise::become_subreaper();
        supervise::ignore_sigxfsz();
        raise_fd_limit();
        let mut control = None;
        let mut out = out;
        if let Some(path) = &opts.socket {
            let mut listener = socket::bind(path)?;
            poll.registry()
                .register(&mut listener, socket::LISTENER, Interest::READABLE)
                .map_err(|e| BindError::Io { path: path.clone(), source: e })?;
            out.enable_history(socket::HISTORY_BYTES);
            control = Some(socket::ControlServer::new(listener, path.clone()));
        }
        out.set_raw_terminal(config.processes.iter().map(|p| p.raw_terminal).collect());
        let here = std::env::current_dir().unwrap_or_default();
        out.set_process_dirs(config.processes.iter().map(|p| here.join(p.cwd.as_deref().unwrap_or(&here))).collect());
        let procs = config
            .processes
            .iter()
            .enumerate()
            .map(|(i, spec)| Proc {
                spec: spec.clone(),
                index: i,
                child: Child::new(),
                pipes: [None, None],
                capture: Capture::new(&config.settings),
                stats: Stats::default(),
                probe: probes::ProbeState::default(),
                removed: false,
                started_seq: 0,
            })
            .collect();
        Ok(Reactor {
            poll,
            signals,
            em: Emitter::new(out),
            procs,
            ready: VecDeque::new(),
            timers: Timers::default(),
            rbuf: vec![0u8; pipes::READ_CHUNK].into_boxed_slice(),
            pipe_size: supervise::max_pipe_size(),
            selection: opts.selection.clone(),
            to_spawn: VecDeque::new(),
            child_color: opts.child_color,
            start_only: opts.start_only.clone(),
            plugin_files: opts.plugin_files,
            source: config.source.clone(),
            settings: config.settings,
            records: opts
                .socket
                .as_ref()
                .and_then(|s| s.parent())
                .map(|d| supervise::orphans::Records::new(&d.join("groups"))),
            kill_others_on_fail: opts.kill_others_on_fail,
            shutdown: None,
            shutdown_signal_at: None,
            forced: false,
            first_failure: None,
            evict_report_armed: false,
            flush_armed: false,
            out_registered,
            host: None,
            loading: compiles::Loading::default(),
            found: Vec::new(),
            verdicts: Vec::new(),
            plugin_tick_armed: None,
            book: crate::open_errors::OpenErrors::default(),
            book_ts: crate::events::Timestamps::new(),
            scratch: Vec::new(),
            fail_on: opts.fail_on,
            control,
            daemon: opts.daemon,
            turn_read: 0,
            output_failed: false,
            proxy: config.proxy.enabled.then(|| proxy::ProxyServer::new(config.proxy)),
        })
    }

    fn start(&mut self) {
        let names: Vec<&str> = self.selection.iter().map(|&i| self.procs[i].spec.name.as_str()).collect();
        let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
        self.em.publish(&Event::DaemonStarted { pid: std::process::id(), cwd: &cwd, processes: &names });
        self.end_orphans();
        self.to_spawn = self.selection.iter().copied().collect();
        self.spawn_some();
        // plugins not in the cache compile meanwhile, in child processes
        self.start_compiles();
    }

    /// Ends the process groups that sessions of this directory killed with
    /// SIGKILL left running (a dev server holding its port), before anything
    /// starts.
    fn end_orphans(&mut self) {
        let Some(dir) = self.records.as_ref().and_then(|r| r.dir()) else { return };
        let left = supervise::orphans::left_behind(&dir);
        if left.is_empty() {
            return;
        }
        let grace = self.procs.iter().map(|p| p.spec.stop_timeout).max().unwrap_or(Duration::from_secs(5));
        let grace = grace.min(Duration::from_secs(10));
        for (g, signal) in supervise::orphans::end(&left, grace) {
            self.em.publish(&Event::OrphansKilled { process: &g.process, pgid: g.pgid as u32, signal });
        }
    }

    /// Starts the next few processes of the selection whose dependencies
    /// are ready (or started, for those without a probe): a session of
    /// hundreds of processes starts over several turns, so the control
    /// socket answers and the first processes' output is read meanwhile.
    /// A process whose dependency ended without being ready never starts
    /// (`process.blocked`).
    fn spawn_some(&mut self) {
        let mut started = 0;
        let mut k = 0;
        while k < self.to_spawn.len() && started < SPAWNS_PER_TURN {
            // --kill-others-on-fail may have begun stopping everything
            // (even because of the process started just before)
            if self.shutdown.is_some() {
                self.to_spawn.clear();
                return;
            }
            let i = self.to_spawn[k];
            match self.deps_ready(i) {
                Ok(true) => {
                    self.to_spawn.remove(k);
                    if self.procs[i].child.can_start().is_ok() {
                        self.spawn(i);
                        started += 1;
                    }
                }
                Ok(false) => k += 1,
                Err((d, reason)) => {
                    self.to_spawn.remove(k);
                    let (p, dep) = (&self.procs[i], &self.procs[d]);
                    self.em.publish(&Event::ProcessBlocked { process: p.pref(), dependency: &dep.spec.name, reason });
                }
            }
        }
    }

    /// Whether a process waiting to start could start now.
    fn spawnable_now(&self) -> bool {
        self.to_spawn.iter().any(|&i| self.deps_ready(i) != Ok(false))
    }

    fn event_loop(&mut self) -> Result<(), ReactorError> {
        let mut events = Events::with_capacity(256);
        while !self.all_done() {
            let busy = !self.ready.is_empty() && !self.em.output().is_full();
            let timeout =
                if busy || self.requests_waiting() || self.spawnable_now() || self.catching_up() || self.proxy_busy() {
                    Some(Duration::ZERO)
                } else {
                    self.timers.next_deadline().map(|d| d.saturating_duration_since(Instant::now()))
                };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(ReactorError::Wait(e));
            }
            let mut signalled = false;
            for ev in events.iter() {
                match ev.token() {
                    SIGNALS => signalled = true,
                    STDOUT => {}
                    socket::LISTENER => self.accept_clients(),
                    Token(t) if Self::is_compile_token(t) => self.compile_ready(t),
                    Token(t) if t >= proxy::FETCH_BASE => self.map_fetch_ready(t - proxy::FETCH_BASE),
                    Token(t) if t >= proxy::CONN_BASE => {
                        let closed = ev.is_read_closed() || ev.is_error();
                        let readable = ev.is_readable() || closed;
                        let writable = ev.is_writable() || ev.is_write_closed() || ev.is_error();
                        self.proxy_ready(t - proxy::CONN_BASE, readable, writable, closed)
                    }
                    Token(t) if t >= proxy::LISTEN_BASE => self.proxy_accept(t - proxy::LISTEN_BASE),
                    Token(t) if t >= socket::CLIENT_BASE => self.client_ready(t - socket::CLIENT_BASE),
                    Token(t) if t >= probes::PROBE_BASE => self.probe_ready(t),
                    Token(t) if t < pipes::FIRST_PIPE => {}
                    Token(t) => self.pipe_ready(t),
                }
            }
            self.read_pipes();
            self.catch_up_step();
            if signalled {
                self.handle_signals();
            }
            self.fire_timers();
            self.spawn_some();
            self.serve_requests();
            self.proxy_turn();
            self.pump_control();
            self.flush_output();
        }
        Ok(())
    }

    /// Writes the events of the turn, or arms their write when the output
    /// holds them back to go out together ([`Output::hold_until`]).
    fn flush_output(&mut self) {
        if let Some(due) = self.em.output().hold_until(Instant::now()) {
            if !self.flush_armed {
                self.flush_armed = true;
                self.timers.arm(due, TimerKind::FlushOutput);
            }
            return;
        }
        if self.em.output_mut().flush() != Flush::Closed {
            return;
        }
        let log_file = self.em.output().is_log_file();
        if let Some(e) = self.em.output_mut().take_error() {
            // not a reader going away but a failing sink (disk full, file
            // too large): say so, and fail the run
            // never eprintln!: it panics when stderr fails too (same full disk)
            let mut err = std::io::stderr();
            let _ = writeln!(err, "brum: cannot write the event output: {e}");
            let text = e.to_string();
            self.em.publish(&Event::OutputFailed { error: &text });
            if log_file {
                // `brum up`: the session and its socket go on without the log
                let _ = writeln!(err, "brum: going on without the log file; `brum tail` still has every event");
                return;
            }
            self.output_failed = true;
        }
        if self.shutdown.is_none() && !log_file {
            self.begin_shutdown(Shutdown::OutputClosed);
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Kill { .. }
                | TimerKind::Linger { .. }
                | TimerKind::Restart { .. }
                | TimerKind::Healthy { .. } => self.lifecycle_timer(kind),
                TimerKind::ClientSweep => self.sweep_clients(),
                TimerKind::ProxySweep => self.proxy_sweep(),
                TimerKind::ProxyMaps => self.maps_timer(),
                TimerKind::Probe { proc, generation, attempt, what } => {
                    self.probe_timer_fired(proc, generation, attempt, what)
                }
                TimerKind::FlushOutput => self.flush_armed = false,
                TimerKind::EvictReport => {
                    self.evict_report_armed = false;
                    self.report_evictions();
                }
                TimerKind::PluginTick => {
                    self.plugin_tick_armed = None;
                    self.flush_batch();
                    if let Some(host) = self.host.as_mut() {
                        host.tick(now_ms(), &mut self.found);
                        self.after_plugins();
                    }
                }
            }
        }
    }

    fn all_done(&self) -> bool {
        let ended = self.to_spawn.is_empty() && self.procs.iter().all(|p| !p.child.is_active());
        // a run whose processes ended before a plugin was ready still gets
        // that plugin's findings (unless it is being stopped)
        let stopped = matches!(self.shutdown, Some(Shutdown::Signal(_) | Shutdown::Requested | Shutdown::OutputClosed));
        let plugins_ready = stopped || !self.plugins_loading();
        // a daemon waits for `brum down` (or a signal) even when idle
        ended && plugins_ready && (!self.daemon || self.shutdown.is_some())
    }

    /// After the last process: stop stragglers, report, and compute the exit
    /// code.
    fn finish(mut self) -> i32 {
        // Orphans re-parented to brum (daemonized grandchildren) do not
        // outlive the session.
        for _ in 0..50 {
            let left = supervise::own_children();
            if left.is_empty() {
                break;
            }
            for pid in left {
                // SAFETY: signalling a pid that is our own child.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(10));
            while supervise::reap_one().is_some() {}
        }
        self.report_evictions();
        // browser errors still waiting for a source map are not lost
        self.maps_flush();
        let mut code = match self.shutdown {
            Some(Shutdown::Signal(sig)) => 128 + sig,
            _ => self.first_failure.unwrap_or(0),
        };
        if self.output_failed && code == 0 {
            code = 1;
        }
        // a settings table that named no plugin (found once all were ready)
        if self.loading.config_errors > 0 && code == 0 {
            code = 2;
        }
        // what is still broken at the end (errors fixed during the run, as
        // by a watcher's clean re-check, do not fail it)
        let (errors, warnings): (u32, u32) = self.procs.iter().fold((0, 0), |(e, w), p| {
            let (oe, ow) = self.book.open_counts(p.index);
            (e + oe, w + ow)
        });
        let failing = match self.fail_on {
            Some(FailOn::Error) => errors > 0,
            Some(FailOn::Warning) => errors + warnings > 0,
            None => false,
        };
        if code == 0 && failing {
            code = 1;
        }
        self.emit_summary(code);
        self.em.publish(&Event::DaemonStopped { exit_code: code });
        self.close_control();
        if self.out_registered
            && let Some(fd) = self.em.output().needs_poll()
        {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        self.em.output_mut().finish();
        if let Some(r) = self.records.take() {
            r.finish();
        }
        code
    }
}

/// Raises the soft open-files limit to the hard limit: every process costs
/// two pipe fds.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

impl std::fmt::Debug for Reactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor").field("seq", &self.em.seq()).field("processes", &self.procs.len()).finish()
    }
}
