//! The command log: the engine's public interface (DESIGN.md §4).
//!
//! One JSON object per line, tagged by `"type"` in snake_case, each with a time `"t"` in unix
//! seconds that never decreases. Decimal numbers are JSON strings. The field names here are a
//! contract shared by `derivpool replay`, the simulator, the HTTP API and the journal: add
//! optional fields, never rename.

use crate::params::ParamOverrides;
use derivpool_types::{Base, Price, Quote, Ratio, Shares};
use serde::{Deserialize, Serialize};

/// Pool generation (DESIGN.md §5.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generation {
    /// First generation: fully collateralised covered calls and cash-secured puts.
    Static,
    /// Second generation: option and perp AMM with delta hedging.
    Hedged,
    /// Third generation: one pool across underlyings with portfolio margin.
    CrossMargin,
}

/// LP tranche (DESIGN.md §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tranche {
    /// Paid its share; loses only when junior capital is gone.
    Senior,
    /// First loss, larger share of premiums and fees.
    Junior,
}

impl Tranche {
    /// Both tranches, senior first.
    pub const ALL: [Tranche; 2] = [Tranche::Senior, Tranche::Junior];
    /// `senior` or `junior`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tranche::Senior => "senior",
            Tranche::Junior => "junior",
        }
    }
}

/// Trade direction from the trader's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The trader buys (goes longer).
    Buy,
    /// The trader sells (goes shorter).
    Sell,
}

impl Side {
    /// +1 for a buy, −1 for a sell.
    pub fn sign(self) -> i128 {
        match self {
            Side::Buy => 1,
            Side::Sell => -1,
        }
    }
}

/// Raw SVI parameters as they travel in commands (decimal strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SviParams {
    /// Level of total variance.
    pub a: Ratio,
    /// Wing slope.
    pub b: Ratio,
    /// Skew.
    pub rho: Ratio,
    /// Shift in log-moneyness.
    pub m: Ratio,
    /// Smoothness.
    pub sigma: Ratio,
}

/// A command with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    /// Unix seconds; never decreases along the log.
    pub t: u64,
    /// What to do.
    #[serde(flatten)]
    pub kind: CommandKind,
}

/// The command vocabulary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CommandKind {
    /// A new pool with default parameters unless overridden.
    CreatePool {
        /// Pool name.
        pool: String,
        /// The asset the pool is denominated in (e.g. `USDC`).
        quote_asset: String,
        /// Pool generation.
        generation: Generation,
        /// Parameter overrides.
        #[serde(default, skip_serializing_if = "ParamOverrides::is_empty")]
        params: ParamOverrides,
    },
    /// Enables options and a perp on an asset; only the named sources may report its prices.
    ListUnderlying {
        /// Pool name.
        pool: String,
        /// Asset, e.g. `BTC`.
        underlying: String,
        /// Names of the oracle sources allowed to report it.
        oracle_sources: Vec<String>,
        /// Per-underlying parameter overrides.
        #[serde(default, skip_serializing_if = "ParamOverrides::is_empty")]
        params: ParamOverrides,
    },
    /// A board of call and put series.
    ListExpiry {
        /// Pool name.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry date as in instrument names, e.g. `27DEC24` (08:00 UTC).
        expiry: String,
        /// Strikes of the board.
        strikes: Vec<Price>,
    },
    /// One feed's spot observation.
    OraclePrice {
        /// Feed name.
        source: String,
        /// Asset.
        asset: String,
        /// Price in the quote asset.
        price: Price,
        /// Confidence interval as a fraction of price (e.g. `0.001`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confidence: Option<Ratio>,
    },
    /// One feed's vol slice for an expiry.
    OracleVol {
        /// Feed name.
        source: String,
        /// Asset.
        underlying: String,
        /// Expiry date, e.g. `27DEC24`.
        expiry: String,
        /// Raw SVI slice in total variance against k = ln(K/F).
        svi: SviParams,
    },
    /// Queue LP capital.
    LpDeposit {
        /// Pool name.
        pool: String,
        /// LP name.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Amount of the quote asset.
        amount: Quote,
    },
    /// Queue an LP exit.
    LpWithdraw {
        /// Pool name.
        pool: String,
        /// LP name.
        lp: String,
        /// Tranche.
        tranche: Tranche,
        /// Shares to redeem.
        shares: Shares,
    },
    /// Trader collateral in.
    Deposit {
        /// Account name.
        account: String,
        /// Asset.
        asset: String,
        /// Amount in the asset's units.
        amount: Quote,
    },
    /// Trader collateral out.
    Withdraw {
        /// Account name.
        account: String,
        /// Asset.
        asset: String,
        /// Amount in the asset's units.
        amount: Quote,
    },
    /// An option or perp trade against the pool.
    Trade {
        /// Pool name.
        pool: String,
        /// Account name.
        account: String,
        /// Deribit-style name: `BTC-27DEC24-50000-C` or `BTC-PERP`.
        instrument: String,
        /// Buy or sell.
        side: Side,
        /// Size in underlying units.
        size: Base,
        /// Worst acceptable price per unit, fees included (buy: at most; sell: at least).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_price: Option<Price>,
    },
    /// Liquidates an unhealthy account (DESIGN.md §5.8; [`crate::liquidation`]).
    Liquidate {
        /// Pool credited with the pool share of the penalty.
        pool: String,
        /// Liquidator account (takes over part of the account).
        liquidator: String,
        /// Account to liquidate.
        account: String,
        /// Most base units of the account's largest position to take over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<Base>,
    },
    /// Chooses isolated or portfolio margin for an account with no open positions.
    SetMarginMode {
        /// Account.
        account: String,
        /// `isolated` or `portfolio`.
        mode: crate::margin::MarginMode,
    },
    /// Sets the settlement price of a board that found none (bounded; [`crate::settlement`]).
    SettlementOverride {
        /// Pool.
        pool: String,
        /// Asset.
        underlying: String,
        /// Expiry code.
        expiry: String,
        /// Settlement price.
        price: Price,
    },
    /// Lets time-driven work happen: funding, queues, expiries, breakers, cache refresh.
    Tick {},
    /// An external hedge trade was done (DESIGN.md §5.10; [`crate::hedger`]).
    HedgeFill {
        /// Pool.
        pool: String,
        /// Venue name.
        venue: String,
        /// Asset hedged.
        underlying: String,
        /// Signed size, base units (+ bought).
        size: Base,
        /// Fill price in the pool's quote asset.
        price: Price,
        /// Fee paid to the venue, quote.
        fee: Quote,
    },
    /// Genesis allocation of governance tokens ([`crate::governance`]).
    GovernanceGrant {
        /// Account.
        account: String,
        /// Tokens (18 decimals).
        amount: Quote,
    },
    /// Moves governance tokens.
    GovernanceTransfer {
        /// Sender.
        from: String,
        /// Receiver.
        to: String,
        /// Tokens.
        amount: Quote,
    },
    /// A governance proposal: `param` and `value`, or an `action`; numbered 1, 2, 3, ….
    Propose {
        /// Target pool.
        pool: String,
        /// Proposer (needs a token balance).
        proposer: String,
        /// Parameter to change.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<String>,
        /// Its new value.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<crate::params::ParamValue>,
        /// Or another action (roles, council bounds).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        action: Option<crate::governance::ProposalAction>,
    },
    /// A token-weighted vote.
    Vote {
        /// Proposal number.
        proposal: u64,
        /// Voter.
        voter: String,
        /// For (true) or against (false).
        support: bool,
    },
    /// Applies a passed proposal after its timelock.
    Execute {
        /// Proposal number.
        proposal: u64,
    },
    /// A risk-council member moves a parameter within the council's bounds.
    CouncilSet {
        /// Pool.
        pool: String,
        /// Council member.
        member: String,
        /// Parameter.
        param: String,
        /// New value.
        value: crate::params::ParamValue,
        /// Why (kept in the log).
        reason: String,
    },
    /// An emergency member moves a parameter in its risk-reducing direction only.
    EmergencySet {
        /// Pool.
        pool: String,
        /// Emergency member.
        member: String,
        /// Parameter (`paused`, `reduce_only` or a cap).
        param: String,
        /// New value.
        value: crate::params::ParamValue,
        /// Why (kept in the log).
        reason: String,
    },
}

