//! Rejections: a well-formed command that breaks a rule changes nothing and is answered with a
//! stable snake_case code and a human message (DESIGN.md §2 invariant 4).

use derivpool_types::MathError;
use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! reject_codes {
    ($( $variant:ident => $code:literal, $doc:literal; )*) => {
        /// Stable reject codes. The string form is part of the public interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum RejectCode {
            $( #[doc = $doc] $variant, )*
        }

        impl RejectCode {
            /// Every code, for documentation and tests.
            pub const ALL: &'static [RejectCode] = &[ $( RejectCode::$variant, )* ];

            /// The snake_case code.
            pub fn as_str(self) -> &'static str {
                match self { $( RejectCode::$variant => $code, )* }
            }

            /// What the code means.
            pub fn meaning(self) -> &'static str {
                match self { $( RejectCode::$variant => $doc, )* }
            }
        }
    };
}

reject_codes! {
    TimeWentBackwards => "time_went_backwards", "the command's t is earlier than the previous command's";
    InvalidName => "invalid_name", "a pool, account, asset or source name is empty or too long";
    PoolExists => "pool_exists", "a pool with that name already exists";
    UnknownPool => "unknown_pool", "no pool has that name";
    InvalidParam => "invalid_param", "a parameter override is unknown, malformed or out of bounds";
    UnderlyingExists => "underlying_exists", "the underlying is already listed in the pool";
    UnknownUnderlying => "unknown_underlying", "the underlying is not listed in the pool";
    InvalidExpiry => "invalid_expiry", "the expiry code is malformed or already past";
    ExpiryExists => "expiry_exists", "the board is already listed";
    InvalidStrikes => "invalid_strikes", "strikes are empty, not positive, repeated or too many";
    UnknownInstrument => "unknown_instrument", "the instrument is malformed or not listed";
    UnknownOracleSource => "unknown_oracle_source", "the source is not allowed to report this asset";
    InvalidOracleValue => "invalid_oracle_value", "a price, confidence or SVI slice is not usable";
    StaleOracle => "stale_oracle", "no fresh oracle observation for the asset or expiry";
    InvalidAmount => "invalid_amount", "an amount or size is zero, negative or too large";
    InsufficientBalance => "insufficient_balance", "the account or LP does not hold enough";
    InsufficientCollateral => "insufficient_collateral", "the trade would leave the account under its margin";
    InsufficientLiquidity => "insufficient_liquidity", "the pool lacks free liquidity for this risk";
    TradingCutoff => "trading_cutoff", "only closing trades are accepted this close to expiry";
    BoardExpired => "board_expired", "the board has expired";
    DeltaOutOfRange => "delta_out_of_range", "an opening trade at a strike whose call delta is outside the band";
    VolOutOfBounds => "vol_out_of_bounds", "the trade would move the trading vol outside its bounds";
    SkewOutOfBounds => "skew_out_of_bounds", "the trade would move the base IV offset or skew ratio outside its bounds";
    LimitPriceCrossed => "limit_price_crossed", "the price per unit, fees included, is worse than limit_price";
    OpenInterestCap => "open_interest_cap", "the trade would exceed the perp open-interest cap";
    ReserveFactor => "reserve_factor", "the pool's reserved perp notional would exceed the reserve factor";
    GreekCacheStale => "greek_cache_stale", "the greek cache is stale; a tick must refresh it first";
    QueueFull => "queue_full", "the deposit or withdrawal queue is full";
    EmptyPool => "empty_pool", "the pool has no LP capital yet";
    JuniorTooThin => "junior_too_thin", "junior capital is below its minimum share of senior for new risk";
    Overflow => "overflow", "an amount overflowed the fixed-point range";
    GenerationUnsupported => "generation_unsupported", "the pool's generation does not support this command";
    HedgeCapacity => "hedge_capacity", "the trade would leave the pool more delta than the hedge venue can absorb";
    HedgeFillUnmatched => "hedge_fill_unmatched", "a hedge fill does not match the pending hedge order";
    UnknownProposal => "unknown_proposal", "no proposal has that number";
    NoVotingPower => "no_voting_power", "the proposer or voter holds (or held at proposal time) too few governance tokens";
    ProposalClosed => "proposal_closed", "voting has ended or the proposal was executed";
    AlreadyVoted => "already_voted", "the voter has voted on this proposal";
    ProposalNotReady => "proposal_not_ready", "the voting period or the timelock is not over";
    ProposalDefeated => "proposal_defeated", "the proposal missed its quorum or its majority";
    NotAuthorised => "not_authorised", "the member does not hold the council or emergency role of the pool";
    OutsideCouncilBounds => "outside_council_bounds", "the value is outside the bounds the owner gave the council";
    NotRiskReducing => "not_risk_reducing", "the emergency role may only pause, go reduce-only or lower caps";
    PoolPaused => "pool_paused", "the pool is paused";
    ReduceOnly => "reduce_only", "the pool is reduce-only and the trade does not reduce a position";
    OracleConfidence => "oracle_confidence", "the fresh sources' confidence is too wide for new risk";
    OracleDivergence => "oracle_divergence", "the median is too far from its TWAP for new risk";
    OracleBreaker => "oracle_breaker", "the oracle breaker holds after a jump between medians";
    PoolRiskLimit => "pool_risk_limit", "the pool's worst scenario loss would exceed its limit for new risk";
    UtilisationCap => "utilisation_cap", "the pool's utilisation would exceed its cap for new risk";
    ExposureCap => "exposure_cap", "the pool's locked collateral for one expiry or strike would exceed its cap";
    SelfLiquidation => "self_liquidation", "an account cannot liquidate itself";
    NotLiquidatable => "not_liquidatable", "the account is not under maintenance at both the median and the TWAP";
    LiquidatorConflict => "liquidator_conflict", "the liquidator holds a position opposite to one it would take over";
    LiquidatorUnhealthy => "liquidator_unhealthy", "the liquidator would end below initial health";
    PositionsOpen => "positions_open", "the margin mode cannot change while positions are open";
    OverrideNotAllowed => "override_not_allowed", "a settlement override is not allowed for this board now or at this price";
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected command: its code and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Reject {
    /// Stable code.
    pub code: RejectCode,
    /// Human explanation naming the offending field or value.
    pub message: String,
}

impl Reject {
    /// A reject with a code and a message.
    pub fn new(code: RejectCode, message: impl Into<String>) -> Reject {
        Reject {
            code,
            message: message.into(),
        }
    }
}

impl From<MathError> for Reject {
    fn from(e: MathError) -> Reject {
        Reject::new(RejectCode::Overflow, e.to_string())
    }
}

/// Shorthand for a reject with a formatted message.
#[macro_export]
macro_rules! reject {
    ($code:ident, $($arg:tt)*) => {
        $crate::reject::Reject::new($crate::reject::RejectCode::$code, format!($($arg)*))
    };
}
