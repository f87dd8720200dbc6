//! Option traders.
//!
//! - **Noise** traders buy (mostly) or sell a random series near a random delta, sized by a
//!   random notional, and now and then close a position.
//! - **Informed** traders know the realised vol of the next week (they look ahead on the path):
//!   when it exceeds the series' mark vol by more than their edge they buy, when it is below by
//!   more than the edge they sell. They are the adverse selection an LP pays for.
//! - The **arbitrageur** values options at an external fair vol (true vol × (1 + its bias)) by
//!   Black-Scholes and trades when the pool's all-in price per contract (fees included, from
//!   [`derivpool_engine::Engine::quote`]) beats fair value by more than its margin.

use super::{Agent, View};
use crate::exec::Exec;
use crate::oracle::decimal;
use crate::rng::SimRng;
use derivpool_engine::instrument::option_name;
use derivpool_engine::{CommandKind, Side, TradeQuote, TradeRequest};
use derivpool_pricing::{bsm_price, BsmInputs, OptionKind};
use derivpool_types::{Base, Fixed, Price};

/// Opening trades stop this long before expiry (the engine's cut-off is 12 h; keep a margin).
const OPEN_BEFORE_EXPIRY_S: u64 = 36 * 3600;

/// A series an agent picked.
#[derive(Debug, Clone)]
pub struct Series {
    /// Instrument name.
    pub instrument: String,
    /// Strike.
    pub strike: f64,
    /// Expiry (unix seconds).
    pub expiry_t: u64,
    /// Call or put.
    pub kind: OptionKind,
    /// The pool's mark vol of the strike.
    pub mark_vol: f64,
}

/// The listed series of a random live board whose call delta is nearest `call_delta` (within
/// [0.2, 0.8], where the engine accepts opening trades).
pub fn pick_series(
    ex: &Exec,
    view: &View<'_>,
    rng: &mut SimRng,
    call_delta: f64,
    kind: OptionKind,
) -> Option<Series> {
    let state = ex.engine.state();
    let market = state.pools.get(view.pool)?.markets.get(view.underlying)?;
    let now = view.path.t[view.step];
    let live: Vec<_> = market
        .boards
        .values()
        .filter(|b| b.settled_price.is_none() && b.expiry_t > now + OPEN_BEFORE_EXPIRY_S)
        .collect();
    if live.is_empty() {
        return None;
    }
    let board = live[rng.below(live.len())];
    let (strike, s) = board
        .strikes
        .iter()
        .filter(|(_, s)| (0.2..=0.8).contains(&s.greeks.call_delta.to_f64()))
        .min_by(|a, b| {
            let da = (a.1.greeks.call_delta.to_f64() - call_delta).abs();
            let db = (b.1.greeks.call_delta.to_f64() - call_delta).abs();
            da.total_cmp(&db)
        })?;
    Some(Series {
        instrument: option_name(view.underlying, &board.expiry, *strike, kind),
        strike: strike.to_f64(),
        expiry_t: board.expiry_t,
        kind,
        mark_vol: s.greeks.mark_vol.to_f64(),
    })
}

/// A size in contracts for `notional` at `spot`, rounded down to 0.01 (at least 0.01).
pub fn size_for(notional: f64, spot: f64) -> Base {
    let contracts = ((notional / spot) * 100.0).floor().max(1.0) / 100.0;
    decimal(contracts, 4)
}

fn trade(
    ex: &mut Exec,
    agent: &'static str,
    view: &View<'_>,
    account: &str,
    instrument: String,
    side: Side,
    size: Base,
) {
    let _ = ex.submit(
        agent,
        CommandKind::Trade {
            pool: view.pool.into(),
            account: account.into(),
            instrument,
            side,
            size,
            limit_price: None,
        },
    );
}

fn deposit(ex: &mut Exec, agent: &'static str, view: &View<'_>, account: &str, amount: f64) {
    let _ = ex.submit(
        agent,
        CommandKind::Deposit {
            account: account.into(),
            asset: view.quote_asset.into(),
            amount: decimal(amount, 2),
        },
    );
}

