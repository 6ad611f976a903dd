//! brum: a headless supervisor for the processes of a development session.
//!
//! Layers, leaves first (a module may use only those above it):
//! - [`lines`], [`store`], [`events`], [`files`]: leaves — line splitting,
//!   the ring store, event types and encoders (no I/O), and the private
//!   files of `.brum/`.
//! - [`config`]: raw files → validated [`config::Config`].
//! - [`supervise`]: spawning, process groups, signals, restart policy.
//! - [`output`], [`capture`], [`emit`]: the output buffer, the per-process
//!   capture path (pipe bytes → lines → ring → events), and the emitter that
//!   owns sequence numbers (the only way to publish an event).
//! - [`proxy`]: the dev servers' reverse proxy without sockets (HTTP heads,
//!   framing, targets, pages, the request history, script injection and the
//!   browser's telemetry; the sockets are the reactor's).
//! - [`reactor`]: the one thread that owns `mio::Poll` and drives the rest.

pub mod capture;
pub mod config;
pub mod control;
pub mod emit;
pub mod events;
pub mod files;
pub mod lines;
pub mod open_errors;
pub mod output;
pub mod plugins;
pub mod proxy;
pub mod reactor;
pub mod signals;
pub mod store;
pub mod supervise;
