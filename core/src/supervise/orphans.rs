//! What a session leaves behind if it is killed with SIGKILL: the process
//! groups it started. Each session records its groups in
//! `.brum/groups/<brum pid>` (pgid, leader pid, the leader's start time in
//! clock ticks since boot, the process name); a clean end removes the file.
//! The next session in the same directory reads the records of sessions
//! that are gone and ends the groups still alive — their dev servers would
//! otherwise keep their ports.
//!
//! PID reuse is ruled out by start time: a recorded leader pid that now
//! belongs to a process with another start time is someone else, and its
//! group is left alone. While any member of a group lives, the kernel does
//! not hand out its pgid as a new pid, so a group whose leader is gone but
//! which still answers `kill(-pgid, 0)` is the one brum started.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One recorded group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub pgid: i32,
    pub start_ticks: u64,
    pub process: String,
}

/// The start time of `pid` in clock ticks since boot (field 22 of
/// `/proc/PID/stat`).
pub fn start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name is in parentheses and may contain anything
    let rest = &stat[stat.rfind(')')? + 2..];
    // fields after the name start at field 3 (state); start time is 22
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This session's record file: groups are appended as they start.
#[derive(Debug)]
pub struct Records {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl Records {
    /// Records for the session of brum `pid` in `dir` (`.brum/groups`).
    pub fn new(dir: &Path) -> Records {
        Records { path: dir.join(std::process::id().to_string()), file: None }
    }

    /// The directory the records live in.
    pub fn dir(&self) -> Option<PathBuf> {
        self.path.parent().map(Path::to_path_buf)
    }

    /// Notes a group that was just started (best effort: a full disk costs
    /// only the clean-up after a `kill -9`).
    pub fn started(&mut self, pgid: i32, process: &str) {
        let Some(ticks) = start_ticks(pgid) else { return };
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                let _ = crate::files::private_dir(dir);
            }
            self.file = crate::files::private_file(&self.path, true).ok();
        }
        if let Some(f) = self.file.as_mut() {
            // names are validated: no spaces or newlines
            let _ = writeln!(f, "{pgid} {ticks} {process}");
        }
    }

    /// The session ended cleanly: nothing of it is left to clean up.
    pub fn finish(self) {
        if self.file.is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn parse(text: &str) -> Vec<Group> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            let pgid = f.next()?.parse().ok()?;
            let start_ticks = f.next()?.parse().ok()?;
            let process = f.next()?.to_string();
            Some(Group { pgid, start_ticks, process })
        })
        .filter(|g: &Group| g.pgid > 1)
        .collect()
}

fn alive(pgid: i32) -> bool {
    super::group_alive(pgid)
}

/// Whether `g` is still the group brum started (see the module docs).
fn still_ours(g: &Group) -> bool {
    match start_ticks(g.pgid) {
        Some(t) => t == g.start_ticks,
        // the leader is gone; the pgid cannot have been reused while the
        // group has members
        None => alive(g.pgid),
    }
}

/// Groups left alive by sessions in `dir` whose brum is gone. Their
/// record files are taken (removed) as they are read.
pub fn left_behind(dir: &Path) -> Vec<Group> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Ok(pid) = name.parse::<i32>() else { continue };
        if name == me {
            continue;
        }
        // a session still running (its brum answers kill 0) is not ours to
        // clean; a pid reused by something else is taken as gone
        if pid > 1 && is_brum(pid) {
            continue;
        }
        let path = entry.path();
        if let Ok(text) = std::fs::read_to_string(&path) {
            out.extend(parse(&text).into_iter().filter(still_ours));
        }
        let _ = std::fs::remove_file(&path);
    }
    out
}

fn is_brum(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "brum")
}

/// Ends `groups`: SIGTERM, then SIGKILL to what is left after `grace`.
/// Returns, per group, the signal that ended it.
pub fn end(groups: &[Group], grace: Duration) -> Vec<(&Group, i32)> {
    for g in groups {
        super::signal_group(g.pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    let mut result: Vec<(&Group, i32)> = groups.iter().map(|g| (g, libc::SIGTERM)).collect();
    while result.iter().any(|(g, _)| alive(g.pgid)) && Instant::now() < deadline {
        // reap those that were our children (none usually: they were the
        // dead session's) and look again soon
        while super::reap_one().is_some() {}
        std::thread::sleep(Duration::from_millis(20));
    }
    for (g, sig) in result.iter_mut() {
        if alive(g.pgid) {
            super::signal_group(g.pgid, libc::SIGKILL);
            *sig = libc::SIGKILL;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse_and_own_start_time_is_read() {
        let me = std::process::id() as i32;
        assert!(start_ticks(me).is_some_and(|t| t > 0));
        let g = parse("123 456 web\nbad line\n1 5 init\n77 88 api server\n");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0], Group { pgid: 123, start_ticks: 456, process: "web".into() });
        assert_eq!(g[1].process, "api server");
    }

    #[test]
    fn a_reused_pid_is_not_ours() {
        // this test process exists, with another start time than recorded
        let me = std::process::id() as i32;
        let ticks = start_ticks(me).expect("ticks");
        assert!(!still_ours(&Group { pgid: me, start_ticks: ticks + 1, process: "x".into() }));
        assert!(still_ours(&Group { pgid: me, start_ticks: ticks, process: "x".into() }));
    }
}
