//! Tool families: what is truly specific to one tool or group of tools
//! (compiler diagnostics and codes, test-runner records and summaries,
//! bundler reports). The shared model is in `blocks`, `frames`,
//! `locations` and `normalize`.

pub mod builds;
pub mod bundlers;
pub mod compilers;
pub mod gotest;
pub mod jsonlog;
pub mod junit;
pub mod linters;
pub mod maven;
pub mod native;
pub mod pytest;
pub mod runners;
pub mod scripting;
pub mod system;
