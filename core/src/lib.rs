//! brum: a headless supervisor for the processes of a development session.
//!
//! Layers, leaves first (a module may use only those above it):
//! - [`lines`], [`store`], [`events`]: leaves — line splitting, the ring
//!   store, event types and encoders. No I/O.
//! - [`config`]: raw files → validated [`config::Config`].
//! - [`supervise`]: spawning, process groups, signals, restart policy.
//! - [`output`], [`capture`]: the output buffer and the per-process capture
//!   path (pipe bytes → lines → ring → events).
//! - [`reactor`]: the one thread that owns `mio::Poll` and drives the rest.

pub mod capture;
pub mod config;
pub mod control;
pub mod events;
pub mod lines;
pub mod output;
pub mod plugins;
pub mod reactor;
pub mod store;
pub mod supervise;
