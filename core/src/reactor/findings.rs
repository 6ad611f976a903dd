//! What the plugins see and say: the batch of captured lines (filled by the
//! [`ToPlugins`] sink on the capture path), the lines published after the
//! filters' verdicts, findings with their fingerprints and counts, notices
//! about the plugins themselves, and ring evictions.

use std::time::{Duration, Instant};

use super::{Reactor, TimerKind};
use crate::capture::LineSink;
use crate::emit::Emitter;
use crate::events::{Event, FindingView, ProcRef, now_ms};
use crate::plugins::{Notice, Pipe, PluginHost, Verdict};
use crate::store::Stream;

/// With plugins on, a captured line gets its seq now and waits in the
/// plugins' batch; it is published after the filters saw it.
pub(super) struct ToPlugins<'a> {
    pub em: &'a mut Emitter,
    pub host: &'a mut PluginHost,
}

impl LineSink for ToPlugins<'_> {
    #[inline]
    fn line(&mut self, p: ProcRef<'_>, stream: Stream, ts_ms: i64, truncated: bool, bytes: &[u8]) -> u64 {
        let seq = self.em.reserve();
        let pipe = match stream {
            Stream::Stdout => Pipe::Stdout,
            Stream::Stderr => Pipe::Stderr,
        };
        self.host.push_line(p.index as u32, pipe, seq, ts_ms, truncated, bytes);
        seq
    }
}

/// What a finding says about the errors its process has open.
enum Check {
    None,
    /// A clean re-check: all of them are fixed.
    Clean(&'static str),
    /// A watcher's full report: those not in it are fixed.
    FullReport,
}

impl Reactor {
    /// Publishes `error.resolved` for errors that were just resolved.
    pub(super) fn publish_resolved(&mut self, resolved: &[crate::open_errors::Resolved]) {
        for r in resolved {
            let p = &self.procs[r.process];
            self.em.publish(&Event::ErrorResolved {
                process: p.pref(),
                id: r.id,
                fingerprint: r.fingerprint,
                reason: r.reason,
            });
        }
    }

    /// Reports lines pushed out of the rings since the last report as
    /// `log.dropped` (human output leaves these out: stdout had every line).
    pub(super) fn report_evictions(&mut self) {
        self.flush_batch();
        for i in 0..self.procs.len() {
            let p = &mut self.procs[i];
            let count = std::mem::take(&mut p.capture.evicted_unreported);
            if count == 0 {
                continue;
            }
            let total = p.capture.evicted_total;
            let p = &self.procs[i];
            self.em.publish(&Event::LogDropped { process: Some(p.pref()), count, total, reason: "ring_evicted" });
        }
    }

    /// Hands the lines read so far to the plugins, then emits them (as the
    /// filters decided) and what the plugins found.
    pub(super) fn flush_batch(&mut self) {
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
            self.em.publish_at(l.seq, l.ts_ms, &ev);
        }
        host.clear_batch();
        self.after_plugins();
    }

    /// Emits what the plugins produced (findings, notices) and re-arms the
    /// plugin tick timer.
    pub(super) fn after_plugins(&mut self) {
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
                id: 0,
            };
            let pi = g.process as usize;
            let Some(p) = self.procs.get_mut(pi) else { continue };
            view.fingerprint = view.compute_fingerprint(&p.spec.name);
            let counts_as = view.counts_as();
            let is_error = counts_as.is_some();
            if let Some(level) = counts_as {
                let (id, count) = self.book.seen(pi, view.fingerprint, level == "warning", p.child.run, view.last_seq);
                view.id = id;
                view.count = count;
            }
            let num = |k: &str| view.field(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            // what this finding says about the errors still open
            let mut check = Check::None;
            match counts_as {
                Some("error") => p.stats.errors += 1,
                Some(_) => p.stats.warnings += 1,
                None => {}
            }
            match view.kind {
                "test" => {
                    p.stats.tests_passed = p.stats.tests_passed.saturating_add(num("passed"));
                    p.stats.tests_failed = p.stats.tests_failed.saturating_add(num("failed"));
                    if view.field("failed").is_some() && num("failed") == 0 && num("passed") > 0 {
                        check = Check::Clean("tests pass");
                    }
                }
                "build" => match view.field("status") {
                    Some("success") => check = Check::Clean("rebuilt clean"),
                    Some("failure") if view.field("report") == Some("full") => check = Check::FullReport,
                    _ => {}
                },
                "url" => {
                    let u = view.url.unwrap_or(view.message);
                    if p.stats.urls.len() < 16 && !p.stats.urls.iter().any(|x| x == u) {
                        p.stats.urls.push(u.to_string());
                    }
                }
                _ => {}
            }
            let p = &self.procs[pi];
            let ev = Event::Finding { process: p.pref(), plugin: host.name(f.plugin), finding: &view };
            let seq = self.em.publish(&ev);
            if is_error {
                // the book keeps the latest occurrence for `brum errors`
                self.scratch.clear();
                crate::events::json::encode(&mut self.scratch, &mut self.book_ts, seq, now_ms(), &ev);
                self.book.set_json(view.id, &self.scratch);
            }
            let resolved = match check {
                Check::None => Vec::new(),
                Check::Clean(reason) => self.book.clean(pi, reason),
                Check::FullReport => {
                    let since = std::mem::replace(&mut self.procs[pi].stats.last_full_report, view.last_seq);
                    self.book.full_report(pi, since)
                }
            };
            self.publish_resolved(&resolved);
            if view.kind == "url" {
                self.url_announced(pi);
                self.proxy_url_announced(pi, g.url.as_deref().unwrap_or(&g.message));
            }
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
            self.em.publish(&ev);
        }
    }
}
