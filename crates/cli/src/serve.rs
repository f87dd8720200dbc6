//! `derivpool serve`: the pool as a durable HTTP service (see `derivpool_server`).

use std::process::ExitCode;

/// One-line description for `derivpool serve -h`.
pub const ABOUT: &str = derivpool_server::cli::SERVE_ABOUT;
/// Full description for `derivpool serve --help`.
pub const LONG_ABOUT: &str = derivpool_server::cli::SERVE_LONG_ABOUT;

/// Flags of `derivpool serve`.
pub type Args = derivpool_server::cli::ServeArgs;

/// Runs the service until SIGTERM, Ctrl-C or a failure.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    derivpool_server::init_logging();
    derivpool_server::cli::run_serve(args)?;
    Ok(ExitCode::SUCCESS)
}
