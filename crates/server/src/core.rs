//! The engine thread: the only owner of the [`Engine`] and the [`Journal`].
//!
//! HTTP handlers never touch state: they send jobs over a channel and await the answer. The
//! thread takes the first waiting job, then drains whatever else is waiting (up to
//! [`CoreConfig::batch_commands_max`] commands), applies the commands in order, appends the
//! applied ones with ONE `append_batch` (group commit: one fsync for the whole batch), and only
//! then answers the requests, publishes the events to the stream and runs the reads that were
//! waiting (so a read never sees a command that is not yet durable).
//!
//! Time: a command's `t` is stamped here as max(last applied t, wall clock), so it never
//! decreases; items marked `client_time` (admin keys with `--accept-client-time`) keep theirs.
//!
//! Idempotency: answers to items that carried a `request_id` are remembered per (key id,
//! request id) in a bounded table (oldest evicted first, [`CoreConfig::idempotency_entries_max`])
//! and, when [`CoreConfig::requests_file`] is set, appended to that file after the journal's
//! fsync and before the answer, so they survive a restart ([`crate::requests`] has the limits).
//!
//! Failure: a fatal journal error (a failed write or fsync) aborts the process at once through
//! [`fatal_on_io_error`], without answering the batch; any other journal error stops the
//! thread, and the server exits non-zero. Nothing is retried.

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::requests::{check_of, Entry, RequestLog};
use derivpool_engine::{Command, Engine, Event};
use derivpool_store::{fatal_on_io_error, snapshot_of, Journal, JournalReader, StoreError};
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime};
use tokio::sync::{broadcast, oneshot};

/// Limits of the engine thread.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Most commands applied and committed together in one batch.
    pub batch_commands_max: usize,
    /// Applied commands kept in memory for stream resumption.
    pub ring_records_max: usize,
    /// Remembered answers to requests with a `request_id`.
    pub idempotency_entries_max: usize,
    /// A snapshot is written after this many applied commands (0: never, except at shutdown).
    pub snapshot_interval_commands: u64,
    /// Stream messages buffered per slow subscriber before it is disconnected.
    pub stream_buffer_max: usize,
    /// Where answers to requests with a `request_id` are kept across restarts
    /// ([`crate::requests`]); `None`: in memory only.
    pub requests_file: Option<std::path::PathBuf>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            batch_commands_max: 8192,
            ring_records_max: 65_536,
            idempotency_entries_max: 100_000,
            snapshot_interval_commands: derivpool_store::SnapshotPolicy::DEFAULT_EVERY_COMMANDS,
            stream_buffer_max: 16_384,
            requests_file: None,
        }
    }
}

/// One command of a submission.
#[derive(Debug, Clone)]
pub struct Item {
    /// Client id making retries idempotent.
    pub request_id: Option<String>,
    /// The command; its `t` is replaced unless `client_time`.
    pub command: Command,
    /// Keep the command's own `t` (admin with `--accept-client-time`).
    pub client_time: bool,
}

/// A reject as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RejectBody {
    /// Stable snake_case reject code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// The answer to one command: `{seq, applied: true, events}` or
/// `{applied: false, reject: {code, message}}`.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Answer {
    /// Journal sequence number (applied commands only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Whether the command was applied (and is durable).
    pub applied: bool,
    /// The events (applied commands only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub events: Option<Box<RawValue>>,
    /// The reject (rejected commands only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<RejectBody>,
    /// The client's request id, echoed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One applied command as the stream sends it: `{"seq","t","type","events"}` as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    /// Sequence number.
    pub seq: u64,
    /// The message text.
    pub json: Arc<str>,
}

/// The stream message of an applied command.
pub fn stream_json(seq: u64, t: u64, command_type: &str, events_json: &str) -> Arc<str> {
    format!("{{\"seq\":{seq},\"t\":{t},\"type\":\"{command_type}\",\"events\":{events_json}}}")
        .into()
}

/// Commands older than the ring, to re-derive from the journal: replay seq 1 up to (not
/// including) `until_seq` through a reader handle owned by the subscriber.
pub struct History {
    /// A read-only journal handle for the subscriber's thread.
    pub reader: Box<dyn JournalReader>,
    /// The ring's first seq when the subscription was taken.
    pub until_seq: u64,
}

