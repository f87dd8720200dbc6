//! JSON views of the engine's state for the read routes. They run on the engine thread, so they
//! stay bounded: at most [`POSITIONS_MAX`] positions per pool view.

use crate::error::ApiError;
use derivpool_engine::cache::current_trading_vol;
use derivpool_engine::instrument::{option_name, perp_name};
use derivpool_engine::params::PARAM_SPECS;
use derivpool_engine::pricing_ctx::BoardCtx;
use derivpool_engine::Engine;
use derivpool_pricing::OptionKind;
use derivpool_types::Fixed;
use serde_json::{json, Value};

/// Most open positions listed by one pool view.
pub const POSITIONS_MAX: usize = 1000;

/// `GET /v1/pools/{pool}`.
pub fn pool(engine: &Engine, seq: u64, name: &str, now: u64) -> Result<String, ApiError> {
    let state = engine.state();
    let Some(pool) = state.pools.get(name) else {
        return Err(ApiError::not_found(
            "unknown_pool",
            format!("no pool is named {name:?}"),
        ));
    };
    let now = now.max(state.t);
    let metrics = engine.metrics(name);
    let mut markets = Vec::new();
    for (u, m) in &pool.markets {
        let spot = derivpool_engine::nav::mark_price(state, u);
        let mut boards = Vec::new();
        for b in m.boards.values() {
            let ctx = BoardCtx::for_board(&state.oracle, &m.params, u, b, now).ok();
            let strikes: Vec<Value> = b
                .strikes
                .values()
                .map(|s| {
                    let (oracle_vol, trading_vol) = match &ctx {
                        Some(c) => (
                            Some(c.oracle_vol(s.strike)),
                            Some(current_trading_vol(b, s, c)),
                        ),
                        None => (None, None),
                    };
                    json!({
                        "strike": s.strike,
                        "call": option_name(u, &b.expiry, s.strike, OptionKind::Call),
                        "put": option_name(u, &b.expiry, s.strike, OptionKind::Put),
                        "skew_ratio": s.skew_ratio,
                        "oracle_vol": oracle_vol.filter(|v| v.is_finite()),
                        "trading_vol": trading_vol.filter(|v| v.is_finite()),
                        "mark_vol": s.greeks.mark_vol,
                        "pool_calls": s.pool_calls,
                        "pool_puts": s.pool_puts,
                        "call_price": s.greeks.call_price,
                        "put_price": s.greeks.put_price,
                        "call_delta": s.greeks.call_delta,
                        "put_delta": s.greeks.put_delta,
                    })
                })
                .collect();
            boards.push(json!({
                "expiry": b.expiry,
                "expiry_t": b.expiry_t,
                "base_iv_offset": b.base_iv_offset,
                "settled_price": b.settled_price,
                "cache": b.cache,
                "strikes": strikes,
            }));
        }
        markets.push(json!({
            "underlying": u,
            "spot": spot,
            "perp": {
                "instrument": perp_name(u),
                "long_oi": m.perp.long_oi,
                "short_oi": m.perp.short_oi,
                "funding_rate": m.perp.funding_rate,
                "borrow_rate": m.perp.borrow_rate,
            },
            "boards": boards,
        }));
    }
    let mut positions = Vec::new();
    let mut truncated = false;
    'accounts: for (account, a) in &state.accounts {
        let Some(ps) = a.positions.get(name) else {
            continue;
        };
        for (instrument, p) in ps {
            if p.size.raw() == 0 {
                continue;
            }
            if positions.len() == POSITIONS_MAX {
                truncated = true;
                break 'accounts;
            }
            positions.push(json!({
                "account": account,
                "instrument": instrument,
                "size": p.size,
                "collateral": p.collateral,
                "entry_value": p.entry_value,
            }));
        }
    }
    Ok(json!({
        "seq": seq,
        "t": state.t,
        "pool": name,
        "quote_asset": pool.quote_asset,
        "generation": pool.generation,
        "metrics": metrics,
        "markets": markets,
        "positions": positions,
        "positions_truncated": truncated,
        "queues": {
            "deposits": pool.vault.deposit_queue.len(),
            "withdrawals": pool.vault.withdrawal_queue.len(),
        },
    })
    .to_string())
}

/// `GET /v1/accounts/{account}`.
pub fn account(engine: &Engine, seq: u64, name: &str) -> Result<String, ApiError> {
    let Some(a) = engine.state().accounts.get(name) else {
        return Err(ApiError::not_found(
            "unknown_account",
            format!("no account is named {name:?}"),
        ));
    };
    Ok(json!({
        "seq": seq,
        "account": name,
        "balances": a.balances,
        "positions": a.positions,
    })
    .to_string())
}

/// `GET /v1/instruments`.
pub fn instruments(engine: &Engine, seq: u64) -> String {
    let mut out = Vec::new();
    for (pool_name, pool) in &engine.state().pools {
        for (u, m) in &pool.markets {
            out.push(json!({
                "pool": pool_name, "instrument": perp_name(u), "underlying": u, "kind": "perp",
            }));
            for b in m.boards.values() {
                for s in b.strikes.keys() {
                    for (kind, name) in [(OptionKind::Call, "call"), (OptionKind::Put, "put")] {
                        out.push(json!({
                            "pool": pool_name,
                            "instrument": option_name(u, &b.expiry, *s, kind),
                            "underlying": u,
                            "kind": name,
                            "expiry": b.expiry,
                            "expiry_t": b.expiry_t,
                            "strike": s,
                            "settled": b.settled_price.is_some(),
                        }));
                    }
                }
            }
        }
    }
    json!({"seq": seq, "instruments": out}).to_string()
}

/// `GET /v1/params`.
pub fn params(engine: &Engine) -> String {
    let specs: Vec<Value> = PARAM_SPECS
        .iter()
        .map(|s| {
            json!({
                "name": s.name, "default": s.default, "min": s.min, "max": s.max,
                "unit": s.unit, "mechanism": s.mechanism, "meaning": s.meaning,
            })
        })
        .collect();
    let mut pools = serde_json::Map::new();
    for (name, p) in &engine.state().pools {
        let values: serde_json::Map<String, Value> = p
            .params
            .values()
            .into_iter()
            .map(|(k, v)| (k.to_string(), Value::String(v)))
            .collect();
        let markets: serde_json::Map<String, Value> = p
            .markets
            .iter()
            .map(|(u, m)| {
                let vals: serde_json::Map<String, Value> = m
                    .params
                    .values()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect();
                (u.clone(), Value::Object(vals))
            })
            .collect();
        pools.insert(name.clone(), json!({"values": values, "markets": markets}));
    }
    json!({"specs": specs, "pools": pools}).to_string()
}
