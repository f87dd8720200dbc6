//! The state machine: `apply(command) -> Result<Vec<Event>, Reject>`.
//!
//! Architecture invariants (DESIGN.md §2): no IO, no clock, no randomness, no thread-local state;
//! time enters only as the command's `t`. A rejected command changes nothing (handlers validate
//! before they mutate; `tick`, which does many things, runs on a copy that replaces the state
//! only on success). With invariant checking on (the default in debug builds and tests), every
//! applied command is followed by [`crate::invariants::check`], and a violation panics: it is a
//! bug, not bad input.

use crate::command::{Command, CommandKind, Generation, SviParams, TradeRequest};
use crate::event::Event;
use crate::instrument::{expiry_unix, option_name, perp_name, Instrument};
use crate::margin::{self, PriceBasis};
use crate::params::{ParamOverrides, Params};
use crate::pool_risk::DueValues;
use crate::reject::{Reject, RejectCode};
use crate::state::{
    Board, CachedGreeks, Market, Pool, SpotObservation, State, Strike, VolObservation,
};
use crate::{cache, invariants, options, perp, settlement, vault};
use derivpool_pricing::{Gwav, OptionKind};
use derivpool_types::{Fixed, Price, Quote, Ratio};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Longest name (pool, account, LP, asset, source) accepted, in bytes.
pub const NAME_LEN_MAX: usize = 64;
/// Most strikes one board may list.
pub const STRIKES_PER_EXPIRY_MAX: usize = 256;
/// Observations kept by each GWAV accumulator.
pub const GWAV_OBSERVATIONS_MAX: usize = 48;

/// A quote for an option or a perp trade.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "market", rename_all = "snake_case")]
pub enum TradeQuote {
    /// Option quote: premium, every fee, total, new vol and skew, Greeks.
    Option(Box<options::OptionQuote>),
    /// Perp quote: fill price and fee.
    Perp(PerpQuote),
}

/// What a perp trade would do.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PerpQuote {
    /// Perp name.
    pub instrument: String,
    /// Side.
    pub side: crate::command::Side,
    /// Size.
    pub size: derivpool_types::Base,
    /// Fill price (skew premium included).
    pub fill_price: Price,
    /// Taker fee.
    pub fee: Quote,
    /// P&L the trade would realise.
    pub realised_pnl: Quote,
    /// Funding and borrow settled first.
    pub funding_settled: Quote,
    /// Position after the trade.
    pub position: derivpool_types::Base,
}

/// The engine: state plus whether invariants are checked after each command.
#[derive(Debug, Clone)]
pub struct Engine {
    state: State,
    check_invariants: bool,
    invariants_checked: u64,
    helper: Option<crate::helper::Helper>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

pub(crate) fn check_name(kind: &str, name: &str) -> Result<(), Reject> {
    let ok = !name.is_empty()
        && name.len() <= NAME_LEN_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
    if ok {
        Ok(())
    } else {
        Err(crate::reject!(
            InvalidName,
            "{kind} name {name:?} must be 1 to {NAME_LEN_MAX} characters of A-Z a-z 0-9 _ - . :"
        ))
    }
}

impl Engine {
    /// An empty engine; invariants are checked after every command in debug builds.
    pub fn new() -> Engine {
        Engine {
            state: State::default(),
            check_invariants: cfg!(debug_assertions),
            invariants_checked: 0,
            helper: None,
        }
    }

    /// Runs each tick's liquidation scan and due stress values on `helper`'s thread while the
    /// rest of the tick runs on this one ([`crate::helper`]: the same results either way);
    /// `None` runs everything here (the default).
    pub fn set_helper(&mut self, helper: Option<crate::helper::Helper>) {
        self.helper = helper;
    }

    /// The helper, if one is set: callers may use it for their own read-only work between
    /// commands (a simulated arbitrageur asks for both sides' quotes at once).
    pub fn helper(&self) -> Option<&crate::helper::Helper> {
        self.helper.as_ref()
    }

    /// Turns invariant checking after each command on or off.
    pub fn set_check_invariants(&mut self, on: bool) {
        self.check_invariants = on;
    }

    /// How many times the invariants were checked after a command.
    pub fn invariants_checked(&self) -> u64 {
        self.invariants_checked
    }

