//! Events: what a command did. Serialised like commands (tagged by `"type"`, decimals as
//! strings) so that `derivpool replay --events` and the API stream can write them as JSONL.

use crate::command::{Generation, Side, Tranche};
use derivpool_types::{Base, Price, Quote, Ratio, Shares};
use serde::{Deserialize, Serialize};

/// Fee breakdown of an option trade (all in the pool's quote asset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionFees {
    /// c1 × tw(T) × premium.
    pub option_price_fee: Quote,
    /// c2 × tw(T) × spot × size.
    pub spot_fee: Quote,
    /// Vega-utilisation fee (only when the trade adds to |net std vega|).
    pub vega_fee: Quote,
    /// Utilisation markup premium × (C(u) − 1).
    pub utilisation_fee: Quote,
    /// Sum of the above (a sell's total is capped at its premium).
    pub total: Quote,
}

/// Events emitted by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A pool was created.
    PoolCreated {
        /// Pool.
        pool: String,
        /// Quote asset.
        quote_asset: String,
        /// Generation.
        generation: Generation,
    },
    /// An underlying was listed.
    UnderlyingListed {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// The perp's name.
        perp: String,
    },
    /// A board was listed.
    ExpiryListed {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry code.
        expiry: String,
        /// Expiry time.
        expiry_t: u64,
        /// Series listed (calls and puts).
        series: Vec<String>,
    },
    /// A spot observation was recorded.
    OraclePriceRecorded {
        /// Feed.
        source: String,
        /// Asset.
        asset: String,
        /// Median of fresh sources after it (per the tightest heartbeat of the listing pools).
        median: Option<Price>,
    },
    /// A vol slice was recorded.
    OracleVolRecorded {
        /// Feed.
        source: String,
        /// Asset.
        underlying: String,
        /// Expiry code.
        expiry: String,
    },
    /// Trader collateral came in.
    Deposited {
        /// Account.
        account: String,
        /// Asset.
        asset: String,
        /// Amount.
        amount: Quote,
    },
    /// Trader collateral went out.
    Withdrawn {
        /// Account.
        account: String,
        /// Asset.
        asset: String,
        /// Amount.
        amount: Quote,
    },
    /// An LP deposit was queued.
    LpDepositQueued {
        /// Pool.
        pool: String,
        /// Queue id.
        id: u64,
        /// LP.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Amount.
        amount: Quote,
        /// Earliest processing time.
        ready_t: u64,
    },
    /// A queued deposit became shares.
    LpDepositProcessed {
        /// Pool.
        pool: String,
        /// Queue id.
        id: u64,
        /// LP.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Amount.
        amount: Quote,
        /// Shares minted to the LP.
        shares: Shares,
        /// Dead shares minted to nobody (genesis only).
        dead_shares: Shares,
        /// Share price used (quote per share).
        share_price: Price,
    },
    /// An LP withdrawal was queued (its shares are escrowed).
    LpWithdrawQueued {
        /// Pool.
        pool: String,
        /// Queue id.
        id: u64,
        /// LP.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Shares.
        shares: Shares,
        /// Earliest processing time.
        ready_t: u64,
    },
    /// A queued withdrawal was paid, in whole or in part.
    LpWithdrawProcessed {
        /// Pool.
        pool: String,
        /// Queue id.
        id: u64,
        /// LP.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Shares burned.
        shares_burned: Shares,
        /// Paid to the LP.
        paid: Quote,
        /// Fee left to the remaining LPs.
        fee: Quote,
        /// Shares still queued (a partial fill).
        shares_remaining: Shares,
        /// Share price used.
        share_price: Price,
    },
    /// An option trade.
    OptionTraded {
        /// Pool.
        pool: String,
        /// Account.
        account: String,
        /// Series.
        instrument: String,
        /// Side.
        side: Side,
        /// Size.
        size: Base,
        /// Premium at the trading vol.
        premium: Quote,
        /// Fees.
        fees: OptionFees,
        /// What the trader paid (buy) or received (sell).
        total: Quote,
        /// Trading vol after the trade.
        vol: Ratio,
        /// Board base-IV offset after the trade.
        base_iv_offset: Ratio,
        /// Skew ratio after the trade.
        skew_ratio: Ratio,
        /// The trader's position after the trade.
        position: Base,
        /// Collateral locked (+) or released (−) on the trader's short.
        collateral_change: Quote,
    },
    /// A perp trade.
    PerpTraded {
        /// Pool.
        pool: String,
        /// Account.
        account: String,
        /// Perp name.
        instrument: String,
        /// Side.
        side: Side,
        /// Size.
        size: Base,
        /// Fill price.
        fill_price: Price,
        /// Taker fee.
        fee: Quote,
        /// Profit (+) or loss (−) realised by the reduced part.
        realised_pnl: Quote,
        /// Funding and borrow settled before the trade (+ paid by the trader).
        funding_settled: Quote,
        /// The trader's position after the trade.
        position: Base,
    },
    /// Funding and borrow indexes moved.
    FundingAccrued {
        /// Pool.
        pool: String,
        /// Perp.
        instrument: String,
        /// Funding rate per day after the update.
        funding_rate: Ratio,
        /// Cumulative funding per unit.
        funding_index: Price,
        /// Borrow rate per year.
        borrow_rate: Ratio,
    },
    /// The greek cache of a board was recomputed at GWAV vols.
    GreekCacheRefreshed {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry.
        expiry: String,
        /// Spot used.
        spot: Price,
    },
    /// A board settled.
    BoardSettled {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry.
        expiry: String,
        /// Settlement price.
        price: Price,
        /// Observation time of that price.
        price_t: u64,
    },
    /// A trader position settled at expiry.
    PositionSettled {
        /// Pool.
        pool: String,
        /// Account.
        account: String,
        /// Series.
        instrument: String,
        /// Size at expiry.
        size: Base,
        /// Paid to the trader (long ITM) or by the trader (short ITM, negative).
        payout: Quote,
        /// Collateral released back to the balance.
        collateral_released: Quote,
        /// Unpaid part: for a short, what its collateral could not cover (absorbed by the pool);
        /// for a long, what an insolvent pool could not pay (paid pro rata).
        shortfall: Quote,
    },
    /// A board waits for a settlement price.
    SettlementWaiting {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry.
        expiry: String,
    },
    /// A circuit breaker tripped.
    BreakerTripped {
        /// Pool.
        pool: String,
        /// `liquidity`, `iv_variance`, `skew_variance` or `settlement`.
        breaker: String,
        /// Holds until.
        until: u64,
    },
    /// An account was liquidated (part of it bought by a liquidator, or closed at bankruptcy).
    Liquidated {
        /// Pool credited with the pool share of the penalty.
        pool: String,
        /// Liquidator (empty at bankruptcy).
        liquidator: String,
        /// Liquidated account.
        account: String,
        /// Fraction of the account bought.
        fraction: Ratio,
        /// Auction bid per unit of equity.
        bid: Ratio,
        /// Account equity before (maintenance collateral + portfolio value).
        equity: Quote,
        /// What the liquidator paid the account.
        paid_to_account: Quote,
        /// Part of the discount kept by the liquidator.
        to_liquidator: Quote,
        /// Part paid to the insurance fund.
        to_insurance_fund: Quote,
        /// Part paid to the pool.
        to_pool: Quote,
        /// Maintenance health before.
        health_before: Quote,
        /// Maintenance health after.
        health_after: Quote,
        /// True when the account was bankrupt and closed against the pool.
        bankrupt: bool,
    },
    /// An account's margin mode was set.
    MarginModeSet {
        /// Account.
        account: String,
        /// The mode.
        mode: crate::margin::MarginMode,
    },
    /// A layer of the loss waterfall paid bad debt.
    BadDebtPaid {
        /// Pool.
        pool: String,
        /// `insurance_fund`, `junior` or `senior`.
        layer: String,
        /// Amount.
        amount: Quote,
    },
    /// A profitable perp position was reduced at mark by auto-deleveraging.
    AutoDeleveraged {
        /// Pool.
        pool: String,
        /// Account.
        account: String,
        /// Perp.
        instrument: String,
        /// Size reduced (signed like the position).
        size: Base,
        /// Profit realised.
        realised_pnl: Quote,
    },
    /// A board's settlement price was set by the bounded override.
    SettlementOverridden {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry.
        expiry: String,
        /// Price set.
        price: Price,
    },
    /// Realised P&L was shared between the tranches (book values re-based).
    TranchesCrystallised {
        /// Pool.
        pool: String,
        /// NAV of the pool.
        nav: Quote,
        /// Senior book after.
        senior: Quote,
        /// Junior book after.
        junior: Quote,
    },
    /// The hedger asks the venue for a trade ([`crate::hedger`]).
    HedgeOrder {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Order id (counts up per pool and underlying).
        id: u64,
        /// Signed size, base units (+ buy).
        size: Base,
        /// Target hedge position.
        target: Base,
        /// Hedge position when ordered.
        position: Base,
        /// The pending order this one replaces (it failed or filled in part), if any.
        replaces: Option<u64>,
    },
    /// A pending hedge order was dropped: the hedge is within its band.
    HedgeOrderCancelled {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// The order dropped.
        id: u64,
    },
    /// An external hedge fill was booked.
    HedgeFilled {
        /// Pool.
        pool: String,
        /// Venue.
        venue: String,
        /// Asset.
        underlying: String,
        /// Signed size.
        size: Base,
        /// Fill price.
        price: Price,
        /// Fee paid.
        fee: Quote,
        /// P&L realised in cash by the reduced part.
        realised_pnl: Quote,
        /// Hedge position after.
        position: Base,
        /// Still pending after.
        pending: Base,
    },
    /// Governance tokens were minted.
    GovernanceGranted {
        /// Account.
        account: String,
        /// Tokens.
        amount: Quote,
        /// Supply after.
        supply: Quote,
    },
    /// Governance tokens moved.
    GovernanceTransferred {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Tokens.
        amount: Quote,
    },
    /// A proposal was made.
    Proposed {
        /// Proposal number.
        proposal: u64,
        /// Pool.
        pool: String,
        /// Proposer.
        proposer: String,
        /// What it does.
        action: crate::governance::ProposalAction,
        /// Votes accepted until (exclusive).
        voting_ends_t: u64,
        /// Executable from.
        executable_t: u64,
        /// Votes needed.
        quorum: Quote,
    },
    /// A vote was cast.
    Voted {
        /// Proposal number.
        proposal: u64,
        /// Voter.
        voter: String,
        /// For or against.
        support: bool,
        /// Balance at proposal time.
        weight: Quote,
    },
    /// A proposal was executed.
    ProposalExecuted {
        /// Proposal number.
        proposal: u64,
        /// Pool.
        pool: String,
    },
    /// A parameter changed (governance, council or emergency).
    ParamChanged {
        /// Pool.
        pool: String,
        /// Parameter.
        param: String,
        /// Value before.
        old: String,
        /// Value after.
        new: String,
        /// `proposal:N`, `council:MEMBER` or `emergency:MEMBER`.
        by: String,
        /// Why.
        reason: String,
    },
    /// A council or emergency member was added or removed.
    RoleChanged {
        /// Pool.
        pool: String,
        /// `council` or `emergency`.
        role: String,
        /// Member.
        member: String,
        /// Added (true) or removed.
        added: bool,
    },
    /// The council's bounds for a parameter were set.
    CouncilBoundsSet {
        /// Pool.
        pool: String,
        /// Parameter.
        param: String,
        /// Lowest value the council may set.
        min: String,
        /// Highest value.
        max: String,
    },
}
