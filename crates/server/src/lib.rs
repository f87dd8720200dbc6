//! The derivpool service: the pool engine behind an HTTP + WebSocket API, with every
//! acknowledged command durable in the journal (`derivpool-store`).
//!
//! ```text
//! HTTP handlers ──jobs──► engine thread (owns Engine + Journal)
//!   parse, authorise        apply batch in order → append_batch (one fsync) → answer
//!                           → publish events (WebSocket) → run waiting reads
//! ```
//!
//! Architecture invariants:
//! - One thread owns the engine and the journal ([`core`]); handlers never touch state.
//! - A command is answered only after the journal made it durable; a journal error stops the
//!   process (no retry).
//! - `t` comes from the server's clock and never decreases, unless an admin key sends it with
//!   `--accept-client-time`.
//! - Input never panics the server: every bad request is a JSON `{code, message}` error.
//!
//! Modules: [`api`] routes, [`core`] the engine thread and group commit, [`keys`] API keys,
//! [`roles`] who may send what, [`stream`] the WebSocket, [`metrics`] Prometheus text,
//! [`views`] JSON views of the state, [`dashboard`] the page.

pub mod api;
pub mod cli;
pub mod core;
pub mod dashboard;
pub mod error;
pub mod keys;
pub mod metrics;
pub mod requests;
pub mod roles;
pub mod stream;
pub mod views;

use crate::core::{Core, CoreConfig, CoreError};
use crate::keys::{KeyError, KeyStore, RateLimiter};
use crate::metrics::Metrics;
use axum::Router;
use derivpool_store::StoreError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::watch;

/// Default data directory of `derivpool serve`.
pub const DATA_DIR_DEFAULT: &str = "./derivpool-data";
/// Default listen address.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";
/// Default per-key rate limit, requests per second (bursts up to twice this).
pub const RATE_LIMIT_PER_S_DEFAULT: u32 = 2000;

/// Everything `derivpool serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Data directory: keys, and the SQLite journal unless `database` is set.
    pub data_dir: PathBuf,
    /// Address to listen on.
    pub listen: String,
    /// `postgres://…` to use the PostgreSQL journal instead of SQLite in `data_dir`.
    pub database: Option<String>,
    /// Admin keys may send `t` (back-fills and replays).
    pub accept_client_time: bool,
    /// Per-key requests per second (0: unlimited).
    pub rate_limit_per_s: u32,
    /// Limits of the engine thread.
    pub core: CoreConfig,
}

impl ServeConfig {
    /// The defaults of `derivpool serve` for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            data_dir: data_dir.into(),
            listen: LISTEN_DEFAULT.to_string(),
            database: None,
            accept_client_time: false,
            rate_limit_per_s: RATE_LIMIT_PER_S_DEFAULT,
            core: CoreConfig::default(),
        }
    }
}

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data directory could not be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key file could not be read.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The journal could not be opened or recovered.
    #[error("journal: {0}")]
    Store(#[from] StoreError),
    /// The listen address could not be bound.
    #[error("listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HTTP server failed.
    #[error("http server: {0}")]
    Http(std::io::Error),
    /// The engine thread stopped on a failure.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The engine thread vanished without saying why.
    #[error("the engine thread stopped unexpectedly")]
    CoreVanished,
}

/// An opened service: the router over a running engine thread, before it listens.
pub struct Service {
    /// The routes.
    pub router: Router,
    /// The engine thread.
    pub core: Core,
    /// Sequence number recovered from the journal.
    pub recovered_seq: u64,
    /// State hash after recovery.
    pub recovered_hash: String,
    shutdown: watch::Sender<bool>,
}

/// The journal location handed to the store: the database URL, or the data directory.
fn journal_location(config: &ServeConfig) -> String {
    config
        .database
        .clone()
        .unwrap_or_else(|| config.data_dir.to_string_lossy().into_owned())
}