    /// The state (read-only).
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Restores an engine from a state (e.g. a snapshot).
    pub fn from_state(state: State) -> Engine {
        Engine {
            state,
            ..Engine::new()
        }
    }

    /// Checks every invariant now; the list of violations, empty when all hold.
    pub fn verify(&self) -> Vec<String> {
        invariants::check(&self.state)
    }

    /// A hash of the canonical encoding of the state (hex BLAKE3 of its JSON, whose maps are all
    /// ordered): stable across runs and platforms.
    pub fn state_hash(&self) -> String {
        let bytes = serde_json::to_vec(&self.state).expect("state serialises");
        blake3::hash(&bytes).to_hex().to_string()
    }

    /// Applies one command.
    pub fn apply(&mut self, cmd: &Command) -> Result<Vec<Event>, Reject> {
        let now = cmd.t;
        if now < self.state.t {
            return Err(crate::reject!(
                TimeWentBackwards,
                "t = {now} is before the previous command's t = {}",
                self.state.t
            ));
        }
        let result = match &cmd.kind {
            CommandKind::Tick {} => self.tick(now),
            other => {
                let saved_t = self.state.t;
                self.state.t = now;
                let r = apply_kind(&mut self.state, other, now);
                match (&r, other) {
                    (Err(_), _) => self.state.t = saved_t,
                    // The pool's option positions may have changed: price the stress-scenario
                    // values of strikes it now holds (cannot fail in practice; if it did, the
                    // strike would be priced again at the next refresh).
                    (Ok(_), CommandKind::Trade { pool, .. }) => {
                        if let Some(p) = self.state.pools.get_mut(pool) {
                            let _ = crate::pool_risk::price_missing(p);
                        }
                    }
                    (Ok(_), CommandKind::Liquidate { .. }) => {
                        for p in self.state.pools.values_mut() {
                            let _ = crate::pool_risk::price_missing(p);
                        }
                    }
                    _ => {}
                }
                r
            }
        };
        if result.is_ok() && self.check_invariants {
            self.invariants_checked += 1;
            let violations = invariants::check(&self.state);
            assert!(
                violations.is_empty(),
                "invariant violated after {}: {violations:?}",
                cmd.to_json()
            );
        }
        result
    }

    /// Applies a tick at `now` to a copy of the state, which replaces the state on success. The
    /// liquidation scan judges the state as the tick starts (at time `now`), and the
    /// stress-scenario values the refreshes find due are priced; both are written last, since
    /// nothing else in the tick reads them. With a helper, the scan and a pricing ahead of the
    /// due values ([`crate::pool_risk::price_due_ahead`]) run on its thread while the rest of the
    /// tick runs here ([`crate::helper`]).
    fn tick(&mut self, now: u64) -> Result<Vec<Event>, Reject> {
        let saved_t = self.state.t;
        self.state.t = now;
        let mut next = self.state.clone();
        let start = &self.state;
        let (marks, rest, ahead) = match &self.helper {
            Some(h) => {
                let ((marks, ahead), rest) = h.join(
                    || {
                        let marks = crate::liquidation::judge_with(start, now, Some(h));
                        (
                            marks,
                            crate::pool_risk::price_due_ahead(start, now, Some(h)),
                        )
                    },
                    || tick(&mut next, now),
                );
                (marks, rest, ahead)
            }
            None => (
                crate::liquidation::judge(start, now),
                tick(&mut next, now),
                Vec::new(),
            ),
        };
        // A failing scan is reported first, as if it had run first.
        let r = marks.map_err(Reject::from).and_then(|marks| {
            let (events, due) = rest?;
            crate::liquidation::write_marks(&mut next, marks);
            crate::pool_risk::write_due(&mut next, due, ahead)?;
            Ok(events)
        });
        match r {
            Ok(events) => {
                self.state = next;
                Ok(events)
            }
            Err(e) => {
                self.state.t = saved_t;
                Err(e)
            }
        }
    }

    /// The pool's mid price of an option at `now` ([`options::mid`]): the model price before
    /// impact and fees, which bounds every quote from below (buys) and above (sells).
    pub fn option_mid(&self, pool: &str, instrument: &str, now: u64) -> Option<options::Mid> {
        options::mid(&self.state, pool, instrument, now)
    }