/// What a new stream subscriber gets, consistent with the thread's position: history to
/// re-derive (older than the ring), the ring's records from `from_seq`, then live records.
pub struct Subscription {
    /// Set when `from_seq` is older than the ring.
    pub history: Option<History>,
    /// Records already in the ring with seq ≥ from_seq.
    pub backlog: Vec<StreamRecord>,
    /// Everything applied after this moment.
    pub live: broadcast::Receiver<StreamRecord>,
}

/// A read-only view handed to read jobs.
pub struct ReadView<'a> {
    /// The engine, with every durable command applied.
    pub engine: &'a Engine,
    /// Sequence number of the last durable command.
    pub seq: u64,
}

type ReadJob = Box<dyn FnOnce(&ReadView<'_>) + Send>;

enum Job {
    Submit {
        key_id: String,
        items: Vec<Item>,
        reply: oneshot::Sender<Vec<Answer>>,
    },
    Read(ReadJob),
    Subscribe {
        from_seq: Option<u64>,
        reply: oneshot::Sender<Result<Subscription, String>>,
    },
    Snapshot(oneshot::Sender<(Arc<Engine>, u64)>),
    Shutdown,
}

/// Why the engine thread stopped.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The journal failed (e.g. fsync): the process must stop.
    #[error("journal failed, stopping: {0}")]
    Journal(#[from] StoreError),
    /// The request-id file could not be read or written.
    #[error("request ids: {0}")]
    RequestLog(#[from] crate::requests::RequestLogError),
    /// The engine thread panicked (a broken invariant is a bug).
    #[error("engine thread panicked: {0}")]
    Panicked(String),
}

/// A cloneable handle to the engine thread.
#[derive(Clone)]
pub struct CoreHandle {
    tx: mpsc::Sender<Job>,
    shared: SharedEngine,
}

/// The engine as of a durable seq, shared with readers; the engine thread empties it before it
/// answers a batch that changed the state, so a reader never sees a state older than an answer
/// it has received.
type SharedEngine = Arc<RwLock<Option<(Arc<Engine>, u64)>>>;

impl CoreHandle {
    /// Applies items in order and answers each once they are durable.
    pub async fn submit(&self, key_id: String, items: Vec<Item>) -> Result<Vec<Answer>, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Submit {
                key_id,
                items,
                reply,
            })
            .map_err(|_| ApiError::engine_stopped())?;
        rx.await.map_err(|_| ApiError::engine_stopped())
    }

    /// Runs `f` on the engine thread against the durable state.
    pub async fn read<R, F>(&self, f: F) -> Result<R, ApiError>
    where
        R: Send + 'static,
        F: FnOnce(&ReadView<'_>) -> R + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job: ReadJob = Box::new(move |view| {
            let _ = reply.send(f(view));
        });
        self.tx
            .send(Job::Read(job))
            .map_err(|_| ApiError::engine_stopped())?;
        rx.await.map_err(|_| ApiError::engine_stopped())
    }

    /// A shared read-only copy of the durable engine and its seq, for reads that are costly
    /// enough to run on the caller's thread (quotes). The engine thread clones its state at
    /// most once per batch that changed it, and only when such a read asks.
    pub async fn snapshot(&self) -> Result<(Arc<Engine>, u64), ApiError> {
        if let Some(hit) = self
            .shared
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            return Ok(hit.clone());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Snapshot(reply))
            .map_err(|_| ApiError::engine_stopped())?;
        rx.await.map_err(|_| ApiError::engine_stopped())
    }

    /// Subscribes to the stream from `from_seq` (inclusive); `None`: live records only.
    pub async fn subscribe(&self, from_seq: Option<u64>) -> Result<Subscription, ApiError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job::Subscribe { from_seq, reply })
            .map_err(|_| ApiError::engine_stopped())?;
        rx.await
            .map_err(|_| ApiError::engine_stopped())?
            .map_err(|m| ApiError::new(axum::http::StatusCode::GONE, "history_gone", m))
    }

    /// Asks the thread to finish the batch in flight, write a snapshot and stop.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Job::Shutdown);
    }
}

