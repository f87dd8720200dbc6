//! Handlers through `tower::ServiceExt::oneshot`: every route, auth and every error code,
//! idempotent retries, client time, Prometheus output that parses.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use common::{make_keys, setup_commands, trade, Keys, CALL};
use derivpool_server::{open, ServeConfig, Service};
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: Router,
    keys: Keys,
    _service_core: derivpool_server::core::Core,
    _dir: tempfile::TempDir,
}

fn app(configure: impl FnOnce(&mut ServeConfig)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let keys = make_keys(dir.path());
    let mut config = ServeConfig::new(dir.path());
    config.rate_limit_per_s = 0;
    configure(&mut config);
    let Service { router, core, .. } = open(&config).unwrap();
    App {
        router,
        keys,
        _service_core: core,
        _dir: dir,
    }
}

async fn call(
    app: &App,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Body,
) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn post(app: &App, key: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let (s, text) = call(
        app,
        "POST",
        "/v1/commands",
        key,
        Body::from(body.to_string()),
    )
    .await;
    (
        s,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn get(app: &App, uri: &str) -> (StatusCode, Value) {
    let (s, text) = call(app, "GET", uri, None, Body::empty()).await;
    (
        s,
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}")),
    )
}

async fn ready(configure: impl FnOnce(&mut ServeConfig)) -> App {
    let app = app(configure);
    let (s, answers) = post(&app, Some(&app.keys.admin), &setup_commands()).await;
    assert_eq!(s, StatusCode::OK);
    for a in answers.as_array().unwrap() {
        assert_eq!(a["applied"], true, "{a}");
    }
    app
}

fn assert_error(status: StatusCode, body: &Value, want_status: StatusCode, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn missing_unknown_or_malformed_key_is_401() {
    let app = app(|_| {});
    let cmd = json!({"type":"tick"});
    let (s, b) = post(&app, None, &cmd).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let (s, b) = post(&app, Some("dpk_not_a_key"), &cmd).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized");
    let req = Request::post("/v1/commands")
        .header("authorization", "Basic abc")
        .body(Body::from(cmd.to_string()))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn roles_are_enforced_per_command_type_and_account() {
    let app = ready(|_| {}).await;
    let k = &app.keys;
    let forbidden = [
        (&k.alice, trade("bob", CALL, "buy", "1")),
        (
            &k.alice,
            json!({"type":"create_pool","pool":"p2","quote_asset":"USDC","generation":"hedged"}),
        ),
        (&k.alice, json!({"type":"tick"})),
        (
            &k.lp1,
            json!({"type":"lp_deposit","pool":"main","lp":"lp2","tranche":"senior","amount":"1"}),
        ),
        (
            &k.lp1,
            json!({"type":"deposit","account":"lp1","asset":"USDC","amount":"1"}),
        ),
        (
            &k.oracle_a,
            json!({"type":"oracle_price","source":"b","asset":"BTC","price":"40000"}),
        ),
        (
            &k.keeper,
            json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1"}),
        ),
        (&k.governance, json!({"type":"tick"})),
    ];
    for (key, cmd) in forbidden {
        let (s, b) = post(&app, Some(key), &cmd).await;
        assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    }
    let allowed = [
        (&k.alice, trade("alice", CALL, "buy", "0.1")),
        (
            &k.lp1,
            json!({"type":"lp_deposit","pool":"main","lp":"lp1","tranche":"senior","amount":"10"}),
        ),
        (
            &k.oracle_a,
            json!({"type":"oracle_price","source":"a","asset":"BTC","price":"40000"}),
        ),
        (&k.keeper, json!({"type":"tick"})),
        (
            &k.admin,
            json!({"type":"deposit","account":"carol","asset":"USDC","amount":"5"}),
        ),
    ];
    for (key, cmd) in allowed {
        let (s, b) = post(&app, Some(key), &cmd).await;
        assert_eq!(s, StatusCode::OK, "{cmd} -> {b}");
        assert_eq!(b["applied"], true, "{cmd} -> {b}");
    }
}

#[tokio::test]
async fn malformed_json_and_bad_commands_are_400_naming_the_problem() {
    let app = app(|_| {});
    let admin = app.keys.admin.clone();
    let (s, text) = call(
        &app,
        "POST",
        "/v1/commands",
        Some(&admin),
        Body::from("{\"type\": "),
    )
    .await;
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_error(s, &b, StatusCode::BAD_REQUEST, "malformed_json");
    assert!(b["message"].as_str().unwrap().contains("line 1"), "{b}");

    let (s, b) = post(
        &app,
        Some(&admin),
        &json!({"type":"teleport","pool":"main"}),
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_command");
    assert!(b["message"].as_str().unwrap().contains("teleport"), "{b}");

    let (s, b) = post(
        &app,
        Some(&admin),
        &json!([{"type":"tick"}, {"type":"deposit","account":"a","asset":"USDC"}]),
    )
    .await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_command");
    let msg = b["message"].as_str().unwrap();
    assert!(
        msg.starts_with("command 1:") && msg.contains("amount"),
        "{b}"
    );
    // Nothing of a refused request was applied.
    let (_, st) = get(&app, "/v1/state").await;
    assert_eq!(st["seq"], 0);

    for body in [
        json!(42),
        json!([]),
        json!({"no_type": 1}),
        json!({"type":"tick","request_id": 7}),
    ] {
        let (s, b) = post(&app, Some(&admin), &body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body} -> {b}");
    }
}

#[tokio::test]
async fn body_over_one_mib_is_413() {
    let app = app(|_| {});
    let admin = app.keys.admin.clone();
    let big = format!("[{}]", vec!["{\"type\":\"tick\"}"; 80_000].join(","));
    assert!(big.len() > 1 << 20);
    let (s, text) = call(&app, "POST", "/v1/commands", Some(&admin), Body::from(big)).await;
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_error(s, &b, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
}

#[tokio::test]
async fn per_key_rate_limit_is_429() {
    let app = app(|c| c.rate_limit_per_s = 1);
    let (alice, bob) = (app.keys.alice.clone(), app.keys.bob.clone());
    let cmd = json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1"});
    // Burst of twice the rate, then refused.
    for _ in 0..2 {
        let (s, b) = post(&app, Some(&alice), &cmd).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = post(&app, Some(&alice), &cmd).await;
    assert_error(s, &b, StatusCode::TOO_MANY_REQUESTS, "rate_limited");
    // Another key has its own bucket.
    let cmd_bob = json!({"type":"deposit","account":"bob","asset":"USDC","amount":"1"});
    let (s, _) = post(&app, Some(&bob), &cmd_bob).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn client_time_only_from_admin_keys_with_the_flag() {
    let app = app(|_| {});
    let cmd = json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1","t": 1_900_000_000u64});
    let (s, b) = post(&app, Some(&app.keys.admin), &cmd).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "client_time_not_accepted");

    let app = app_with_client_time();
    let (s, b) = post(&app, Some(&app.keys.alice), &cmd).await;
    assert_error(s, &b, StatusCode::FORBIDDEN, "forbidden");
    let (s, b) = post(&app, Some(&app.keys.admin), &cmd).await;
    assert_eq!((s, &b["applied"]), (StatusCode::OK, &json!(true)), "{b}");
    let (_, st) = get(&app, "/v1/state").await;
    assert_eq!(st["t"], 1_900_000_000u64);
    // The server's own stamp never goes below the last t.
    let (_, b) = post(
        &app,
        Some(&app.keys.alice),
        &json!({"type":"deposit","account":"alice","asset":"USDC","amount":"1"}),
    )
    .await;
    assert_eq!(b["applied"], true);
    let (_, st) = get(&app, "/v1/state").await;
    assert_eq!(st["t"], 1_900_000_000u64);
    // A client t going backwards is the engine's reject, not an HTTP error.
    let back = json!({"type":"tick","t": 1_800_000_000u64});
    let (s, b) = post(&app, Some(&app.keys.admin), &back).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["applied"], false);
    assert_eq!(b["reject"]["code"], "time_went_backwards");
}

fn app_with_client_time() -> App {
    app(|c| c.accept_client_time = true)
}

#[tokio::test]
async fn retry_with_the_same_request_id_returns_the_first_answer_and_applies_once() {
    let app = ready(|_| {}).await;
    let alice = app.keys.alice.clone();
    let mut cmd = trade("alice", CALL, "buy", "0.5");
    cmd["request_id"] = json!("order-1");
    let (_, first) = post(&app, Some(&alice), &cmd).await;
    assert_eq!(first["applied"], true, "{first}");
    let (_, st1) = get(&app, "/v1/state").await;
    let (_, again) = post(&app, Some(&alice), &cmd).await;
    assert_eq!(again, first);
    let (_, st2) = get(&app, "/v1/state").await;
    assert_eq!(st1, st2, "a retry applied nothing");
    // In one array, a repeated id answers like its first occurrence.
    let mut c2 = trade("alice", CALL, "buy", "0.25");
    c2["request_id"] = json!("order-2");
    let (_, arr) = post(&app, Some(&alice), &json!([c2.clone(), c2])).await;
    assert_eq!(arr[0], arr[1]);
    let (_, st3) = get(&app, "/v1/state").await;
    assert_eq!(
        st3["seq"].as_u64().unwrap(),
        st2["seq"].as_u64().unwrap() + 1
    );
    // The same id from another key is another request.
    let mut c3 = trade("bob", CALL, "buy", "0.25");
    c3["request_id"] = json!("order-1");
    let (_, b) = post(&app, Some(&app.keys.bob), &c3).await;
    assert_eq!(b["applied"], true);
    assert_ne!(b["seq"], first["seq"]);
    // A rejected command's answer is remembered too.
    let mut w = json!({"type":"withdraw","account":"alice","asset":"USDC","amount":"999999999"});
    w["request_id"] = json!("w-1");
    let (_, r1) = post(&app, Some(&alice), &w).await;
    assert_eq!(r1["reject"]["code"], "insufficient_balance", "{r1}");
    let (_, r2) = post(&app, Some(&alice), &w).await;
    assert_eq!(r1, r2);
}

#[tokio::test]
async fn answers_are_per_command_with_seq_or_reject() {
    let app = ready(|_| {}).await;
    let before = get(&app, "/v1/state").await.1["seq"].as_u64().unwrap();
    let body = json!([
        json!({"type":"deposit","account":"alice","asset":"USDC","amount":"10"}),
        json!({"type":"withdraw","account":"alice","asset":"USDC","amount":"1e99"}),
        json!({"type":"withdraw","account":"zed","asset":"USDC","amount":"5"}),
        trade("alice", CALL, "buy", "1"),
    ]);
    let (s, b) = post(&app, Some(&app.keys.admin), &body).await;
    // "1e99" is not a decimal string the engine accepts: the whole request is refused.
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    let mut body = body;
    body[1]["amount"] = json!("5");
    let (s, b) = post(&app, Some(&app.keys.admin), &body).await;
    assert_eq!(s, StatusCode::OK);
    let a = b.as_array().unwrap();
    assert_eq!(a[0]["seq"].as_u64(), Some(before + 1));
    assert_eq!(a[0]["events"][0]["type"], "deposited");
    assert_eq!(a[1]["seq"].as_u64(), Some(before + 2));
    assert_eq!(a[2]["applied"], false);
    assert!(a[2].get("seq").is_none());
    assert_eq!(a[2]["reject"]["code"], "insufficient_balance");
    assert_eq!(a[3]["seq"].as_u64(), Some(before + 3));
    assert_eq!(a[3]["events"][0]["type"], "option_traded");
}

#[tokio::test]
async fn read_routes_answer_json_and_unknown_names_are_404() {
    let app = ready(|_| {}).await;
    let (_, b) = post(
        &app,
        Some(&app.keys.alice),
        &trade("alice", CALL, "buy", "2"),
    )
    .await;
    let seq = b["seq"].as_u64().unwrap();

    let (s, st) = get(&app, "/v1/state").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["seq"].as_u64(), Some(seq));
    assert_eq!(st["state_hash"].as_str().unwrap().len(), 64);

    let (s, p) = get(&app, "/v1/pools/main").await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        p["metrics"]["nav"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 1_000_000.0,
        "{p}"
    );
    assert!(p["metrics"]["tranches"]["senior"]["share_price"].is_string());
    let strikes = &p["markets"][0]["boards"][0]["strikes"];
    assert_eq!(strikes.as_array().unwrap().len(), 5);
    assert!(
        strikes[3]["trading_vol"].as_f64().unwrap() > 0.5,
        "{strikes}"
    );
    let positions = p["positions"].as_array().unwrap();
    assert!(positions
        .iter()
        .any(|x| x["account"] == "alice" && x["instrument"] == CALL && x["size"] == "2"));

    let (s, b) = get(&app, "/v1/pools/nope").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_pool");
    let (s, a) = get(&app, "/v1/accounts/alice").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(a["positions"]["main"][CALL]["size"], "2");
    let (s, b) = get(&app, "/v1/accounts/nobody").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "unknown_account");

    let (_, i) = get(&app, "/v1/instruments").await;
    let names: Vec<&str> = i["instruments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["instrument"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&CALL) && names.contains(&"BTC-PERP"),
        "{names:?}"
    );
    assert_eq!(names.len(), 11);

    let (_, pr) = get(&app, "/v1/params").await;
    let specs = pr["specs"].as_array().unwrap();
    assert_eq!(specs.len(), derivpool_engine::params::PARAM_SPECS.len());
    assert_eq!(pr["pools"]["main"]["values"]["deposit_delay_s"], "0");

    let (_, pools) = get(&app, "/v1/pools").await;
    assert_eq!(pools["pools"], json!(["main"]));
}

#[tokio::test]
async fn quote_prices_without_changing_state_and_rejects_bad_queries() {
    let app = ready(|_| {}).await;
    let (_, st1) = get(&app, "/v1/state").await;
    let (s, q) = get(
        &app,
        &format!("/v1/quote?pool=main&instrument={CALL}&side=buy&size=1&account=alice"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(q["accepted"], true, "{q}");
    let quote = &q["quote"];
    assert_eq!(quote["market"], "option");
    for field in ["premium", "total"] {
        assert!(
            quote[field].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
            "{field}: {q}"
        );
    }
    // The quote is what the trade then pays.
    let (_, t) = post(
        &app,
        Some(&app.keys.alice),
        &trade("alice", CALL, "buy", "1"),
    )
    .await;
    assert_eq!(t["events"][0]["total"], quote["total"], "{t} vs {q}");
    let (_, st2) = get(&app, "/v1/state").await;
    assert_eq!(
        st2["seq"].as_u64().unwrap(),
        st1["seq"].as_u64().unwrap() + 1
    );

    let (_, p) = get(
        &app,
        "/v1/quote?pool=main&instrument=BTC-PERP&side=sell&size=0.5&account=alice",
    )
    .await;
    assert_eq!(p["quote"]["market"], "perp", "{p}");
    let (_, r) = get(
        &app,
        "/v1/quote?pool=main&instrument=BTC-30JUN28-41000-C&side=buy&size=1",
    )
    .await;
    assert_eq!(r["accepted"], false);
    assert_eq!(r["reject"]["code"], "unknown_instrument");
    for bad in [
        "/v1/quote?pool=main&instrument=X&side=up&size=1",
        "/v1/quote?pool=main&instrument=X&side=buy&size=lots",
        "/v1/quote?pool=main&side=buy&size=1",
    ] {
        let (s, b) = get(&app, bad).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_query");
    }
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json_errors() {
    let app = app(|_| {});
    let (s, b) = get(&app, "/v2/nothing").await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found");
    let (s, text) = call(&app, "DELETE", "/v1/state", None, Body::empty()).await;
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_error(s, &b, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn openapi_docs_and_dashboard_are_served_without_external_resources() {
    let app = app(|_| {});
    let (s, doc) = get(&app, "/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/v1/commands",
        "/v1/quote",
        "/v1/pools/{pool}",
        "/v1/accounts/{account}",
        "/v1/instruments",
        "/v1/state",
        "/v1/params",
        "/v1/stream",
        "/metrics",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let (s, html) = call(&app, "GET", "/docs/", None, Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("swagger"), "{html}");
    let (s, page) = call(&app, "GET", "/", None, Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("/v1/stream") && page.contains("<svg"));
    assert!(
        !page.contains("http://") && !page.contains("https://") && !page.contains("src=\"//"),
        "external resource in the dashboard"
    );
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_match_the_pool() {
    let app = ready(|_| {}).await;
    post(
        &app,
        Some(&app.keys.alice),
        &trade("alice", CALL, "buy", "1"),
    )
    .await;
    post(
        &app,
        Some(&app.keys.alice),
        &json!({"type":"withdraw","account":"alice","asset":"USDC","amount":"99999999"}),
    )
    .await;
    let (_, pool) = get(&app, "/v1/pools/main").await;
    let (s, text) = call(&app, "GET", "/metrics", None, Body::empty()).await;
    assert_eq!(s, StatusCode::OK);
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("{name} {labels:?} missing in:\n{text}"));
        match s.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a number"),
        }
    };
    let nav: f64 = pool["metrics"]["nav"].as_str().unwrap().parse().unwrap();
    assert!((value("derivpool_pool_nav", &[("pool", "main")]) - nav).abs() < 1e-6 * nav);
    assert_eq!(
        value(
            "derivpool_commands_rejected_total",
            &[("code", "insufficient_balance")]
        ),
        1.0
    );
    assert_eq!(
        value("derivpool_commands_applied_total", &[("type", "trade")]),
        1.0
    );
    value(
        "derivpool_tranche_share_price",
        &[("pool", "main"), ("tranche", "junior")],
    );
    value(
        "derivpool_perp_open_interest",
        &[("instrument", "BTC-PERP"), ("side", "long")],
    );
    for family in [
        "derivpool_journal_fsync_seconds",
        "derivpool_http_request_duration_seconds",
    ] {
        let h = scrape
            .samples
            .iter()
            .find(|s| s.metric == family)
            .unwrap_or_else(|| panic!("{family} missing"));
        match &h.value {
            prometheus_parse::Value::Histogram(buckets) => {
                assert!(
                    buckets.windows(2).all(|w| w[0].count <= w[1].count),
                    "{family} buckets not cumulative"
                );
                assert!(buckets.last().unwrap().count >= 1.0, "{family} is empty");
            }
            other => panic!("{family} parsed as {other:?}"),
        }
    }
}
