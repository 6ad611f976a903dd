//! Supervision: starting a child in its own process group, signalling the
//! group, decoding wait statuses, and the restart policy — as data and plain
//! functions. No mio here; the reactor owns readiness and calls in.
//!
//! Every child gets:
//! - its own process group (so a stop reaches its whole tree),
//! - `PR_SET_PDEATHSIG(SIGKILL)` (so it dies with brum even if brum is
//!   killed with SIGKILL), checked against a race with brum's death,
//! - stdin from `/dev/null`, stdout and stderr on pipes enlarged with
//!   `F_SETPIPE_SZ`.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::config::{ProcessSpec, RestartPolicy};

pub mod child;
pub mod orphans;

/// A child that was started.
#[derive(Debug)]
pub struct Spawned {
    pub pid: i32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Starts `spec` as the leader of a new process group. `force_color`:
/// brum's own output has colour, so the child is asked for colour too
/// (`FORCE_COLOR=1`, as concurrently does), unless its spec says
/// `color = false` or its env sets FORCE_COLOR / NO_COLOR itself.
pub fn spawn(spec: &ProcessSpec, pipe_size: Option<i32>, force_color: bool) -> io::Result<Spawned> {
    let mut cmd = Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    if force_color && spec.color && !spec.env.iter().any(|(k, _)| k == "FORCE_COLOR" || k == "NO_COLOR") {
        cmd.env("FORCE_COLOR", "1");
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and calls
    // only async-signal-safe functions (setpgid, prctl, getppid, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setpgid(0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // brum ignores SIGXFSZ (to see EFBIG instead of dying); an
            // ignored disposition would survive exec, so restore it
            libc::signal(libc::SIGXFSZ, libc::SIG_DFL);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // brum died between fork and prctl: do not outlive it.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    // Also from the parent, so the group exists before we ever signal it.
    // SAFETY: plain syscall; failure (child already exec'd) is harmless.
    unsafe {
        libc::setpgid(pid, pid);
    }
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(io::Error::other("child pipes missing"));
    };
    let stdout = OwnedFd::from(out);
    let stderr = OwnedFd::from(err);
    for fd in [&stdout, &stderr] {
        if let Err(e) = set_nonblocking(fd) {
            // never leave an untracked child behind
            signal_group(pid, libc::SIGKILL);
            return Err(e);
        }
        if let Some(size) = pipe_size {
            // SAFETY: fcntl on a pipe fd we own; failure only means a
            // smaller pipe.
            unsafe {
                libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size);
            }
        }
    }
    // The std handle is dropped without waiting: brum reaps with waitpid.
    drop(child);
    Ok(Spawned { pid, stdout, stderr })
}

/// Puts an fd in non-blocking mode.
pub fn set_nonblocking(fd: &impl AsRawFd) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl with valid flags on an fd the caller owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The largest pipe buffer an unprivileged process may ask for.
pub fn max_pipe_size() -> Option<i32> {
    std::fs::read_to_string("/proc/sys/fs/pipe-max-size").ok()?.trim().parse().ok()
}

/// Sends `sig` to the process group `pgid`. Returns false when the group is
/// gone. A pgid of 0 or below is refused: `kill(0, …)` would signal brum's
/// own group and `kill(1, …)` with a negated -1 every process it may signal.
pub fn signal_group(pgid: i32, sig: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill(2) with a negative pid addresses the group `pgid` (> 1).
    unsafe { libc::kill(-pgid, sig) == 0 }
}

/// Whether any process of the group still exists (zombies included).
pub fn group_alive(pgid: i32) -> bool {
    signal_group(pgid, 0)
}

