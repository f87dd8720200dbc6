//! `derivpool-server`: the service alone, with the same flags as `derivpool serve` (the crash
//! tests run it as a child process; deployments may prefer it to the full CLI).

use clap::Parser;
use std::process::ExitCode;

/// The derivpool service.
#[derive(Debug, Parser)]
#[command(name = "derivpool-server", version)]
struct Args {
    #[command(flatten)]
    serve: derivpool_server::cli::ServeArgs,
}

fn main() -> ExitCode {
    let args = Args::parse();
    derivpool_server::init_logging();
    match derivpool_server::cli::run_serve(args.serve) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
