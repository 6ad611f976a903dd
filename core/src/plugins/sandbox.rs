//! The sandbox a plugin runs in: a WASI context that grants nothing — no
//! environment, no arguments, no preopened directories, no network, clocks
//! frozen at zero, empty stdin, stdout discarded — and a stderr that is
//! captured (bounded) so the host can show it as `plugin.log` events.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime::StoreLimits;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// Per-store host state.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub limits: StoreLimits,
    pub stderr: Sink,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

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
        State { wasi: b.build(), table: ResourceTable::new(), limits, stderr }
    }
}

/// Replaces the monotonic clock's `subscribe-*` functions: waiting would
/// need a timer driver (and block the reactor), so a plugin that tries to
/// sleep or poll with a timeout traps and is reported as failed instead.
pub fn deny_waiting(linker: &mut wasmtime::component::Linker<State>) -> wasmtime::Result<()> {
    use wasmtime::component::Resource;
    use wasmtime_wasi::p2::DynPollable;
    fn denied() -> wasmtime::Error {
        wasmtime::format_err!("plugins may not wait on a clock (sleep, timeouts): brum passes time as arguments")
    }
    linker.allow_shadowing(true);
    let mut clocks = linker.instance("wasi:clocks/monotonic-clock@0.2.12")?;
    clocks.func_wrap("subscribe-duration", |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        Err(denied())
    })?;
    clocks.func_wrap("subscribe-instant", |_, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> {
        Err(denied())
    })?;
    linker.allow_shadowing(false);
    Ok(())
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

#[derive(Default)]
struct SinkBuf {
    data: Vec<u8>,
    dropped: u64,
}

/// Captured plugin stderr. The mutex is never contended: there is one
/// thread; WASI's stream traits require `Send`.
#[derive(Clone, Default)]
pub struct Sink(Arc<Mutex<SinkBuf>>);

impl Sink {
    fn push(&self, bytes: &[u8]) {
        if let Ok(mut b) = self.0.lock() {
            let room = STDERR_CAP.saturating_sub(b.data.len());
            let take = room.min(bytes.len());
            b.data.extend_from_slice(&bytes[..take]);
            b.dropped += (bytes.len() - take) as u64;
        }
    }

    /// Takes what was written since the last drain, and the count of bytes
    /// dropped for lack of room.
    pub fn drain(&self) -> Option<(Vec<u8>, u64)> {
        let mut b = self.0.lock().ok()?;
        if b.data.is_empty() && b.dropped == 0 {
            return None;
        }
        let dropped = std::mem::take(&mut b.dropped);
        Some((std::mem::take(&mut b.data), dropped))
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
