//! What a plugin may import and how each import is linked. Standard guest
//! toolchains (componentize-py, componentize-js, Rust's std) import WASI 0.2
//! wholesale — files, sockets, HTTP — whether the plugin uses them or not, so
//! brum denies at run time, not at load: every WASI 0.2 interface it knows is
//! linked to a context that grants nothing (`sandbox`), and a plugin that
//! tries to use one gets an error it can see (no preopened directory, every
//! socket and name lookup refused, every outgoing HTTP request refused).
//! Anything else — an interface of another package, another WASI version — is
//! refused when the plugin is loaded, every such import named at once.
//!
//! Nothing a plugin can reach ever becomes ready later (no timers, no
//! network, no files, an empty stdin), so no host call may wait: the calls
//! that would block (`poll`, `block`, the `blocking-*` stream methods, clock
//! subscriptions) are replaced by versions that trap instead of waiting, and
//! a plugin that waits is reported as failed rather than hanging the reactor.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};
use wasmtime_wasi_io::bindings::wasi::io::streams::{self, Host as _, HostInputStream, HostOutputStream};
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream, StreamResult};

use super::engine::LoadError;
use super::sandbox::State;

/// The WASI release whose interfaces wasmtime-wasi 48 defines; a plugin's
/// import of any 0.2.x version links to them (semver-compatible).
const WASI: &str = "0.2.12";

/// The interfaces a plugin may import, by package. All are WASI 0.2
/// (`@0.2.x`) but brum's own contract.
const ALLOWED: [(&str, &[&str]); 7] = [
    (
        "wasi:cli",
        &[
            "environment",
            "exit",
            "stdin",
            "stdout",
            "stderr",
            "terminal-input",
            "terminal-output",
            "terminal-stdin",
            "terminal-stdout",
            "terminal-stderr",
        ],
    ),
    ("wasi:io", &["error", "poll", "streams"]),
    ("wasi:clocks", &["monotonic-clock", "wall-clock"]),
    ("wasi:random", &["random", "insecure", "insecure-seed"]),
    ("wasi:filesystem", &["types", "preopens"]),
    (
        "wasi:sockets",
        &["network", "instance-network", "ip-name-lookup", "tcp", "tcp-create-socket", "udp", "udp-create-socket"],
    ),
    ("wasi:http", &["types", "outgoing-handler"]),
];

/// The contract's interface, at the version this brum implements.
const CONTRACT: &str = "brum:plugin/types@0.2.";

/// Whether a plugin may import `name` (`package/interface@version`).
fn allowed(name: &str) -> bool {
    if name.starts_with(CONTRACT) {
        return true;
    }
    let Some((path, version)) = name.split_once('@') else {
        return false; // an unversioned WASI interface is not one brum links
    };
    let Some((package, interface)) = path.split_once('/') else {
        return false;
    };
    version.starts_with("0.2.") && ALLOWED.iter().any(|(p, ifaces)| *p == package && ifaces.contains(&interface))
}

/// Checks a component's imports against what brum links: a plugin of
/// another contract version is told so; otherwise every import brum does
/// not offer is named, all at once.
pub(super) fn check_imports<'a>(what: &str, imports: impl IntoIterator<Item = &'a str>) -> Result<(), LoadError> {
    let mut refused = Vec::new();
    for name in imports {
        if allowed(name) {
            continue;
        }
        if name.starts_with("brum:plugin/") {
            return Err(LoadError::OtherContract { what: what.to_string(), import: name.to_string() });
        }
        refused.push(name.to_string());
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(LoadError::ForbiddenImport { what: what.to_string(), imports: refused })
}

/// A linker for plugins: WASI 0.2 and `wasi:http` types linked to the
/// grant-nothing sandbox, outgoing HTTP refused, waiting refused.
pub(super) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)?;
    linker.allow_shadowing(true);
    deny_http(&mut linker)?;
    deny_waiting(&mut linker)?;
    linker.allow_shadowing(false);
    Ok(linker)
}

/// `outgoing-handler.handle` answers every request with
/// `HTTP-request-denied` at once. (wasmtime-wasi-http's own `handle` hands
/// the request to a spawned task, which brum's current-thread runtime never
/// runs: the guest would wait for a response forever.)
fn deny_http(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    type Denied = Result<Resource<HostFutureIncomingResponse>, ErrorCode>;
    let mut http = linker.instance(&format!("wasi:http/outgoing-handler@{WASI}"))?;
    http.func_wrap(
        "handle",
        |mut cx: StoreContextMut<'_, State>,
         (request, options): (Resource<HostOutgoingRequest>, Option<Resource<wasmtime_wasi_http::RequestOptions>>)|
         -> wasmtime::Result<(Denied,)> {
            let table = cx.data_mut().table();
            table.delete(request)?;
            if let Some(options) = options {
                table.delete(options)?;
            }
            Ok((Err(ErrorCode::HttpRequestDenied),))
        },
    )?;
    Ok(())
}

fn would_wait() -> wasmtime::Error {
    wasmtime::format_err!(
        "plugins may not wait: the call would block forever (brum's sandbox has no timers, files or network; time comes as arguments)"
    )
}

/// Polls `f` once: its output if it is ready, else the `would_wait` trap.
fn at_once<F: Future>(f: F) -> wasmtime::Result<F::Output> {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => Ok(out),
        Poll::Pending => Err(would_wait()),
    }
}