/// The running engine thread.
pub struct Core {
    /// Handle for requests.
    pub handle: CoreHandle,
    /// Resolves when the thread stops, with why.
    pub stopped: oneshot::Receiver<Result<(), CoreError>>,
    thread: std::thread::JoinHandle<()>,
}

impl Core {
    /// Waits for the thread to end (after [`CoreHandle::shutdown`] or a failure).
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// Unix seconds now.
pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Starts the engine thread over a recovered engine and its journal (loading the remembered
/// request ids first, when `config.requests_file` is set).
pub fn start(
    journal: Box<dyn Journal>,
    engine: Engine,
    seq: u64,
    config: CoreConfig,
    metrics: Arc<Metrics>,
) -> Result<Core, CoreError> {
    let mut idempotency = Idempotency::new(config.idempotency_entries_max);
    let request_log = match &config.requests_file {
        Some(path) => {
            let (log, entries) = RequestLog::open(path, &*journal, config.idempotency_entries_max)?;
            tracing::info!(entries = entries.len(), "request ids loaded");
            for e in entries {
                idempotency.insert((e.key, e.id), e.answer);
            }
            Some(log)
        }
        None => None,
    };
    let (tx, rx) = mpsc::channel();
    let (stopped_tx, stopped) = oneshot::channel();
    let (live, _) = broadcast::channel(config.stream_buffer_max.max(16));
    let shared: SharedEngine = Arc::new(RwLock::new(None));
    let mut state = Thread {
        journal,
        engine,
        seq,
        ring: VecDeque::new(),
        ring_start: seq + 1,
        live,
        idempotency,
        request_log,
        shared: shared.clone(),
        since_snapshot: 0,
        config,
        metrics,
    };
    let thread = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| state.run(&rx)));
            let result = match result {
                Ok(r) => r,
                Err(p) => Err(CoreError::Panicked(
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                )),
            };
            let _ = stopped_tx.send(result);
        })
        .expect("spawn the engine thread");
    Ok(Core {
        handle: CoreHandle { tx, shared },
        stopped,
        thread,
    })
}

struct Idempotency {
    map: HashMap<(String, String), Answer>,
    order: VecDeque<(String, String)>,
    entries_max: usize,
}

impl Idempotency {
    fn new(entries_max: usize) -> Idempotency {
        Idempotency {
            map: HashMap::new(),
            order: VecDeque::new(),
            entries_max,
        }
    }

    fn insert(&mut self, key: (String, String), answer: Answer) {
        if self.entries_max == 0 {
            return;
        }
        while self.order.len() >= self.entries_max {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, answer);
    }
}

struct Thread {
    journal: Box<dyn Journal>,
    engine: Engine,
    seq: u64,
    ring: VecDeque<StreamRecord>,
    ring_start: u64,
    live: broadcast::Sender<StreamRecord>,
    idempotency: Idempotency,
    request_log: Option<RequestLog>,
    /// The engine as of `seq`, shared with readers; emptied when a batch changes the state.
    shared: SharedEngine,
    since_snapshot: u64,
    config: CoreConfig,
    metrics: Arc<Metrics>,
}

/// Where an item's answer comes from after the commit.
enum Slot {
    Done(Answer),
    /// Applied; index into the batch's appended commands, with its stream parts.
    Applied {
        index: usize,
        events: Box<RawValue>,
        command_type: &'static str,
        t: u64,
        request_id: Option<String>,
    },
    /// A repeat (same key and request id) of an earlier item in the same batch.
    SameAs(usize, usize),
}

impl Thread {
    fn run(&mut self, rx: &mpsc::Receiver<Job>) -> Result<(), CoreError> {
        loop {
            let Ok(first) = rx.recv() else {
                return self.finish();
            };
            let mut jobs = vec![first];
            let mut commands = jobs_commands(&jobs);
            while commands < self.config.batch_commands_max {
                match rx.try_recv() {
                    Ok(job) => {
                        commands += jobs_commands(std::slice::from_ref(&job));
                        jobs.push(job);
                    }
                    Err(_) => break,
                }
            }
            if self.batch(jobs)? {
                return self.finish();
            }
        }
    }

