//! What the engine stores. Every amount is fixed point (DESIGN.md §2 invariant 2) and every
//! collection that iterates into outputs is ordered (invariant 5).
//!
//! Where money sits (the buckets of the conservation invariant, DESIGN.md §6.1), per asset:
//! - trader accounts: free `balances` and the `collateral` locked in short option positions;
//! - each pool (in its quote asset): `cash` (LP capital and everything the pool has earned or
//!   paid), `vault.queued_deposit_cash` (deposits waiting in the queue), `insurance_fund`;
//! - outside: `external` deposits minus withdrawals (trader deposits and LP deposits come in,
//!   trader withdrawals and LP redemptions go out).

use crate::command::{Generation, Tranche};
use crate::params::Params;
use derivpool_pricing::Gwav;
use derivpool_types::{Base, Fixed, Price, Quote, Ratio, Shares};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// Trader accounts by name ([`imbl::OrdMap`]: ordered like a `BTreeMap`, and serialised the
/// same way, but cloned in O(1) with copy-on-write nodes).
pub type Accounts = imbl::OrdMap<String, Account>;

/// The whole engine state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// Time of the last applied command (unix seconds).
    pub t: u64,
    /// Pools by name.
    pub pools: BTreeMap<String, Pool>,
    /// Trader accounts by name: an ordered map with structural sharing, so that copying the
    /// state (the atomic `tick` works on a copy) shares every account and only the accounts a
    /// command changes are copied.
    pub accounts: Accounts,
    /// Oracle observations, shared copy-on-write (`Arc::make_mut` to change them): a `tick`
    /// reads but never writes them, so its copy of the state shares them.
    pub oracle: Arc<Oracle>,
    /// Money that came in from and went out to the outside world, per asset.
    pub external: BTreeMap<String, ExternalFlows>,
    /// Governance tokens, proposals and roles ([`crate::governance`]), shared copy-on-write
    /// like the oracle.
    #[serde(default)]
    pub governance: Arc<crate::governance::Governance>,
}

impl State {
    /// The pools' quote assets, each once, in name order.
    pub fn quote_assets(&self) -> Vec<&str> {
        let mut assets: Vec<&str> = self
            .pools
            .values()
            .map(|p| p.quote_asset.as_str())
            .collect();
        assets.sort_unstable();
        assets.dedup();
        assets
    }
}

/// Money crossing the engine's boundary for one asset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalFlows {
    /// Total deposited (trader deposits and LP deposits).
    pub deposited: Quote,
    /// Total withdrawn (trader withdrawals and LP redemptions).
    pub withdrawn: Quote,
}

/// A liquidity pool: LP capital acting as counterparty for options and perps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pool {
    /// Pool name.
    pub name: String,
    /// Asset the pool is denominated in.
    pub quote_asset: String,
    /// Generation (§5.13); until the hedging issue every pool behaves as `hedged` without a
    /// hedger.
    pub generation: Generation,
    /// Pool-wide parameters.
    pub params: Params,
    /// Markets by underlying.
    pub markets: BTreeMap<String, Market>,
    /// LP capital and queues.
    pub vault: Vault,
    /// The pool's own money: LP capital plus everything earned, minus everything paid.
    pub cash: Quote,
    /// Insurance fund (filled by the margin issue's liquidation penalties).
    pub insurance_fund: Quote,
    /// Losses traders could not pay (their shortfall), absorbed by the pool.
    pub bad_debt: Quote,
    /// How that bad debt was paid, by waterfall layer.
    #[serde(default)]
    pub bad_debt_paid: crate::waterfall::BadDebtLayers,
    /// Sum of the collateral the pool reserves for options it has written (all markets).
    pub locked: Quote,
    /// LP-flow circuit breakers.
    pub breakers: Breakers,
    /// Cumulative fees earned by the pool (options and perps).
    pub fees_earned: Quote,
    /// Hedge per underlying ([`crate::hedger`]).
    #[serde(default)]
    pub hedges: BTreeMap<String, crate::hedger::Hedge>,
}

