//! A child's life as data: the state of one supervised process and pure
//! transitions from what happened (started, reaped, stop asked, timer fired)
//! to the new state plus the effects the reactor must carry out (signal the
//! group, arm a timer, spawn, publish the end). No syscalls, no clock reads:
//! every instant comes in as an argument, so every path is unit-tested
//! without a process (see the tests below).
//!
//! ```text
//!  Idle ──start──► Running ──reaped──► Exiting ──pipes closed / linger──► finish
//!                   │  ▲                                                   │
//!           stop ───┘  └──── Backoff ◄── restart policy ◄──────────────────┤
//!                                                                          ▼
//!                                                                        Done
//! ```
//!
//! A *run* is one start of the process; `run` counts them (1 for the first
//! start of the session), so what belongs to a run (its URLs, readiness, its
//! crash errors) can be told from what an earlier run left behind.

use std::time::{Duration, Instant};

use super::Exit;
use crate::config::ProcessSpec;
use crate::events::EndState;

/// Why brum asked a running child to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopKind {
    /// Stop and stay stopped.
    Stop,
    /// `brum restart`: start again as soon as it has stopped.
    Restart,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub pid: Option<i32>,
    pub exit: Exit,
    pub state: EndState,
    pub duration: Duration,
    pub at: Instant,
    /// Why it could not be started, when it could not.
    pub spawn_error: Option<String>,
}

/// Where a child is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildState {
    /// Not started in this session.
    Idle,
    /// The leader runs; `stop` is set once brum asked it to stop.
    Running { pid: i32, since: Instant, stop: Option<StopKind> },
    /// The leader was reaped; what is left in its pipes is being read.
    Exiting { pid: i32, since: Instant, exit: Exit, stop: Option<StopKind> },
    /// Waiting out the restart delay after `last` ended.
    Backoff { until: Instant, attempt: u32, last: Ended },
    /// Ended for good (until started again by hand).
    Done { last: Ended },
}

/// What the reactor must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send this signal to the child's process group.
    Signal(i32),
    /// SIGKILL the group when this much time has passed (the stop timeout).
    ArmKill(Duration),
    /// Give up on the pipes when this much time has passed.
    ArmLinger(Duration),
    /// Read what is left in the pipes now, close them, and finish the run.
    DrainAndFinish,
    /// Start the process (again) now.
    Spawn,
}

/// What comes after a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// `brum restart`: start again at once.
    RestartNow,
    /// The restart policy starts it again after `delay`.
    Backoff { attempt: u32, delay: Duration },
    /// Nothing more; `failed` when it ended as a failure, `gave_up` when
    /// the restart policy wanted another start but `max_restarts` ran out.
    Done { failed: bool, gave_up: bool },
}

/// A request that does not fit the child's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    AlreadyRunning,
    WaitingToRestart,
    NotRunning,
}

/// One supervised process: its state and its counters.
#[derive(Debug, Clone)]
pub struct Child {
    pub state: ChildState,
    /// Bumped on every start so timers armed for an earlier run are ignored.
    pub generation: u64,
    /// Starts in this session (the current run's number; 0 before the first).
    pub run: u32,
    /// Restarts by the restart policy (or `brum restart`) since the last
    /// start by hand.
    pub restarts: u32,
    /// When the first run of the session started.
    pub first_started: Option<Instant>,
}

impl Default for Child {
    fn default() -> Self {
        Child::new()
    }
}

impl Child {
    pub fn new() -> Self {
        Child { state: ChildState::Idle, generation: 0, run: 0, restarts: 0, first_started: None }
    }

    /// Whether a start by hand may happen now.
    pub fn can_start(&self) -> Result<(), Refusal> {
        match self.state {
            ChildState::Idle | ChildState::Done { .. } => Ok(()),
            ChildState::Backoff { .. } => Err(Refusal::WaitingToRestart),
            ChildState::Running { .. } | ChildState::Exiting { .. } => Err(Refusal::AlreadyRunning),
        }
    }