    fn finish(&mut self) -> Result<(), CoreError> {
        if self.since_snapshot > 0 {
            self.snapshot()?;
        }
        tracing::info!(seq = self.seq, state_hash = %self.engine.state_hash(), "engine stopped");
        Ok(())
    }

    fn snapshot(&mut self) -> Result<(), CoreError> {
        let snap = snapshot_of(&self.engine, self.seq);
        fatal_on_io_error(self.journal.write_snapshot(&snap))?;
        self.since_snapshot = 0;
        tracing::info!(seq = snap.seq, state_hash = %snap.state_hash, "snapshot written");
        Ok(())
    }

    /// Applies, commits and answers one batch; true when a shutdown was asked.
    fn batch(&mut self, jobs: Vec<Job>) -> Result<bool, CoreError> {
        let mut shutdown = false;
        let mut to_append: Vec<(u64, String)> = Vec::new();
        let mut submissions: Vec<(String, Vec<Slot>, oneshot::Sender<Vec<Answer>>)> = Vec::new();
        let mut later: Vec<Job> = Vec::new();
        let mut in_batch: HashMap<(String, String), (usize, usize)> = HashMap::new();
        let mut rejected: HashMap<&'static str, u64> = HashMap::new();
        let mut applied: HashMap<&'static str, u64> = HashMap::new();
        for job in jobs {
            match job {
                Job::Submit {
                    key_id,
                    items,
                    reply,
                } => {
                    let sub = submissions.len();
                    let mut slots = Vec::with_capacity(items.len());
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(rid) = &item.request_id {
                            let k = (key_id.clone(), rid.clone());
                            if let Some(a) = self.idempotency.map.get(&k) {
                                slots.push(Slot::Done(a.clone()));
                                continue;
                            }
                            if let Some(&(s, j)) = in_batch.get(&k) {
                                slots.push(Slot::SameAs(s, j));
                                continue;
                            }
                            in_batch.insert(k, (sub, i));
                        }
                        let mut command = item.command;
                        if !item.client_time {
                            command.t = self.engine.state().t.max(now_s());
                        }
                        let command_type = command.kind.type_name();
                        match self.engine.apply(&command) {
                            Ok(events) => {
                                *applied.entry(command_type).or_default() += 1;
                                let events = events_json(&events);
                                slots.push(Slot::Applied {
                                    index: to_append.len(),
                                    events,
                                    command_type,
                                    t: command.t,
                                    request_id: item.request_id,
                                });
                                to_append.push((command.t, command.to_json()));
                            }
                            Err(reject) => {
                                *rejected.entry(reject.code.as_str()).or_default() += 1;
                                slots.push(Slot::Done(Answer {
                                    seq: None,
                                    applied: false,
                                    events: None,
                                    reject: Some(RejectBody {
                                        code: reject.code.as_str().to_string(),
                                        message: reject.message,
                                    }),
                                    request_id: item.request_id,
                                }));
                            }
                        }
                    }
                    submissions.push((key_id, slots, reply));
                }
                Job::Shutdown => shutdown = true,
                other => later.push(other),
            }
        }
        let seqs = if to_append.is_empty() {
            Vec::new()
        } else {
            let started = Instant::now();
            let seqs = fatal_on_io_error(self.journal.append_batch(&to_append))?;
            self.metrics
                .journal_fsync_seconds
                .observe(started.elapsed().as_secs_f64());
            assert_eq!(seqs.len(), to_append.len(), "one seq per appended command");
            seqs
        };
        self.metrics.count_commands(&applied, &rejected);
        // Resolve answers in order, publish stream records in seq order.
        let mut resolved: Vec<Vec<Answer>> = Vec::with_capacity(submissions.len());
        let mut remembered: Vec<Entry> = Vec::new();
        for (key_id, slots, _) in &submissions {
            let mut answers: Vec<Answer> = Vec::with_capacity(slots.len());
            for slot in slots {
                let (answer, check) = match slot {
                    Slot::Done(a) => (a.clone(), None),
                    Slot::SameAs(s, j) if *s == resolved.len() => (answers[*j].clone(), None),
                    Slot::SameAs(s, j) => (resolved[*s][*j].clone(), None),
                    Slot::Applied {
                        index,
                        events,
                        command_type,
                        t,
                        request_id,
                    } => {
                        let seq = seqs[*index];
                        self.publish(StreamRecord {
                            seq,
                            json: stream_json(seq, *t, command_type, events.get()),
                        });
                        let answer = Answer {
                            seq: Some(seq),
                            applied: true,
                            events: Some(events.clone()),
                            reject: None,
                            request_id: request_id.clone(),
                        };
                        let check = request_id.as_ref().map(|_| check_of(&to_append[*index].1));
                        (answer, check)
                    }
                };
                if let Some(rid) = &answer.request_id {
                    let k = (key_id.clone(), rid.clone());
                    if !self.idempotency.map.contains_key(&k) {
                        if self.request_log.is_some() {
                            remembered.push(Entry {
                                key: k.0.clone(),
                                id: k.1.clone(),
                                answer: answer.clone(),
                                check,
                            });
                        }
                        self.idempotency.insert(k, answer.clone());
                    }
                }
                answers.push(answer);
            }
            resolved.push(answers);
        }
        if let Some(log) = &mut self.request_log {
            log.append(&remembered)?;
        }
        if let Some(&last) = seqs.last() {
            *self.shared.write().unwrap_or_else(|e| e.into_inner()) = None;
            self.seq = last;
            self.since_snapshot += seqs.len() as u64;
        }
        for ((_, _, reply), answers) in submissions.into_iter().zip(resolved) {
            let _ = reply.send(answers);
        }
        for job in later {
            let view = ReadView {
                engine: &self.engine,
                seq: self.seq,
            };
            match job {
                Job::Read(f) => f(&view),
                Job::Snapshot(reply) => {
                    let mut shared = self.shared.write().unwrap_or_else(|e| e.into_inner());
                    let hit = shared
                        .get_or_insert_with(|| (Arc::new(self.engine.clone()), self.seq))
                        .clone();
                    let _ = reply.send(hit);
                }
                Job::Subscribe { from_seq, reply } => {
                    let _ = reply.send(self.subscribe(from_seq));
                }
                Job::Submit { .. } | Job::Shutdown => unreachable!("handled above"),
            }
        }
        if self.config.snapshot_interval_commands > 0
            && self.since_snapshot >= self.config.snapshot_interval_commands
        {
            self.snapshot()?;
        }
        Ok(shutdown)
    }

    fn publish(&mut self, record: StreamRecord) {
        let _ = self.live.send(record.clone());
        self.ring.push_back(record);
        while self.ring.len() > self.config.ring_records_max {
            self.ring.pop_front();
            self.ring_start += 1;
        }
    }

    fn subscribe(&self, from_seq: Option<u64>) -> Result<Subscription, String> {
        let live = self.live.subscribe();
        let Some(from) = from_seq else {
            return Ok(Subscription {
                history: None,
                backlog: Vec::new(),
                live,
            });
        };
        let from = from.max(1);
        let backlog = self
            .ring
            .iter()
            .filter(|r| r.seq >= from)
            .cloned()
            .collect();
        let history = if from < self.ring_start {
            let reader = self
                .journal
                .reader()
                .map_err(|e| format!("opening a journal reader: {e}"))?;
            Some(History {
                reader,
                until_seq: self.ring_start,
            })
        } else {
            None
        };
        Ok(Subscription {
            history,
            backlog,
            live,
        })
    }
}

fn jobs_commands(jobs: &[Job]) -> usize {
    jobs.iter()
        .map(|j| match j {
            Job::Submit { items, .. } => items.len(),
            _ => 1,
        })
        .sum()
}

/// The JSON array of events.
pub fn events_json(events: &[Event]) -> Box<RawValue> {
    let text = serde_json::to_string(events).expect("events serialise");
    RawValue::from_string(text).expect("serialised JSON is valid")
}
