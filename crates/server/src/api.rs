//! The HTTP routes (issue 7): commands, quotes, views of pools, accounts, instruments, state and
//! parameters, the event stream, Prometheus metrics, the OpenAPI document with Swagger UI, and
//! the dashboard. Handlers parse and authorise; every state access goes through the engine
//! thread ([`crate::core`]).

use crate::core::{now_s, CoreHandle, Item};
use crate::error::{ApiError, ErrorBody};
use crate::keys::{KeyRecord, KeyStore, RateLimiter, Role};
use crate::metrics::Metrics;
use crate::{roles, stream, views};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use derivpool_engine::{Command, Side, TradeRequest};
use derivpool_types::Base;
use serde::Deserialize;
use serde_json::Value;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

/// Largest request body accepted, bytes (1 MiB; larger: 413).
pub const BODY_BYTES_MAX: usize = 1 << 20;
/// Most commands in one `POST /v1/commands`.
pub const COMMANDS_PER_REQUEST_MAX: usize = 10_000;
/// Longest `request_id`, bytes.
pub const REQUEST_ID_LEN_MAX: usize = 128;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The engine thread.
    pub core: CoreHandle,
    /// Known API keys.
    pub keys: Arc<KeyStore>,
    /// Per-key rate limit.
    pub limiter: Arc<RateLimiter>,
    /// Counters and histograms.
    pub metrics: Arc<Metrics>,
    /// Admin keys may send `t` (`--accept-client-time`).
    pub accept_client_time: bool,
    /// Becomes true when the server is shutting down (streams close).
    pub shutdown: watch::Receiver<bool>,
}

/// The OpenAPI document of the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "derivpool",
        description = "A derivative liquidity pool as a durable service. Commands are the engine's \
            command log (DESIGN.md §4) as JSON; decimal numbers are strings."
    ),
    paths(
        post_commands,
        get_quote,
        get_pools,
        get_pool,
        get_account,
        get_instruments,
        get_state,
        get_params,
        stream::get_stream,
        get_metrics
    ),
    components(schemas(ErrorBody, crate::core::Answer, crate::core::RejectBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme (API keys from `derivpool keys create`).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `derivpool keys create`"))
                    .build(),
            ),
        );
    }
}

/// The router with every route and layer.
pub fn router(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    Router::new()
        .route("/v1/commands", post(post_commands))
        .route("/v1/quote", get(get_quote))
        .route("/v1/pools", get(get_pools))
        .route("/v1/pools/{pool}", get(get_pool))
        .route("/v1/accounts/{account}", get(get_account))
        .route("/v1/instruments", get(get_instruments))
        .route("/v1/state", get(get_state))
        .route("/v1/params", get(get_params))
        .route("/v1/stream", get(stream::get_stream))
        .route("/metrics", get(get_metrics))
        .route("/", get(dashboard))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(middleware::from_fn_with_state(metrics, track_latency))
        .with_state(state)
}

async fn track_latency(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        _ => "OTHER",
    };
    let response = next.run(req).await;
    let elapsed = started.elapsed();
    metrics.observe_http(&route, method, elapsed.as_secs_f64());
    tracing::debug!(%route, method, status = response.status().as_u16(), ?elapsed, "request");
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such route; see /docs for the API")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method; see /docs",
    )
}

