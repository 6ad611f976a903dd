//! Calls into plugins: a batch per turn, process start and end, ticks; and
//! what is done with the answers — validated (a malformed answer is a
//! failure), turned into findings and verdicts — and with failures: backoff,
//! re-instantiation, disabling after repeated failures.

use wasmtime::{Store, Trap};

use super::host::{PluginHost, Slot, Status};
use super::sandbox::{Sink, State};
use super::{
    Batch, FAILURE_WINDOW_MS, FLAG_STDERR, Found, MAX_FAILURES, MAX_FINDINGS_PER_CALL, MAX_STRING, Notice, Output,
    ProcessEnd, ProcessStart, Verdict, bindings,
};

impl PluginHost {
    /// Whether the plugin in `slot` asked for line `j` of `batch` (read
    /// from the process and flags columns only).
    pub(super) fn wants(slot: &Slot, batch: &Batch, j: usize) -> bool {
        let process = batch.process[j];
        (if batch.flags[j] & FLAG_STDERR != 0 { slot.want_stderr } else { slot.want_stdout })
            && (slot.want_procs.is_empty() || slot.want_procs.contains(&process))
    }

    /// Hands the current batch to every active plugin. Findings are
    /// appended to `found`; verdicts (first non-keep verdict per line, in
    /// plugin order) to `verdicts`, sorted by seq. The batch is left in
    /// place for the caller to emit, then `clear_batch`.
    pub fn run_batch(&mut self, now_ms: i64, found: &mut Vec<Found>, verdicts: &mut Vec<(u64, Verdict)>) {
        let (Some(&first), Some(&last)) = (self.batch.seq.first(), self.batch.seq.last()) else {
            return;
        };
        self.batch.now_ms = now_ms;
        for i in 0..self.slots.len() {
            if !self.ready(i, now_ms) {
                continue;
            }
            let slot = &self.slots[i];
            let all = (0..self.batch.len()).all(|j| Self::wants(slot, &self.batch, j));
            if !all {
                self.sub.clear();
                self.sub.now_ms = now_ms;
                for j in 0..self.batch.len() {
                    if Self::wants(slot, &self.batch, j) {
                        let l = self.batch.line(j);
                        self.sub.push(l.process, l.pipe, l.seq, l.ts_ms, l.truncated, l.bytes);
                    }
                }
                if self.sub.is_empty() {
                    continue;
                }
            }
            let given_last = if all { last } else { self.sub.seq.last().copied().unwrap_or(last) };
            self.slots[i].max_seq = self.slots[i].max_seq.max(given_last);
            let _rt = self.rt.enter();
            let (slots, batch, sub) = (&mut self.slots, &self.batch, &self.sub);
            let slot = &mut slots[i];
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let input = if all { batch } else { sub };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = inst.call_lines(&mut *store, input);
            self.finish_call(i, now_ms, result, Some((first, last)), found, Some(verdicts));
        }
        verdicts.sort_by_key(|v| v.0);
        verdicts.dedup_by_key(|v| v.0);
    }

    /// Tells every plugin that process `id` started.
    pub fn process_started(&mut self, id: u32, name: &str, command: &str, now_ms: i64, found: &mut Vec<Found>) {
        if let Some(r) = self.running.get_mut(id as usize) {
            *r = true;
        }
        if let Some(c) = self.commands.get_mut(id as usize) {
            command.clone_into(c);
        }
        let ps = ProcessStart { process: id, name: name.to_string(), command: command.to_string() };
        self.call_wanting(id, now_ms, found, |inst, store| inst.call_process_started(store, &ps));
    }

    /// Calls every ready plugin that wants process `id` with `call`.
    fn call_wanting(
        &mut self,
        id: u32,
        now_ms: i64,
        found: &mut Vec<Found>,
        call: impl Fn(&bindings::Plugin, &mut Store<State>) -> wasmtime::Result<Output>,
    ) {
        for i in 0..self.slots.len() {
            if !self.ready(i, now_ms) {
                continue;
            }
            let slot = &mut self.slots[i];
            if !slot.want_procs.is_empty() && !slot.want_procs.contains(&id) {
                continue;
            }
            let _rt = self.rt.enter();
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = call(inst, store);
            self.finish_call(i, now_ms, result, None, found, None);
        }
    }

    /// Tells every plugin that process `id` ended, so it flushes.
    pub fn process_ended(
        &mut self,
        id: u32,
        code: Option<i32>,
        signal: Option<i32>,
        now_ms: i64,
        found: &mut Vec<Found>,
    ) {
        match self.running.get_mut(id as usize) {
            Some(r) if *r => *r = false,
            _ => return, // never started: nothing to flush
        }
        let pe = ProcessEnd { process: id, code, signal, now_ms };
        self.call_wanting(id, now_ms, found, |inst, store| inst.call_process_ended(store, pe));
    }

