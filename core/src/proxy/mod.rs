//! The reverse proxy in front of the dev servers' URLs (issue #19).
//!
//! Pure parts, no mio: [`inject`] decides whether an HTML response gets the
//! telemetry script and inserts it while the body streams through;
//! [`telemetry`] serves that script and turns the beacons it sends back
//! into reports and events.

pub mod inject;
pub mod telemetry;
