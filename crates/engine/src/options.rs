//! Option market: quote and trade against the pool (Lyra v1 OptionMarket/OptionMarketPricer,
//! DESIGN.md §5.2).
//!
//! **Trading vol** of a series = (oracle vol at its strike + the board's base-IV offset) × the
//! strike's skew ratio. Every trade moves the inventory:
//!
//! ```text
//! Δbase_iv = ±(size / standard_size) / 100        (+ for a buy, − for a sell; vol units)
//! Δskew    = Δbase_iv × skew_adjustment_factor
//! ```
//!
//! A large trade is priced in up to `trade_slices_max` equal slices of about `standard_size`;
//! each slice is priced at the vol *after* its own impact, so it sees what its predecessors
//! caused and an immediate round trip always loses (buy high, sell low). The size of each move is
//! rounded up, against the trader.
//!
//! **Premium** = Σ slices BS price × slice size (buy: rounded up; sell: rounded down). Fees on
//! top of a buy or off a sell ([`crate::fees`]); a sell's fee is capped at its premium.
//!
//! **Limits**, each a reject: board expired; trading cut-off (only closing trades in the last
//! `trading_cutoff_s`); opening trades need the strike's call delta in [`delta_min`,
//! `delta_max`]; base offset, skew ratio and vol within bounds; a fresh greek cache for opening
//! trades; the pool's free liquidity covers what it must lock; junior capital above its minimum
//! share for new risk; `limit_price` (per contract, fees included).
//!
//! **Collateral**: the pool locks cover for options it writes ([`crate::cache::pool_lock`]); a
//! trader opening a short locks the isolated minimum collateral ([`crate::collateral`]); a
//! trader closing a short gets the proportional part back.
//!
//! A quote computes everything without changing state; a trade is the same quote committed.
//!
//! **Mid** ([`mid`]): BS at the trading vol as it stands, per contract. A buy's slices are all
//! priced at or above that vol and its fees are ≥ 0, a sell's at or below it with its fee capped
//! at its premium, so (with both vol factors positive) every buy quote costs at least the mid
//! and every sell pays at most it: a level the mid cannot beat needs no quote.

use crate::cache::{self, replace_contribution, trade_terms};
use crate::collateral::min_collateral_per_contract;
use crate::command::{Side, TradeRequest};
use crate::event::{Event, OptionFees};
use crate::fees::{fees, FeeInputs};
use crate::instrument::expiry_unix;
use crate::margin::{self, MarginMode, PriceBasis};
use crate::nav;
use crate::pricing_ctx::{trading_vol, BoardCtx};
use crate::reject::{Reject, RejectCode};
use crate::state::{Board, Market, Pool, Position, State, Strike};
use derivpool_pricing::OptionKind;
use derivpool_types::{div, mul, Base, Fixed, Price, Quote, Ratio, Rounding};
use serde::Serialize;

/// Greeks of a whole trade from the trader's side (size × per-contract, signed by side).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TradeGreeks {
    /// Delta, base units.
    pub delta: f64,
    /// Gamma.
    pub gamma: f64,
    /// Vega per 1.00 vol, quote.
    pub vega: f64,
    /// Theta per year, quote.
    pub theta: f64,
}

/// Everything about an option trade before it happens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptionQuote {
    /// Series.
    pub instrument: String,
    /// Side.
    pub side: Side,
    /// Contracts.
    pub size: Base,
    /// Premium at the trading vol.
    pub premium: Quote,
    /// Fee breakdown.
    pub fees: OptionFees,
    /// What the trader pays (buy) or receives (sell).
    pub total: Quote,
    /// Trading vol before the trade.
    pub vol_before: Ratio,
    /// Trading vol after the trade.
    pub vol: Ratio,
    /// Base-IV offset after the trade.
    pub base_iv_offset: Ratio,
    /// Skew ratio after the trade.
    pub skew_ratio: Ratio,
    /// Greeks of the trade.
    pub greeks: TradeGreeks,
    /// Collateral the trader locks (+) or gets back (−).
    pub collateral_change: Quote,
    #[serde(skip)]
    plan: Plan,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Plan {
    pool: String,
    account: String,
    underlying: String,
    expiry_t: u64,
    strike: Price,
    kind: Option<OptionKind>,
    new_position: Base,
    new_collateral: Quote,
    new_strike_lock: Quote,
}