/// Opens the data directory and the journal, recovers the engine (snapshot + replay), starts
/// the engine thread and builds the router.
pub fn open(config: &ServeConfig) -> Result<Service, ServeError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| ServeError::DataDir {
        path: config.data_dir.clone(),
        source,
    })?;
    let keys = Arc::new(KeyStore::load(&config.data_dir)?);
    let mut journal = derivpool_store::open(&journal_location(config))?;
    let (engine, seq, report) = derivpool_store::recover(journal.as_mut())?;
    for w in &report.warnings {
        tracing::warn!(journal = %journal.describe(), "recovery: {w}");
    }
    let recovered_hash = engine.state_hash();
    tracing::info!(
        journal = %journal.describe(),
        seq,
        state_hash = %recovered_hash,
        snapshot_seq = ?report.snapshot_seq,
        replayed = report.replayed,
        "recovered"
    );
    let metrics = Arc::new(Metrics::default());
    let mut core_config = config.core.clone();
    if core_config.requests_file.is_none() {
        core_config.requests_file = Some(config.data_dir.join(requests::REQUESTS_FILE));
    }
    let core = core::start(journal, engine, seq, core_config, metrics.clone())?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let state = api::AppState {
        core: core.handle.clone(),
        keys,
        limiter: Arc::new(RateLimiter::new(
            config.rate_limit_per_s,
            config.rate_limit_per_s.saturating_mul(2),
        )),
        metrics,
        accept_client_time: config.accept_client_time,
        shutdown: shutdown_rx,
    };
    Ok(Service {
        router: api::router(state),
        core,
        recovered_seq: seq,
        recovered_hash,
        shutdown,
    })
}

/// A service listening on a socket.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Running {
    /// Stops accepting, finishes the requests in flight and the batch, writes a snapshot and
    /// waits for the engine thread.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait().await
    }

    /// Waits until the service stops (a failure, or [`Running::shutdown`]).
    pub async fn wait(self) -> Result<(), ServeError> {
        match self.task.await {
            Ok(r) => r,
            Err(_) => Err(ServeError::CoreVanished),
        }
    }

    /// A future that triggers a clean shutdown when `signal` resolves.
    pub async fn shutdown_on(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServeError> {
        let stop = self.stop.take();
        let task = &mut self.task;
        tokio::select! {
            r = task => return r.unwrap_or(Err(ServeError::CoreVanished)),
            () = signal => {}
        }
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        self.task.await.unwrap_or(Err(ServeError::CoreVanished))
    }
}

/// Opens the service and listens on `config.listen`.
pub async fn start(config: &ServeConfig) -> Result<Running, ServeError> {
    let config2 = config.clone();
    let service = tokio::task::spawn_blocking(move || open(&config2))
        .await
        .map_err(|_| ServeError::CoreVanished)??;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(ServeError::Http)?;
    tracing::info!(%addr, "listening");
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let Service {
        router,
        core,
        shutdown,
        ..
    } = service;
    let task = tokio::spawn(async move {
        let Core {
            handle,
            mut stopped,
            ..
        } = core;
        let shutdown2 = shutdown.clone();
        let server = axum::serve(listener, router).with_graceful_shutdown(async move {
            let _ = stop_rx.await;
            let _ = shutdown2.send(true);
        });
        tokio::select! {
            r = &mut stopped => {
                // The engine thread stopped on its own: a journal failure or a panic.
                let _ = shutdown.send(true);
                return match r {
                    Ok(Err(e)) => Err(ServeError::Core(e)),
                    _ => Err(ServeError::CoreVanished),
                };
            }
            r = std::future::IntoFuture::into_future(server) => r.map_err(ServeError::Http)?,
        }
        handle.shutdown();
        drop(handle);
        match stopped.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(ServeError::Core(e)),
            Err(_) => Err(ServeError::CoreVanished),
        }
    });
    Ok(Running {
        addr,
        stop: Some(stop),
        task,
    })
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `derivpool serve`: starts, prints `listening on http://ADDR` on stdout, and runs until
/// SIGTERM or Ctrl-C (then finishes the batch in flight and syncs) or a failure.
pub async fn serve(config: &ServeConfig) -> Result<(), ServeError> {
    let running = start(config).await?;
    println!("listening on http://{}", running.addr);
    running.shutdown_on(termination_signal()).await
}

/// Sets up `tracing` output on stderr (`RUST_LOG` filters; default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