    /// Quotes a trade (option or perp) at time `now` without changing anything. The error is
    /// the reject the trade would get.
    pub fn quote(&self, req: &TradeRequest<'_>, now: u64) -> Result<TradeQuote, Reject> {
        // The same gates as `apply`: generation, pause / reduce-only, hedge venue capacity.
        let as_command = CommandKind::Trade {
            pool: req.pool.to_string(),
            account: req.account.to_string(),
            instrument: req.instrument.to_string(),
            side: req.side,
            size: req.size,
            limit_price: req.limit_price,
        };
        crate::generation::check(&self.state, &as_command)?;
        crate::governance::check_controls(&self.state, &as_command)?;
        match Instrument::parse(req.instrument)
            .map_err(|e| Reject::new(RejectCode::UnknownInstrument, e.to_string()))?
        {
            Instrument::Option { .. } => {
                let q = options::quote(&self.state, req, now)?;
                crate::hedger::check_capacity(&self.state, req)?;
                Ok(TradeQuote::Option(Box::new(q)))
            }
            Instrument::Perp { underlying } => {
                crate::hedger::check_capacity(&self.state, req)?;
                // A perp fill touches funding, the position and margin: run it on a copy.
                let mut copy = self.state.clone();
                copy.t = now.max(copy.t);
                let events = perp::trade(&mut copy, req, &underlying, now)?;
                match events.into_iter().next() {
                    Some(Event::PerpTraded {
                        fill_price,
                        fee,
                        realised_pnl,
                        funding_settled,
                        position,
                        ..
                    }) => Ok(TradeQuote::Perp(PerpQuote {
                        instrument: req.instrument.to_string(),
                        side: req.side,
                        size: req.size,
                        fill_price,
                        fee,
                        realised_pnl,
                        funding_settled,
                        position,
                    })),
                    _ => unreachable!("a perp trade emits perp_traded"),
                }
            }
        }
    }

