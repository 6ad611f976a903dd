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
//! - `every`: traps on every `n`-th batch (setting `n`);
//! - `probe`: reports what the sandbox lets it see (env, args, clocks) as
//!   a finding on the first line (files cannot even be imported: see the
//!   `snoop` fixture);
//! - anything else (or none): echoes "boom" lines as custom findings.

use brum_plugin_sdk::*;

#[derive(Default)]
struct Misbehave {
    mode: String,
    n: u64,
    batches: u64,
    hoard: Vec<Vec<u8>>,
    probed: bool,
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
                other => return Err(format!("unknown setting {other:?}")),
            }
        }
        if self.mode == "fail-configure" {
            eprintln!("misbehave: mode fail-configure, so no settings will do");
            return Err("this plugin refuses every configuration".into());
        }
        Ok(())
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
            "flood" => {
                for i in 1..=100_000 {
                    eprintln!("flood line {i}");
                }
            }
            "huge" => {
                for _ in 0..20_000 {
                    out.findings.push(finding(&line, Kind::Custom, Severity::Info, "spam").custom("spam"));
                }
            }
            _ => out.findings.push(finding(&line, Kind::Custom, Severity::Info, text).custom("boom")),
        }
    }
}

export!(Misbehave);