/// Checks the bearer key and its rate limit.
fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<KeyRecord, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing API key: send the header `Authorization: Bearer <key>`",
        ));
    };
    let key = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <key>`"))?;
    let record = state
        .keys
        .lookup(key)
        .ok_or_else(|| ApiError::unauthorized("unknown API key"))?;
    if !state.limiter.allow(&record.id) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("key {} is over its rate limit; retry later", record.id),
        ));
    }
    Ok(record)
}

fn body_error(r: BytesRejection) -> ApiError {
    let status = r.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "payload_too_large",
            format!("the body is larger than {BODY_BYTES_MAX} bytes"),
        )
    } else {
        ApiError::new(status, "unreadable_body", r.body_text())
    }
}

/// Turns one JSON command of the body into an item, checking the key may send it.
fn parse_item(state: &AppState, key: &KeyRecord, mut value: Value) -> Result<Item, ApiError> {
    let Some(obj) = value.as_object_mut() else {
        return Err(ApiError::bad_request(
            "malformed_command",
            "a command must be a JSON object with a \"type\"",
        ));
    };
    let request_id = match obj.remove("request_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= REQUEST_ID_LEN_MAX => Some(s),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request_id",
                format!("request_id must be a string of 1 to {REQUEST_ID_LEN_MAX} bytes"),
            ))
        }
    };
    let client_time = obj.contains_key("t");
    if client_time {
        if !state.accept_client_time {
            return Err(ApiError::bad_request(
                "client_time_not_accepted",
                "t is stamped by the server; it takes t from admin keys only when started with \
                 --accept-client-time",
            ));
        }
        if key.role != Role::Admin {
            return Err(ApiError::forbidden(format!(
                "only admin keys may send t; this key is {}",
                key.role
            )));
        }
    } else {
        obj.insert("t".into(), Value::from(0u64));
    }
    if !obj.get("type").is_some_and(Value::is_string) {
        return Err(ApiError::bad_request(
            "invalid_command",
            "the command has no string field \"type\"",
        ));
    }
    let command = Command::deserialize(&value)
        .map_err(|e| ApiError::bad_request("invalid_command", e.to_string()))?;
    roles::authorize(key, &value).map_err(ApiError::forbidden)?;
    Ok(Item {
        request_id,
        command,
        client_time,
    })
}

/// Applies one command or an array of commands.
#[utoipa::path(
    post,
    path = "/v1/commands",
    request_body(content = Object, description = "One command object (DESIGN.md §4) or an array \
        of them, each optionally with \"request_id\"; \"t\" only from admin keys with \
        --accept-client-time"),
    responses(
        (status = 200, description = "Per command {seq, applied: true, events} or {applied: \
            false, reject}; an array for an array", body = crate::core::Answer),
        (status = 400, description = "Malformed JSON or command", body = ErrorBody),
        (status = 401, description = "No or unknown key", body = ErrorBody),
        (status = 403, description = "Role may not send it, or acts for someone else", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody)
    ),
    security(("bearer" = []))
)]
pub async fn post_commands(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let key = authenticate(&state, &headers)?;
    let body = body.map_err(body_error)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid JSON: {e}"))
    })?;
    let (is_array, values) = match value {
        Value::Array(v) => (true, v),
        v @ Value::Object(_) => (false, vec![v]),
        _ => {
            return Err(ApiError::bad_request(
                "malformed_command",
                "the body must be a command object or an array of them",
            ))
        }
    };
    if values.is_empty() || values.len() > COMMANDS_PER_REQUEST_MAX {
        return Err(ApiError::bad_request(
            "invalid_batch",
            format!("send 1 to {COMMANDS_PER_REQUEST_MAX} commands"),
        ));
    }
    let mut items = Vec::with_capacity(values.len());
    for (i, v) in values.into_iter().enumerate() {
        let item = parse_item(&state, &key, v).map_err(|mut e| {
            if is_array {
                e.message = format!("command {i}: {}", e.message);
            }
            e
        })?;
        items.push(item);
    }
    let answers = state.core.submit(key.id, items).await?;
    Ok(if is_array {
        Json(answers).into_response()
    } else {
        Json(&answers[0]).into_response()
    })
}

fn json_text(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}

fn query_error(r: QueryRejection) -> ApiError {
    ApiError::bad_request("invalid_query", r.body_text())
}

fn path_error(r: PathRejection) -> ApiError {
    ApiError::bad_request("invalid_path", r.body_text())
}

/// Query of `GET /v1/quote`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct QuoteQuery {
    /// Pool name.
    pub pool: String,
    /// Instrument, e.g. `BTC-27DEC24-50000-C` or `BTC-PERP`.
    pub instrument: String,
    /// `buy` or `sell`.
    pub side: String,
    /// Size in underlying units (decimal).
    pub size: String,
    /// Account quoting (matters for perps and short collateral); default `quote`.
    pub account: Option<String>,
}

/// Quotes a trade without changing state.
#[utoipa::path(
    get,
    path = "/v1/quote",
    params(QuoteQuery),
    responses(
        (status = 200, description = "{accepted: true, quote} with premium, every fee, total, \
            new vol and skew, Greeks (options) or fill price and fee (perps); or {accepted: \
            false, reject}", body = Object),
        (status = 400, description = "Bad query", body = ErrorBody)
    )
)]
pub async fn get_quote(
    State(state): State<AppState>,
    query: Result<Query<QuoteQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(query_error)?;
    let side = match q.side.as_str() {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        other => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("side must be buy or sell, not {other:?}"),
            ))
        }
    };
    let size = Base::from_str(&q.size)
        .map_err(|e| ApiError::bad_request("invalid_query", format!("size {:?}: {e}", q.size)))?;
    // Quotes are pure reads that cost tens of microseconds each: run them on the handler's
    // thread against a shared copy of the durable state, not on the engine thread.
    let (engine, _seq) = state.core.snapshot().await?;
    let account = q.account.as_deref().unwrap_or("quote");
    let req = TradeRequest {
        pool: &q.pool,
        account,
        instrument: &q.instrument,
        side,
        size,
        limit_price: None,
    };
    let now = engine.state().t.max(now_s());
    let value = match engine.quote(&req, now) {
        Ok(quote) => serde_json::json!({"accepted": true, "t": now, "quote": quote}),
        Err(r) => serde_json::json!({
            "accepted": false,
            "t": now,
            "reject": {"code": r.code.as_str(), "message": r.message}
        }),
    };
    Ok(Json(value).into_response())
}

/// Names of the pools.
#[utoipa::path(get, path = "/v1/pools", responses((status = 200, description = "Pool names", body = Object)))]
pub async fn get_pools(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .core
        .read(|v| {
            let names: Vec<&String> = v.engine.state().pools.keys().collect();
            serde_json::json!({"seq": v.seq, "pools": names}).to_string()
        })
        .await?;
    Ok(json_text(text))
}

/// A pool: metrics (NAV, tranche share prices, Greeks, utilisation, open interest, funding,
/// insurance fund), markets with boards and per-strike smile, and open positions.
#[utoipa::path(
    get,
    path = "/v1/pools/{pool}",
    params(("pool" = String, Path, description = "Pool name")),
    responses(
        (status = 200, description = "The pool", body = Object),
        (status = 404, description = "Unknown pool", body = ErrorBody)
    )
)]
pub async fn get_pool(
    State(state): State<AppState>,
    pool: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(pool) = pool.map_err(path_error)?;
    let text = state
        .core
        .read(move |v| views::pool(v.engine, v.seq, &pool, now_s()))
        .await??;
    Ok(json_text(text))
}

/// An account: balances and positions.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account}",
    params(("account" = String, Path, description = "Account name")),
    responses(
        (status = 200, description = "The account", body = Object),
        (status = 404, description = "Unknown account", body = ErrorBody)
    )
)]
pub async fn get_account(
    State(state): State<AppState>,
    account: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(account) = account.map_err(path_error)?;
    let text = state
        .core
        .read(move |v| views::account(v.engine, v.seq, &account))
        .await??;
    Ok(json_text(text))
}

/// Every listed instrument of every pool.
#[utoipa::path(get, path = "/v1/instruments", responses((status = 200, description = "Instruments", body = Object)))]
pub async fn get_instruments(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .core
        .read(|v| views::instruments(v.engine, v.seq))
        .await?;
    Ok(json_text(text))
}

/// The last durable sequence number and the state hash.
#[utoipa::path(get, path = "/v1/state", responses((status = 200, description = "{seq, state_hash, t}", body = Object)))]
pub async fn get_state(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .core
        .read(|v| {
            serde_json::json!({
                "seq": v.seq,
                "state_hash": v.engine.state_hash(),
                "t": v.engine.state().t,
            })
            .to_string()
        })
        .await?;
    Ok(json_text(text))
}

/// Every parameter (default, bounds, unit, meaning) and each pool's values.
#[utoipa::path(get, path = "/v1/params", responses((status = 200, description = "{specs, pools}", body = Object)))]
pub async fn get_params(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.core.read(|v| views::params(v.engine)).await?;
    Ok(json_text(text))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain")))]
pub async fn get_metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut text = state
        .core
        .read(|v| {
            let mut out = String::new();
            crate::metrics::render_pools(v.engine, v.seq, &mut out);
            out
        })
        .await?;
    state.metrics.render(&mut text);
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

async fn dashboard() -> Html<&'static str> {
    Html(crate::dashboard::PAGE)
}
