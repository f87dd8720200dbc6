//! `derivpool surface`: raw SVI volatility slices — fit them to implied-vol quotes (`fit`) and
//! check given parameters for butterfly and calendar arbitrage (`check`) (DESIGN.md §5.1).

use std::process::ExitCode;

use anyhow::Result;

use crate::{surface_check, surface_fit};

/// One-line description for `derivpool --help`.
pub const ABOUT: &str = "Fit and check raw SVI volatility surfaces";

/// Full description for `derivpool surface --help`.
pub const LONG_ABOUT: &str = "\
Fit and check raw SVI volatility surfaces.

A slice is raw SVI in total variance against log-moneyness k = ln(K/F):
  w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),  implied vol = sqrt(w(k) / t)
Butterfly check: Gatheral's density g(k) >= 0 on a fine grid of k. Calendar check: total variance
non-decreasing in t at every k of the grid.";

/// Arguments of `derivpool surface`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: SurfaceCommand,
}

/// The `surface` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SurfaceCommand {
    /// Fit one SVI slice per expiry to implied-vol quotes.
    #[command(about = surface_fit::ABOUT, long_about = surface_fit::LONG_ABOUT)]
    Fit(surface_fit::Args),
    /// Check rows of raw SVI parameters for arbitrage.
    #[command(about = surface_check::ABOUT, long_about = surface_check::LONG_ABOUT)]
    Check(surface_check::Args),
}

/// Runs `derivpool surface`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        SurfaceCommand::Fit(args) => surface_fit::run(args),
        SurfaceCommand::Check(args) => surface_check::run(args),
    }
}
