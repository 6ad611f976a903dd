//! The sandbox a plugin runs in: a WASI context that grants nothing — no
//! environment, no arguments, no preopened directories, no network, clocks
//! frozen at zero, empty stdin, stdout discarded — an HTTP context whose
//! every outgoing request is refused, and a stderr that is captured
//! (bounded) so the host can show it as `plugin.log` events. What is linked
//! to it, and what a plugin may import, is in `link.rs`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Per-store host state.
pub struct State {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: NoRequests,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub stderr: Sink,
}

impl State {
    /// The store's resources (what `link.rs`'s replacements work on).
    pub(super) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// Bytes of headers a plugin may build up in wasi:http `fields` (they are
/// host memory, outside the plugin's cap).
const HTTP_FIELDS_CAP: usize = 64 * 1024;

/// wasi:http hooks that send nothing. `link.rs` answers `handle` itself
/// (refused at once); this is what the HTTP implementation would call
/// otherwise, and it refuses too.
struct NoRequests;

impl WasiHttpHooks for NoRequests {
    fn send_request(
        &mut self,
        _request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> Box<dyn Future<Output = wasmtime_wasi_http::Result<SentRequest>> + Send> {
        Box::new(std::future::ready(Err(wasmtime_wasi_http::Error::HttpRequestDenied)))
    }
}

type SentRequest =
    (http::Response<wasmtime_wasi_http::WasiBody>, Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>);

/// Bytes a plugin may write to stderr between two drains; the rest is
/// counted and dropped.
const STDERR_CAP: usize = 16 * 1024;

impl State {
    pub fn new(memory_bytes: usize) -> State {
        let stderr = Sink::default();
        let mut b = WasiCtx::builder();
        b.stderr(stderr.clone())
            .stdout(Sink::default()) // never drained: bounded, then dropped
            .wall_clock(Frozen)
            .monotonic_clock(Frozen)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        let limits = wasmtime::StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .table_elements(1 << 16)
            .instances(64)
            .tables(64)
            .memories(16)
            .trap_on_grow_failure(true)
            .build();
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(HTTP_FIELDS_CAP);
        State { wasi: b.build(), http, hooks: NoRequests, table: ResourceTable::new(), limits, stderr }
    }
}

/// Clocks that always read zero: time reaches a plugin only as arguments.
struct Frozen;

impl HostWallClock for Frozen {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for Frozen {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

struct SinkBuf {
    data: Vec<u8>,
    dropped_bytes: u64,
    /// Lines that begin in the dropped bytes.
    dropped_lines: u64,
    /// Whether the last byte written (kept or dropped) ended a line.
    at_line_start: bool,
}

impl Default for SinkBuf {
    fn default() -> Self {
        SinkBuf { data: Vec::new(), dropped_bytes: 0, dropped_lines: 0, at_line_start: true }
    }
}

/// What a plugin wrote since the last drain.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub data: Vec<u8>,
    /// Bytes dropped for lack of room, and the lines that began in them.
    pub dropped_bytes: u64,
    pub dropped_lines: u64,
}

/// Captured plugin stderr. The mutex is never contended: there is one
/// thread; WASI's stream traits require `Send`.
#[derive(Clone, Default)]
pub struct Sink(Arc<Mutex<SinkBuf>>);

impl Sink {
    fn push(&self, bytes: &[u8]) {
        let Ok(mut b) = self.0.lock() else { return };
        let Some(&last) = bytes.last() else { return };
        let room = STDERR_CAP.saturating_sub(b.data.len());
        let (kept, dropped) = bytes.split_at(room.min(bytes.len()));
        b.data.extend_from_slice(kept);
        if !dropped.is_empty() {
            let starts_line = if kept.is_empty() { b.at_line_start } else { kept.ends_with(b"\n") };
            // a line begins at the start of the dropped bytes (if the byte
            // before ended one) and after each newline but a final one
            let inner = memchr::memchr_iter(b'\n', &dropped[..dropped.len() - 1]).count();
            b.dropped_lines += u64::from(starts_line) + inner as u64;
            b.dropped_bytes += dropped.len() as u64;
        }
        b.at_line_start = last == b'\n';
    }

    /// Takes what was written since the last drain, if anything was.
    pub fn drain(&self) -> Option<Drained> {
        let mut b = self.0.lock().ok()?;
        if b.data.is_empty() && b.dropped_bytes == 0 {
            return None;
        }
        Some(Drained {
            data: std::mem::take(&mut b.data),
            dropped_bytes: std::mem::take(&mut b.dropped_bytes),
            dropped_lines: std::mem::take(&mut b.dropped_lines),
        })
    }
}

impl IsTerminal for Sink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Sink {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Sink {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(STDERR_CAP)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Sink {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for Sink {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines not kept whole, counted the slow way: the line numbers (from
    /// 0) of the bytes past the cap, deduplicated, minus a line that began
    /// in the kept bytes.
    fn model(writes: &[&[u8]]) -> (usize, u64, u64) {
        let all: Vec<u8> = writes.concat();
        let cap = STDERR_CAP.min(all.len());
        let line_of = |i: usize| all[..i].iter().filter(|&&c| c == b'\n').count();
        let first_dropped_line = if cap < all.len() { Some(line_of(cap)) } else { None };
        let lines_dropped = match first_dropped_line {
            None => 0,
            Some(first) => {
                let last = line_of(all.len() - 1);
                let began_before = cap > 0 && all[cap - 1] != b'\n';
                (last - first + 1) as u64 - u64::from(began_before)
            }
        };
        (cap, (all.len() - cap) as u64, lines_dropped)
    }

    #[test]
    fn dropped_lines_are_counted_however_the_writes_fall() {
        let line = b"0123456789abcde\n"; // 16 bytes
        let flood: Vec<u8> = line.repeat(100_000);
        let cases: Vec<Vec<&[u8]>> = vec![
            vec![&flood],
            flood.chunks(7).collect(),
            flood.chunks(16).collect(),
            flood.chunks(4096 + 3).collect(),
            vec![&flood[..STDERR_CAP - 1], &flood[STDERR_CAP - 1..]],
            vec![&flood[..STDERR_CAP], b"\n", b"tail without newline"],
            vec![b"no newline at all, and then a lot ", &flood],
        ];
        for writes in cases {
            let sink = Sink::default();
            for w in &writes {
                sink.push(w);
            }
            let d = sink.drain().expect("something written");
            let (kept, bytes, lines) = model(&writes);
            assert_eq!(
                (d.data.len(), d.dropped_bytes, d.dropped_lines),
                (kept, bytes, lines),
                "{} writes",
                writes.len()
            );
        }
        // 100,000 lines, 1,024 kept whole: the rest are counted
        let sink = Sink::default();
        sink.push(&flood);
        let d = sink.drain().expect("written");
        assert_eq!(d.data.len() / 16 + d.dropped_lines as usize, 100_000);
        assert_eq!(sink.drain(), None);
    }
}
