//! Starting, stopping, reaping and restarting: the reactor's side of
//! [`crate::supervise::child`]. Each method turns what happened (a spawn, a
//! SIGCHLD, a request, a timer) into a transition of the process's
//! [`Child`](crate::supervise::child::Child) and carries out the effects it
//! returns; the decisions themselves live in the state machine.

use std::io;
use std::time::Instant;

use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM};

use super::{Reactor, SAME_SIGNAL_WINDOW, Shutdown, TimerKind};

/// A later run that stays up this long resolves the errors of the runs
/// before it.
const HEALTHY_AFTER: std::time::Duration = std::time::Duration::from_secs(10);
use crate::events::{EndState, Event, SummaryRow, now_ms};
use crate::plugins::Life;
use crate::supervise::child::{Effect, Next, Refusal, StopKind};
use crate::supervise::{self, Exit};

impl Reactor {
    /// Starts process `i` (a new run).
    pub(super) fn spawn(&mut self, i: usize) {
        // lines read before this start are published before it
        self.flush_batch();
        let result = supervise::spawn(&self.procs[i].spec, self.pipe_size, self.child_color);
        let now = Instant::now();
        let p = &mut self.procs[i];
        p.child.begin_run(now);
        // what the previous run announced does not hold for this one
        p.stats.urls.clear();
        match result {
            Ok(child) => {
                p.child.spawned(child.pid, now);
                if let Some(r) = self.records.as_mut() {
                    r.started(child.pid, &p.spec.name);
                }
                if p.child.run > 1 {
                    // a run that stays up this long has recovered from
                    // what crashed the earlier ones
                    let generation = p.child.generation;
                    self.timers.arm(now + HEALTHY_AFTER, TimerKind::Healthy { proc: i, generation });
                }
                for (slot, fd) in [child.stdout, child.stderr].into_iter().enumerate() {
                    self.add_pipe(i, slot, fd);
                }
                let p = &self.procs[i];
                let seq = self.em.publish(&Event::ProcessStarted {
                    process: p.pref(),
                    pid: child.pid as u32,
                    command: &p.spec.display,
                    restart: p.child.restarts,
                    run: p.child.run,
                });
                self.procs[i].started_seq = seq;
                self.probe_run_started(i);
                if let Some(host) = self.host.as_mut() {
                    let p = &self.procs[i];
                    host.process_started(i as u32, &p.spec.name, &p.spec.display, now_ms(), &mut self.found);
                    self.journal(seq, Life::Started { process: i as u32 });
                    self.after_plugins();
                }
            }
            Err(e) => {
                let code = if e.kind() == io::ErrorKind::PermissionDenied { 126 } else { 127 };
                p.child.spawn_failed(Exit::Code(code), now);
                let error = format!("cannot run `{}`: {e}", p.spec.argv[0]);
                self.finish_run_with(i, Some(error));
            }
        }
    }

    pub(super) fn handle_signals(&mut self) {
        let pending: Vec<i32> = self.signals.pending().collect();
        for sig in pending {
            match sig {
                SIGCHLD => self.reap(),
                SIGINT | SIGTERM | SIGHUP => self.stop_signal(sig),
                _ => {}
            }
        }
    }

    /// A stop signal: the first stops everything gracefully; a second one
    /// kills. The same TERM or HUP again within a second is the same request
    /// (`timeout` signals brum and then its whole group); Ctrl-C twice is
    /// always meant.
    fn stop_signal(&mut self, sig: i32) {
        match self.shutdown {
            Some(Shutdown::Signal(first))
                if first == sig
                    && sig != SIGINT
                    && self.shutdown_signal_at.is_some_and(|t| t.elapsed() < SAME_SIGNAL_WINDOW) => {}
            Some(Shutdown::Signal(_)) => self.force_kill(),
            _ => {
                self.shutdown_signal_at = Some(Instant::now());
                self.begin_shutdown(Shutdown::Signal(sig));
            }
        }
    }