/// One underlying's option boards and perp inside a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Market {
    /// Asset, e.g. `BTC`.
    pub underlying: String,
    /// The market's parameters (pool values plus its overrides).
    pub params: Params,
    /// Oracle sources allowed for this underlying.
    pub oracle_sources: BTreeSet<String>,
    /// Option boards by expiry time (unix seconds).
    pub boards: BTreeMap<u64, Board>,
    /// The perpetual.
    pub perp: Perp,
}

/// A board: the call and put series of one expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Board {
    /// Expiry code, e.g. `27DEC24`.
    pub expiry: String,
    /// Expiry time, 08:00 UTC (unix seconds).
    pub expiry_t: u64,
    /// Inventory base-IV offset, added to the oracle vol (vol units).
    pub base_iv_offset: Ratio,
    /// GWAV of `1 + base_iv_offset`.
    pub base_gwav: Gwav,
    /// Strikes by price.
    pub strikes: BTreeMap<Price, Strike>,
    /// Cached aggregates of the pool's exposure on this board.
    pub cache: BoardCache,
    /// Latest oracle median at or before expiry: (time, price).
    pub settle_candidate: Option<(u64, Price)>,
    /// Settlement price once settled.
    pub settled_price: Option<Price>,
}

/// One strike of a board (its call and put series).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Strike {
    /// Strike price.
    pub strike: Price,
    /// Inventory skew ratio, multiplying the vol.
    pub skew_ratio: Ratio,
    /// GWAV of the skew ratio.
    pub skew_gwav: Gwav,
    /// The pool's net position in the call (+ long, − short), in contracts.
    pub pool_calls: Base,
    /// The pool's net position in the put.
    pub pool_puts: Base,
    /// Collateral the pool reserves for its short positions at this strike.
    pub pool_locked: Quote,
    /// Per-contract values at the last cache refresh.
    pub greeks: CachedGreeks,
    /// Per-contract call value in each stress scenario of [`crate::pool_risk`], priced at
    /// [`Strike::scenario_anchor`].
    /// Shared between state copies (it changes only when re-priced).
    #[serde(default)]
    pub scenario_call: RiskArray,
    /// Per-contract put value in each stress scenario.
    #[serde(default)]
    pub scenario_put: RiskArray,
    /// Where the scenario values were priced (a risk array, re-priced by a refresh when the
    /// spot, the mark vol or the time has moved far enough: [`crate::cache::scenarios_due`]).
    #[serde(default)]
    pub scenario_anchor: ScenarioAnchor,
}

impl Strike {
    /// Whether the pool holds neither the call nor the put.
    pub fn pool_holds_nothing(&self) -> bool {
        self.pool_calls == Base::ZERO && self.pool_puts == Base::ZERO
    }

    /// Stores the strike's stress-scenario values and where they were priced.
    pub fn set_scenario_values(
        &mut self,
        (calls, puts): (RiskArray, RiskArray),
        at: ScenarioAnchor,
    ) {
        self.scenario_call = calls;
        self.scenario_put = puts;
        self.scenario_anchor = at;
    }
}

/// Per-contract values of one series under every stress scenario (a risk array), shared between
/// state copies. It keeps each value's `to_f64` beside it, so the stress P&L sums
/// ([`crate::pool_risk::market_pnl`]) convert nothing; the floats are a function of the values,
/// so the array serialises, compares and hashes as its values alone. The empty array (what a
/// strike the pool holds nothing of keeps) allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct RiskArray(Option<Arc<RiskValues>>);

#[derive(Debug, Default)]
struct RiskValues {
    prices: Box<[Price]>,
    floats: Box<[f64]>,
}

impl RiskArray {
    /// The values as floats (`Price::to_f64` of each).
    pub fn floats(&self) -> &[f64] {
        self.0.as_ref().map_or(&[], |v| &v.floats)
    }
}

impl From<Vec<Price>> for RiskArray {
    fn from(prices: Vec<Price>) -> Self {
        if prices.is_empty() {
            return RiskArray(None);
        }
        let floats = prices.iter().map(|p| p.to_f64()).collect();
        RiskArray(Some(Arc::new(RiskValues {
            prices: prices.into_boxed_slice(),
            floats,
        })))
    }
}

impl std::ops::Deref for RiskArray {
    type Target = [Price];
    fn deref(&self) -> &[Price] {
        self.0.as_ref().map_or(&[], |v| &v.prices)
    }
}