fn kind_of(k: Option<OptionKind>) -> OptionKind {
    k.unwrap_or(OptionKind::Call)
}

/// A series listed in a pool: the pool, its market, the board (with its expiry time) and the
/// strike.
struct Listed<'a> {
    pool: &'a Pool,
    market: &'a Market,
    expiry_t: u64,
    board: &'a Board,
    strike: &'a Strike,
}

/// Finds the series `underlying` `expiry` `strike` in `pool_name`, or the reject a quote of an
/// unlisted one gets.
fn listed<'a>(
    state: &'a State,
    pool_name: &str,
    underlying: &str,
    expiry: &str,
    strike: Price,
) -> Result<Listed<'a>, Reject> {
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let market = pool.markets.get(underlying).ok_or_else(|| {
        crate::reject!(
            UnknownInstrument,
            "{underlying} is not listed in pool {pool_name}"
        )
    })?;
    let expiry_t =
        expiry_unix(expiry).map_err(|e| Reject::new(RejectCode::UnknownInstrument, e))?;
    let board = market.boards.get(&expiry_t).ok_or_else(|| {
        crate::reject!(
            UnknownInstrument,
            "no {underlying} board for {expiry} in pool {pool_name}"
        )
    })?;
    let strike = board.strikes.get(&strike).ok_or_else(|| {
        crate::reject!(
            UnknownInstrument,
            "strike {strike} is not listed on {expiry}"
        )
    })?;
    Ok(Listed {
        pool,
        market,
        expiry_t,
        board,
        strike,
    })
}

/// The pool's mid price of an option at `now` ([`mid`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mid {
    /// Per contract, in the quote asset: the model price at the trading vol before any impact,
    /// without fees.
    pub price: f64,
    /// Whether the trading vol's two factors are positive, `oracle vol + base offset > 0` and
    /// `skew ratio > 0`: then a buy's impact can only raise the vol and a sell's only lower it,
    /// and the mid bounds every quote (see [`mid`]).
    pub bounds_quotes: bool,
}

/// The pool's mid price of `instrument` in `pool_name` at `now`: `BS(trading vol)` per contract
/// with `trading vol = (oracle vol + base offset) × skew ratio` as they stand, i.e. the price
/// of an infinitesimal trade before its impact and fees. `None` when the series is unknown,
/// expired or has no fresh oracle (a quote would be refused).
///
/// When [`Mid::bounds_quotes`], every buy quote of any size costs at least the mid per contract
/// and every sell quote pays at most the mid per contract, up to float rounding (a property
/// test allows 10⁻⁹ of mid + spot + strike, as the simulator's screen does): each slice of a
/// buy is priced at a vol at or above the trading vol (the offset and skew only rise), the
/// model price rises with the vol, and fees are ≥ 0; a sell mirrors it, with its fee capped at
/// its premium. A screen that only needs to know whether a quote can beat some level can skip
/// the quote.
pub fn mid(state: &State, pool_name: &str, instrument: &str, now: u64) -> Option<Mid> {
    let crate::instrument::Instrument::Option {
        underlying,
        expiry,
        strike,
        kind,
    } = crate::instrument::Instrument::parse(instrument).ok()?
    else {
        return None;
    };
    let Listed {
        market,
        expiry_t,
        board,
        strike: s,
        ..
    } = listed(state, pool_name, &underlying, &expiry, strike).ok()?;
    if now >= expiry_t || board.settled_price.is_some() {
        return None;
    }
    let ctx = BoardCtx::new(
        &state.oracle,
        &market.params,
        &underlying,
        &expiry,
        expiry_t,
        now,
    )
    .ok()?;
    let oracle_vol = ctx.oracle_vol(strike);
    let vol = trading_vol(oracle_vol, board.base_iv_offset, s.skew_ratio);
    Some(Mid {
        price: ctx.greeks(kind, strike, vol).price,
        bounds_quotes: oracle_vol + board.base_iv_offset.to_f64() > 0.0
            && s.skew_ratio > derivpool_types::Ratio::ZERO,
    })
}

