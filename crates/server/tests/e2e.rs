//! End to end against a server on a random loopback port: concurrent clients, the WebSocket
//! stream resumed from a seq (from the ring and re-derived from the journal) without gaps or
//! duplicates, clean shutdown and recovery to the same state.

mod common;

use common::{get, make_keys, post, setup_commands, trade, CALL, PUT};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr, from_seq: Option<u64>) -> Ws {
    let q = from_seq
        .map(|s| format!("?from_seq={s}"))
        .unwrap_or_default();
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/v1/stream{q}"))
        .await
        .unwrap();
    ws
}

/// Reads stream messages until one with `seq >= until` arrived; (seq, message) in order.
async fn read_until(ws: &mut Ws, until: u64) -> Vec<(u64, Value)> {
    let mut out = Vec::new();
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("stream message within 20 s")
            .expect("stream open")
            .unwrap();
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(&text).unwrap();
        let seq = v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {v}"));
        out.push((seq, v));
        if seq >= until {
            return out;
        }
    }
}

fn assert_contiguous(msgs: &[(u64, Value)], from: u64, to: u64) {
    let seqs: Vec<u64> = msgs.iter().map(|(s, _)| *s).collect();
    let want: Vec<u64> = (from..=to).collect();
    assert_eq!(seqs, want, "stream seqs must be exactly {from}..={to}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_stream_resume_and_restart_keep_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let mut config = derivpool_server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".into();
    config.rate_limit_per_s = 0;
    // A tiny ring, so that resuming from an early seq re-derives events from the journal.
    config.core.ring_records_max = 16;
    config.core.snapshot_interval_commands = 50;
    let server = derivpool_server::start(&config).await.unwrap();
    let addr = server.addr;

    let mut live = connect(addr, None).await;
    let (s, setup) = post(addr, &keys.admin, &setup_commands()).await;
    assert_eq!(s, 200);
    let mut answers: BTreeMap<u64, Value> = BTreeMap::new();
    for a in setup.as_array().unwrap() {
        answers.insert(a["seq"].as_u64().unwrap(), a["events"].clone());
    }

    // Concurrent clients: two traders and a keeper, 25 requests each.
    let mut tasks = Vec::new();
    for (key, account) in [
        (keys.alice.clone(), "alice"),
        (keys.bob.clone(), "bob"),
        (keys.keeper.clone(), ""),
    ] {
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for i in 0..25 {
                let cmd = match (account, i % 3) {
                    ("", _) => json!({"type":"tick"}),
                    (a, 0) => trade(a, CALL, "buy", "0.1"),
                    (a, 1) => trade(a, PUT, "buy", "0.1"),
                    (a, _) => json!({"type":"deposit","account":a,"asset":"USDC","amount":"3"}),
                };
                let (s, b) = post(addr, &key, &cmd).await;
                assert_eq!(s, 200, "{b}");
                got.push(b);
            }
            got
        }));
    }
    for t in tasks {
        for b in t.await.unwrap() {
            if b["applied"] == true {
                answers.insert(b["seq"].as_u64().unwrap(), b["events"].clone());
            }
        }
    }
    let last = *answers.keys().last().unwrap();
    assert_eq!(
        answers.len() as u64,
        last,
        "acknowledged seqs are 1..=last without gaps"
    );

    // The live subscriber saw every command once, in order, with the acknowledged events.
    let msgs = read_until(&mut live, last).await;
    assert_contiguous(&msgs, 1, last);
    for (seq, m) in &msgs {
        assert_eq!(&m["events"], &answers[seq], "events of seq {seq}");
    }

    // Resume from the middle of the journal (older than the ring: re-derived by replay) and
    // from inside the ring; then more commands arrive live.
    let mut old = connect(addr, Some(5)).await;
    let mut recent = connect(addr, Some(last - 3)).await;
    let (_, more) = post(addr, &keys.alice, &json!([trade("alice", CALL, "sell", "0.1"), {"type":"deposit","account":"alice","asset":"USDC","amount":"1"}])).await;
    let new_last = more[1]["seq"].as_u64().unwrap();
    for (seq, a) in [(new_last - 1, &more[0]), (new_last, &more[1])] {
        answers.insert(seq, a["events"].clone());
    }
    let msgs = read_until(&mut old, new_last).await;
    assert_contiguous(&msgs, 5, new_last);
    for (seq, m) in &msgs {
        assert_eq!(
            &m["events"], &answers[seq],
            "re-derived events of seq {seq}"
        );
    }
    let msgs = read_until(&mut recent, new_last).await;
    assert_contiguous(&msgs, last - 3, new_last);

    // Clean shutdown, restart on the same directory: same seq, same state hash.
    let (_, before) = get(addr, "/v1/state").await;
    drop((live, old, recent));
    server.shutdown().await.unwrap();
    let server = derivpool_server::start(&config).await.unwrap();
    let (_, after) = get(server.addr, "/v1/state").await;
    assert_eq!(before, after);
    // Commands continue after the recovered seq.
    let (_, b) = post(
        server.addr,
        &keys.alice,
        &json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1"}),
    )
    .await;
    assert_eq!(b["seq"].as_u64(), Some(new_last + 1));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_subscriber_is_told_where_to_resume_and_resuming_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let mut config = derivpool_server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".into();
    config.core.stream_buffer_max = 16;
    let server = derivpool_server::start(&config).await.unwrap();
    let addr = server.addr;
    let mut ws = connect(addr, Some(1)).await;
    // 2,000 commands in one batch: far more than the subscriber's buffer of 16.
    let cmds: Vec<Value> = (0..2000)
        .map(|i| json!({"type":"deposit","account":format!("a{}", i % 7),"asset":"USDC","amount":"1"}))
        .collect();
    let (s, _) = post(addr, &keys.admin, &Value::Array(cmds)).await;
    assert_eq!(s, 200);
    let mut seen = Vec::new();
    let mut resumes = 0;
    while seen.last().copied() != Some(2000) {
        let msg = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("message");
        let text = match msg {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(_)) => continue,
            None | Some(Err(_)) => panic!("stream ended without a lag notice"),
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["code"] == "lagged" {
            let from = v["resume_from_seq"].as_u64().unwrap();
            assert_eq!(
                from,
                seen.last().map_or(1, |s| s + 1),
                "resume right after the last message"
            );
            resumes += 1;
            assert!(resumes < 500, "no progress");
            ws = connect(addr, Some(from)).await;
            continue;
        }
        seen.push(v["seq"].as_u64().unwrap());
    }
    assert_eq!(seen, (1..=2000).collect::<Vec<u64>>());
    assert!(
        resumes >= 1,
        "the subscriber never lagged, so the lag path went untested"
    );
    server.shutdown().await.unwrap();
}