    /// A new run begins (call right before spawning).
    pub fn begin_run(&mut self, now: Instant) {
        self.generation += 1;
        self.run += 1;
        self.first_started.get_or_insert(now);
    }

    /// The spawn succeeded.
    pub fn spawned(&mut self, pid: i32, now: Instant) {
        self.state = ChildState::Running { pid, since: now, stop: None };
    }

    /// The spawn failed: the run is over before it began (exit 126/127).
    pub fn spawn_failed(&mut self, exit: Exit, now: Instant) {
        self.state = ChildState::Exiting { pid: 0, since: now, exit, stop: None };
    }

    /// The leader was reaped. `forced`: a second interrupt came, so no
    /// grace for what is left.
    pub fn reaped(&mut self, exit: Exit, forced: bool, spec: &ProcessSpec) -> Vec<Effect> {
        let ChildState::Running { pid, since, stop } = self.state else {
            return Vec::new();
        };
        self.state = ChildState::Exiting { pid, since, exit, stop };
        // whatever the leader left behind in its group is asked to stop, and
        // its pipes are given up after the stop timeout
        if forced {
            vec![Effect::Signal(libc::SIGKILL), Effect::ArmLinger(Duration::ZERO)]
        } else {
            vec![Effect::Signal(spec.stop_signal), Effect::ArmLinger(spec.stop_timeout)]
        }
    }

    /// brum asks the child to stop (or to restart). Returns what to do, or
    /// a refusal when there is nothing to stop.
    pub fn stop(&mut self, kind: StopKind, spec: &ProcessSpec) -> Result<Vec<Effect>, Refusal> {
        match &mut self.state {
            ChildState::Running { stop: stop @ None, .. } => {
                *stop = Some(kind);
                Ok(vec![Effect::Signal(spec.stop_signal), Effect::ArmKill(spec.stop_timeout)])
            }
            ChildState::Running { stop: Some(k), .. } => {
                // already stopping: a restart request still restarts it
                if kind == StopKind::Restart {
                    *k = StopKind::Restart;
                }
                Ok(Vec::new())
            }
            ChildState::Backoff { last, .. } => {
                let last = last.clone();
                self.state = ChildState::Done { last };
                Ok(Vec::new())
            }
            ChildState::Exiting { .. } => Ok(Vec::new()),
            ChildState::Idle | ChildState::Done { .. } => Err(Refusal::NotRunning),
        }
    }

    /// A second interrupt: kill now.
    pub fn force_kill(&mut self) -> Vec<Effect> {
        match &mut self.state {
            ChildState::Running { stop, pid, .. } if *pid > 0 => {
                stop.get_or_insert(StopKind::Stop);
                vec![Effect::Signal(libc::SIGKILL)]
            }
            ChildState::Exiting { pid, .. } if *pid > 0 => {
                vec![Effect::Signal(libc::SIGKILL), Effect::ArmLinger(Duration::ZERO)]
            }
            ChildState::Exiting { .. } => vec![Effect::ArmLinger(Duration::ZERO)],
            _ => Vec::new(),
        }
    }

    /// The stop timeout of run `generation` passed.
    pub fn kill_timer(&self, generation: u64) -> Vec<Effect> {
        match self.state {
            ChildState::Running { pid, .. } | ChildState::Exiting { pid, .. }
                if generation == self.generation && pid > 0 =>
            {
                vec![Effect::Signal(libc::SIGKILL)]
            }
            _ => Vec::new(),
        }
    }

    /// The linger time of run `generation` passed: its pipes are given up.
    pub fn linger_timer(&self, generation: u64) -> Vec<Effect> {
        match self.state {
            ChildState::Exiting { pid, .. } if generation == self.generation => {
                let mut v = Vec::with_capacity(2);
                if pid > 0 {
                    v.push(Effect::Signal(libc::SIGKILL));
                }
                v.push(Effect::DrainAndFinish);
                v
            }
            _ => Vec::new(),
        }
    }

