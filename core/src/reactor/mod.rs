//! The reactor: one thread, one `mio::Poll`, owning every fd, token, timer
//! and signal of a session. Everything else (supervision, capture, events,
//! output) is plain code it calls.
//!
//! One turn: wait (timeout = nearest timer deadline, or zero while pipes
//! have unread data and the output has room) → note readiness → read pipes
//! round-robin with a bounded budget each → fire due timers → flush output.
//! An idle session sleeps in `poll` with no timeout at all.
//!
//! Lifecycle of a process: running → (leader reaped) exiting → (pipes at
//! EOF, or linger expired) finished → restarting or done. Lines a child
//! wrote before it exited are all read before its `process.exited`.

mod control;
mod timers;

pub use control::BindError;

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::unix::pipe::Receiver;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::capture::Capture;
use crate::config::{Config, ProcessSpec};
use crate::events::{EndState, Event, ProcRef, now_ms};
use crate::events::{FindingView, SummaryRow};
use crate::output::{Flush, Output};
use crate::plugins::{Found, Notice, PluginHost, Verdict};
use crate::store::Stream;
use crate::supervise::{self, Exit};
use timers::{TimerKind, Timers};

const SIGNALS: Token = Token(0);
const STDOUT: Token = Token(1);
// Token(2) is the control socket's listener (control::LISTENER).
const FIRST_PIPE: usize = 16;

/// Bytes read per `read(2)`, at most.
const READ_CHUNK: usize = 128 * 1024;
/// Bytes read per `read(2)` when the output is nearly full, at least.
const MIN_READ: usize = 16 * 1024;
/// Bytes one pipe may deliver per turn before the others get their go.
const READ_BUDGET: usize = 128 * 1024;
/// Bytes all pipes together may deliver per turn: then signals, timers and
/// control clients get their turn (and the control tee stays small).
const TURN_BUDGET: usize = 256 * 1024;
/// How often evictions from the rings are reported, at most.
const EVICT_REPORT_EVERY: Duration = Duration::from_secs(1);

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
}

/// What findings make a successful run fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Error,
    Warning,
}

/// Distinct error fingerprints remembered for counting repeats.
const MAX_FINGERPRINTS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not started by this session (not selected).
    Idle,
    Running,
    /// Leader reaped; reading what is left in its pipes.
    Exiting,
    /// Waiting for the backoff before the next start.
    Restarting,
    Done,
}

struct Pipe {
    rx: Receiver,
    queued: bool,
}

struct Proc {
    spec: ProcessSpec,
    index: usize,
    phase: Phase,
    pid: i32,
    started: Instant,
    pipes: [Option<Pipe>; 2],
    capture: Capture,
    restarts: u32,
    exit: Option<Exit>,
    spawn_error: Option<String>,
    stop_requested: bool,
    /// Bumped on every start so timers from an earlier run are ignored.
    generation: u64,
    end: Option<EndState>,
    /// Findings so far (for the summary and queries).
    pub errors: u32,
    pub warnings: u32,
    tests_passed: u64,
    tests_failed: u64,
    urls: Vec<String>,
    first_started: Option<Instant>,
    ended: Option<Instant>,
    /// `brum restart`: start again as soon as the stop completes.
    restart_requested: bool,
}

impl Proc {
    fn pref(&self) -> ProcRef<'_> {
        ProcRef { name: &self.spec.name, index: self.index }
    }
}

/// Why the session is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    None,
    Signal(i32),
    KillOthers,
    OutputClosed,
    /// `brum down` (a `shutdown` request).
    Requested,
}

/// Runs the selected processes until they have all ended; returns brum's
/// exit code.
pub fn run(config: &Config, opts: &RunOptions, out: Output, host: Option<PluginHost>) -> Result<i32, ReactorError> {
    let mut r = Reactor::new(config, opts, out)?;
    r.host = host.filter(|h| !h.is_empty());
    r.start();
    r.event_loop()?;
    Ok(r.finish())
}

