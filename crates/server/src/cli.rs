//! Command-line arguments of `derivpool serve` and `derivpool keys`, shared by the `derivpool`
//! binary and `derivpool-server`.

use crate::core::CoreConfig;
use crate::keys::{create_key, KeyError, Role};
use crate::{ServeConfig, ServeError, DATA_DIR_DEFAULT, LISTEN_DEFAULT, RATE_LIMIT_PER_S_DEFAULT};
use std::io::Write;
use std::path::PathBuf;

/// One-line description of `derivpool serve`.
pub const SERVE_ABOUT: &str = "Run the pool as a durable HTTP service with a dashboard";

/// Full description of `derivpool serve`.
pub const SERVE_LONG_ABOUT: &str = "\
Run the pool as a durable HTTP service.

Commands arrive on POST /v1/commands (Authorization: Bearer <key>; create keys with
`derivpool keys create`). Each is applied by one engine thread in order and answered only after
the journal has synced it to disk (commands arriving together share one fsync). On start the
state is recovered from the journal (latest snapshot + replay). SIGTERM or Ctrl-C finishes the
batch in flight, writes a snapshot and exits.

Routes: POST /v1/commands, GET /v1/quote, /v1/pools, /v1/pools/{pool}, /v1/accounts/{account},
/v1/instruments, /v1/state, /v1/params, /v1/stream (WebSocket), /metrics (Prometheus),
/openapi.json, /docs (Swagger UI), / (dashboard).";

/// Flags of `derivpool serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Data directory (keys, SQLite journal, snapshots); created if missing.
    #[arg(long, value_name = "DIR", default_value = DATA_DIR_DEFAULT)]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = LISTEN_DEFAULT)]
    pub listen: String,
    /// PostgreSQL journal (postgres://…) instead of SQLite in the data directory.
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Let admin keys send `t` themselves (back-fills and replays).
    #[arg(long)]
    pub accept_client_time: bool,
    /// Requests per second allowed per key (bursts up to twice this; 0: unlimited).
    #[arg(long, value_name = "N", default_value_t = RATE_LIMIT_PER_S_DEFAULT)]
    pub rate_limit: u32,
    /// Write a snapshot after this many applied commands (0: only at shutdown).
    #[arg(long, value_name = "N", default_value_t = CoreConfig::default().snapshot_interval_commands)]
    pub snapshot_every: u64,
}

impl ServeArgs {
    /// The service configuration.
    pub fn config(&self) -> ServeConfig {
        let mut c = ServeConfig::new(&self.data);
        c.listen = self.listen.clone();
        c.database = self.database.clone();
        c.accept_client_time = self.accept_client_time;
        c.rate_limit_per_s = self.rate_limit;
        c.core.snapshot_interval_commands = self.snapshot_every;
        c
    }
}

/// Runs `derivpool serve` on a new multi-threaded runtime until shutdown or failure.
pub fn run_serve(args: ServeArgs) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Http)?;
    runtime.block_on(crate::serve(&args.config()))
}

/// One-line description of `derivpool keys`.
pub const KEYS_ABOUT: &str = "Create API keys for the service";

/// Full description of `derivpool keys`.
pub const KEYS_LONG_ABOUT: &str = "\
Create API keys for `derivpool serve`.

`derivpool keys create --role ROLE [--account NAME] --data DIR` prints the new key once, alone on
the first line of standard output; only its hash is stored (DIR/keys.jsonl). A running server
picks new keys up without a restart.

Roles: admin (every command), trader (deposit, withdraw, trade for --account), lp (lp_deposit,
lp_withdraw for --account), oracle (oracle_price, oracle_vol as source --account), keeper (tick,
liquidate, hedge_fill), governance (propose, vote, execute for --account).";

/// `derivpool keys` subcommands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once.
    Create(KeysCreateArgs),
}

/// Flags of `derivpool keys create`.
#[derive(Debug, Clone, clap::Args)]
pub struct KeysCreateArgs {
    /// admin, trader, lp, oracle, keeper or governance.
    #[arg(long, value_name = "ROLE")]
    pub role: String,
    /// The account (or oracle source) the key acts for; required for trader, lp, oracle and
    /// governance.
    #[arg(long, value_name = "NAME")]
    pub account: Option<String>,
    /// Data directory of the service.
    #[arg(long, value_name = "DIR", default_value = DATA_DIR_DEFAULT)]
    pub data: PathBuf,
}

/// Runs `derivpool keys`: the key alone on the first line of stdout, a note on stderr.
pub fn run_keys(cmd: KeysCommand) -> Result<(), KeyError> {
    match cmd {
        KeysCommand::Create(a) => {
            let role: Role = a.role.parse()?;
            let (key, record) = create_key(&a.data, role, a.account.as_deref())?;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{key}");
            let _ = out.flush();
            eprintln!(
                "created {} key {}{} in {}; it is shown only this once",
                record.role,
                record.id,
                record
                    .account
                    .as_deref()
                    .map(|a| format!(" for {a:?}"))
                    .unwrap_or_default(),
                a.data.display()
            );
            Ok(())
        }
    }
}