    /// The restart delay after run `generation` passed.
    pub fn restart_timer(&self, generation: u64, shutting_down: bool) -> Vec<Effect> {
        match self.state {
            ChildState::Backoff { .. } if generation == self.generation && !shutting_down => vec![Effect::Spawn],
            _ => Vec::new(),
        }
    }

    /// Whether the run is over but for its pipes.
    pub fn is_exiting(&self) -> bool {
        matches!(self.state, ChildState::Exiting { .. })
    }

    /// The run ended and its pipes are closed: how it ended, and what comes
    /// next. `None` when the child was not exiting.
    pub fn finish(&mut self, spec: &ProcessSpec, shutting_down: bool, now: Instant) -> Option<(Ended, Next)> {
        let ChildState::Exiting { pid, since, exit, stop } = self.state else {
            return None;
        };
        let state = if stop.is_some() {
            EndState::Stopped
        } else if exit.success() {
            EndState::Success
        } else {
            EndState::Failed
        };
        let ended = Ended {
            pid: (pid > 0).then_some(pid),
            exit,
            state,
            duration: now.saturating_duration_since(since),
            at: now,
            spawn_error: None,
        };
        let next = if stop == Some(StopKind::Restart) && !shutting_down {
            self.restarts += 1;
            Next::RestartNow
        } else if !shutting_down && state != EndState::Stopped && super::should_restart(spec, exit, self.restarts) {
            self.restarts += 1;
            let delay = super::backoff(spec, self.restarts);
            Next::Backoff { attempt: self.restarts, delay }
        } else {
            let wanted = match spec.restart {
                crate::config::RestartPolicy::Never => false,
                crate::config::RestartPolicy::OnFailure => !exit.success(),
                crate::config::RestartPolicy::Always => true,
            };
            let gave_up = !shutting_down && state != EndState::Stopped && wanted;
            Next::Done { failed: state == EndState::Failed, gave_up }
        };
        self.state = match &next {
            Next::Backoff { attempt, delay } => {
                ChildState::Backoff { until: now + *delay, attempt: *attempt, last: ended.clone() }
            }
            Next::RestartNow | Next::Done { .. } => ChildState::Done { last: ended.clone() },
        };
        Some((ended, next))
    }

    /// The end of the last run, if one ended.
    pub fn last_end(&self) -> Option<&Ended> {
        match &self.state {
            ChildState::Backoff { last, .. } | ChildState::Done { last } => Some(last),
            _ => None,
        }
    }

    /// The pid of the running leader (also while its pipes drain).
    pub fn pid(&self) -> Option<i32> {
        match self.state {
            ChildState::Running { pid, .. } | ChildState::Exiting { pid, .. } if pid > 0 => Some(pid),
            _ => None,
        }
    }

    /// Whether this child keeps the session alive.
    pub fn is_active(&self) -> bool {
        !matches!(self.state, ChildState::Idle | ChildState::Done { .. })
    }