    /// Metrics of one pool (DESIGN.md §5.5).
    pub fn metrics(&self, pool: &str) -> Option<crate::metrics::PoolMetrics> {
        crate::metrics::pool_metrics(&self.state, pool).ok()
    }
}

fn apply_kind(state: &mut State, kind: &CommandKind, now: u64) -> Result<Vec<Event>, Reject> {
    crate::generation::check(state, kind)?;
    crate::governance::check_controls(state, kind)?;
    match kind {
        CommandKind::CreatePool {
            pool,
            quote_asset,
            generation,
            params,
        } => create_pool(state, pool, quote_asset, *generation, params),
        CommandKind::ListUnderlying {
            pool,
            underlying,
            oracle_sources,
            params,
        } => list_underlying(state, pool, underlying, oracle_sources, params, now),
        CommandKind::ListExpiry {
            pool,
            underlying,
            expiry,
            strikes,
        } => list_expiry(state, pool, underlying, expiry, strikes, now),
        CommandKind::OraclePrice {
            source,
            asset,
            price,
            confidence,
        } => oracle_price(state, source, asset, *price, *confidence, now),
        CommandKind::OracleVol {
            source,
            underlying,
            expiry,
            svi,
        } => oracle_vol(state, source, underlying, expiry, svi, now),
        CommandKind::LpDeposit {
            pool,
            lp,
            tranche,
            amount,
        } => {
            check_name("LP", lp)?;
            vault::lp_deposit(state, pool, lp, *tranche, *amount, now)
        }
        CommandKind::LpWithdraw {
            pool,
            lp,
            tranche,
            shares,
        } => vault::lp_withdraw(state, pool, lp, *tranche, *shares, now),
        CommandKind::Deposit {
            account,
            asset,
            amount,
        } => deposit(state, account, asset, *amount),
        CommandKind::Withdraw {
            account,
            asset,
            amount,
        } => withdraw(state, account, asset, *amount),
        CommandKind::Trade {
            pool,
            account,
            instrument,
            side,
            size,
            limit_price,
        } => {
            check_name("account", account)?;
            let req = TradeRequest {
                pool,
                account,
                instrument,
                side: *side,
                size: *size,
                limit_price: *limit_price,
            };
            match Instrument::parse(instrument)
                .map_err(|e| Reject::new(RejectCode::UnknownInstrument, e.to_string()))?
            {
                Instrument::Perp { underlying } => {
                    crate::hedger::check_capacity(state, &req)?;
                    perp::trade(state, &req, &underlying, now)
                }
                parsed @ Instrument::Option { .. } => {
                    let q = options::quote_parsed(state, &req, parsed, now)?;
                    crate::hedger::check_capacity(state, &req)?;
                    Ok(vec![options::commit(state, &q, now)?])
                }
            }
        }
        CommandKind::HedgeFill {
            pool,
            venue,
            underlying,
            size,
            price,
            fee,
        } => {
            check_name("venue", venue)?;
            crate::hedger::fill(state, pool, venue, underlying, *size, *price, *fee)
        }
        CommandKind::GovernanceGrant { account, amount } => {
            crate::governance::grant(state, account, *amount, now)
        }
        CommandKind::GovernanceTransfer { from, to, amount } => {
            crate::governance::transfer(state, from, to, *amount, now)
        }
        CommandKind::Propose {
            pool,
            proposer,
            param,
            value,
            action,
        } => crate::governance::propose(
            state,
            pool,
            proposer,
            param.as_deref(),
            value.as_ref(),
            action.as_ref(),
            now,
        ),
        CommandKind::Vote {
            proposal,
            voter,
            support,
        } => crate::governance::vote(state, *proposal, voter, *support, now),
        CommandKind::Execute { proposal } => crate::governance::execute(state, *proposal, now),
        CommandKind::CouncilSet {
            pool,
            member,
            param,
            value,
            reason,
        } => crate::governance::council_set(state, pool, member, param, value, reason),
        CommandKind::EmergencySet {
            pool,
            member,
            param,
            value,
            reason,
        } => crate::governance::emergency_set(state, pool, member, param, value, reason),
        CommandKind::Liquidate {
            pool,
            liquidator,
            account,
            max_size,
        } => {
            check_name("account", liquidator)?;
            crate::liquidation::liquidate(state, pool, liquidator, account, *max_size, now)
        }
        CommandKind::SetMarginMode { account, mode } => {
            check_name("account", account)?;
            let acc = state.accounts.entry(account.clone()).or_default();
            if !acc.positions.is_empty() && acc.margin != *mode {
                return Err(crate::reject!(
                    PositionsOpen,
                    "account {account:?} has open positions; close them before changing margin mode"
                ));
            }
            acc.margin = *mode;
            Ok(vec![Event::MarginModeSet {
                account: account.clone(),
                mode: *mode,
            }])
        }
        CommandKind::SettlementOverride {
            pool,
            underlying,
            expiry,
            price,
        } => settlement::override_price(state, pool, underlying, expiry, *price, now),
        CommandKind::Tick {} => unreachable!("tick is handled by apply"),
    }
}

fn create_pool(
    state: &mut State,
    pool: &str,
    quote_asset: &str,
    generation: Generation,
    overrides: &ParamOverrides,
) -> Result<Vec<Event>, Reject> {
    check_name("pool", pool)?;
    check_name("asset", quote_asset)?;
    if state.pools.contains_key(pool) {
        return Err(crate::reject!(
            PoolExists,
            "a pool named {pool:?} exists already"
        ));
    }
    let params = Params::default()
        .with_overrides(overrides)
        .map_err(|e| Reject::new(RejectCode::InvalidParam, e.to_string()))?;
    state.pools.insert(
        pool.to_string(),
        Pool {
            name: pool.to_string(),
            quote_asset: quote_asset.to_string(),
            generation,
            params,
            markets: Default::default(),
            vault: Default::default(),
            cash: Quote::ZERO,
            insurance_fund: Quote::ZERO,
            bad_debt: Quote::ZERO,
            bad_debt_paid: Default::default(),
            locked: Quote::ZERO,
            breakers: Default::default(),
            fees_earned: Quote::ZERO,
            hedges: Default::default(),
        },
    );
    Ok(vec![Event::PoolCreated {
        pool: pool.to_string(),
        quote_asset: quote_asset.to_string(),
        generation,
    }])
}

fn list_underlying(
    state: &mut State,
    pool_name: &str,
    underlying: &str,
    sources: &[String],
    overrides: &ParamOverrides,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    check_name("asset", underlying)?;
    if sources.is_empty() {
        return Err(crate::reject!(
            UnknownOracleSource,
            "oracle_sources must name at least one source"
        ));
    }
    for s in sources {
        check_name("oracle source", s)?;
    }
    let pool = state
        .pools
        .get_mut(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    if pool.markets.contains_key(underlying) {
        return Err(crate::reject!(
            UnderlyingExists,
            "{underlying} is listed in pool {pool_name} already"
        ));
    }
    if underlying == pool.quote_asset {
        return Err(crate::reject!(
            InvalidName,
            "{underlying} is the pool's quote asset"
        ));
    }
    let params = pool
        .params
        .with_overrides(overrides)
        .map_err(|e| Reject::new(RejectCode::InvalidParam, e.to_string()))?;
    let oracle_sources: BTreeSet<String> = sources.iter().cloned().collect();
    Arc::make_mut(&mut state.oracle)
        .allowed
        .entry(underlying.to_string())
        .or_default()
        .extend(oracle_sources.iter().cloned());
    pool.markets.insert(
        underlying.to_string(),
        Market {
            underlying: underlying.to_string(),
            params,
            oracle_sources,
            boards: Default::default(),
            perp: crate::state::Perp {
                accrued_t: now,
                ..Default::default()
            },
        },
    );
    Ok(vec![Event::UnderlyingListed {
        pool: pool_name.to_string(),
        underlying: underlying.to_string(),
        perp: perp_name(underlying),
    }])
}

fn list_expiry(
    state: &mut State,
    pool_name: &str,
    underlying: &str,
    expiry: &str,
    strikes: &[Price],
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let expiry_t = expiry_unix(expiry).map_err(|e| Reject::new(RejectCode::InvalidExpiry, e))?;
    if expiry_t <= now {
        return Err(crate::reject!(
            InvalidExpiry,
            "expiry {expiry} ({expiry_t}) is not after t = {now}"
        ));
    }
    let distinct: BTreeSet<Price> = strikes.iter().copied().collect();
    if strikes.is_empty()
        || distinct.len() != strikes.len()
        || strikes.len() > STRIKES_PER_EXPIRY_MAX
        || strikes.iter().any(|k| *k <= Price::ZERO)
    {
        return Err(crate::reject!(
            InvalidStrikes,
            "strikes must be 1 to {STRIKES_PER_EXPIRY_MAX} distinct positive prices"
        ));
    }
    let pool = state
        .pools
        .get_mut(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let market = pool.markets.get_mut(underlying).ok_or_else(|| {
        crate::reject!(
            UnknownUnderlying,
            "{underlying} is not listed in pool {pool_name}"
        )
    })?;
    if market.boards.contains_key(&expiry_t) {
        return Err(crate::reject!(
            ExpiryExists,
            "{underlying} {expiry} is listed in pool {pool_name} already"
        ));
    }
    let mut board = Board {
        expiry: expiry.to_string(),
        expiry_t,
        base_iv_offset: Ratio::ZERO,
        base_gwav: Gwav::new(now, 1.0, GWAV_OBSERVATIONS_MAX),
        strikes: Default::default(),
        cache: Default::default(),
        settle_candidate: None,
        settled_price: None,
    };
    let mut series = Vec::new();
    for k in &distinct {
        board.strikes.insert(
            *k,
            Strike {
                strike: *k,
                skew_ratio: Ratio::ONE,
                skew_gwav: Gwav::new(now, 1.0, GWAV_OBSERVATIONS_MAX),
                pool_calls: Default::default(),
                pool_puts: Default::default(),
                pool_locked: Quote::ZERO,
                greeks: CachedGreeks::default(),
                scenario_call: Default::default(),
                scenario_put: Default::default(),
                scenario_anchor: Default::default(),
            },
        );
        series.push(option_name(underlying, expiry, *k, OptionKind::Call));
        series.push(option_name(underlying, expiry, *k, OptionKind::Put));
    }
    // Fill the cache at once when the oracle allows, so that trading can start before a tick.
    if let Ok(ctx) = crate::pricing_ctx::BoardCtx::new(
        &state.oracle,
        &market.params,
        underlying,
        expiry,
        expiry_t,
        now,
    ) {
        cache::refresh_board(&mut board, &ctx, now, &market.params)?;
    }
    market.boards.insert(expiry_t, board);
    Ok(vec![Event::ExpiryListed {
        pool: pool_name.to_string(),
        underlying: underlying.to_string(),
        expiry: expiry.to_string(),
        expiry_t,
        series,
    }])
}

fn check_source(state: &State, source: &str, asset: &str) -> Result<(), Reject> {
    check_name("oracle source", source)?;
    let allowed = state
        .oracle
        .allowed
        .get(asset)
        .is_some_and(|s| s.contains(source));
    if allowed {
        Ok(())
    } else {
        Err(crate::reject!(
            UnknownOracleSource,
            "source {source:?} is not allowed to report {asset} (list_underlying names the sources)"
        ))
    }
}

fn oracle_price(
    state: &mut State,
    source: &str,
    asset: &str,
    price: Price,
    confidence: Option<Ratio>,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    check_source(state, source, asset)?;
    let confidence = confidence.unwrap_or(Ratio::ZERO);
    if price <= Price::ZERO || confidence < Ratio::ZERO {
        return Err(crate::reject!(
            InvalidOracleValue,
            "{source} {asset}: price {price} must be positive and confidence {confidence} not negative"
        ));
    }
    Arc::make_mut(&mut state.oracle)
        .spot
        .entry(asset.to_string())
        .or_default()
        .insert(
            source.to_string(),
            SpotObservation {
                t: now,
                price,
                confidence,
            },
        );
    settlement::record_candidates(state, asset, now);
    let heartbeat = state
        .pools
        .values()
        .filter_map(|p| p.markets.get(asset))
        .map(|m| m.params.spot_heartbeat_s)
        .min()
        .unwrap_or_else(|| Params::default().spot_heartbeat_s);
    let median = state.oracle.spot(asset, now, heartbeat);
    let mut events = vec![Event::OraclePriceRecorded {
        source: source.to_string(),
        asset: asset.to_string(),
        median,
    }];
    if let Some(m) = median {
        if let Some(until) = crate::guards::record_median(state, asset, m, now) {
            for (pool_name, pool) in &state.pools {
                if pool.markets.contains_key(asset) {
                    events.push(Event::BreakerTripped {
                        pool: pool_name.clone(),
                        breaker: format!("oracle:{asset}"),
                        until,
                    });
                }
            }
        }
    }
    Ok(events)
}

fn oracle_vol(
    state: &mut State,
    source: &str,
    underlying: &str,
    expiry: &str,
    svi: &SviParams,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    check_source(state, source, underlying)?;
    expiry_unix(expiry).map_err(|e| Reject::new(RejectCode::InvalidExpiry, e))?;
    crate::oracle::svi_raw(svi).validate().map_err(|e| {
        Reject::new(
            RejectCode::InvalidOracleValue,
            format!("{source} {underlying} {expiry}: {e}"),
        )
    })?;
    Arc::make_mut(&mut state.oracle)
        .vols
        .entry(crate::oracle::vol_key(underlying, expiry))
        .or_default()
        .insert(source.to_string(), VolObservation { t: now, svi: *svi });
    Ok(vec![Event::OracleVolRecorded {
        source: source.to_string(),
        underlying: underlying.to_string(),
        expiry: expiry.to_string(),
    }])
}

fn deposit(
    state: &mut State,
    account: &str,
    asset: &str,
    amount: Quote,
) -> Result<Vec<Event>, Reject> {
    check_name("account", account)?;
    check_name("asset", asset)?;
    if amount <= Quote::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "amount must be positive, got {amount}"
        ));
    }
    let ext = state.external.entry(asset.to_string()).or_default();
    let deposited = ext.deposited.checked_add(amount)?;
    let acc = state.accounts.entry(account.to_string()).or_default();
    let bal = acc
        .balances
        .get(asset)
        .copied()
        .unwrap_or(Quote::ZERO)
        .checked_add(amount)?;
    acc.balances.insert(asset.to_string(), bal);
    state.external.get_mut(asset).expect("entry made").deposited = deposited;
    Ok(vec![Event::Deposited {
        account: account.to_string(),
        asset: asset.to_string(),
        amount,
    }])
}

