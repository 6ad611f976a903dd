//! Test fixture plugin: misbehaves on command so brum's host can be shown
//! to survive it. Configured with `mode`:
//! - `trap`: panics (a wasm trap) on a line containing "boom";
//! - `loop`: spins forever on a line containing "boom" (fuel runs out);
//! - `alloc`: allocates without bound on "boom" (memory cap); an
//!   allocation the host refuses without trapping becomes a finding, not a
//!   panic;
//! - `garbage`: returns a finding with a seq brum never gave it on "boom";
//! - `huge`: returns 20,000 findings on "boom" (brum accepts 10,000);
//! - `sleep`: sleeps 1 ms on "boom" (waiting on a clock is not allowed);
//! - `fail-configure`: says why on stderr, then rejects its settings;
//! - `stderr`: prints each line to stderr;
//! - `flood`: prints 100,000 lines to stderr on "boom";
//! - `http`: sends an HTTP request on "boom" (brum refuses it: the error it
//!   got becomes a finding);
//! - `http-wait`: writes a request body on "boom" until the write would
//!   wait (no one ever reads it: brum traps instead of hanging);
//! - `every`: traps on every `n`-th batch (setting `n`);
//! - `starts`: traps on a line containing "crash"; on a "boom" line reports
//!   the processes it knows as started, with their commands (what a
//!   re-instantiated plugin was told again);
//! - `probe`: reports what the sandbox lets it see (env, args, clocks) as
//!   a finding on the first line (files cannot even be imported: see the
//!   `snoop` fixture);
//! - anything else (or none): echoes "boom" lines as custom findings of
//!   kind `boom`, with the severity of setting `severity` (`info` unless
//!   set to `critical`, `error` or `warning`).

use brum_plugin_sdk::*;
use wasip2::http::types::{Fields, OutgoingRequest, Scheme};

/// An HTTP GET to 127.0.0.1:9; with `body`, first writes 64 KiB of body
/// in 4 KiB blocking writes (before the request is sent, nothing reads it).
fn http_request(body: bool) -> Result<(), String> {
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&Scheme::Http)).map_err(|()| "scheme")?;
    req.set_authority(Some("127.0.0.1:9")).map_err(|()| "authority")?;
    if body {
        let b = req.body().map_err(|()| "body")?;
        let stream = b.write().map_err(|()| "body stream")?;
        for _ in 0..16 {
            stream.blocking_write_and_flush(&[b'x'; 4096]).map_err(|e| format!("write: {e:?}"))?;
        }
    }
    match wasip2::http::outgoing_handler::handle(req, None) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{e:?}")),
    }
}

#[derive(Default)]
struct Misbehave {
    mode: String,
    severity: Option<Severity>,
    n: u64,
    batches: u64,
    hoard: Vec<Vec<u8>>,
    probed: bool,
    /// `starts`: "name=command" per process-started, in order
    started: Vec<String>,
}

impl Plugin for Misbehave {
    fn info() -> Info {
        info("misbehave", "0.0.1", "a test fixture that fails on command")
    }

    fn configure(&mut self, settings: &[(String, String)]) -> Result<(), String> {
        for (k, v) in settings {
            match k.as_str() {
                "mode" => self.mode = v.clone(),
                "n" => self.n = v.parse().map_err(|_| format!("n: expected a number, found {v:?}"))?,
                "severity" => {
                    self.severity = Some(match v.as_str() {
                        "critical" => Severity::Critical,
                        "error" => Severity::Error,
                        "warning" => Severity::Warning,
                        "info" => Severity::Info,
                        other => {
                            return Err(format!(
                                "severity: expected critical, error, warning or info, found {other:?}"
                            ));
                        }
                    })
                }
                other => return Err(format!("unknown setting {other:?}")),
            }
        }
        if self.mode == "fail-configure" {
            eprintln!("misbehave: mode fail-configure, so no settings will do");
            return Err("this plugin refuses every configuration".into());
        }
        Ok(())
    }

    fn process_started(&mut self, p: &ProcessStart, _out: &mut Output) {
        if self.mode == "starts" {
            self.started.push(format!("{}={}", p.name, p.command));
        }
    }

    fn batch(&mut self, batch: &Batch, out: &mut Output) {
        self.batches += 1;
        if self.mode == "every" && self.n > 0 && self.batches.is_multiple_of(self.n) {
            panic!("failing on batch {} as configured", self.batches);
        }
        for l in lines(batch) {
            self.line(l, out);
        }
    }

    fn line(&mut self, line: Line<'_>, out: &mut Output) {
        let text = line.text().unwrap_or("");
        if self.mode == "stderr" {
            eprintln!("saw: {text}");
            return;
        }
        if self.mode == "probe" && !self.probed {
            self.probed = true;
            let env = std::env::vars().count();
            let args = std::env::args().count();
            let wall =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let mono = std::time::Instant::now().elapsed().as_nanos();
            let msg = format!("env={env} args={args} wall={wall} mono={mono}");
            out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("probe"));
            return;
        }
        if self.mode == "starts" && text.contains("crash") {
            panic!("crash as configured");
        }
        if !text.contains("boom") {
            return;
        }
        match self.mode.as_str() {
            "trap" => panic!("boom as configured"),
            "loop" => {
                let mut x = 0u64;
                loop {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    if x == 42 {
                        break;
                    }
                }
            }
            "sleep" => std::thread::sleep(std::time::Duration::from_millis(1)),
            "alloc" => {
                // try_reserve, not vec!: a refused allocation is reported
                // as a finding, never a panic, so the only way this call
                // fails is the host stopping it at its memory cap
                loop {
                    let mut block = Vec::new();
                    if block.try_reserve_exact(1 << 20).is_err() {
                        let msg = format!("allocation refused after {} MiB", self.hoard.len());
                        out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("alloc"));
                        break;
                    }
                    block.resize(1 << 20, 1u8);
                    self.hoard.push(block);
                }
            }
            "garbage" => {
                let mut f = finding(&line, Kind::Error, Severity::Error, "made up");
                f.first_seq = u64::MAX - 1;
                f.last_seq = u64::MAX;
                out.findings.push(f);
            }
            "http" => {
                let msg = match http_request(false) {
                    Ok(()) => "http: ALLOWED".to_string(),
                    Err(e) => format!("http: refused ({e})"),
                };
                out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("http"));
            }
            "http-wait" => {
                let msg = format!("http-wait: {:?}", http_request(true));
                out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("http"));
            }
            "flood" => {
                for i in 1..=100_000 {
                    eprintln!("flood line {i}");
                }
            }
            "starts" => {
                let msg = format!("knows {}", self.started.join(", "));
                out.findings.push(finding(&line, Kind::Custom, Severity::Info, &msg).custom("starts"));
            }
            "huge" => {
                for _ in 0..20_000 {
                    out.findings.push(finding(&line, Kind::Custom, Severity::Info, "spam").custom("spam"));
                }
            }
            _ => {
                let severity = self.severity.unwrap_or(Severity::Info);
                out.findings.push(finding(&line, Kind::Custom, severity, text).custom("boom"));
            }
        }
    }
}

export!(Misbehave);