/// The fields of a `trade` command, borrowed, as the option and perp markets take them.
#[derive(Debug, Clone, Copy)]
pub struct TradeRequest<'a> {
    /// Pool name.
    pub pool: &'a str,
    /// Account name.
    pub account: &'a str,
    /// Instrument name.
    pub instrument: &'a str,
    /// Buy or sell.
    pub side: Side,
    /// Size in underlying units.
    pub size: Base,
    /// Worst acceptable price per unit, fees included.
    pub limit_price: Option<Price>,
}

impl CommandKind {
    /// The snake_case `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            CommandKind::CreatePool { .. } => "create_pool",
            CommandKind::ListUnderlying { .. } => "list_underlying",
            CommandKind::ListExpiry { .. } => "list_expiry",
            CommandKind::OraclePrice { .. } => "oracle_price",
            CommandKind::OracleVol { .. } => "oracle_vol",
            CommandKind::LpDeposit { .. } => "lp_deposit",
            CommandKind::LpWithdraw { .. } => "lp_withdraw",
            CommandKind::Deposit { .. } => "deposit",
            CommandKind::Withdraw { .. } => "withdraw",
            CommandKind::Trade { .. } => "trade",
            CommandKind::Tick {} => "tick",
            CommandKind::Liquidate { .. } => "liquidate",
            CommandKind::SetMarginMode { .. } => "set_margin_mode",
            CommandKind::SettlementOverride { .. } => "settlement_override",
            CommandKind::HedgeFill { .. } => "hedge_fill",
            CommandKind::GovernanceGrant { .. } => "governance_grant",
            CommandKind::GovernanceTransfer { .. } => "governance_transfer",
            CommandKind::Propose { .. } => "propose",
            CommandKind::Vote { .. } => "vote",
            CommandKind::Execute { .. } => "execute",
            CommandKind::CouncilSet { .. } => "council_set",
            CommandKind::EmergencySet { .. } => "emergency_set",
        }
    }
}

impl Command {
    /// Parses one JSONL line.
    pub fn from_json(line: &str) -> Result<Command, serde_json::Error> {
        serde_json::from_str(line)
    }
    /// One JSON line (no trailing newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("commands always serialise")
    }
}
