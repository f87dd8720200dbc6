//! `GET /v1/stream`: a WebSocket of applied commands and their events, one text message per
//! command: `{"seq": N, "t": T, "type": "trade", "events": [...]}`, in seq order.
//!
//! `?from_seq=N` resumes: the first message is seq N (or the first command after it), then every
//! later one without gaps or duplicates. Recent commands come from the engine thread's ring;
//! older ones are re-derived by replaying the journal's commands in a fresh engine (events are a
//! pure function of the command log). Without `from_seq` the stream starts with the next
//! command. A subscriber that falls more than the stream buffer behind gets a final message
//! `{"code": "lagged", "message": ..., "resume_from_seq": N}` and the socket closes; it
//! reconnects with that `from_seq`.

use crate::api::AppState;
use crate::core::{events_json, stream_json, History, StreamRecord};
use crate::error::ApiError;
use axum::extract::rejection::QueryRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::Response;
use derivpool_engine::{Command, Engine};
use derivpool_store::{Record, READ_PAGE_RECORDS};
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Query of `GET /v1/stream`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct StreamQuery {
    /// First seq wanted (inclusive); absent: only commands applied from now on.
    pub from_seq: Option<u64>,
}

/// The event stream.
#[utoipa::path(
    get,
    path = "/v1/stream",
    params(StreamQuery),
    responses(
        (status = 101, description = "WebSocket: one message {seq, t, type, events} per applied command"),
        (status = 400, description = "Bad query", body = crate::error::ErrorBody),
        (status = 410, description = "History before the ring is no longer in the journal", body = crate::error::ErrorBody)
    )
)]
pub async fn get_stream(
    State(state): State<AppState>,
    query: Result<Query<StreamQuery>, QueryRejection>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|r| ApiError::bad_request("invalid_query", r.body_text()))?;
    let sub = state.core.subscribe(q.from_seq).await?;
    let mut shutdown = state.shutdown.clone();
    Ok(ws.on_upgrade(move |mut socket| async move {
        let from = q.from_seq.map_or(0, |f| f.max(1));
        if let Err(reason) = run(&mut socket, sub, from, &mut shutdown).await {
            tracing::debug!(%reason, "stream closed");
        }
        let _ = socket.send(Message::Close(None)).await;
    }))
}

async fn send(socket: &mut WebSocket, text: &str) -> Result<(), String> {
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())
}

async fn run(
    socket: &mut WebSocket,
    sub: crate::core::Subscription,
    from: u64,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let mut next = from;
    let mut live = sub.live;
    if let Some(history) = sub.history {
        let messages = tokio::task::spawn_blocking(move || derive(history, from))
            .await
            .map_err(|e| e.to_string())??;
        for (seq, text) in messages {
            send(socket, &text).await?;
            next = seq + 1;
        }
    }
    for r in sub.backlog {
        if r.seq >= next {
            send(socket, &r.json).await?;
            next = r.seq + 1;
        }
    }
    loop {
        tokio::select! {
            r = live.recv() => match r {
                Ok(StreamRecord { seq, json }) => {
                    if seq >= next {
                        send(socket, &json).await?;
                        next = seq + 1;
                    }
                }
                Err(RecvError::Lagged(_)) => {
                    let msg = serde_json::json!({
                        "code": "lagged",
                        "message": "this subscriber fell behind; reconnect with from_seq",
                        "resume_from_seq": next,
                    });
                    send(socket, &msg.to_string()).await?;
                    return Ok(());
                }
                Err(RecvError::Closed) => return Ok(()),
            },
            m = socket.recv() => match m {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Ok(_)) => {}
            },
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Replays the journal's commands from seq 1 and renders the messages of seq ≥ `from` (and
/// below the ring's start, which the ring covers).
fn derive(history: History, from: u64) -> Result<Vec<(u64, Arc<str>)>, String> {
    let mut engine = Engine::new();
    engine.set_check_invariants(false);
    let mut out = Vec::new();
    let mut after = 0;
    while after + 1 < history.until_seq {
        let page = history
            .reader
            .read_page(after, READ_PAGE_RECORDS)
            .map_err(|e| format!("reading the journal: {e}"))?;
        if page.is_empty() {
            break;
        }
        for r in page {
            if r.seq != after + 1 {
                return Err(format!(
                    "the journal no longer holds seq {} (found {}); resume from seq {}",
                    after + 1,
                    r.seq,
                    history.until_seq
                ));
            }
            after = r.seq;
            if r.seq >= history.until_seq {
                break;
            }
            apply_one(&mut engine, &r, from, &mut out)?;
        }
    }
    Ok(out)
}

fn apply_one(
    engine: &mut Engine,
    r: &Record,
    from: u64,
    out: &mut Vec<(u64, Arc<str>)>,
) -> Result<(), String> {
    {
        let cmd =
            Command::from_json(&r.command).map_err(|e| format!("journal seq {}: {e}", r.seq))?;
        let events = engine
            .apply(&cmd)
            .map_err(|e| format!("journal seq {} no longer applies: {e}", r.seq))?;
        if r.seq >= from {
            let json = stream_json(
                r.seq,
                cmd.t,
                cmd.kind.type_name(),
                events_json(&events).get(),
            );
            out.push((r.seq, json));
        }
    }
    Ok(())
}