struct Reactor {
    poll: Poll,
    signals: Signals,
    out: Output,
    procs: Vec<Proc>,
    ready: VecDeque<(usize, usize)>,
    timers: Timers,
    seq: u64,
    rbuf: Box<[u8]>,
    pipe_size: Option<i32>,
    selection: Vec<usize>,
    kill_others_on_fail: bool,
    shutdown: Shutdown,
    forced: bool,
    first_failure: Option<i32>,
    evict_report_armed: bool,
    out_registered: bool,
    host: Option<PluginHost>,
    found: Vec<Found>,
    verdicts: Vec<(u64, Verdict)>,
    plugin_tick_armed: Option<Instant>,
    fingerprints: std::collections::HashMap<u64, u32>,
    fail_on: Option<FailOn>,
    control: Option<control::ControlServer>,
    daemon: bool,
    /// Bytes read from pipes in the current turn.
    turn_read: usize,
    /// The output failed with an error other than its reader going away.
    output_failed: bool,
}

fn pipe_token(proc: usize, slot: usize) -> Token {
    Token(FIRST_PIPE + proc * 2 + slot)
}

fn stream_of(slot: usize) -> Stream {
    if slot == 0 { Stream::Stdout } else { Stream::Stderr }
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
            let mut listener = control::bind(path)?;
            poll.registry()
                .register(&mut listener, control::LISTENER, Interest::READABLE)
                .map_err(|e| BindError::Io { path: path.clone(), source: e })?;
            out.enable_history(control::HISTORY_BYTES);
            control = Some(control::ControlServer::new(listener, path.clone()));
        }
        let procs = config
            .processes
            .iter()
            .enumerate()
            .map(|(i, spec)| Proc {
                spec: spec.clone(),
                index: i,
                phase: Phase::Idle,
                pid: 0,
                started: Instant::now(),
                pipes: [None, None],
                capture: Capture::new(&config.settings),
                restarts: 0,
                exit: None,
                spawn_error: None,
                stop_requested: false,
                generation: 0,
                end: None,
                errors: 0,
                warnings: 0,
                tests_passed: 0,
                tests_failed: 0,
                urls: Vec::new(),
                first_started: None,
                ended: None,
                restart_requested: false,
            })
            .collect();
        Ok(Reactor {
            poll,
            signals,
            out,
            procs,
            ready: VecDeque::new(),
            timers: Timers::default(),
            seq: 0,
            rbuf: vec![0u8; READ_CHUNK].into_boxed_slice(),
            pipe_size: supervise::max_pipe_size(),
            selection: opts.selection.clone(),
            kill_others_on_fail: opts.kill_others_on_fail,
            shutdown: Shutdown::None,
            forced: false,
            first_failure: None,
            evict_report_armed: false,
            out_registered,
            host: None,
            found: Vec::new(),
            verdicts: Vec::new(),
            plugin_tick_armed: None,
            fingerprints: std::collections::HashMap::new(),
            fail_on: opts.fail_on,
            control,
            daemon: opts.daemon,
            turn_read: 0,
            output_failed: false,
        })
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn emit(&mut self, ev: &Event<'_>) {
        let seq = self.next_seq();
        self.out.emit(seq, now_ms(), ev);
    }

    fn start(&mut self) {
        let names: Vec<&str> = self.selection.iter().map(|&i| self.procs[i].spec.name.as_str()).collect();
        let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
        let seq = self.seq + 1;
        self.seq = seq;
        self.out.emit(seq, now_ms(), &Event::DaemonStarted { pid: std::process::id(), cwd: &cwd, processes: &names });
        for i in self.selection.clone() {
            // --kill-others-on-fail may have begun stopping everything
            if self.shutdown == Shutdown::None {
                self.spawn(i);
            }
        }
    }

    fn spawn(&mut self, i: usize) {
        // lines read before this start are published before it
        self.flush_batch();
        let result = supervise::spawn(&self.procs[i].spec, self.pipe_size);
        let p = &mut self.procs[i];
        p.generation += 1;
        p.started = Instant::now();
        p.first_started.get_or_insert(p.started);
        p.exit = None;
        p.spawn_error = None;
        p.stop_requested = false;
        p.end = None;
        match result {
            Ok(child) => {
                p.pid = child.pid;
                p.phase = Phase::Running;
                for (slot, fd) in [child.stdout, child.stderr].into_iter().enumerate() {
                    self.add_pipe(i, slot, fd);
                }
                let p = &self.procs[i];
                let seq = self.seq + 1;
                self.seq = seq;
                self.out.emit(
                    seq,
                    now_ms(),
                    &Event::ProcessStarted {
                        process: p.pref(),
                        pid: p.pid as u32,
                        command: &p.spec.display,
                        restart: p.restarts,
                    },
                );
                if let Some(host) = self.host.as_mut() {
                    let p = &self.procs[i];
                    host.process_started(i as u32, &p.spec.name, &p.spec.display, now_ms(), &mut self.found);
                    self.after_plugins();
                }
            }
            Err(e) => {
                p.pid = 0;
                p.phase = Phase::Exiting;
                p.exit = Some(Exit::Code(if e.kind() == io::ErrorKind::PermissionDenied { 126 } else { 127 }));
                p.spawn_error = Some(format!("cannot run `{}`: {e}", p.spec.argv[0]));
                self.finalize(i);
            }
        }
    }

    fn add_pipe(&mut self, i: usize, slot: usize, fd: OwnedFd) {
        let mut rx = Receiver::from(fd);
        if self.poll.registry().register(&mut rx, pipe_token(i, slot), Interest::READABLE).is_ok() {
            self.procs[i].pipes[slot] = Some(Pipe { rx, queued: true });
            // Read once right away: data may already be there.
            self.ready.push_back((i, slot));
        }
    }

    fn event_loop(&mut self) -> Result<(), ReactorError> {
        let mut events = Events::with_capacity(256);
        while !self.all_done() {
            let timeout = if !self.ready.is_empty() && !self.out.is_full() {
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
                    control::LISTENER => self.accept_clients(),
                    Token(t) if t >= control::CLIENT_BASE => self.client_ready(t - control::CLIENT_BASE),
                    Token(t) if t < FIRST_PIPE => {}
                    Token(t) => {
                        let (i, slot) = ((t - FIRST_PIPE) / 2, (t - FIRST_PIPE) % 2);
                        if let Some(pipe) = self.procs.get_mut(i).and_then(|p| p.pipes[slot].as_mut())
                            && !pipe.queued
                        {
                            pipe.queued = true;
                            self.ready.push_back((i, slot));
                        }
                    }
                }
            }
            self.read_pipes();
            if signalled {
                self.handle_signals();
            }
            self.fire_timers();
            self.pump_control();
            self.flush_output();
        }
        Ok(())
    }

    fn flush_output(&mut self) {
        if self.out.flush() != Flush::Closed {
            return;
        }
        if let Some(e) = self.out.take_error() {
            // not a reader going away but a failing sink (disk full, file
            // too large): say so, and fail the run
            // never eprintln!: it panics when stderr fails too (same full disk)
            let mut err = std::io::stderr();
            let _ = writeln!(err, "brum: cannot write the event output: {e}");
            let text = e.to_string();
            self.seq += 1;
            self.out.emit(self.seq, now_ms(), &Event::OutputFailed { error: &text });
            if self.out.is_log_file() {
                // `brum up`: the session and its socket go on without the log
                let _ = writeln!(err, "brum: going on without the log file; `brum tail` still has every event");
                return;
            }
            self.output_failed = true;
        }
        if self.shutdown == Shutdown::None && !self.out.is_log_file() {
            self.begin_shutdown(Shutdown::OutputClosed);
        }
    }

    /// Reads ready pipes round-robin, each up to its budget, while the output
    /// has room.
    fn read_pipes(&mut self) {
        let mut turns = self.ready.len();
        self.turn_read = 0;
        while turns > 0 && self.turn_read < TURN_BUDGET {
            turns -= 1;
            if self.output_room() == 0 {
                // lines waiting for the plugins count as output already
                self.flush_batch();
                self.flush_output();
                if self.out.is_full() {
                    return; // backpressure: resume when stdout drains
                }
            }
            let Some((i, slot)) = self.ready.pop_front() else {
                return;
            };
            match self.read_one(i, slot, true) {
                ReadResult::More => self.ready.push_back((i, slot)),
                ReadResult::Drained => {
                    if let Some(p) = self.procs[i].pipes[slot].as_mut() {
                        p.queued = false;
                    }
                }
                ReadResult::Eof => self.close_pipe(i, slot),
            }
        }
        self.flush_batch();
    }

    /// Room left in the output, counting the lines batched for the plugins
    /// (not yet encoded) as taken.
    fn output_room(&self) -> usize {
        self.out.room().saturating_sub(self.host.as_ref().map_or(0, |h| h.batch.data.len()))
    }

    /// Reads one pipe up to its budget; `fair` limits each read to the
    /// output's room (see below).
    fn read_one(&mut self, i: usize, slot: usize, fair: bool) -> ReadResult {
        let mut budget = READ_BUDGET;
        let stream = stream_of(slot);
        loop {
            let room = self.output_room();
            let p = &mut self.procs[i];
            let Some(pipe) = p.pipes[slot].as_mut() else {
                return ReadResult::Drained;
            };
            // no bigger than what the output has room for (its events are
            // larger still): a read's events queue ahead of every line read
            // after it, so a chatty process must not bury a quiet one
            let limit = if fair { room.clamp(MIN_READ, READ_CHUNK) } else { READ_CHUNK };
            match pipe.rx.read(&mut self.rbuf[..limit]) {
                Ok(0) => return ReadResult::Eof,
                Ok(n) => {
                    self.turn_read += n;
                    let pref = ProcRef { name: &p.spec.name, index: p.index };
                    match self.host.as_mut() {
                        Some(host) => {
                            p.capture.ingest(pref, stream, &self.rbuf[..n], now_ms(), &mut self.seq, host);
                            if host.batch_full() {
                                self.flush_batch();
                            }
                        }
                        None => p.capture.ingest(pref, stream, &self.rbuf[..n], now_ms(), &mut self.seq, &mut self.out),
                    }
                    budget = budget.saturating_sub(n);
                    let p = &self.procs[i];
                    if p.capture.evicted_unreported > 0 && !self.evict_report_armed {
                        self.evict_report_armed = true;
                        self.timers.arm(Instant::now() + EVICT_REPORT_EVERY, TimerKind::EvictReport);
                    }
                    if budget == 0 || self.output_room() == 0 || self.turn_read >= TURN_BUDGET {
                        return ReadResult::More;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ReadResult::Drained,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return ReadResult::Eof,
            }
        }
    }

    fn close_pipe(&mut self, i: usize, slot: usize) {
        let p = &mut self.procs[i];
        if let Some(mut pipe) = p.pipes[slot].take() {
            let _ = self.poll.registry().deregister(&mut pipe.rx);
            let pref = ProcRef { name: &p.spec.name, index: p.index };
            match self.host.as_mut() {
                Some(host) => p.capture.finish(pref, stream_of(slot), now_ms(), &mut self.seq, host),
                None => p.capture.finish(pref, stream_of(slot), now_ms(), &mut self.seq, &mut self.out),
            }
        }
        self.ready.retain(|&(pi, ps)| !(pi == i && ps == slot));
        let p = &self.procs[i];
        if p.phase == Phase::Exiting && p.pipes.iter().all(Option::is_none) {
            self.finalize(i);
        }
    }

    /// Reads whatever is left in a process's pipes and closes them.
    fn drain_and_close(&mut self, i: usize) {
        for slot in 0..2 {
            // bounded: a writer outside the group may never stop
            for _ in 0..8 {
                if self.procs[i].pipes[slot].is_none() {
                    break;
                }
                // whole reads: what is left now is read now or never
                match self.read_one(i, slot, false) {
                    ReadResult::More => {
                        self.flush_batch();
                        self.flush_output();
                    }
                    ReadResult::Drained | ReadResult::Eof => break,
                }
            }
            if self.procs[i].pipes[slot].is_some() {
                self.close_pipe(i, slot);
            }
        }
    }

    fn handle_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGCHLD => self.reap(),
                SIGINT | SIGTERM | SIGHUP => match self.shutdown {
                    Shutdown::Signal(_) => self.force_kill(),
                    _ => self.begin_shutdown(Shutdown::Signal(sig)),
                },
                _ => {}
            }
        }
    }

    fn reap(&mut self) {
        while let Some((pid, exit)) = supervise::reap_one() {
            let Some(i) = self.procs.iter().position(|p| p.pid == pid && p.phase == Phase::Running) else {
                continue; // a reparented orphan: reaped, nothing to report
            };
            let p = &mut self.procs[i];
            p.exit = Some(exit);
            p.phase = Phase::Exiting;
            // Whatever the leader left behind in its group is asked to stop.
            if supervise::group_alive(pid) {
                supervise::signal_group(pid, if self.forced { libc::SIGKILL } else { p.spec.stop_signal });
            }
            if p.pipes.iter().all(Option::is_none) {
                self.finalize(i);
                continue;
            }
            // ...and its pipes are given up after the stop timeout (at
            // once after a second interrupt).
            let (generation, linger) = (p.generation, if self.forced { Duration::ZERO } else { p.spec.stop_timeout });
            self.timers.arm(Instant::now() + linger, TimerKind::Linger { proc: i, generation });
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(kind) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Kill { proc, generation } => {
                    let p = &self.procs[proc];
                    if p.generation == generation && matches!(p.phase, Phase::Running | Phase::Exiting) && p.pid > 0 {
                        supervise::signal_group(p.pid, libc::SIGKILL);
                    }
                }
                TimerKind::Linger { proc, generation } => {
                    let p = &self.procs[proc];
                    if p.generation == generation && p.phase == Phase::Exiting {
                        if p.pid > 0 {
                            supervise::signal_group(p.pid, libc::SIGKILL);
                        }
                        self.drain_and_close(proc);
                        self.finalize(proc);
                    }
                }
                TimerKind::Restart { proc, generation } => {
                    let p = &self.procs[proc];
                    if p.generation == generation && p.phase == Phase::Restarting && self.shutdown == Shutdown::None {
                        self.spawn(proc);
                    }
                }
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

    fn report_evictions(&mut self) {
        self.flush_batch();
        for i in 0..self.procs.len() {
            let p = &mut self.procs[i];
            let count = std::mem::take(&mut p.capture.evicted_unreported);
            if count == 0 {
                continue;
            }
            let total = p.capture.evicted_total;
            let seq = self.seq + 1;
            self.seq = seq;
            if matches!(self.out.format(), crate::output::Format::Json) {
                let p = &self.procs[i];
                self.out.emit(
                    seq,
                    now_ms(),
                    &Event::LogDropped { process: Some(p.pref()), count, total, reason: "ring_evicted" },
                );
            }
        }
    }

    /// The process has ended and its pipes are closed: report it and decide
    /// what comes next.
    fn finalize(&mut self, i: usize) {
        let p = &mut self.procs[i];
        if p.phase != Phase::Exiting {
            return;
        }
        for slot in 0..2 {
            if let Some(mut pipe) = p.pipes[slot].take() {
                let _ = self.poll.registry().deregister(&mut pipe.rx);
            }
        }
        self.ready.retain(|&(pi, _)| pi != i);
        let p = &mut self.procs[i];
        let exit = p.exit.unwrap_or(Exit::Code(0));
        let state = if p.stop_requested {
            EndState::Stopped
        } else if exit.success() {
            EndState::Success
        } else {
            EndState::Failed
        };
        p.end = Some(state);
        let (code, signal) = match exit {
            Exit::Code(c) => (Some(c), None),
            Exit::Signal(s) => (None, Some(s)),
        };
        let duration_ms = p.started.elapsed().as_millis() as u64;
        self.flush_batch();
        if let Some(host) = self.host.as_mut() {
            host.process_ended(i as u32, code, signal, now_ms(), &mut self.found);
            self.after_plugins();
        }
        let seq = self.seq + 1;
        self.seq = seq;
        let p = &self.procs[i];
        self.out.emit(
            seq,
            now_ms(),
            &Event::ProcessExited {
                process: p.pref(),
                pid: (p.pid > 0).then_some(p.pid as u32),
                code,
                signal,
                duration_ms,
                state,
                error: p.spawn_error.as_deref(),
            },
        );
        if std::mem::take(&mut self.procs[i].restart_requested) && self.shutdown == Shutdown::None {
            self.procs[i].restarts += 1;
            self.procs[i].phase = Phase::Idle;
            self.spawn(i);
            return;
        }
        let p = &self.procs[i];
        let restart = self.shutdown == Shutdown::None
            && state != EndState::Stopped
            && supervise::should_restart(&p.spec, exit, p.restarts);
        if restart {
            let p = &mut self.procs[i];
            p.restarts += 1;
            p.phase = Phase::Restarting;
            let delay = supervise::backoff(&p.spec, p.restarts);
            let (attempt, generation) = (p.restarts, p.generation);
            self.timers.arm(Instant::now() + delay, TimerKind::Restart { proc: i, generation });
            let seq = self.seq + 1;
            self.seq = seq;
            let p = &self.procs[i];
            self.out.emit(
                seq,
                now_ms(),
                &Event::ProcessRestarting { process: p.pref(), attempt, delay_ms: delay.as_millis() as u64 },
            );
            return;
        }
        self.procs[i].phase = Phase::Done;
        self.procs[i].ended = Some(Instant::now());
        if state == EndState::Failed {
            if self.first_failure.is_none() {
                self.first_failure = Some(exit.shell_code());
            }
            if self.kill_others_on_fail && self.shutdown == Shutdown::None {
                self.begin_shutdown(Shutdown::KillOthers);
            }
        }
    }

    /// Hands the lines read so far to the plugins, then emits them (as the
    /// filters decided) and what the plugins found.
    fn flush_batch(&mut self) {
        let Some(host) = self.host.as_mut() else {
            return;
        };
        if host.batch.is_empty() {
            return;
        }
        self.verdicts.clear();
        host.run_batch(now_ms(), &mut self.found, &mut self.verdicts);
        let mut vi = 0;
        let batch = &host.batch;
        for i in 0..batch.len() {
            let l = batch.line(i);
            while vi < self.verdicts.len() && self.verdicts[vi].0 < l.seq {
                vi += 1;
            }
            let verdict = self.verdicts.get(vi).filter(|v| v.0 == l.seq).map(|v| &v.1);
            let (boost, tag) = match verdict {
                Some(Verdict::Drop) => continue,
                Some(Verdict::Boost) => (true, None),
                Some(Verdict::Tag(t)) => (false, Some(t.as_str())),
                Some(Verdict::Keep) | None => (false, None),
            };
            let p = &self.procs[l.process as usize];
            let ev = Event::LogLine {
                process: p.pref(),
                stream: if matches!(l.pipe, crate::plugins::Pipe::Stderr) { Stream::Stderr } else { Stream::Stdout },
                line: l.bytes,
                truncated: l.truncated,
                boost,
                tag,
            };
            self.out.emit(l.seq, l.ts_ms, &ev);
        }
        host.clear_batch();
        self.after_plugins();
    }

    /// Emits what the plugins produced (findings, notices) and re-arms the
    /// plugin tick timer.
    fn after_plugins(&mut self) {
        let found = std::mem::take(&mut self.found);
        for f in &found {
            let Some(host) = self.host.as_ref() else {
                break;
            };
            let g = &f.finding;
            let mut view = FindingView {
                kind: g.kind.as_str(),
                custom_kind: g.custom_kind.as_deref(),
                severity: g.severity.as_str(),
                message: &g.message,
                first_seq: g.first_seq,
                last_seq: g.last_seq,
                file: g.file.as_deref(),
                line: g.line,
                column: g.column,
                code: g.code.as_deref(),
                url: g.url.as_deref(),
                language: g.language.as_deref(),
                fields: &g.fields,
                fingerprint: 0,
                count: 1,
            };
            let Some(p) = self.procs.get_mut(g.process as usize) else { continue };
            view.fingerprint = view.compute_fingerprint(&p.spec.name);
            if matches!(view.kind, "error" | "warning") {
                let known = self.fingerprints.len() < MAX_FINGERPRINTS;
                let n = match self.fingerprints.get_mut(&view.fingerprint) {
                    Some(n) => {
                        *n += 1;
                        *n
                    }
                    None if known => *self.fingerprints.entry(view.fingerprint).or_insert(1),
                    None => 1,
                };
                view.count = n;
            }
            let num = |k: &str| view.field(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            match view.kind {
                "error" => p.errors += 1,
                "warning" => p.warnings += 1,
                "test" => {
                    p.tests_passed = p.tests_passed.saturating_add(num("passed"));
                    p.tests_failed = p.tests_failed.saturating_add(num("failed"));
                }
                "url" => {
                    let u = view.url.unwrap_or(view.message);
                    if p.urls.len() < 16 && !p.urls.iter().any(|x| x == u) {
                        p.urls.push(u.to_string());
                    }
                }
                _ => {}
            }
            let p = &self.procs[g.process as usize];
            self.seq += 1;
            let ev = Event::Finding { process: p.pref(), plugin: host.name(f.plugin), finding: &view };
            self.out.emit(self.seq, now_ms(), &ev);
        }
        self.found = found;
        self.found.clear();
        self.emit_notices();
        if let Some(t) = self.host.as_ref().and_then(|h| h.next_tick()) {
            let at = Instant::now() + Duration::from_millis((t - now_ms()).max(0) as u64);
            if self.plugin_tick_armed.is_none_or(|a| at < a) {
                self.plugin_tick_armed = Some(at);
                self.timers.arm(at, TimerKind::PluginTick);
            }
        }
    }

    fn emit_notices(&mut self) {
        let Some(host) = self.host.as_mut() else {
            return;
        };
        for n in host.take_notices() {
            let ev = match &n {
                Notice::Loaded { plugin, version, source, filter, cached, load_ms } => {
                    Event::PluginLoaded { plugin, version, source, filter: *filter, cached: *cached, load_ms: *load_ms }
                }
                Notice::Rejected { plugin, reason, .. } => {
                    Event::PluginFailed { plugin, reason, action: "rejected", failures: 1, retry_ms: 0 }
                }
                Notice::Failed { plugin, reason, failures, disabled, retry_ms } => Event::PluginFailed {
                    plugin,
                    reason,
                    action: if *disabled { "disabled" } else { "restarting" },
                    failures: *failures,
                    retry_ms: *retry_ms,
                },
                Notice::Log { plugin, text } => Event::PluginLog { plugin, text },
            };
            self.seq += 1;
            self.out.emit(self.seq, now_ms(), &ev);
        }
    }

    fn begin_shutdown(&mut self, why: Shutdown) {
        self.shutdown = why;
        for i in 0..self.procs.len() {
            self.stop(i);
        }
    }

    /// Graceful stop: the stop signal to the whole group, SIGKILL after the
    /// stop timeout.
    fn stop(&mut self, i: usize) {
        let p = &mut self.procs[i];
        match p.phase {
            Phase::Running => {
                p.stop_requested = true;
                supervise::signal_group(p.pid, p.spec.stop_signal);
                let (generation, timeout) = (p.generation, p.spec.stop_timeout);
                self.timers.arm(Instant::now() + timeout, TimerKind::Kill { proc: i, generation });
            }
            Phase::Restarting => {
                p.phase = Phase::Done;
                if p.end == Some(EndState::Failed) && self.first_failure.is_none() {
                    self.first_failure = p.exit.map(Exit::shell_code);
                }
            }
            Phase::Exiting | Phase::Idle | Phase::Done => {}
        }
    }

    /// Second interrupt: kill every group now.
    fn force_kill(&mut self) {
        self.forced = true;
        let now = Instant::now();
        for (i, p) in self.procs.iter_mut().enumerate() {
            if matches!(p.phase, Phase::Running | Phase::Exiting) && p.pid > 0 {
                p.stop_requested = true;
                supervise::signal_group(p.pid, libc::SIGKILL);
            }
            if p.phase == Phase::Exiting {
                self.timers.arm(now, TimerKind::Linger { proc: i, generation: p.generation });
            }
        }
    }

    fn emit_summary(&mut self, exit_code: i32) {
        let rows: Vec<SummaryRow<'_>> = self
            .procs
            .iter()
            .filter(|p| p.first_started.is_some() || p.end.is_some())
            .map(|p| {
                let (code, signal) = match p.exit {
                    Some(Exit::Code(c)) => (Some(c), None),
                    Some(Exit::Signal(s)) => (None, Some(s)),
                    None => (None, None),
                };
                let duration_ms = match (p.first_started, p.ended) {
                    (Some(a), Some(b)) => b.duration_since(a).as_millis() as u64,
                    (Some(a), None) => a.elapsed().as_millis() as u64,
                    _ => 0,
                };
                SummaryRow {
                    process: p.pref(),
                    state: p.end.map_or("not run", EndState::as_str),
                    code,
                    signal,
                    duration_ms,
                    restarts: p.restarts,
                    errors: p.errors,
                    warnings: p.warnings,
                    tests_passed: p.tests_passed,
                    tests_failed: p.tests_failed,
                    urls: &p.urls,
                }
            })
            .collect();
        let seq = self.seq + 1;
        self.out.emit(seq, now_ms(), &Event::RunSummary { rows: &rows, exit_code });
        self.seq = seq;
    }

    fn all_done(&self) -> bool {
        let ended = self.procs.iter().all(|p| matches!(p.phase, Phase::Idle | Phase::Done));
        // a daemon waits for `brum down` (or a signal) even when idle
        ended && (!self.daemon || self.shutdown != Shutdown::None)
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
        let mut code = match self.shutdown {
            Shutdown::Signal(sig) => 128 + sig,
            _ => self.first_failure.unwrap_or(0),
        };
        if self.output_failed && code == 0 {
            code = 1;
        }
        let (errors, warnings): (u32, u32) = self.procs.iter().fold((0, 0), |(e, w), p| (e + p.errors, w + p.warnings));
        let failing = match self.fail_on {
            Some(FailOn::Error) => errors > 0,
            Some(FailOn::Warning) => errors + warnings > 0,
            None => false,
        };
        if code == 0 && failing {
            code = 1;
        }
        self.emit_summary(code);
        self.emit(&Event::DaemonStopped { exit_code: code });
        self.close_control();
        if self.out_registered
            && let Some(fd) = self.out.needs_poll()
        {
            let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
        }
        self.out.finish();
        code
    }
}

enum ReadResult {
    /// Budget used up with data left: come back next turn.
    More,
    /// Nothing more to read now.
    Drained,
    Eof,
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
        f.debug_struct("Reactor").field("seq", &self.seq).field("processes", &self.procs.len()).finish()
    }
}