impl PartialEq for RiskArray {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for RiskArray {}

impl Serialize for RiskArray {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for RiskArray {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Price>::deserialize(d).map(RiskArray::from)
    }
}

/// The market a strike's scenario values were priced in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioAnchor {
    /// When (unix seconds; 0 = never priced).
    pub t: u64,
    /// Spot.
    pub spot: Price,
    /// Mark vol of the strike.
    pub vol: Ratio,
}

/// Per-contract marks and Greeks of a strike at the GWAV mark vol, quantised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedGreeks {
    /// Call mark price.
    pub call_price: Price,
    /// Put mark price.
    pub put_price: Price,
    /// Call delta (per contract).
    pub call_delta: Ratio,
    /// Put delta.
    pub put_delta: Ratio,
    /// Gamma per contract (∂delta/∂spot, per unit of price).
    pub gamma: Ratio,
    /// Standardised vega per contract: vega × √(30/max(days, 7)) × 0.01, in quote.
    pub std_vega: Quote,
    /// Plain vega per contract per 1.00 vol, in quote.
    pub vega: Quote,
    /// Call theta per contract, quote per year.
    pub call_theta: Quote,
    /// Put theta.
    pub put_theta: Quote,
    /// Mark vol used.
    pub mark_vol: Ratio,
}

/// Aggregates of a board's pool exposure: Σ over strikes of position × cached Greek, each term
/// rounded down, so that an incremental update and a recomputation agree exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardCache {
    /// Net delta of the pool's options, base units.
    pub net_delta: Base,
    /// Net gamma.
    pub net_gamma: Ratio,
    /// Net standardised vega, quote.
    pub net_std_vega: Quote,
    /// Net vega per 1.00 vol, quote.
    pub net_vega: Quote,
    /// Net theta per year, quote.
    pub net_theta: Quote,
    /// Mark value of the pool's positions (negative when it is short), quote.
    pub option_value: Quote,
    /// Time of the last refresh.
    pub refreshed_t: u64,
    /// Spot at the last refresh.
    pub refreshed_spot: Price,
}

/// A perpetual market.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Perp {
    /// Traders' long open interest, base units.
    pub long_oi: Base,
    /// Traders' short open interest, base units (positive).
    pub short_oi: Base,
    /// Σ over traders' positions of their signed entry value (quote).
    pub entry_value_sum: Quote,
    /// Current funding rate per day (longs pay when positive).
    pub funding_rate: Ratio,
    /// Cumulative funding per unit of base, quote.
    pub funding_index: Price,
    /// Cumulative borrow fee per unit of entry notional.
    pub borrow_index: Ratio,
    /// Current borrow rate per year.
    pub borrow_rate: Ratio,
    /// Time of the last accrual.
    pub accrued_t: u64,
    /// Σ over positions of ⌊size × funding index at entry⌋ (for the NAV's unpaid funding).
    pub funding_weight_sum: Quote,
    /// Σ over positions of |entry value| (the borrow base).
    pub borrow_notional_sum: Quote,
    /// Σ over positions of ⌊|entry value| × borrow index at entry⌋.
    pub borrow_weight_sum: Quote,
    /// Funding settled by traders to the pool (negative: paid by the pool to traders), as owed
    /// (a part the trader could not pay is in the pool's `bad_debt`).
    pub funding_paid_to_pool: Quote,
    /// Borrow fees settled by traders to the pool, as owed.
    pub borrow_paid_to_pool: Quote,
}

impl Perp {
    /// long − short open interest.
    pub fn skew(&self) -> Base {
        Base::from_raw(self.long_oi.raw() - self.short_oi.raw())
    }
}

/// LP capital, shares and queues of a pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vault {
    /// Tranche states.
    pub tranches: BTreeMap<Tranche, TrancheState>,
    /// Deposits waiting, FIFO.
    pub deposit_queue: VecDeque<QueuedDeposit>,
    /// Withdrawals waiting, FIFO.
    pub withdrawal_queue: VecDeque<QueuedWithdrawal>,
    /// Cash of the deposits waiting in the queue (not part of NAV).
    pub queued_deposit_cash: Quote,
    /// Next queue entry id.
    pub next_id: u64,
}