/// Closes one random open option position of `account` (buys back shorts, sells longs).
fn close_one(ex: &mut Exec, agent: &'static str, view: &View<'_>, account: &str, rng: &mut SimRng) {
    let open: Vec<(String, Base)> = ex
        .engine
        .state()
        .accounts
        .get(account)
        .and_then(|a| a.positions.get(view.pool))
        .map(|ps| {
            ps.iter()
                .filter(|(name, p)| !p.size.is_zero() && !name.ends_with("-PERP"))
                .map(|(n, p)| (n.clone(), p.size))
                .collect()
        })
        .unwrap_or_default();
    if open.is_empty() {
        return;
    }
    let (name, size) = open[rng.below(open.len())].clone();
    let side = if size.is_positive() {
        Side::Sell
    } else {
        Side::Buy
    };
    let size = size.checked_abs().expect("position size fits");
    trade(ex, agent, view, account, name, side, size);
}

/// A noise option trader.
#[derive(Debug, Clone)]
pub struct NoiseOptionTrader {
    name: String,
    collateral: f64,
    trades_per_day: f64,
    buy_share: f64,
    notional: (f64, f64),
    rng: SimRng,
}

impl NoiseOptionTrader {
    /// A trader with `collateral` who trades `trades_per_day` on average, buying with
    /// probability `buy_share`, notional uniform in `notional`.
    pub fn new(
        name: String,
        collateral: f64,
        trades_per_day: f64,
        buy_share: f64,
        notional: (f64, f64),
        rng: SimRng,
    ) -> Self {
        NoiseOptionTrader {
            name,
            collateral,
            trades_per_day,
            buy_share,
            notional,
            rng,
        }
    }
}

impl Agent for NoiseOptionTrader {
    fn kind(&self) -> &'static str {
        "noise_option_trader"
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        deposit(ex, self.kind(), view, &self.name, self.collateral);
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        if !self
            .rng
            .chance(self.trades_per_day / view.steps_per_day() as f64)
        {
            return;
        }
        if self.rng.chance(0.25) {
            close_one(ex, self.kind(), view, &self.name, &mut self.rng);
            return;
        }
        let kind = if self.rng.chance(0.5) {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let target = self.rng.range(0.25, 0.75);
        let Some(series) = pick_series(ex, view, &mut self.rng, target, kind) else {
            return;
        };
        let side = if self.rng.chance(self.buy_share) {
            Side::Buy
        } else {
            Side::Sell
        };
        let size = size_for(
            self.rng.range(self.notional.0, self.notional.1),
            view.spot(),
        );
        trade(
            ex,
            self.kind(),
            view,
            &self.name,
            series.instrument,
            side,
            size,
        );
    }
}

/// An informed option trader who knows next week's realised vol.
#[derive(Debug, Clone)]
pub struct InformedOptionTrader {
    name: String,
    collateral: f64,
    edge: f64,
    trades_per_day: f64,
    notional: f64,
    rng: SimRng,
}

impl InformedOptionTrader {
    /// A trader with `collateral` who trades when |future vol / mark vol − 1| > `edge`.
    pub fn new(
        name: String,
        collateral: f64,
        edge: f64,
        trades_per_day: f64,
        notional: f64,
        rng: SimRng,
    ) -> Self {
        InformedOptionTrader {
            name,
            collateral,
            edge,
            trades_per_day,
            notional,
            rng,
        }
    }
}

impl Agent for InformedOptionTrader {
    fn kind(&self) -> &'static str {
        "informed_option_trader"
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        deposit(ex, self.kind(), view, &self.name, self.collateral);
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        if !self
            .rng
            .chance(self.trades_per_day / view.steps_per_day() as f64)
        {
            return;
        }
        let week = 7 * view.steps_per_day();
        let end = (view.step + week).min(view.path.len() - 1);
        let Some(future_vol) = view.path.realised_vol(end, end - view.step, view.step_s) else {
            return;
        };
        let kind = if self.rng.chance(0.5) {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let Some(series) = pick_series(ex, view, &mut self.rng, 0.5, kind) else {
            return;
        };
        let ratio = future_vol / series.mark_vol.max(1e-6) - 1.0;
        let side = if ratio > self.edge {
            Side::Buy
        } else if ratio < -self.edge {
            Side::Sell
        } else {
            return;
        };
        let size = size_for(self.notional, view.spot());
        trade(
            ex,
            self.kind(),
            view,
            &self.name,
            series.instrument,
            side,
            size,
        );
    }
}

/// A vol arbitrageur against an external fair vol.
#[derive(Debug, Clone)]
pub struct Arbitrageur {
    name: String,
    collateral: f64,
    bias: f64,
    margin: f64,
    notional: f64,
    checks_per_day: f64,
    rng: SimRng,
}