fn withdraw(
    state: &mut State,
    account: &str,
    asset: &str,
    amount: Quote,
) -> Result<Vec<Event>, Reject> {
    if amount <= Quote::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "amount must be positive, got {amount}"
        ));
    }
    let bal = state
        .accounts
        .get(account)
        .and_then(|a| a.balances.get(asset))
        .copied()
        .unwrap_or(Quote::ZERO);
    if bal < amount {
        return Err(crate::reject!(
            InsufficientBalance,
            "account {account:?} holds {bal} {asset}, cannot withdraw {amount}"
        ));
    }
    let after = bal.checked_sub(amount)?;
    // A withdrawal is risk-increasing: initial health must stay ≥ 0 in every quote asset the
    // account has positions in.
    let acc = &state.accounts[account];
    let mut hypothetical = acc.clone();
    hypothetical.balances.insert(asset.to_string(), after);
    let quote_assets: BTreeSet<&String> = acc
        .positions
        .keys()
        .filter_map(|p| state.pools.get(p).map(|p| &p.quote_asset))
        .collect();
    for q in quote_assets {
        let h = margin::health_of(state, &hypothetical, acc.margin, q, PriceBasis::Median)?;
        if h.initial < Quote::ZERO {
            return Err(crate::reject!(
                InsufficientCollateral,
                "account {account:?}: initial health in {q} would be {} after withdrawing {amount} {asset}",
                h.initial
            ));
        }
    }
    state
        .accounts
        .get_mut(account)
        .expect("account with a balance exists")
        .balances
        .insert(asset.to_string(), after);
    let ext = state.external.entry(asset.to_string()).or_default();
    ext.withdrawn = ext.withdrawn.checked_add(amount)?;
    Ok(vec![Event::Withdrawn {
        account: account.to_string(),
        asset: asset.to_string(),
        amount,
    }])
}

