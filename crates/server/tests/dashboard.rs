//! The dashboard in headless Chromium (Debian's `chromium`, installed by `.ci/chromium.sh`):
//! the page loads from the binary alone, shows the pool's numbers, and a trade sent after the
//! page loaded appears through the WebSocket. Driven over the DevTools protocol. Skips with a
//! message when no chromium is installed.

mod common;

use common::{get, make_keys, post, setup_commands, trade, CALL, PUT};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<String> {
    if let Ok(p) = std::env::var("DERIVPOOL_CHROMIUM") {
        if !p.is_empty() {
            return Some(p);
        }
    }
    ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
                    .map(|p| p.to_string_lossy().into_owned())
            })
        })
}

struct Cdp {
    ws: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Cdp {
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let msg = json!({"id": id, "method": method, "params": params});
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .await
            .unwrap();
        loop {
            let m = tokio::time::timeout(Duration::from_secs(20), self.ws.next())
                .await
                .expect("devtools answer")
                .expect("devtools socket open")
                .unwrap();
            if let Message::Text(t) = m {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["id"] == id {
                    return v;
                }
            }
        }
    }

    /// Evaluates a JS expression in the page and returns its JSON value.
    async fn eval(&mut self, expr: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expr, "returnByValue": true}),
            )
            .await;
        r["result"]["result"]["value"].clone()
    }

    /// Polls `expr` until it is truthy; panics after 20 s naming what it waited for.
    async fn wait_for(&mut self, what: &str, expr: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.eval(expr).await;
            if !(v.is_null() || v == json!(false) || v == json!("")) {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The browser, killed when dropped (so a failing assertion leaves no process behind).
struct Browser(std::process::Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const PAGE_STATUS: &str = r#"JSON.stringify({
  nav: (document.getElementById('nav') || {}).textContent || null,
  seq: document.getElementById('seq').textContent,
  rendered: document.body.dataset.renderedSeq || null,
  ws: document.getElementById('status').textContent,
  tradeSeqs: Array.from(document.querySelectorAll('#trades tr.trade-row')).map(r => Number(r.dataset.seq)),
  positions: document.querySelector('#positions tbody').textContent,
  sharePrices: Array.from(document.querySelectorAll('#tranches td.share-price')).map(t => t.textContent),
  smiles: document.querySelectorAll('svg.smile polyline').length
})"#;

fn number(text: &str) -> f64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_loads_in_headless_chromium_and_updates_live() {
    let Some(browser) = chromium() else {
        eprintln!("skipped: chromium not found (set DERIVPOOL_CHROMIUM or run .ci/chromium.sh)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let mut config = derivpool_server::ServeConfig::new(dir.path());
    config.listen = "127.0.0.1:0".into();
    let server = derivpool_server::start(&config).await.unwrap();
    let addr = server.addr;
    let (s, _) = post(addr, &keys.admin, &setup_commands()).await;
    assert_eq!(s, 200);
    let (_, first) = post(addr, &keys.alice, &trade("alice", CALL, "buy", "3")).await;
    assert_eq!(first["applied"], true, "{first}");

    let profile = tempfile::tempdir().unwrap();
    let mut child = Browser(
        std::process::Command::new(&browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args([
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                "--window-size=1400,1800",
            ])
            .arg(format!("http://{addr}/"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Chromium writes its DevTools port to the profile directory once it listens.
    let port_file = profile.path().join("DevToolsActivePort");
    let started = Instant::now();
    let devtools: SocketAddr = loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|t| t.lines().next().and_then(|l| l.trim().parse::<u16>().ok()))
        {
            break SocketAddr::from(([127, 0, 0, 1], port));
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("chromium exited with {status} before listening");
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromium did not start DevTools"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let result = async {
        let page_ws = {
            let started = Instant::now();
            loop {
                let (_, list) = get(devtools, "/json/list").await;
                if let Some(p) = list.as_array().and_then(|l| l.iter().find(|t| t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with("http")))) {
                    break p["webSocketDebuggerUrl"].as_str().unwrap().to_string();
                }
                assert!(started.elapsed() < Duration::from_secs(20), "no page target");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let (ws, _) = tokio_tungstenite::connect_async(page_ws).await.unwrap();
        let mut cdp = Cdp { ws, next_id: 0 };

        // Loaded: numbers from the API, and the earlier trade replayed through the stream.
        let first_seq = first["seq"].as_u64().unwrap();
        cdp.wait_for(
            "the first render and the replayed trade",
            &format!("document.body.dataset.renderedSeq && document.querySelector('#trades tr[data-seq=\"{first_seq}\"]') && document.getElementById('status').textContent === 'live'"),
        )
        .await;
        let status: Value = serde_json::from_str(cdp.eval(PAGE_STATUS).await.as_str().unwrap()).unwrap();
        let (_, pool) = get(addr, "/v1/pools/main").await;
        let api_nav: f64 = pool["metrics"]["nav"].as_str().unwrap().parse().unwrap();
        assert!((number(status["nav"].as_str().unwrap()) - api_nav).abs() < 0.01, "page {status} vs API NAV {api_nav}");
        assert_eq!(status["sharePrices"].as_array().unwrap().len(), 2, "{status}");
        assert!(status["smiles"].as_u64().unwrap() >= 2, "smile lines drawn: {status}");
        assert!(status["positions"].as_str().unwrap().contains("alice"), "{status}");

        // Live: a trade after the page loaded shows up through the WebSocket, with new numbers.
        let (_, live) = post(addr, &keys.bob, &trade("bob", PUT, "buy", "2")).await;
        let live_seq = live["seq"].as_u64().unwrap();
        cdp.wait_for(
            "the live trade row and a re-render at its seq",
            &format!("document.querySelector('#trades tr[data-seq=\"{live_seq}\"]') && Number(document.body.dataset.renderedSeq) >= {live_seq}"),
        )
        .await;
        let status: Value = serde_json::from_str(cdp.eval(PAGE_STATUS).await.as_str().unwrap()).unwrap();
        assert_eq!(status["seq"], live_seq.to_string(), "{status}");
        assert!(status["positions"].as_str().unwrap().contains("bob"), "{status}");
        let (_, pool) = get(addr, "/v1/pools/main").await;
        let api_nav: f64 = pool["metrics"]["nav"].as_str().unwrap().parse().unwrap();
        assert!((number(status["nav"].as_str().unwrap()) - api_nav).abs() < 0.01, "live NAV {status} vs {api_nav}");

        if let Ok(path) = std::env::var("DERIVPOOL_SCREENSHOT") {
            let shot = cdp.call("Page.captureScreenshot", json!({"format": "png"})).await;
            let data = shot["result"]["data"].as_str().unwrap();
            std::fs::write(&path, base64_decode(data)).unwrap();
        }
    }
    .await;
    drop(child);
    server.shutdown().await.unwrap();
    result
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').map(val).collect();
    bytes
        .chunks(4)
        .flat_map(|c| {
            let n = c
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, v)| n | (u32::from(*v) << (18 - 6 * i)));
            let out = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.into_iter().take(c.len() - 1).collect::<Vec<_>>()
        })
        .collect()
}