/// A stream result for the guest: the stream error as the WIT value, or a
/// trap for what is not a stream error.
fn to_guest<T>(table: &mut ResourceTable, r: StreamResult<T>) -> wasmtime::Result<Result<T, streams::StreamError>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(table.convert_stream_error(e)?)),
    }
}

/// Replaces every wasi:io and clock function that can wait with one that
/// does the same work when it is ready at once and traps otherwise.
fn deny_waiting(linker: &mut Linker<State>) -> wasmtime::Result<()> {
    type Cx<'a> = StoreContextMut<'a, State>;
    type Out = Resource<DynOutputStream>;
    type In = Resource<DynInputStream>;
    type Guest<T> = wasmtime::Result<(Result<T, streams::StreamError>,)>;

    let mut clocks = linker.instance(&format!("wasi:clocks/monotonic-clock@{WASI}"))?;
    let no_clock = || -> wasmtime::Error {
        wasmtime::format_err!("plugins may not wait on a clock (sleep, timeouts): brum passes time as arguments")
    };
    clocks.func_wrap(
        "subscribe-duration",
        move |_: Cx<'_>, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> { Err(no_clock()) },
    )?;
    clocks.func_wrap(
        "subscribe-instant",
        move |_: Cx<'_>, (_,): (u64,)| -> wasmtime::Result<(Resource<DynPollable>,)> { Err(no_clock()) },
    )?;

    let mut poll = linker.instance(&format!("wasi:io/poll@{WASI}"))?;
    poll.func_wrap("poll", |mut cx: Cx<'_>, (list,): (Vec<Resource<DynPollable>>,)| {
        let ready = at_once(cx.data_mut().table().poll(list))??;
        Ok((ready,))
    })?;
    poll.func_wrap("[method]pollable.block", |mut cx: Cx<'_>, (p,): (Resource<DynPollable>,)| {
        at_once(cx.data_mut().table().block(p))?
    })?;

    let mut io = linker.instance(&format!("wasi:io/streams@{WASI}"))?;
    io.func_wrap(
        "[method]output-stream.blocking-write-and-flush",
        |mut cx: Cx<'_>, (s, bytes): (Out, Vec<u8>)| -> Guest<()> {
            let t = cx.data_mut().table();
            let r = at_once(t.blocking_write_and_flush(s, bytes))?;
            Ok((to_guest(t, r)?,))
        },
    )?;
    io.func_wrap(
        "[method]output-stream.blocking-write-zeroes-and-flush",
        |mut cx: Cx<'_>, (s, len): (Out, u64)| -> Guest<()> {
            let t = cx.data_mut().table();
            let r = at_once(t.blocking_write_zeroes_and_flush(s, len))?;
            Ok((to_guest(t, r)?,))
        },
    )?;
    io.func_wrap("[method]output-stream.blocking-flush", |mut cx: Cx<'_>, (s,): (Out,)| -> Guest<()> {
        let t = cx.data_mut().table();
        let r = at_once(HostOutputStream::blocking_flush(t, s))?;
        Ok((to_guest(t, r)?,))
    })?;
    io.func_wrap(
        "[method]output-stream.blocking-splice",
        |mut cx: Cx<'_>, (dst, src, len): (Out, In, u64)| -> Guest<u64> {
            let t = cx.data_mut().table();
            let r = at_once(t.blocking_splice(dst, src, len))?;
            Ok((to_guest(t, r)?,))
        },
    )?;
    io.func_wrap("[method]input-stream.blocking-read", |mut cx: Cx<'_>, (s, len): (In, u64)| -> Guest<Vec<u8>> {
        let t = cx.data_mut().table();
        let r = at_once(HostInputStream::blocking_read(t, s, len))?;
        Ok((to_guest(t, r)?,))
    })?;
    io.func_wrap("[method]input-stream.blocking-skip", |mut cx: Cx<'_>, (s, len): (In, u64)| -> Guest<u64> {
        let t = cx.data_mut().table();
        let r = at_once(HostInputStream::blocking_skip(t, s, len))?;
        Ok((to_guest(t, r)?,))
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wasi_02_interfaces_are_allowed_and_the_rest_named_at_once() {
        let ok = [
            "brum:plugin/types@0.2.0",
            "wasi:cli/stderr@0.2.9",
            "wasi:filesystem/preopens@0.2.12",
            "wasi:sockets/ip-name-lookup@0.2.0",
            "wasi:http/outgoing-handler@0.2.10",
            "wasi:http/types@0.2.3",
        ];
        assert!(check_imports("p.wasm", ok).is_ok());
        let bad = [
            "wasi:cli/stderr@0.2.9",
            "wasi:http/incoming-handler@0.2.10",
            "wasi:cli/stdin@0.3.0",
            "wasi:nn/graph@0.2.0",
            "evil:host/exec",
        ];
        match check_imports("p.wasm", bad) {
            Err(LoadError::ForbiddenImport { what, imports }) => {
                assert_eq!(what, "p.wasm");
                assert_eq!(
                    imports,
                    [
                        "wasi:http/incoming-handler@0.2.10",
                        "wasi:cli/stdin@0.3.0",
                        "wasi:nn/graph@0.2.0",
                        "evil:host/exec"
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            check_imports("p.wasm", ["brum:plugin/types@0.1.0", "evil:host/exec"]),
            Err(LoadError::OtherContract { .. })
        ));
    }
}