/// One tranche's accounting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrancheState {
    /// Book value: this tranche's claim on the pool at the last crystallisation.
    pub book: Quote,
    /// Shares outstanding, including dead shares and shares escrowed in the withdrawal queue.
    pub shares: Shares,
    /// Dead shares minted at genesis.
    pub dead_shares: Shares,
    /// Shares per LP (not counting those escrowed in the withdrawal queue); an
    /// [`imbl::OrdMap`] like [`Accounts`], so that the tick's copy of the state shares it.
    pub holders: imbl::OrdMap<String, Shares>,
}

/// A queued LP deposit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDeposit {
    /// Queue id.
    pub id: u64,
    /// LP.
    pub lp: String,
    /// Tranche.
    pub tranche: Tranche,
    /// Amount.
    pub amount: Quote,
    /// When it was queued.
    pub t: u64,
}

/// A queued LP withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedWithdrawal {
    /// Queue id.
    pub id: u64,
    /// LP.
    pub lp: String,
    /// Tranche.
    pub tranche: Tranche,
    /// Shares still to redeem (escrowed).
    pub shares: Shares,
    /// When it was queued.
    pub t: u64,
}

/// Times until which each LP-flow breaker holds (0 = never tripped).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakers {
    /// Free liquidity under its floor.
    pub liquidity_until: u64,
    /// Base IV far from its GWAV.
    pub iv_until: u64,
    /// A skew ratio far from its GWAV.
    pub skew_until: u64,
    /// Just after a settlement.
    pub settlement_until: u64,
}

impl Breakers {
    /// The name of the first breaker holding at `t`, if any.
    pub fn active(&self, t: u64) -> Option<&'static str> {
        [
            ("liquidity", self.liquidity_until),
            ("iv_variance", self.iv_until),
            ("skew_variance", self.skew_until),
            ("settlement", self.settlement_until),
        ]
        .into_iter()
        .find(|(_, until)| t < *until)
        .map(|(name, _)| name)
    }
}

/// A trader account: collateral and positions, possibly in several pools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// How the account is margined.
    #[serde(default)]
    pub margin: crate::margin::MarginMode,
    /// Since when the account has been liquidatable (the Dutch auction's clock), if it is.
    #[serde(default)]
    pub liquidatable_since: Option<u64>,
    /// Free balance per asset.
    pub balances: BTreeMap<String, Quote>,
    /// Positions by pool, then instrument name.
    pub positions: BTreeMap<String, BTreeMap<String, Position>>,
}

/// A position of a trader in one instrument of one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Signed size (+ long, − short), base units / contracts.
    pub size: Base,
    /// Collateral locked for a short option (pool quote asset).
    pub collateral: Quote,
    /// Perps: signed entry value, Σ fill × size (quote).
    pub entry_value: Quote,
    /// Perps: funding index at the last settlement.
    pub funding_index: Price,
    /// Perps: borrow index at the last settlement.
    pub borrow_index: Ratio,
}

/// Oracle observations, shared by all pools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Oracle {
    /// Latest spot observation per asset and source.
    pub spot: BTreeMap<String, BTreeMap<String, SpotObservation>>,
    /// Latest vol slice per `UNDERLYING/EXPIRY` and source.
    pub vols: BTreeMap<String, BTreeMap<String, VolObservation>>,
    /// Sources allowed per asset (the union over pools' listings).
    pub allowed: BTreeMap<String, BTreeSet<String>>,
    /// History of the median per asset: (time, median), oldest first (for the TWAP).
    #[serde(default)]
    pub medians: BTreeMap<String, VecDeque<(u64, Price)>>,
    /// Oracle breaker per asset: holds until this time.
    #[serde(default)]
    pub breaker_until: BTreeMap<String, u64>,
}

/// One spot observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotObservation {
    /// When it was reported.
    pub t: u64,
    /// Price.
    pub price: Price,
    /// Confidence as a fraction of price.
    pub confidence: Ratio,
}

/// One vol-slice observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolObservation {
    /// When it was reported.
    pub t: u64,
    /// The raw SVI slice.
    pub svi: crate::command::SviParams,
}
