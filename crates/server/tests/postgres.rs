//! `derivpool serve --database postgres://…`: the service on the PostgreSQL journal. Runs when
//! `DERIVPOOL_TEST_POSTGRES_URL` names a reachable server (`.ci/postgres.sh` starts one);
//! otherwise it says it is skipped and passes.

mod common;

use common::{get, make_keys, post};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_on_postgres_acknowledges_durably_and_recovers() {
    let url = match std::env::var("DERIVPOOL_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            eprintln!("skipped: DERIVPOOL_TEST_POSTGRES_URL not set (run .ci/postgres.sh)");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let mut config = derivpool_server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".into();
    config.database = Some(url);
    let server = derivpool_server::start(&config).await.unwrap();
    // The database may hold commands of earlier runs: continue after them.
    let (_, start) = get(server.addr, "/v1/state").await;
    let start_seq = start["seq"].as_u64().unwrap();
    let cmds: Vec<Value> = (0..50)
        .map(|i| json!({"type":"deposit","account":"pg","asset":"USDC","amount":format!("{}", i + 1)}))
        .collect();
    let (s, answers) = post(server.addr, &keys.admin, &Value::Array(cmds)).await;
    assert_eq!(s, 200, "{answers}");
    let seqs: Vec<u64> = answers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (start_seq + 1..=start_seq + 50).collect::<Vec<u64>>());
    let (_, before) = get(server.addr, "/v1/state").await;
    server.shutdown().await.unwrap();

    let server = derivpool_server::start(&config).await.unwrap();
    let (_, after) = get(server.addr, "/v1/state").await;
    assert_eq!(before, after, "recovered from PostgreSQL to the same state");
    server.shutdown().await.unwrap();
}