    /// The earliest time a plugin asked to be ticked at.
    pub fn next_tick(&self) -> Option<i64> {
        self.slots.iter().filter(|s| s.status == Status::Active).filter_map(|s| s.tick_at_ms).min()
    }

    /// Ticks every plugin whose quiet period has passed.
    pub fn tick(&mut self, now_ms: i64, found: &mut Vec<Found>) {
        for i in 0..self.slots.len() {
            let due = self.slots[i].tick_at_ms.is_some_and(|t| t <= now_ms);
            if !due || !self.ready(i, now_ms) {
                continue;
            }
            self.slots[i].tick_at_ms = None;
            let _rt = self.rt.enter();
            let slot = &mut self.slots[i];
            let Some((store, inst)) = slot.live.as_mut() else {
                continue;
            };
            let _ = store.set_fuel(self.budgets.fuel);
            self.call_started = std::time::Instant::now();
            let result = inst.call_tick(&mut *store, now_ms);
            self.finish_call(i, now_ms, result, None, found, None);
        }
    }

    /// Whether plugin `i` can be called now, re-instantiating it after its
    /// backoff.
    fn ready(&mut self, i: usize, now_ms: i64) -> bool {
        match self.slots[i].status {
            Status::Active => self.slots[i].live.is_some(),
            // the reactor feeds it the lines it missed first (catchup.rs)
            Status::Disabled | Status::CatchingUp => false,
            Status::Backoff { until_ms } if now_ms < until_ms => false,
            Status::Backoff { .. } => {
                let mut slot = self.slots.remove(i);
                let result = self.instantiate(&mut slot);
                self.slots.insert(i, slot);
                match result {
                    Ok(()) => {
                        self.slots[i].status = Status::Active;
                        true
                    }
                    Err(reason) => {
                        self.fail(i, now_ms, format!("restart failed: {reason}"));
                        false
                    }
                }
            }
        }
    }

    pub(super) fn finish_call(
        &mut self,
        i: usize,
        now_ms: i64,
        result: wasmtime::Result<Output>,
        batch_range: Option<(u64, u64)>,
        found: &mut Vec<Found>,
        verdicts: Option<&mut Vec<(u64, Verdict)>>,
    ) {
        let slot = &mut self.slots[i];
        slot.calls += 1;
        slot.busy += self.call_started.elapsed();
        self.drain_stderr(i);
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                let r = reason(&e);
                self.fail(i, now_ms, r);
                return;
            }
        };
        if let Err(why) = self.validate(i, &out, batch_range) {
            self.fail(i, now_ms, format!("malformed result: {why}"));
            return;
        }
        let slot = &mut self.slots[i];
        // at least 20 ms: a plugin asking for 0 must not spin the reactor
        slot.tick_at_ms = out.tick_after_ms.map(|ms| now_ms + i64::from(ms.max(20)));
        if let Some(v) = verdicts
            && slot.info.filter
        {
            v.extend(
                out.verdicts
                    .into_iter()
                    .filter(|lv| !matches!(lv.verdict, Verdict::Keep))
                    .map(|lv| (lv.seq, lv.verdict)),
            );
        }
        found.extend(out.findings.into_iter().map(|finding| Found { plugin: i, finding }));
    }

    fn validate(&self, i: usize, out: &Output, batch_range: Option<(u64, u64)>) -> Result<(), String> {
        let slot = &self.slots[i];
        if out.findings.len() > MAX_FINDINGS_PER_CALL {
            return Err(format!("{} findings in one call (at most {MAX_FINDINGS_PER_CALL})", out.findings.len()));
        }
        for f in &out.findings {
            if f.first_seq > f.last_seq || f.last_seq > slot.max_seq || f.first_seq == 0 {
                return Err(format!(
                    "finding \"{}\" covers seq {}..{}, lines it was never given",
                    truncate(&f.message, 80),
                    f.first_seq,
                    f.last_seq
                ));
            }
            if f.process as usize >= self.process_names.len() {
                return Err(format!("finding names unknown process id {}", f.process));
            }
            let strings = [
                Some(&f.message),
                f.file.as_ref(),
                f.code.as_ref(),
                f.url.as_ref(),
                f.language.as_ref(),
                f.custom_kind.as_ref(),
            ];
            if strings.iter().flatten().any(|s| s.len() > MAX_STRING) || f.fields.len() > 256 {
                return Err("finding with an absurdly long string or too many fields".into());
            }
        }
        if out.verdicts.iter().any(|v| matches!(&v.verdict, Verdict::Tag(t) if t.len() > 256)) {
            return Err("a tag longer than 256 bytes".into());
        }
        if let Some((first, last)) = batch_range {
            if out.verdicts.iter().any(|v| v.seq < first || v.seq > last) {
                return Err("verdict for a line outside the batch".into());
            }
        } else if !out.verdicts.is_empty() {
            return Err("verdicts outside a batch".into());
        }
        Ok(())
    }

    fn fail(&mut self, i: usize, now_ms: i64, reason: String) {
        let slot = &mut self.slots[i];
        slot.live = None;
        slot.tick_at_ms = None;
        while slot.failed_at.front().is_some_and(|&t| now_ms - t >= FAILURE_WINDOW_MS) {
            slot.failed_at.pop_front();
        }
        slot.failed_at.push_back(now_ms);
        slot.failures = slot.failed_at.len() as u32;
        let disabled = slot.failures >= MAX_FAILURES;
        let retry_ms = 100u64 << (slot.failures.min(10) - 1);
        slot.status = if disabled { Status::Disabled } else { Status::Backoff { until_ms: now_ms + retry_ms as i64 } };
        self.notices.push(Notice::Failed {
            plugin: slot.name.clone(),
            reason,
            failures: slot.failures,
            disabled,
            retry_ms: if disabled { 0 } else { retry_ms },
        });
    }

    fn drain_stderr(&mut self, i: usize) {
        let slot = &self.slots[i];
        if let Some((store, _)) = slot.live.as_ref() {
            let name = slot.name.clone();
            log_stderr(&store.data().stderr, &name, &mut self.notices);
        }
    }
}