/// Quotes an option trade for `account` at time `now` without changing anything. The error is
/// the reject the trade would get.
pub fn quote(state: &State, req: &TradeRequest<'_>, now: u64) -> Result<OptionQuote, Reject> {
    let parsed = crate::instrument::Instrument::parse(req.instrument)
        .map_err(|e| Reject::new(RejectCode::UnknownInstrument, e.to_string()))?;
    quote_parsed(state, req, parsed, now)
}

/// [`quote`] for an instrument name already parsed.
pub fn quote_parsed(
    state: &State,
    req: &TradeRequest<'_>,
    parsed: crate::instrument::Instrument,
    now: u64,
) -> Result<OptionQuote, Reject> {
    let TradeRequest {
        pool: pool_name,
        account,
        instrument,
        side,
        size,
        limit_price,
    } = *req;
    let crate::instrument::Instrument::Option {
        underlying,
        expiry,
        strike,
        kind,
    } = parsed
    else {
        return Err(crate::reject!(
            UnknownInstrument,
            "{instrument} is not an option"
        ));
    };
    if size <= Base::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "size must be positive, got {size}"
        ));
    }
    let Listed {
        pool,
        market,
        expiry_t,
        board,
        strike: s,
    } = listed(state, pool_name, &underlying, &expiry, strike)?;
    let p = &market.params;
    nav::check_capital(pool)?;
    if now >= expiry_t || board.settled_price.is_some() {
        return Err(crate::reject!(
            BoardExpired,
            "{instrument} expired at {expiry_t}"
        ));
    }
    let ctx =
        BoardCtx::new(&state.oracle, p, &underlying, &expiry, expiry_t, now).map_err(|what| {
            crate::reject!(
                StaleOracle,
                "no fresh oracle {what} for {underlying} {expiry}"
            )
        })?;

    // Position and whether the trade opens risk.
    let position = state
        .accounts
        .get(account)
        .and_then(|a| a.positions.get(pool_name))
        .and_then(|m| m.get(instrument))
        .cloned()
        .unwrap_or_default();
    let delta_size = if side == Side::Buy {
        size
    } else {
        size.checked_neg()?
    };
    let new_position = position.size.checked_add(delta_size)?;
    let closing = new_position.raw().signum() * position.size.raw().signum() >= 0
        && new_position.checked_abs()? < position.size.checked_abs()?;
    if expiry_t - now < p.trading_cutoff_s && !closing {
        return Err(crate::reject!(
            TradingCutoff,
            "{instrument}: only closing trades in the last {} s before expiry",
            p.trading_cutoff_s
        ));
    }
    let spot_price = Price::from_f64(ctx.spot, Rounding::Up)?;
    if !closing {
        crate::guards::check_trade(state, &underlying, p, now)?;
    }
    if !closing && cache::is_stale(&board.cache, now, Some(spot_price), p) {
        return Err(crate::reject!(
            GreekCacheStale,
            "the greek cache of {underlying} {expiry} is stale (refreshed at {}); tick first",
            board.cache.refreshed_t
        ));
    }

    // Slices: each priced at the vol after its own impact.
    let oracle_vol = ctx.oracle_vol(strike);
    let vol_before = trading_vol(oracle_vol, board.base_iv_offset, s.skew_ratio);
    let slices = {
        let ratio = div::<_, _, Ratio>(size, p.standard_size, Rounding::Up)?.raw();
        let n: i128 = ratio.div_euclid(derivpool_types::SCALE)
            + i128::from(ratio.rem_euclid(derivpool_types::SCALE) != 0);
        n.clamp(1, p.trade_slices_max.max(1) as i128)
    };
    let slice = Base::from_raw(size.raw() / slices);
    let last_slice = size.checked_sub(Base::from_raw(slice.raw() * (slices - 1)))?;
    let mut offset = board.base_iv_offset;
    let mut skew = s.skew_ratio;
    let mut premium_f = 0.0;
    let mut vol = vol_before;
    for i in 0..slices {
        let this = if i == slices - 1 { last_slice } else { slice };
        let move_iv: Ratio = div(this, p.standard_size, Rounding::Up)?;
        let move_iv = move_iv.div_ratio(Ratio::from_int(100), Rounding::Up)?;
        let move_skew = move_iv.mul_ratio(p.skew_adjustment_factor, Rounding::Up)?;
        if side == Side::Buy {
            offset = offset.checked_add(move_iv)?;
            skew = skew.checked_add(move_skew)?;
        } else {
            offset = offset.checked_sub(move_iv)?;
            skew = skew.checked_sub(move_skew)?;
        }
        if offset.checked_abs()? > p.base_iv_offset_max {
            return Err(crate::reject!(
                SkewOutOfBounds,
                "{instrument}: base IV offset would reach {offset}, beyond ±{}",
                p.base_iv_offset_max
            ));
        }
        if skew < p.skew_ratio_min || skew > p.skew_ratio_max {
            return Err(crate::reject!(
                SkewOutOfBounds,
                "{instrument}: skew ratio would reach {skew}, outside [{}, {}]",
                p.skew_ratio_min,
                p.skew_ratio_max
            ));
        }
        vol = trading_vol(oracle_vol, offset, skew);
        if vol < p.vol_min.to_f64() || vol > p.vol_max.to_f64() {
            return Err(crate::reject!(
                VolOutOfBounds,
                "{instrument}: trading vol would be {vol:.4}, outside [{}, {}]",
                p.vol_min,
                p.vol_max
            ));
        }
        premium_f += ctx.greeks(kind, strike, vol).price * this.to_f64();
    }
    let g = ctx.greeks(kind, strike, vol);
    if !closing {
        let call_delta = if kind == OptionKind::Call {
            g.delta
        } else {
            ctx.greeks(OptionKind::Call, strike, vol).delta
        };
        if call_delta < p.delta_min.to_f64() || call_delta > p.delta_max.to_f64() {
            return Err(crate::reject!(
                DeltaOutOfRange,
                "{instrument}: call delta {call_delta:.4} is outside [{}, {}] for opening trades",
                p.delta_min,
                p.delta_max
            ));
        }
    }
    let premium = Quote::from_f64(
        premium_f,
        if side == Side::Buy {
            Rounding::Up
        } else {
            Rounding::Down
        },
    )?;

    // The pool's side after the trade.
    let pool_delta = delta_size.checked_neg()?;
    let mut s_after = s.clone();
    match kind {
        OptionKind::Call => s_after.pool_calls = s.pool_calls.checked_add(pool_delta)?,
        OptionKind::Put => s_after.pool_puts = s.pool_puts.checked_add(pool_delta)?,
    }
    let new_strike_lock = cache::pool_lock(&s_after, spot_price)?;
    let locked_after = pool
        .locked
        .checked_sub(s.pool_locked)?
        .checked_add(new_strike_lock)?;
    let cash_after = if side == Side::Buy {
        pool.cash.checked_add(premium)?
    } else {
        pool.cash.checked_sub(premium)?
    };
    let perp_reserved = nav::perp_reserved(state, pool)?;
    let utilisation_after = if cash_after > Quote::ZERO {
        (locked_after.checked_add(perp_reserved)?).to_f64() / cash_after.to_f64()
    } else {
        1.0
    };
    let nav_before = nav::nav(state, pool)?;
    let mark = match kind {
        OptionKind::Call => s.greeks.call_price,
        OptionKind::Put => s.greeks.put_price,
    };
    let value_change: Quote = mul(pool_delta, mark, Rounding::Down)?;
    let nav_after = if side == Side::Buy {
        nav_before.checked_add(premium)?
    } else {
        nav_before.checked_sub(premium)?
    }
    .checked_add(value_change)?;
    let market_std_vega: f64 = market
        .boards
        .values()
        .map(|b| b.cache.net_std_vega.to_f64())
        .sum();
    let std_vega_after = market_std_vega + pool_delta.to_f64() * ctx.std_vega(g.vega);
    let (option_fee, spot_fee, vega_fee, util_fee) = fees(
        &FeeInputs {
            premium: premium.to_f64(),
            spot: ctx.spot,
            size: size.to_f64(),
            days: ctx.days(),
            vol,
            net_std_vega_before: market_std_vega,
            net_std_vega_after: std_vega_after,
            nav_after: nav_after.to_f64(),
            utilisation_after,
        },
        p,
    );
    let up = Rounding::Up;
    let mut fee_breakdown = OptionFees {
        option_price_fee: Quote::from_f64(option_fee, up)?,
        spot_fee: Quote::from_f64(spot_fee, up)?,
        vega_fee: Quote::from_f64(vega_fee, up)?,
        utilisation_fee: Quote::from_f64(util_fee, up)?,
        total: Quote::ZERO,
    };
    fee_breakdown.total = fee_breakdown
        .option_price_fee
        .checked_add(fee_breakdown.spot_fee)?
        .checked_add(fee_breakdown.vega_fee)?
        .checked_add(fee_breakdown.utilisation_fee)?;
    let total = match side {
        Side::Buy => premium.checked_add(fee_breakdown.total)?,
        Side::Sell => {
            fee_breakdown.total = fee_breakdown.total.min(premium);
            premium.checked_sub(fee_breakdown.total)?
        }
    };

    // Risk the pool takes on: liquidity and junior capital. Free liquidity (cash − locked −
    // reserved) may not become negative through a trade that reduces it.
    let cash_after_fees = if side == Side::Buy {
        pool.cash.checked_add(total)?
    } else {
        pool.cash.checked_sub(total)?
    };
    let free_before = pool
        .cash
        .checked_sub(pool.locked)?
        .checked_sub(perp_reserved)?;
    let free_after = cash_after_fees
        .checked_sub(locked_after)?
        .checked_sub(perp_reserved)?;
    if free_after < Quote::ZERO && free_after < free_before {
        return Err(crate::reject!(
            InsufficientLiquidity,
            "pool {pool_name} would need {locked_after} locked plus {perp_reserved} reserved \
             but holds {cash_after_fees}"
        ));
    }
    if new_strike_lock > s.pool_locked {
        nav::check_junior(pool)?;
        let pp = &pool.params;
        if utilisation_after > pp.utilisation_cap.to_f64() {
            return Err(crate::reject!(
                UtilisationCap,
                "pool {pool_name}: utilisation would be {utilisation_after:.4}, above the cap {}",
                pp.utilisation_cap
            ));
        }
        let board_lock = board
            .strikes
            .values()
            .try_fold(Quote::ZERO, |a, x| a.checked_add(x.pool_locked))?
            .checked_sub(s.pool_locked)?
            .checked_add(new_strike_lock)?;
        let expiry_cap = nav_after.mul_ratio(pp.expiry_exposure_cap, Rounding::Down)?;
        let strike_cap = nav_after.mul_ratio(pp.strike_exposure_cap, Rounding::Down)?;
        if board_lock > expiry_cap || new_strike_lock > strike_cap {
            return Err(crate::reject!(
                ExposureCap,
                "pool {pool_name}: {expiry} would lock {board_lock} (cap {expiry_cap}) and strike \
                 {strike} {new_strike_lock} (cap {strike_cap})"
            ));
        }
    }
    if !closing {
        crate::pool_risk::check_stress(
            state,
            pool,
            &underlying,
            Some((expiry_t, strike, kind, pool_delta.to_f64())),
            0.0,
            nav_after,
        )?;
    }
    if let Some(limit) = limit_price {
        let ok = match side {
            Side::Buy => total <= mul::<_, _, Quote>(limit, size, Rounding::Down)?,
            Side::Sell => total >= mul::<_, _, Quote>(limit, size, Rounding::Up)?,
        };
        if !ok {
            return Err(crate::reject!(
                LimitPriceCrossed,
                "{instrument}: {} per contract is worse than limit_price {limit}",
                div::<_, _, Price>(total, size, Rounding::Up)?
            ));
        }
    }

    // Trader collateral: isolated shorts lock their minimum; portfolio accounts lock nothing
    // and are checked on initial health below.
    let trader = state.accounts.get(account);
    let mode = trader.map(|a| a.margin).unwrap_or_default();
    let new_collateral = match mode {
        MarginMode::Isolated => {
            short_collateral(&position, new_position, &ctx, kind, strike, vol, p)?
        }
        MarginMode::Portfolio => Quote::ZERO,
    };
    let collateral_change = new_collateral.checked_sub(position.collateral)?;
    let balance = state
        .accounts
        .get(account)
        .and_then(|a| a.balances.get(&pool.quote_asset))
        .copied()
        .unwrap_or(Quote::ZERO);
    let balance_after = match side {
        Side::Buy => balance.checked_sub(total)?,
        Side::Sell => balance.checked_add(total)?,
    }
    .checked_sub(collateral_change)?;
    if mode == MarginMode::Isolated && balance_after < Quote::ZERO {
        return Err(crate::reject!(
            InsufficientCollateral,
            "account {account:?} needs {} {} more (premium/fees {total}, collateral change \
             {collateral_change}, balance {balance})",
            balance_after.checked_neg()?,
            pool.quote_asset
        ));
    }
    if !closing {
        // A risk-increasing trade must leave initial health ≥ 0 (all positions counted).
        let mut after = trader.cloned().unwrap_or_default();
        after
            .balances
            .insert(pool.quote_asset.clone(), balance_after);
        let pos = after
            .positions
            .entry(pool_name.to_string())
            .or_default()
            .entry(instrument.to_string())
            .or_default();
        pos.size = new_position;
        pos.collateral = new_collateral;
        let h = margin::health_of(state, &after, mode, &pool.quote_asset, PriceBasis::Median)?;
        if h.initial < Quote::ZERO {
            return Err(crate::reject!(
                InsufficientCollateral,
                "account {account:?}: initial health would be {} (collateral {}, portfolio value \
                 {}, initial requirement {})",
                h.initial,
                h.collateral_initial,
                h.portfolio_value,
                h.initial_requirement
            ));
        }
    }
    let trade_sign = if side == Side::Buy { 1.0 } else { -1.0 };
    let n = size.to_f64() * trade_sign;
    Ok(OptionQuote {
        instrument: instrument.to_string(),
        side,
        size,
        premium,
        fees: fee_breakdown,
        total,
        vol_before: Ratio::from_f64(vol_before, Rounding::Down)?,
        vol: Ratio::from_f64(vol, Rounding::Down)?,
        base_iv_offset: offset,
        skew_ratio: skew,
        greeks: TradeGreeks {
            delta: n * g.delta,
            gamma: n * g.gamma,
            vega: n * g.vega,
            theta: n * g.theta,
        },
        collateral_change,
        plan: Plan {
            pool: pool_name.to_string(),
            account: account.to_string(),
            underlying,
            expiry_t,
            strike,
            kind: Some(kind),
            new_position,
            new_collateral,
            new_strike_lock,
        },
    })
}