/// Ignores SIGXFSZ in brum: a write past the file size limit then fails
/// with EFBIG, which brum reports, instead of killing it.
pub fn ignore_sigxfsz() {
    // SAFETY: setting a signal disposition to ignore.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Makes brum the reaper of orphaned descendants, so grandchildren that
/// outlive their parent are still brum's to find and stop.
pub fn become_subreaper() {
    // SAFETY: prctl with constant arguments.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn from_wait_status(status: i32) -> Exit {
        if libc::WIFSIGNALED(status) {
            Exit::Signal(libc::WTERMSIG(status))
        } else {
            Exit::Code(libc::WEXITSTATUS(status))
        }
    }

    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code a shell would report: the code, or 128 + signal.
    pub fn shell_code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// Reaps one exited child without blocking.
pub fn reap_one() -> Option<(i32, Exit)> {
    let mut status = 0;
    // SAFETY: waitpid with a valid out-pointer.
    let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    (pid > 0).then(|| (pid, Exit::from_wait_status(status)))
}

/// Whether brum has any child at all, running or not yet reaped (nothing is
/// reaped by asking).
pub fn has_children() -> bool {
    // SAFETY: waitid writes the siginfo it is given; WNOWAIT leaves a
    // finished child to be reaped as usual.
    let r = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
    };
    !(r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
}

/// Pids whose parent is brum (direct children and reparented orphans).
pub fn own_children() -> Vec<i32> {
    let me = std::process::id() as i32;
    let mut out = Vec::new();
    // without any child there is no process to look for (the usual end of a
    // run): every process's stat is read only when there is
    if !has_children() {
        return out;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // the command name is in parentheses and may contain spaces
            if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
                let mut f = rest.split_whitespace();
                let _state = f.next();
                if f.next().and_then(|p| p.parse::<i32>().ok()) == Some(me) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

/// Whether a process that ended should be started again, given how many
/// restarts it already had.
pub fn should_restart(spec: &ProcessSpec, exit: Exit, restarts: u32) -> bool {
    let wanted = match spec.restart {
        RestartPolicy::Never => false,
        RestartPolicy::OnFailure => !exit.success(),
        RestartPolicy::Always => true,
    };
    wanted && spec.max_restarts.is_none_or(|m| restarts < m)
}

/// Delay before restart number `attempt` (1-based): exponential from the
/// initial delay, capped at the maximum.
pub fn backoff(spec: &ProcessSpec, attempt: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    spec.restart_delay.saturating_mul(factor).min(spec.restart_max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_seen_running_and_finished_until_it_is_reaped() {
        let mut child = std::process::Command::new("sleep").arg("30").spawn().expect("sleep");
        assert!(has_children());
        assert!(own_children().contains(&(child.id() as i32)));
        let _ = child.kill();
        // finished but not reaped: still a child (and not reaped by asking)
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline
            && std::fs::read_to_string(format!("/proc/{}/stat", child.id())).is_ok_and(|s| !s.contains(") Z "))
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(has_children());
        assert!(child.try_wait().expect("wait").is_some(), "reaped by its owner");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut s = ProcessSpec::new("x", vec!["true".into()], "true".into());
        s.restart_delay = Duration::from_millis(100);
        s.restart_max_delay = Duration::from_millis(1000);
        let d: Vec<u128> = (1..=6).map(|a| backoff(&s, a).as_millis()).collect();
        assert_eq!(d, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&s, 500).as_millis(), 1000);
    }

    #[test]
    fn restart_policy_and_limit() {
        let mut s = ProcessSpec::new("x", vec!["true".into()], "true".into());
        assert!(!should_restart(&s, Exit::Code(1), 0));
        s.restart = RestartPolicy::OnFailure;
        s.max_restarts = Some(2);
        assert!(should_restart(&s, Exit::Code(1), 1));
        assert!(!should_restart(&s, Exit::Code(1), 2));
        assert!(!should_restart(&s, Exit::Code(0), 0));
        s.restart = RestartPolicy::Always;
        assert!(should_restart(&s, Exit::Code(0), 0));
    }

    #[test]
    fn shell_codes() {
        assert_eq!(Exit::Signal(libc::SIGTERM).shell_code(), 143);
        assert_eq!(Exit::Code(3).shell_code(), 3);
    }
}
