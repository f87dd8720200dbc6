//! `derivpool keys`: API keys for `derivpool serve` (see `derivpool_server::keys`).

use std::process::ExitCode;

/// One-line description for `derivpool keys -h`.
pub const ABOUT: &str = derivpool_server::cli::KEYS_ABOUT;
/// Full description for `derivpool keys --help`.
pub const LONG_ABOUT: &str = derivpool_server::cli::KEYS_LONG_ABOUT;

/// `derivpool keys` and its subcommand.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: derivpool_server::cli::KeysCommand,
}

/// Creates a key: printed once, alone on the first line of stdout.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    derivpool_server::cli::run_keys(args.command)?;
    Ok(ExitCode::SUCCESS)
}
