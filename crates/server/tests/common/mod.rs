//! Shared test helpers: a pool set-up through the API, a tiny HTTP/1.1 client, keys.
#![allow(dead_code)]

use derivpool_server::keys::{create_key, Role};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The board every test lists (far enough in the future for the wall clock).
pub const EXPIRY: &str = "30JUN28";
/// A call on it.
pub const CALL: &str = "BTC-30JUN28-45000-C";
/// A put on it.
pub const PUT: &str = "BTC-30JUN28-35000-P";

pub fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Keys of every role in `dir`: (admin, trader alice, lp lp1, oracle a, keeper, governance g).
pub struct Keys {
    pub admin: String,
    pub alice: String,
    pub bob: String,
    pub lp1: String,
    pub oracle_a: String,
    pub keeper: String,
    pub governance: String,
}

pub fn make_keys(dir: &Path) -> Keys {
    let k = |role, account: Option<&str>| create_key(dir, role, account).unwrap().0;
    Keys {
        admin: k(Role::Admin, None),
        alice: k(Role::Trader, Some("alice")),
        bob: k(Role::Trader, Some("bob")),
        lp1: k(Role::Lp, Some("lp1")),
        oracle_a: k(Role::Oracle, Some("a")),
        keeper: k(Role::Keeper, None),
        governance: k(Role::Governance, Some("g")),
    }
}

/// A pool `main` (BTC, one board, LP capital processed at once, long oracle heartbeats so the
/// wall clock does not make it stale during a test) and traders alice and bob with USDC.
pub fn setup_commands() -> Value {
    let expiry_t = derivpool_engine::instrument::expiry_unix(EXPIRY).unwrap();
    let years = (expiry_t - now_s()) as f64 / (365.0 * 86_400.0);
    let a = format!("{:.12}", 0.6 * 0.6 * years);
    let mut cmds = vec![
        json!({"type":"create_pool","pool":"main","quote_asset":"USDC","generation":"hedged",
               "params":{"deposit_delay_s":"0","withdrawal_delay_s":"0","spot_heartbeat_s":"86400","vol_heartbeat_s":"604800"}}),
        json!({"type":"list_underlying","pool":"main","underlying":"BTC","oracle_sources":["a","b","c"]}),
    ];
    for src in ["a", "b", "c"] {
        cmds.push(json!({"type":"oracle_price","source":src,"asset":"BTC","price":"40000"}));
        cmds.push(
            json!({"type":"oracle_vol","source":src,"underlying":"BTC","expiry":EXPIRY,
                          "svi":{"a":a,"b":"0","rho":"0","m":"0","sigma":"0.1"}}),
        );
    }
    cmds.push(
        json!({"type":"list_expiry","pool":"main","underlying":"BTC","expiry":EXPIRY,
                     "strikes":["30000","35000","40000","45000","50000"]}),
    );
    cmds.push(
        json!({"type":"lp_deposit","pool":"main","lp":"lp1","tranche":"senior","amount":"1000000"}),
    );
    cmds.push(
        json!({"type":"lp_deposit","pool":"main","lp":"lp2","tranche":"junior","amount":"300000"}),
    );
    cmds.push(json!({"type":"tick"}));
    cmds.push(json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1000000"}));
    cmds.push(json!({"type":"deposit","account":"bob","asset":"USDC","amount":"1000000"}));
    Value::Array(cmds)
}

/// A small option trade by `account`.
pub fn trade(account: &str, instrument: &str, side: &str, size: &str) -> Value {
    json!({"type":"trade","pool":"main","account":account,"instrument":instrument,"side":side,"size":size})
}

/// One HTTP/1.1 request over a fresh connection: (status, body).
pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(k) = key {
        req.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    let body = body.unwrap_or("");
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await?;
    // Read to the end of the body: Content-Length when given (some servers keep the connection
    // open), else until the peer closes.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_some_and(|n| buf.len() >= end + 4 + n) {
                break;
            }
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end in {text:?}")))?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// POST /v1/commands and parse the JSON answer.
pub async fn post(addr: SocketAddr, key: &str, body: &Value) -> (u16, Value) {
    let (status, text) = http(
        addr,
        "POST",
        "/v1/commands",
        Some(key),
        Some(&body.to_string()),
    )
    .await
    .unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// GET a JSON route.
pub async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let (status, text) = http(addr, "GET", path, None, None).await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}