impl Arbitrageur {
    /// An arbitrageur whose fair vol is true vol × (1 + `bias`), trading when the pool's price
    /// beats fair by `margin` (a fraction of fair value).
    pub fn new(
        name: String,
        collateral: f64,
        bias: f64,
        margin: f64,
        notional: f64,
        checks_per_day: f64,
        rng: SimRng,
    ) -> Self {
        Arbitrageur {
            name,
            collateral,
            bias,
            margin,
            notional,
            checks_per_day,
            rng,
        }
    }
}

impl Agent for Arbitrageur {
    fn kind(&self) -> &'static str {
        "arbitrageur"
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        deposit(ex, self.kind(), view, &self.name, self.collateral);
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        if !view.oracle_live
            || !self
                .rng
                .chance(self.checks_per_day / view.steps_per_day() as f64)
        {
            return;
        }
        let kind = if self.rng.chance(0.5) {
            OptionKind::Call
        } else {
            OptionKind::Put
        };
        let target = self.rng.range(0.3, 0.7);
        let Some(series) = pick_series(ex, view, &mut self.rng, target, kind) else {
            return;
        };
        let now = view.path.t[view.step];
        let years = (series.expiry_t - now) as f64 / crate::time::YEAR_S;
        let fair_vol = view.vol() * (1.0 + self.bias);
        let Ok(fair) = bsm_price(&BsmInputs {
            kind,
            spot: view.spot(),
            strike: series.strike,
            t: years,
            rate: 0.0,
            div: 0.0,
            vol: fair_vol,
        }) else {
            return;
        };
        let size = size_for(self.notional, view.spot());
        let n = size.to_f64();
        // Screen on the pool's mid first, as a desk would: a buy costs at least the mid per
        // contract and a sell pays at most it (`derivpool_engine::options::mid`), so a side
        // whose level the mid cannot beat (with room for float rounding) is not quoted at all;
        // the decisions are those of quoting it.
        let (may_buy, may_sell) = match ex.engine.option_mid(view.pool, &series.instrument, now) {
            Some(mid) if mid.bounds_quotes => {
                let room = 1e-9 * (mid.price.abs() + view.spot() + series.strike);
                (
                    mid.price - room < fair * (1.0 - self.margin),
                    mid.price + room > fair * (1.0 + self.margin),
                )
            }
            _ => (true, true),
        };
        let quote = |engine: &derivpool_engine::Engine, side| {
            let req = TradeRequest {
                pool: view.pool,
                account: &self.name,
                instrument: &series.instrument,
                side,
                size,
                limit_price: None,
            };
            engine.quote(&req, now)
        };
        // With a helper, both sides are quoted at once on the state as it is now (a quote
        // changes nothing, and the sell quote is used only when the buy side did not trade);
        // without one, the sell side is quoted only when needed.
        let mut ahead = match ex.engine.helper() {
            Some(h) if may_buy && may_sell => {
                let e = &ex.engine;
                let (buy, sell) = h.join(|| quote(e, Side::Buy), || quote(e, Side::Sell));
                [Some(buy), Some(sell)]
            }
            _ => [None, None],
        };
        let may = [may_buy, may_sell];
        for (i, side) in [Side::Buy, Side::Sell].into_iter().enumerate() {
            if !may[i] {
                continue;
            }
            let quoted = ahead[i].take().unwrap_or_else(|| quote(&ex.engine, side));
            let Ok(TradeQuote::Option(q)) = quoted else {
                continue;
            };
            let per_unit = q.total.to_f64() / n;
            let good = match side {
                Side::Buy => per_unit < fair * (1.0 - self.margin),
                Side::Sell => per_unit > fair * (1.0 + self.margin),
            };
            if good {
                // A limit 0.1 % worse than the quote: the trade goes through unless the pool moved.
                let limit: Price = match side {
                    Side::Buy => decimal(per_unit * 1.001, 2),
                    Side::Sell => decimal(per_unit * 0.999, 2),
                };
                let _ = ex.submit(
                    self.kind(),
                    CommandKind::Trade {
                        pool: view.pool.into(),
                        account: self.name.clone(),
                        instrument: series.instrument.clone(),
                        side,
                        size,
                        limit_price: Some(limit),
                    },
                );
                return;
            }
        }
    }
}