    fn reap(&mut self) {
        while let Some((pid, exit)) = supervise::reap_one() {
            let Some(i) = self.procs.iter().position(|p| p.child.pid() == Some(pid) && !p.child.is_exiting()) else {
                continue; // a reparented orphan: reaped, nothing to report
            };
            let forced = self.forced;
            let p = &mut self.procs[i];
            let effects = p.child.reaped(exit, forced, &p.spec);
            if self.procs[i].pipes.iter().all(Option::is_none) {
                // nothing left to read: signal the group, then finish now
                let signals: Vec<Effect> = effects.into_iter().filter(|e| matches!(e, Effect::Signal(_))).collect();
                self.apply(i, signals);
                self.finish_run(i);
            } else {
                self.apply(i, effects);
            }
        }
    }

    /// Carries out what a transition of process `i` asks for.
    fn apply(&mut self, i: usize, effects: Vec<Effect>) {
        let now = Instant::now();
        for effect in effects {
            let p = &self.procs[i];
            let generation = p.child.generation;
            match effect {
                Effect::Signal(sig) => {
                    if let Some(pid) = p.child.pid() {
                        supervise::signal_group(pid, sig);
                    }
                }
                Effect::ArmKill(after) => self.timers.arm(now + after, TimerKind::Kill { proc: i, generation }),
                Effect::ArmLinger(after) => self.timers.arm(now + after, TimerKind::Linger { proc: i, generation }),
                Effect::DrainAndFinish => {
                    self.drain_and_close(i);
                    self.finish_run(i);
                }
                Effect::Spawn => self.spawn(i),
            }
        }
    }

    /// A lifecycle timer fired.
    pub(super) fn lifecycle_timer(&mut self, kind: TimerKind) {
        let effects = match kind {
            TimerKind::Kill { proc, generation } => self.procs[proc].child.kill_timer(generation),
            TimerKind::Linger { proc, generation } => self.procs[proc].child.linger_timer(generation),
            TimerKind::Restart { proc, generation } => {
                self.procs[proc].child.restart_timer(generation, self.shutdown.is_some())
            }
            TimerKind::Healthy { proc, generation } => {
                let p = &self.procs[proc];
                if p.child.generation == generation
                    && matches!(p.child.state, crate::supervise::child::ChildState::Running { .. })
                {
                    let resolved = self.book.healthy_run(proc, p.child.run, "recovered: the next run stayed up");
                    self.publish_resolved(&resolved);
                }
                return;
            }
            TimerKind::EvictReport
            | TimerKind::FlushOutput
            | TimerKind::PluginTick
            | TimerKind::ClientSweep
            | TimerKind::ProxySweep
            | TimerKind::ProxyMaps
            | TimerKind::Probe { .. } => {
                return;
            }
        };
        let (TimerKind::Kill { proc, .. } | TimerKind::Linger { proc, .. } | TimerKind::Restart { proc, .. }) = kind
        else {
            return;
        };
        self.apply(proc, effects);
    }

    /// The run of process `i` ended and its pipes are closed: report it and
    /// go on as the state machine decides.
    pub(super) fn finish_run(&mut self, i: usize) {
        self.finish_run_with(i, None);
    }

    fn finish_run_with(&mut self, i: usize, spawn_error: Option<String>) {
        if !self.procs[i].child.is_exiting() {
            return;
        }
        self.forget_pipes(i);
        let shutting_down = self.shutdown.is_some();
        let p = &mut self.procs[i];
        let Some((ended, next)) = p.child.finish(&p.spec, shutting_down, Instant::now()) else {
            return;
        };
        let (code, signal) = match ended.exit {
            Exit::Code(c) => (Some(c), None),
            Exit::Signal(s) => (None, Some(s)),
        };
        self.flush_batch();
        if let Some(host) = self.host.as_mut() {
            let now = now_ms();
            host.process_ended(i as u32, code, signal, now, &mut self.found);
            // after its lines (all read), before its process.exited
            let seq = self.em.seq();
            self.journal(seq, Life::Ended { process: i as u32, code, signal, now_ms: now });
            self.after_plugins();
        }
        let p = &self.procs[i];
        self.em.publish(&Event::ProcessExited {
            process: p.pref(),
            pid: ended.pid.map(|pid| pid as u32),
            code,
            signal,
            duration_ms: ended.duration.as_millis() as u64,
            state: ended.state,
            error: spawn_error.as_deref(),
            run: p.child.run,
        });
        self.probe_run_ended(i, code, ended.state == EndState::Failed);
        match next {
            Next::RestartNow => self.spawn(i),
            Next::Backoff { attempt, delay } => {
                let generation = self.procs[i].child.generation;
                self.timers.arm(Instant::now() + delay, TimerKind::Restart { proc: i, generation });
                let p = &self.procs[i];
                self.em.publish(&Event::ProcessRestarting {
                    process: p.pref(),
                    attempt,
                    delay_ms: delay.as_millis() as u64,
                });
            }
            Next::Done { failed, gave_up } => {
                if gave_up {
                    let p = &self.procs[i];
                    self.em.publish(&Event::ProcessGaveUp { process: p.pref(), restarts: p.child.restarts });
                }
                if failed {
                    self.note_failure(ended.exit);
                }
            }
        }
        if ended.state == EndState::Success {
            let run = self.procs[i].child.run;
            let resolved = self.book.healthy_run(i, run, "a later run exited 0");
            self.publish_resolved(&resolved);
        }
    }