/// Time-driven work, pool by pool: accrue perps, settle expired boards, refresh greek caches,
/// hedge, check breakers, deleverage, then crystallise tranches and process the LP queues.
/// Everything a tick does but the liquidation scan and the pricing of the stress-scenario values
/// the refreshes found due, which it returns (see [`Engine::tick`]).
fn tick(state: &mut State, now: u64) -> Result<(Vec<Event>, Vec<DueValues>), Reject> {
    let mut events = Vec::new();
    let mut due = Vec::new();
    let pools: Vec<String> = state.pools.keys().cloned().collect();
    for pool_name in pools {
        events.extend(perp::accrue_pool(state, &pool_name, now)?);
        events.extend(settlement::settle_due(state, &pool_name, now)?);
        events.extend(refresh_caches(state, &pool_name, now, &mut due)?);
        events.extend(crate::hedger::on_tick(state, &pool_name, now)?);
        events.extend(vault::check_breakers(state, &pool_name, now)?);
        events.extend(crate::adl::deleverage(state, &pool_name)?);
        events.extend(vault::process_queues(state, &pool_name, now)?);
    }
    Ok((events, due))
}

/// Refreshes every board's greek cache for which the oracle has a fresh spot and vol; adds the
/// stress-scenario values found due to `due` (not priced).
fn refresh_caches(
    state: &mut State,
    pool_name: &str,
    now: u64,
    due: &mut Vec<DueValues>,
) -> Result<Vec<Event>, Reject> {
    let mut events = Vec::new();
    let oracle = &state.oracle;
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    let mut lock_change = Quote::ZERO;
    for (underlying, market) in pool.markets.iter_mut() {
        for board in market.boards.values_mut() {
            let Ok(ctx) = crate::pricing_ctx::BoardCtx::for_board(
                oracle,
                &market.params,
                underlying,
                board,
                now,
            ) else {
                continue;
            };
            let (change, strikes) = cache::refresh_greeks(board, &ctx, now, &market.params)?;
            lock_change = lock_change.checked_add(change)?;
            due.extend(strikes.into_iter().map(|(strike, anchor)| DueValues {
                pool: pool_name.to_string(),
                underlying: underlying.clone(),
                expiry_t: board.expiry_t,
                strike,
                anchor,
            }));
            events.push(Event::GreekCacheRefreshed {
                pool: pool_name.to_string(),
                underlying: underlying.clone(),
                expiry: board.expiry.clone(),
                spot: Price::from_f64(ctx.spot, derivpool_types::Rounding::Up)?,
            });
        }
    }
    pool.locked = pool.locked.checked_add(lock_change)?;
    Ok(events)
}
