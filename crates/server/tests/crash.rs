//! Crash test: a child `derivpool-server` under concurrent load is killed with SIGKILL at
//! random moments, many times, and restarted. After all that:
//! - every acknowledged command is in the journal at the seq it was acknowledged with;
//! - every journal record is a command some client sent, and each request's commands are all
//!   in the journal or none of them (nothing unacknowledged is half-applied);
//! - the journal's seqs are 1..=N and the restarted server reports seq N;
//! - the state hash the restarted server recovers equals a fresh replay of the journal.

mod common;

use common::{get, make_keys, post, setup_commands};
use derivpool_engine::{Command, Engine};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// SIGKILLs per run (bounded so the test ends within about a minute).
const KILLS: usize = 20;
/// Concurrent clients during each life of the server.
const CLIENTS: usize = 6;

/// A child server, killed when dropped (so a failing test leaves no process behind).
struct ChildServer(Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_server(dir: &Path) -> (ChildServer, SocketAddr) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_derivpool-server"))
        .args([
            "--data",
            dir.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--rate-limit",
            "0",
        ])
        .args(["--snapshot-every", "300"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .parse()
        .unwrap();
    (ChildServer(child), addr)
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

/// The canonical form of a command, without its time.
fn canonical(mut v: Value) -> String {
    let obj = v.as_object_mut().unwrap();
    obj.remove("request_id");
    obj.insert("t".into(), json!(0));
    let mut c: Command = serde_json::from_value(v).unwrap();
    c.t = 0;
    c.to_json()
}

#[derive(Default)]
struct Log {
    /// Every request sent: its commands (canonical) and, if acknowledged, the answers.
    requests: Vec<(Vec<String>, Option<Value>)>,
    /// The body and key of each request after the set-up (index + 1 in `requests`).
    bodies: Vec<(Value, String)>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_never_loses_an_acknowledged_command() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let log = Arc::new(Mutex::new(Log::default()));
    let counter = Arc::new(AtomicU64::new(1));

    let (mut child, mut addr) = spawn_server(dir.path());
    let (s, b) = post(addr, &keys.admin, &setup_commands()).await;
    assert_eq!(s, 200, "{b}");
    let setup: Vec<String> = setup_commands()
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .map(canonical)
        .collect();
    log.lock().unwrap().requests.push((setup, Some(b)));

    for kill in 0..KILLS {
        let mut clients = Vec::new();
        for c in 0..CLIENTS {
            let (log, counter) = (log.clone(), counter.clone());
            let (key, account) = if c % 2 == 0 {
                (keys.alice.clone(), "alice")
            } else {
                (keys.bob.clone(), "bob")
            };
            clients.push(tokio::spawn(async move {
                loop {
                    let n = 1 + random_u64() % 4;
                    let cmds: Vec<Value> = (0..n)
                        .map(|_| {
                            let id = counter.fetch_add(1, Ordering::Relaxed);
                            let rid = format!("r{id}");
                            if id % 5 == 0 {
                                json!({"type":"trade","pool":"main","account":account,"request_id":rid,
                                       "instrument":common::CALL,"side":"buy","size":format!("0.0{id:06}")})
                            } else {
                                json!({"type":"deposit","account":account,"asset":"USDC","request_id":rid,
                                       "amount":format!("1.{id:08}")})
                            }
                        })
                        .collect();
                    let canon: Vec<String> = cmds.iter().cloned().map(canonical).collect();
                    let index = {
                        let mut l = log.lock().unwrap();
                        l.bodies.push((Value::Array(cmds.clone()), key.clone()));
                        l.requests.push((canon, None));
                        l.requests.len() - 1
                    };
                    let body = Value::Array(cmds).to_string();
                    match common::http(addr, "POST", "/v1/commands", Some(&key), Some(&body)).await {
                        Ok((200, text)) => {
                            let v: Value = serde_json::from_str(&text).unwrap();
                            log.lock().unwrap().requests[index].1 = Some(v);
                        }
                        Ok((status, text)) => panic!("unexpected {status}: {text}"),
                        Err(_) => return, // the server died mid-request: unacknowledged
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(30 + random_u64() % 300)).await;
        child.0.kill().unwrap(); // SIGKILL
        child.0.wait().unwrap();
        for c in clients {
            c.await.unwrap();
        }
        eprintln!("kill {} after {:?}", kill + 1, started.elapsed());
        let (c, a) = spawn_server(dir.path());
        child = c;
        addr = a;
    }

    // The last life: what did the server recover?
    let (_, state) = get(addr, "/v1/state").await;
    // Retries of acknowledged requests (request ids) get their first answers after the kills,
    // and apply nothing.
    let retries: Vec<(Value, String, Value)> = {
        let l = log.lock().unwrap();
        l.bodies
            .iter()
            .zip(&l.requests[1..])
            .filter_map(|((body, key), (_, answer))| {
                answer.clone().map(|a| (body.clone(), key.clone(), a))
            })
            .rev()
            .step_by(7)
            .take(40)
            .collect()
    };
    assert!(
        retries.len() >= 20,
        "too few acknowledged requests to retry"
    );
    for (body, key, first) in &retries {
        let (s, again) = post(addr, key, body).await;
        assert_eq!(s, 200);
        assert_eq!(&again, first, "retry of {body}");
    }
    let (_, state_after) = get(addr, "/v1/state").await;
    assert_eq!(state, state_after, "retries applied nothing");
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let served_seq = state["seq"].as_u64().unwrap();
    let served_hash = state["state_hash"].as_str().unwrap().to_string();

    let journal = derivpool_store::open(dir.path().to_str().unwrap()).unwrap();
    let records = journal.read_after(0).unwrap();
    let seqs: Vec<u64> = records.iter().map(|r| r.seq).collect();
    assert_eq!(
        seqs,
        (1..=served_seq).collect::<Vec<u64>>(),
        "journal seqs are 1..=N"
    );

    // A fresh replay of the journal gives the state the server recovered.
    let mut engine = Engine::new();
    let mut journal_cmds: HashMap<String, u64> = HashMap::new();
    for r in &records {
        let cmd = Command::from_json(&r.command).unwrap();
        engine
            .apply(&cmd)
            .unwrap_or_else(|e| panic!("seq {} replays: {e}", r.seq));
        let mut c = cmd.clone();
        c.t = 0;
        assert!(
            journal_cmds.insert(c.to_json(), r.seq).is_none(),
            "seq {} is a duplicate",
            r.seq
        );
    }
    assert_eq!(
        engine.state_hash(),
        served_hash,
        "recovered hash = fresh replay"
    );

    let log = log.lock().unwrap();
    let (mut acked, mut unacked_present, mut unacked_absent) = (0, 0, 0);
    let mut sent: HashMap<&str, ()> = HashMap::new();
    for (cmds, answer) in &log.requests {
        for c in cmds {
            sent.insert(c, ());
        }
        match answer {
            Some(answers) => {
                let answers: Vec<Value> = match answers {
                    Value::Array(a) => a.clone(),
                    one => vec![one.clone()],
                };
                for (c, a) in cmds.iter().zip(&answers) {
                    if a["applied"] == true {
                        acked += 1;
                        assert_eq!(
                            journal_cmds.get(c),
                            a["seq"].as_u64().as_ref(),
                            "acknowledged {c} at {a}"
                        );
                    } else {
                        assert!(!journal_cmds.contains_key(c), "rejected {c} is journaled");
                    }
                }
            }
            None => {
                // Deposits always apply: a request is in the journal whole or not at all.
                let deposits: Vec<&String> =
                    cmds.iter().filter(|c| c.contains("\"deposit\"")).collect();
                let present = deposits
                    .iter()
                    .filter(|c| journal_cmds.contains_key(c.as_str()))
                    .count();
                assert!(
                    present == 0 || present == deposits.len(),
                    "request half applied: {cmds:?}"
                );
                if present == 0 {
                    unacked_absent += 1
                } else {
                    unacked_present += 1
                }
            }
        }
    }
    for r in &records {
        let mut c = Command::from_json(&r.command).unwrap();
        c.t = 0;
        assert!(
            sent.contains_key(c.to_json().as_str()),
            "seq {} was never sent",
            r.seq
        );
    }
    eprintln!(
        "{KILLS} kills in {:?}: {acked} acknowledged commands all present, {} journal records, \
         unacknowledged requests: {unacked_present} durable, {unacked_absent} lost",
        started.elapsed(),
        records.len()
    );
    assert!(
        acked > 100,
        "the load acknowledged too little to prove anything: {acked}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_cleanly_with_a_snapshot_and_restart_recovers_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let (child, addr) = spawn_server(dir.path());
    let (s, _) = post(addr, &keys.admin, &setup_commands()).await;
    assert_eq!(s, 200);
    let (_, b) = post(
        addr,
        &keys.alice,
        &common::trade("alice", common::CALL, "buy", "1"),
    )
    .await;
    assert_eq!(b["applied"], true, "{b}");
    let (_, before) = get(addr, "/v1/state").await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut child = child;
    let exit = child.0.wait().unwrap();
    assert!(exit.success(), "SIGTERM exit status {exit}");

    // The shutdown wrote a snapshot at the last seq.
    let journal = derivpool_store::open(dir.path().to_str().unwrap()).unwrap();
    assert_eq!(
        journal.snapshot_seqs().unwrap().first().copied(),
        before["seq"].as_u64()
    );
    drop(journal);

    let (mut child, addr) = spawn_server(dir.path());
    let (_, after) = get(addr, "/v1/state").await;
    assert_eq!(before, after);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
}