/// Collateral a trader's short must hold after the trade: the old collateral scaled down when a
/// short is reduced (rounded up: the trader keeps locked what is not clearly free), plus the
/// minimum for any newly opened short contracts.
fn short_collateral(
    old: &Position,
    new_size: Base,
    ctx: &BoardCtx,
    kind: OptionKind,
    strike: Price,
    vol: f64,
    p: &crate::params::Params,
) -> Result<Quote, Reject> {
    let old_short = Base::ZERO.max(old.size.checked_neg()?);
    let new_short = Base::ZERO.max(new_size.checked_neg()?);
    if new_short <= old_short {
        if old_short.is_zero() {
            return Ok(Quote::ZERO);
        }
        let kept = derivpool_types::mul_div(
            old.collateral.raw(),
            new_short.raw(),
            old_short.raw(),
            Rounding::Up,
        )?;
        return Ok(Quote::from_raw(kept));
    }
    let per_contract = min_collateral_per_contract(ctx, kind, strike, vol, p);
    let extra = new_short.checked_sub(old_short)?;
    let add: Quote = mul(
        extra,
        Price::from_f64(per_contract, Rounding::Up)?,
        Rounding::Up,
    )?;
    Ok(old.collateral.checked_add(add)?)
}

/// Commits a quote: moves money, positions, inventory, GWAVs and the greek cache.
pub fn commit(state: &mut State, q: &OptionQuote, now: u64) -> Result<Event, Reject> {
    let plan = &q.plan;
    let kind = kind_of(plan.kind);
    let quote_asset = state.pools[&plan.pool].quote_asset.clone();
    // Trader side.
    let account = state.accounts.entry(plan.account.clone()).or_default();
    let balance = account.balances.entry(quote_asset).or_insert(Quote::ZERO);
    *balance = match q.side {
        Side::Buy => balance.checked_sub(q.total)?,
        Side::Sell => balance.checked_add(q.total)?,
    }
    .checked_sub(q.collateral_change)?;
    let positions = account.positions.entry(plan.pool.clone()).or_default();
    if plan.new_position.is_zero() {
        positions.remove(&q.instrument);
    } else {
        let pos = positions.entry(q.instrument.clone()).or_default();
        pos.size = plan.new_position;
        pos.collateral = plan.new_collateral;
    }
    if positions.is_empty() {
        account.positions.remove(&plan.pool);
    }
    // Pool side.
    let pool = state.pools.get_mut(&plan.pool).expect("quoted pool exists");
    pool.cash = match q.side {
        Side::Buy => pool.cash.checked_add(q.total)?,
        Side::Sell => pool.cash.checked_sub(q.total)?,
    };
    pool.fees_earned = pool.fees_earned.checked_add(q.fees.total)?;
    let market = pool
        .markets
        .get_mut(&plan.underlying)
        .expect("quoted market");
    let board = market.boards.get_mut(&plan.expiry_t).expect("quoted board");
    board.base_iv_offset = q.base_iv_offset;
    let one_plus = 1.0 + q.base_iv_offset.to_f64();
    board.base_gwav.record(now, one_plus);
    let s = board.strikes.get_mut(&plan.strike).expect("quoted strike");
    let old_contrib = trade_terms(s, kind)?;
    let pool_delta = match q.side {
        Side::Buy => q.size.checked_neg()?,
        Side::Sell => q.size,
    };
    match kind {
        OptionKind::Call => s.pool_calls = s.pool_calls.checked_add(pool_delta)?,
        OptionKind::Put => s.pool_puts = s.pool_puts.checked_add(pool_delta)?,
    }
    s.skew_ratio = q.skew_ratio;
    s.skew_gwav.record(now, q.skew_ratio.to_f64());
    let lock_change = plan.new_strike_lock.checked_sub(s.pool_locked)?;
    s.pool_locked = plan.new_strike_lock;
    let new_contrib = trade_terms(s, kind)?;
    replace_contribution(&mut board.cache, &old_contrib, &new_contrib)?;
    pool.locked = pool.locked.checked_add(lock_change)?;
    Ok(Event::OptionTraded {
        pool: plan.pool.clone(),
        account: plan.account.clone(),
        instrument: q.instrument.clone(),
        side: q.side,
        size: q.size,
        premium: q.premium,
        fees: q.fees,
        total: q.total,
        vol: q.vol,
        base_iv_offset: q.base_iv_offset,
        skew_ratio: q.skew_ratio,
        position: plan.new_position,
        collateral_change: q.collateral_change,
    })
}