    fn note_failure(&mut self, exit: Exit) {
        if self.first_failure.is_none() {
            self.first_failure = Some(exit.shell_code());
        }
        if self.kill_others_on_fail && self.shutdown.is_none() {
            self.begin_shutdown(Shutdown::KillOthers);
        }
    }

    pub(super) fn begin_shutdown(&mut self, why: Shutdown) {
        self.shutdown = Some(why);
        let reason = match why {
            Shutdown::Signal(sig) => crate::events::signal_name(sig),
            Shutdown::KillOthers => "kill_others_on_fail",
            Shutdown::OutputClosed => "output_closed",
            Shutdown::Requested => "requested",
        };
        self.em.publish(&Event::DaemonStopping { reason });
        for i in 0..self.procs.len() {
            let _ = self.stop(i, StopKind::Stop);
        }
    }

    /// Graceful stop (or restart) of process `i`: the stop signal to its
    /// whole group, SIGKILL after the stop timeout.
    pub(super) fn stop(&mut self, i: usize, kind: StopKind) -> Result<(), Refusal> {
        let p = &mut self.procs[i];
        let backing_off = matches!(p.child.state, crate::supervise::child::ChildState::Backoff { .. });
        let effects = p.child.stop(kind, &p.spec)?;
        if backing_off
            && let Some(last) = self.procs[i].child.last_end()
            && last.state == EndState::Failed
            && self.first_failure.is_none()
        {
            // it gave up on restarting: the failure stands
            self.first_failure = Some(last.exit.shell_code());
        }
        self.apply(i, effects);
        Ok(())
    }

    /// Second interrupt: kill every group now.
    fn force_kill(&mut self) {
        self.forced = true;
        for i in 0..self.procs.len() {
            let effects = self.procs[i].child.force_kill();
            self.apply(i, effects);
        }
    }

    pub(super) fn emit_summary(&mut self, exit_code: i32) {
        let rows: Vec<SummaryRow<'_>> = self
            .procs
            .iter()
            .filter(|p| p.child.run > 0)
            .map(|p| {
                let (errors_open, warnings_open) = self.book.open_counts(p.index);
                let end = p.child.last_end();
                let (code, signal) = match end.map(|e| e.exit) {
                    Some(Exit::Code(c)) => (Some(c), None),
                    Some(Exit::Signal(s)) => (None, Some(s)),
                    None => (None, None),
                };
                let duration_ms = match (p.child.first_started, end) {
                    (Some(a), Some(e)) if !p.child.is_active() => e.at.duration_since(a).as_millis() as u64,
                    (Some(a), _) => a.elapsed().as_millis() as u64,
                    _ => 0,
                };
                let ready_ms = match p.probe.readiness {
                    super::probes::Readiness::Ready { after_ms } => Some(after_ms),
                    _ => None,
                };
                SummaryRow {
                    ready_ms,
                    process: p.pref(),
                    state: end.map_or("not run", |e| e.state.as_str()),
                    code,
                    signal,
                    duration_ms,
                    restarts: p.child.restarts,
                    errors: p.stats.errors,
                    warnings: p.stats.warnings,
                    browser_errors: p.stats.browser_errors,
                    errors_open,
                    warnings_open,
                    resolved: self.book.resolved_count(p.index),
                    tests_passed: p.stats.tests_passed,
                    tests_failed: p.stats.tests_failed,
                    urls: &p.stats.urls,
                }
            })
            .collect();
        self.em.publish(&Event::RunSummary { rows: &rows, exit_code });
    }
}
