//! The derivpool simulator: seeded market paths, an oracle with faults, and agents that drive
//! the engine only through commands, so that every run is a command log that
//! `derivpool replay` reproduces exactly.
//!
//! ```text
//! market path ─► oracle agent ─┐
//!                              ├─► Exec::submit(command) ─► Engine ─► events, metrics ─► report
//!          agents (LPs, traders, keeper, …) ─┘
//! ```
//!
//! | part | module |
//! |---|---|
//! | seeded random streams | [`rng`] |
//! | GBM, Merton jump-diffusion, stochastic-vol paths, scripted crashes | [`market`] |
//! | CSV candle replay and cleaning | [`candles`] |
//! | oracle sources, noise, delays, outages, stale feeds, manipulation, vol slices | [`oracle`] |
//! | agents | [`agents`] |
//! | scenarios by name | [`scenario`] |
//! | the run loop | [`runner`] |
//! | time series and summary | [`summary`] |
//! | report files (JSON, CSV, HTML with inline SVG) | [`report`] |
//! | the command log as JSON lines, fast | [`jsonl`] |
//! | parameter sweeps | [`sweep`] |
//!
//! The hedge venue, the hedge loop and the risk agent come from `derivpool-agents`, shared with
//! the server, so the simulator drives the same loop as production.
//!
//! The crate does no file or terminal IO: it returns strings or writes into a caller's
//! `io::Write` (the command log and the time series, streamed), and the CLI opens the files.

pub mod agents;
pub mod candles;
pub mod exec;
pub mod jsonl;
pub mod market;
pub mod oracle;
pub mod report;
pub mod rng;
pub mod runner;
pub mod scenario;
pub mod summary;
pub mod sweep;
pub mod time;

pub use runner::{run, InvariantCheck, RunOutput, SimConfig, SimError};
pub use scenario::Scenario;
pub use summary::{Row, Summary};
