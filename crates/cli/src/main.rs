//! The `derivpool` command-line tool: one module per subcommand, each with a `clap::Args` struct
//! and a `run(args) -> anyhow::Result<ExitCode>`. Errors that stop a subcommand are printed as
//! `error: ...` on stderr with exit status 2; a subcommand reports partial failures (some rows bad)
//! itself with exit status 1.

mod csv_table;
mod deribit;
mod iv;
mod keys;
mod option_row;
mod params;
mod price;
mod replay;
mod serve;
mod simulate;
mod surface;
mod surface_check;
mod surface_fit;
mod sweep;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator (see Cargo.toml; measured in docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit status of a run that stopped on an error (clap also uses 2 for usage errors).
const EXIT_ERROR: u8 = 2;

/// The `derivpool` command line.
/// One-line description for `derivpool -h`.
const ABOUT: &str =
    "derivpool: a derivative liquidity pool engine — pricing, surfaces, simulation and operation";

/// Full description for `derivpool --help`.
const LONG_ABOUT: &str = "\
derivpool: a derivative liquidity pool engine.

A pool of LP capital is the counterparty for option and perpetual trades: it quotes each trade
from a model and charges for the risk the trade adds. This tool prices options, computes implied
vols, and fits and checks SVI volatility surfaces.

Table subcommands read CSV from FILE, or from stdin when FILE is `-` or absent, and write to
stdout; messages go to stderr as FILE:LINE: message. `derivpool help <COMMAND>` describes each
command's columns and units.

Exit status:
  0  success
  1  some rows or slices failed and were reported on stderr; the others were processed
  2  the command could not run: bad arguments, unreadable input, a missing column";

/// The `derivpool` command line.
#[derive(Debug, Parser)]
#[command(name = "derivpool", version, about = ABOUT, long_about = LONG_ABOUT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Price European options and their Greeks.
    #[command(about = price::ABOUT, long_about = price::LONG_ABOUT)]
    Price(price::Args),
    /// Implied volatilities of option prices.
    #[command(about = iv::ABOUT, long_about = iv::LONG_ABOUT)]
    Iv(iv::Args),
    /// Fit and check SVI volatility surfaces.
    #[command(about = surface::ABOUT, long_about = surface::LONG_ABOUT)]
    Surface(surface::Args),
    /// Run the pool as a durable HTTP service.
    #[command(about = serve::ABOUT, long_about = serve::LONG_ABOUT)]
    Serve(serve::Args),
    /// Create API keys for the service.
    #[command(about = keys::ABOUT, long_about = keys::LONG_ABOUT)]
    Keys(keys::Args),
    /// Replay a command log through the engine.
    #[command(about = replay::ABOUT, long_about = replay::LONG_ABOUT)]
    Replay(replay::Args),
    /// Simulate a market against a pool and write a report.
    #[command(about = simulate::ABOUT, long_about = simulate::LONG_ABOUT)]
    Simulate(simulate::Args),
    /// Sweep pool parameters × seeds in parallel.
    #[command(about = sweep::ABOUT, long_about = sweep::LONG_ABOUT)]
    Sweep(sweep::Args),
    /// List every pool parameter with its default, bounds, unit and meaning.
    #[command(about = params::ABOUT, long_about = params::LONG_ABOUT)]
    Params(params::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Price(args) => price::run(args),
        Command::Iv(args) => iv::run(args),
        Command::Surface(args) => surface::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Keys(args) => keys::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Params(args) => params::run(args),
    };
    match result {
        Ok(code) => code,
        // The reader of stdout went away (e.g. `| head`): stop quietly, as Unix tools do.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// True when the error was caused by writing to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        let io_kind = cause
            .downcast_ref::<io::Error>()
            .map(io::Error::kind)
            .or_else(|| match cause.downcast_ref::<csv::Error>()?.kind() {
                csv::ErrorKind::Io(io) => Some(io.kind()),
                _ => None,
            })
            .or_else(|| cause.downcast_ref::<serde_json::Error>()?.io_error_kind());
        io_kind == Some(io::ErrorKind::BrokenPipe)
    })
}
