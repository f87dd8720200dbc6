//! The service on a damaged journal: a torn final record is dropped and the service starts
//! without it; a corrupted record in the middle refuses to start, naming the seq, and
//! `derivpool-server` exits non-zero.

mod common;

use common::{get, make_keys, post};
use serde_json::{json, Value};
use std::path::Path;

async fn journal_of(dir: &Path, n: u64) -> Value {
    let keys = make_keys(dir);
    let mut config = derivpool_server::ServeConfig::new(dir);
    config.listen = "127.0.0.1:0".into();
    let server = derivpool_server::start(&config).await.unwrap();
    let cmds: Vec<Value> = (1..=n)
        .map(|i| json!({"type":"deposit","account":"a","asset":"USDC","amount":format!("{i}")}))
        .collect();
    let (s, _) = post(server.addr, &keys.admin, &Value::Array(cmds)).await;
    assert_eq!(s, 200);
    let (_, state) = get(server.addr, "/v1/state").await;
    server.shutdown().await.unwrap();
    state
}

fn sql(dir: &Path, statement: &str) {
    let db = rusqlite::Connection::open(dir.join(derivpool_store::SQLITE_FILE_NAME)).unwrap();
    assert_eq!(db.execute(statement, []).unwrap(), 1, "{statement}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_final_record_is_dropped_and_the_service_starts_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = journal_of(dir.path(), 10).await;
    assert_eq!(state["seq"], 10);
    sql(
        dir.path(),
        "UPDATE journal SET checksum = 'torn' WHERE seq = 10",
    );
    let mut config = derivpool_server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".into();
    let server = derivpool_server::start(&config).await.unwrap();
    let (_, after) = get(server.addr, "/v1/state").await;
    assert_eq!(after["seq"], 9);
    let (_, account) = get(server.addr, "/v1/accounts/a").await;
    assert_eq!(account["balances"]["USDC"], "45", "1 + … + 9");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_middle_record_refuses_to_start_naming_the_seq() {
    let dir = tempfile::tempdir().unwrap();
    journal_of(dir.path(), 10).await;
    sql(
        dir.path(),
        r#"UPDATE journal SET command = replace(command, '"amount":"4"', '"amount":"400"') WHERE seq = 4"#,
    );
    let config = derivpool_server::ServeConfig::new(dir.path());
    let err = derivpool_server::open(&config)
        .err()
        .expect("refuses to start");
    let msg = err.to_string();
    assert!(msg.contains("corrupt at seq 4"), "{msg}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_derivpool-server"))
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt at seq 4"), "{stderr}");
}