/// Lines of a plugin's stderr shown per call; the rest are counted.
const STDERR_LINES: usize = 20;

/// What a plugin wrote to stderr since the last drain, as `Log` notices:
/// the first lines, then one note counting every line not shown (those
/// kept but over the line limit, and those the byte cap dropped).
pub(super) fn log_stderr(sink: &Sink, plugin: &str, notices: &mut Vec<Notice>) {
    let Some(drained) = sink.drain() else {
        return;
    };
    let text = String::from_utf8_lossy(&drained.data);
    let mut kept = text.lines().filter(|l| !l.is_empty());
    for line in kept.by_ref().take(STDERR_LINES) {
        notices.push(Notice::Log { plugin: plugin.to_string(), text: truncate(line, 1000).to_string() });
    }
    let hidden = kept.count() as u64 + drained.dropped_lines;
    if hidden > 0 {
        notices.push(Notice::Log {
            plugin: plugin.to_string(),
            text: format!(
                "(stderr rate limit: {hidden} more lines not shown, {} bytes dropped)",
                drained.dropped_bytes
            ),
        });
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A failure described for people, on one line: fuel, memory, trap or
/// other. wasmtime attaches a wasm backtrace (many lines) to errors raised
/// in a call; it is left out.
pub(super) fn reason(e: &wasmtime::Error) -> String {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::OutOfFuel => "CPU budget exhausted (fuel): the call ran too long".to_string(),
            Trap::UnreachableCodeReached => "trap: unreachable code reached (a panic in the plugin)".to_string(),
            Trap::MemoryOutOfBounds => "trap: out-of-bounds memory access".to_string(),
            Trap::StackOverflow => "trap: stack overflow".to_string(),
            other => format!("trap: {other}"),
        };
    }
    let causes: Vec<String> = e
        .chain()
        .map(|c| c.to_string())
        .filter(|c| !c.contains("wasm backtrace:"))
        .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|c| !c.is_empty())
        .collect();
    // the cap (StoreLimits with trap_on_grow_failure) is the innermost cause
    if let Some(cap) = causes.iter().find(|c| c.contains("growing memory")) {
        return format!("memory limit exceeded: {}", truncate(cap, 300));
    }
    truncate(&causes.join(": "), 500).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_one_line_without_the_wasm_backtrace() {
        let inner = wasmtime::format_err!("forcing trap when growing memory to 17039360 bytes");
        let e = inner.context(
            "error while executing at wasm backtrace:\n    0: 0x1234 - guest!alloc\n    1: 0x5678 - guest!lines",
        );
        let r = reason(&e);
        assert_eq!(r, "memory limit exceeded: forcing trap when growing memory to 17039360 bytes");
        let e = wasmtime::format_err!("first line\n  second line").context("outer");
        assert_eq!(reason(&e), "outer: first line second line");
    }
}