    /// The state as `brum ps` shows it.
    pub fn label(&self) -> &'static str {
        match &self.state {
            ChildState::Idle => "not started",
            // an ended leader whose output is still being read is past its
            // run: nothing it said (ready, its URLs) is current any more
            ChildState::Running { stop: Some(_), .. } | ChildState::Exiting { .. } => "stopping",
            ChildState::Running { .. } => "running",
            ChildState::Backoff { .. } => "restarting",
            ChildState::Done { last } => last.state.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RestartPolicy;

    fn spec(restart: RestartPolicy) -> ProcessSpec {
        let mut s = ProcessSpec::new("x", vec!["true".into()], "true".into());
        s.restart = restart;
        s.restart_delay = Duration::from_millis(100);
        s.restart_max_delay = Duration::from_secs(1);
        s.stop_timeout = Duration::from_secs(5);
        s
    }

    fn running(c: &mut Child, now: Instant) {
        c.begin_run(now);
        c.spawned(42, now);
    }

    #[test]
    fn a_run_that_exits_cleanly_is_done() {
        let s = spec(RestartPolicy::Never);
        let t0 = Instant::now();
        let mut c = Child::new();
        assert_eq!(c.can_start(), Ok(()));
        running(&mut c, t0);
        assert_eq!((c.run, c.generation, c.label()), (1, 1, "running"));
        let fx = c.reaped(Exit::Code(0), false, &s);
        assert_eq!(fx, [Effect::Signal(s.stop_signal), Effect::ArmLinger(s.stop_timeout)]);
        assert!(c.is_exiting());
        let (ended, next) = c.finish(&s, false, t0 + Duration::from_secs(2)).expect("exiting");
        assert_eq!((ended.state, ended.pid, ended.duration), (EndState::Success, Some(42), Duration::from_secs(2)));
        assert_eq!(next, Next::Done { failed: false, gave_up: false });
        assert_eq!(c.label(), "success");
        assert!(!c.is_active());
        assert_eq!(c.finish(&s, false, t0), None, "finishing twice does nothing");
    }

    #[test]
    fn a_failure_backs_off_then_restarts_with_a_new_generation() {
        let s = spec(RestartPolicy::OnFailure);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        c.reaped(Exit::Code(1), false, &s);
        let (ended, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!(ended.state, EndState::Failed);
        assert_eq!(next, Next::Backoff { attempt: 1, delay: Duration::from_millis(100) });
        assert_eq!((c.label(), c.can_start()), ("restarting", Err(Refusal::WaitingToRestart)));
        assert_eq!(c.restart_timer(c.generation, true), [], "no restart while shutting down");
        assert_eq!(c.restart_timer(c.generation + 1, false), [], "a stale timer");
        assert_eq!(c.restart_timer(c.generation, false), [Effect::Spawn]);
        running(&mut c, t0);
        assert_eq!((c.run, c.generation), (2, 2));
        // the timers of run 1 no longer touch run 2
        assert_eq!(c.kill_timer(1), []);
        assert_eq!(c.linger_timer(1), []);
        c.reaped(Exit::Signal(libc::SIGSEGV), false, &s);
        let (_, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!(next, Next::Backoff { attempt: 2, delay: Duration::from_millis(200) });
    }

    #[test]
    fn running_out_of_restarts_is_giving_up() {
        let mut s = spec(RestartPolicy::OnFailure);
        s.max_restarts = Some(1);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        c.reaped(Exit::Code(1), false, &s);
        assert!(matches!(c.finish(&s, false, t0), Some((_, Next::Backoff { .. }))));
        running(&mut c, t0);
        c.reaped(Exit::Code(1), false, &s);
        let (_, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!(next, Next::Done { failed: true, gave_up: true });
    }

    #[test]
    fn a_stopped_run_is_stopped_not_failed_and_never_restarted() {
        let s = spec(RestartPolicy::Always);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        let fx = c.stop(StopKind::Stop, &s).expect("running");
        assert_eq!(fx, [Effect::Signal(s.stop_signal), Effect::ArmKill(s.stop_timeout)]);
        assert_eq!(c.label(), "stopping");
        assert_eq!(c.stop(StopKind::Stop, &s), Ok(vec![]), "a second stop adds nothing");
        assert_eq!(c.kill_timer(c.generation), [Effect::Signal(libc::SIGKILL)]);
        c.reaped(Exit::Signal(libc::SIGTERM), false, &s);
        assert_eq!(c.label(), "stopping", "reaped, its pipes still drained: not running");
        let (ended, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!((ended.state, next), (EndState::Stopped, Next::Done { failed: false, gave_up: false }));
        assert_eq!(c.stop(StopKind::Stop, &s), Err(Refusal::NotRunning));
        assert_eq!(c.can_start(), Ok(()));
    }

    #[test]
    fn restart_by_hand_starts_again_at_once_unless_shutting_down() {
        let s = spec(RestartPolicy::Never);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        c.stop(StopKind::Stop, &s).expect("running");
        // a restart asked while it is already stopping still restarts it
        assert_eq!(c.stop(StopKind::Restart, &s), Ok(vec![]));
        c.reaped(Exit::Signal(libc::SIGTERM), false, &s);
        let (ended, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!((ended.state, next, c.restarts), (EndState::Stopped, Next::RestartNow, 1));
        running(&mut c, t0);
        c.stop(StopKind::Restart, &s).expect("running");
        c.reaped(Exit::Signal(libc::SIGTERM), false, &s);
        let (_, next) = c.finish(&s, true, t0).expect("exiting");
        assert_eq!(next, Next::Done { failed: false, gave_up: false });
    }

    #[test]
    fn stopping_during_backoff_gives_up_and_keeps_the_failure() {
        let s = spec(RestartPolicy::OnFailure);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        c.reaped(Exit::Code(3), false, &s);
        c.finish(&s, false, t0).expect("exiting");
        assert_eq!(c.stop(StopKind::Stop, &s), Ok(vec![]));
        assert_eq!(c.label(), "failed");
        assert_eq!(c.last_end().map(|e| e.exit), Some(Exit::Code(3)));
        assert_eq!(c.restart_timer(c.generation, false), [], "the pending restart is void");
    }

    #[test]
    fn a_second_interrupt_kills_at_once_and_gives_up_on_pipes() {
        let s = spec(RestartPolicy::Never);
        let t0 = Instant::now();
        let mut c = Child::new();
        running(&mut c, t0);
        assert_eq!(c.force_kill(), [Effect::Signal(libc::SIGKILL)]);
        assert_eq!(c.label(), "stopping");
        let fx = c.reaped(Exit::Signal(libc::SIGKILL), true, &s);
        assert_eq!(fx, [Effect::Signal(libc::SIGKILL), Effect::ArmLinger(Duration::ZERO)]);
        assert_eq!(c.force_kill(), [Effect::Signal(libc::SIGKILL), Effect::ArmLinger(Duration::ZERO)]);
        assert_eq!(c.linger_timer(c.generation), [Effect::Signal(libc::SIGKILL), Effect::DrainAndFinish]);
        let (ended, _) = c.finish(&s, true, t0).expect("exiting");
        assert_eq!(ended.state, EndState::Stopped);
    }

    #[test]
    fn a_spawn_failure_ends_the_run_as_a_failure() {
        let s = spec(RestartPolicy::Never);
        let t0 = Instant::now();
        let mut c = Child::new();
        c.begin_run(t0);
        c.spawn_failed(Exit::Code(127), t0);
        assert_eq!(c.pid(), None);
        assert_eq!(c.linger_timer(c.generation), [Effect::DrainAndFinish], "no group to signal");
        let (ended, next) = c.finish(&s, false, t0).expect("exiting");
        assert_eq!(
            (ended.pid, ended.state, next),
            (None, EndState::Failed, Next::Done { failed: true, gave_up: false })
        );
    }

    #[test]
    fn transitions_that_do_not_apply_change_nothing() {
        let s = spec(RestartPolicy::Never);
        let mut c = Child::new();
        assert_eq!(c.reaped(Exit::Code(0), false, &s), []);
        assert_eq!(c.force_kill(), []);
        assert_eq!(c.kill_timer(0), []);
        assert_eq!(c.linger_timer(0), []);
        assert_eq!(c.stop(StopKind::Restart, &s), Err(Refusal::NotRunning));
        assert_eq!(c.state, ChildState::Idle);
        assert!(!c.is_active());
    }
}
