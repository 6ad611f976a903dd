//! Calls for a plugin that is catching up: loaded while processes already
//! ran (its compile took a while), it is given what it missed — the lines
//! from the rings and the processes' starts and ends, in the order they
//! happened — one plugin, one bounded batch at a time, before it sees new
//! lines. The reactor decides what to replay (`reactor/catchup.rs`); this
//! makes the calls. Its verdicts come too late to matter (those lines are
//! printed); its findings count as any other.

use super::host::{PluginHost, Status};
use super::{FLAG_STDERR, Found, Pipe, ProcessEnd, ProcessStart};

/// A process's start or end, replayed to a plugin catching up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    Started { process: u32 },
    Ended { process: u32, code: Option<i32>, signal: Option<i32>, now_ms: i64 },
}

impl PluginHost {
    /// The plugin named `name`, if it is catching up.
    pub fn catching_up(&self, name: &str) -> Option<usize> {
        self.slots.iter().position(|s| s.name == name && s.status == Status::CatchingUp)
    }

    /// Names of the plugins catching up.
    pub fn catching_up_names(&self) -> Vec<String> {
        self.slots.iter().filter(|s| s.status == Status::CatchingUp).map(|s| s.name.clone()).collect()
    }

    /// Whether plugin `i` wants the lines of process `process` at all.
    pub fn wants_process(&self, i: usize, process: u32) -> bool {
        let s = &self.slots[i];
        s.want_procs.is_empty() || s.want_procs.contains(&process)
    }

    /// Empties the catch-up batch.
    pub fn catch_up_clear(&mut self) {
        self.sub.clear();
    }

    /// Lines in the catch-up batch.
    pub fn catch_up_len(&self) -> usize {
        self.sub.len()
    }

    /// Adds a line to the catch-up batch for plugin `i`, if it wants it.
    #[allow(clippy::too_many_arguments)]
    pub fn catch_up_push(
        &mut self,
        i: usize,
        process: u32,
        pipe: Pipe,
        seq: u64,
        ts_ms: i64,
        truncated: bool,
        bytes: &[u8],
    ) -> bool {
        let s = &self.slots[i];
        let stderr = matches!(pipe, Pipe::Stderr);
        let wanted = (if stderr { s.want_stderr } else { s.want_stdout })
            && (s.want_procs.is_empty() || s.want_procs.contains(&process));
        if wanted {
            self.sub.push(process, pipe, seq, ts_ms, truncated, bytes);
            debug_assert!(self.sub.flags.last().is_some_and(|f| (f & FLAG_STDERR != 0) == stderr));
        }
        wanted
    }

    /// Hands the catch-up batch to plugin `i` (then empties it). Its
    /// findings go to `found`; a failure is handled as any other (the plugin
    /// is then no longer catching up).
    pub fn catch_up_batch(&mut self, i: usize, now_ms: i64, found: &mut Vec<Found>) {
        let (Some(&first), Some(&last)) = (self.sub.seq.first(), self.sub.seq.last()) else {
            return;
        };
        self.sub.now_ms = now_ms;
        self.slots[i].max_seq = self.slots[i].max_seq.max(last);
        let _rt = self.rt.enter();
        let (slots, sub) = (&mut self.slots, &self.sub);
        let Some((store, inst)) = slots[i].live.as_mut() else {
            return;
        };
        let _ = store.set_fuel(self.budgets.fuel);
        self.call_started = std::time::Instant::now();
        let result = inst.call_lines(&mut *store, sub);
        self.sub.clear();
        self.finish_call(i, now_ms, result, Some((first, last)), found, None);
    }

    /// Tells plugin `i` (only) that a process started or ended.
    pub fn catch_up_life(&mut self, i: usize, life: &Life, now_ms: i64, found: &mut Vec<Found>) {
        let process = match life {
            Life::Started { process } | Life::Ended { process, .. } => *process,
        };
        if !self.wants_process(i, process) {
            return;
        }
        let name = self.process_names.get(process as usize).cloned().unwrap_or_default();
        let command = self.commands.get(process as usize).cloned().unwrap_or_default();
        let _rt = self.rt.enter();
        let Some((store, inst)) = self.slots[i].live.as_mut() else {
            return;
        };
        let _ = store.set_fuel(self.budgets.fuel);
        self.call_started = std::time::Instant::now();
        let result = match *life {
            Life::Started { process } => {
                inst.call_process_started(&mut *store, &ProcessStart { process, name, command })
            }
            Life::Ended { process, code, signal, now_ms } => {
                inst.call_process_ended(&mut *store, ProcessEnd { process, code, signal, now_ms })
            }
        };
        self.finish_call(i, now_ms, result, None, found, None);
    }

    /// Whether process `id` runs now.
    pub fn is_running(&self, id: u32) -> bool {
        self.running.get(id as usize).copied().unwrap_or(false)
    }

    /// Plugin `i` has caught up: from now on it gets every batch.
    pub fn catch_up_done(&mut self, i: usize) {
        if self.slots[i].status == Status::CatchingUp {
            self.slots[i].status = Status::Active;
        }
    }
}
