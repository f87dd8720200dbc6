//! Pool parameters: every number a mechanism uses, with its default, hard bounds, unit and
//! meaning (DESIGN.md §5.12). The table below is the single source: `derivpool params` prints it,
//! `create_pool`/`list_underlying` overrides are checked against it, and governance (a later
//! issue) will change values only inside these bounds.
//!
//! A pool holds one [`Params`]; each underlying listed in it starts from a copy of the pool's
//! values plus its own overrides, so that per-market numbers (`skew_scale`, `standard_size`, ...)
//! can differ between BTC and ETH.

use derivpool_types::{Base, Ratio, Shares};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Parameter overrides as they travel in commands: name → decimal string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ParamOverrides(pub BTreeMap<String, ParamValue>);

impl ParamOverrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One override value: a decimal string (JSON integers accepted too).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ParamValue(pub String);

impl<'de> Deserialize<'de> for ParamValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(ParamValue(s)),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => {
                Ok(ParamValue(n.to_string()))
            }
            other => Err(serde::de::Error::custom(format!(
                "parameter values are decimal strings, got {other}"
            ))),
        }
    }
}

/// A parameter change that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// No parameter has that name.
    #[error("unknown parameter {0:?} (see `derivpool params`)")]
    Unknown(String),
    /// The value does not parse.
    #[error("parameter {name}: {value:?} is not a valid {unit} value")]
    Invalid {
        /// Parameter name.
        name: &'static str,
        /// The text given.
        value: String,
        /// The parameter's unit.
        unit: &'static str,
    },
    /// The value is outside the hard bounds.
    #[error("parameter {name} = {value} is outside its bounds [{min}, {max}]")]
    OutOfBounds {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: String,
        /// Lower bound.
        min: &'static str,
        /// Upper bound.
        max: &'static str,
    },
}

/// Description of one parameter, for `derivpool params` and the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    /// snake_case name.
    pub name: &'static str,
    /// Default value.
    pub default: &'static str,
    /// Lowest allowed value.
    pub min: &'static str,
    /// Highest allowed value.
    pub max: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// Mechanism it belongs to.
    pub mechanism: &'static str,
    /// What it does.
    pub meaning: &'static str,
}

macro_rules! params {
    ($( $mech:literal $name:ident : $ty:ty = $default:literal, [$min:literal, $max:literal], $unit:literal, $meaning:literal; )*) => {
        /// The values of every parameter (see the module table). A stored state without a
        /// newer parameter reads it at its default.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct Params {
            $(
                #[doc = $meaning]
                pub $name: $ty,
            )*
        }

        impl Default for Params {
            fn default() -> Self {
                Params {
                    $( $name: <$ty>::from_str($default).expect(concat!("default of ", stringify!($name))), )*
                }
            }
        }

        /// Every parameter, in mechanism order.
        pub const PARAM_SPECS: &[ParamSpec] = &[
            $( ParamSpec {
                name: stringify!($name),
                default: $default,
                min: $min,
                max: $max,
                unit: $unit,
                mechanism: $mech,
                meaning: $meaning,
            }, )*
        ];

        impl Params {
            /// Sets one parameter from its decimal text, within its hard bounds.
            pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
                match name {
                    $( stringify!($name) => {
                        let invalid = || ParamError::Invalid {
                            name: stringify!($name),
                            value: value.to_string(),
                            unit: $unit,
                        };
                        let v = <$ty>::from_str(value).map_err(|_| invalid())?;
                        let min = <$ty>::from_str($min).expect("bound parses");
                        let max = <$ty>::from_str($max).expect("bound parses");
                        if v < min || v > max {
                            return Err(ParamError::OutOfBounds {
                                name: stringify!($name),
                                value: value.to_string(),
                                min: $min,
                                max: $max,
                            });
                        }
                        self.$name = v;
                        Ok(())
                    } )*
                    _ => Err(ParamError::Unknown(name.to_string())),
                }
            }

            /// The current value of a parameter as text.
            pub fn get(&self, name: &str) -> Option<String> {
                match name {
                    $( stringify!($name) => Some(self.$name.to_string()), )*
                    _ => None,
                }
            }

            /// Every (name, value) pair in table order.
            pub fn values(&self) -> Vec<(&'static str, String)> {
                vec![ $( (stringify!($name), self.$name.to_string()), )* ]
            }
        }
    };
}

params! {
    "option skew" standard_size: Base = "5", ["0.0001", "1000000000"], "base units",
        "trade size that moves the board's base IV by one vol point (Lyra standardSize)";
    "option skew" skew_adjustment_factor: Ratio = "0.75", ["0", "10"], "ratio",
        "how much a strike's skew ratio moves per unit of base IV move";
    "option skew" trade_slices_max: u64 = "16", ["1", "256"], "slices",
        "most slices a large trade is priced in (each slice sees its predecessors' vol impact)";
    "option skew" base_iv_offset_max: Ratio = "0.5", ["0", "5"], "vol",
        "largest absolute base-IV offset a board may reach";
    "option skew" skew_ratio_min: Ratio = "0.5", ["0.01", "1"], "ratio",
        "lowest skew ratio a strike may reach";
    "option skew" skew_ratio_max: Ratio = "2", ["1", "100"], "ratio",
        "highest skew ratio a strike may reach";
    "option skew" vol_min: Ratio = "0.05", ["0.001", "1"], "vol",
        "lowest trading vol accepted";
    "option skew" vol_max: Ratio = "5", ["0.1", "50"], "vol",
        "highest trading vol accepted";
    "option skew" gwav_period_s: u64 = "43200", ["0", "2592000"], "seconds",
        "period of the geometric time-weighted average of base IV and skew used for marks";
    "option fees" option_price_fee_coefficient: Ratio = "0.01", ["0", "0.5"], "ratio",
        "c1: option-price fee = c1 × tw(T) × premium";
    "option fees" spot_fee_coefficient: Ratio = "0.01", ["0", "0.1"], "ratio",
        "c2: spot fee = c2 × tw(T) × spot × size";
    "option fees" fee_time_weight_start_days: u64 = "42", ["0", "3650"], "days",
        "tw(T) = 1 up to this many days to expiry";
    "option fees" fee_time_weight_end_days: u64 = "112", ["1", "3650"], "days",
        "tw(T) reaches its maximum at this many days";
    "option fees" fee_time_weight_max: Ratio = "2", ["1", "10"], "ratio",
        "maximum of tw(T)";
    "option fees" vega_fee_coefficient: Ratio = "100", ["0", "1000000"], "ratio",
        "vega-utilisation fee = coefficient × vol × |post-trade net std vega| / NAV × size";
    "option fees" utilisation_markup_kink: Ratio = "0.5", ["0", "0.99"], "ratio",
        "utilisation below which the premium markup C(u) is 1";
    "option fees" utilisation_markup_max: Ratio = "0.2", ["0", "2"], "ratio",
        "C(u) − 1 at full utilisation (linear from the kink)";
    "option limits" trading_cutoff_s: u64 = "43200", ["0", "604800"], "seconds",
        "before expiry, only closing trades are accepted within this window";
    "option limits" delta_min: Ratio = "0.15", ["0", "0.5"], "ratio",
        "opening trades need the strike's call delta at least this";
    "option limits" delta_max: Ratio = "0.85", ["0.5", "1"], "ratio",
        "opening trades need the strike's call delta at most this";
    "option collateral" short_call_spot_shock: Ratio = "1.2", ["1", "10"], "ratio",
        "spot multiple at which a trader's short call is valued for its minimum collateral";
    "option collateral" short_put_spot_shock: Ratio = "0.8", ["0.01", "1"], "ratio",
        "spot multiple at which a trader's short put is valued for its minimum collateral";
    "option collateral" short_vol_shock_near: Ratio = "2.5", ["1", "10"], "ratio",
        "vol multiple for shorts with two weeks or less to expiry";
    "option collateral" short_vol_shock_far: Ratio = "1.8", ["1", "10"], "ratio",
        "vol multiple for shorts with eight weeks or more (linear in between)";
    "option collateral" short_collateral_floor: Ratio = "0.05", ["0", "1"], "fraction of spot",
        "static floor of a short's collateral per contract, as a fraction of spot";
    "perp" skew_scale: Base = "10000", ["0.001", "1000000000000"], "base units",
        "skew at which the fill premium is 100 % and the funding velocity is at its maximum";
    "perp" perp_fee_rate: Ratio = "0.0005", ["0", "0.05"], "fraction of notional",
        "taker fee on every perp fill";
    "perp" max_funding_velocity: Ratio = "0.03", ["0", "10"], "per day per day",
        "how fast the daily funding rate drifts at full skew";
    "perp" max_funding_rate: Ratio = "0.096", ["0", "1"], "per day",
        "cap on the absolute daily funding rate (0.4 %/hour)";
    "perp" borrow_optimal_utilisation: Ratio = "0.75", ["0.01", "1"], "ratio",
        "kink of the borrow-rate curve";
    "perp" borrow_rate_base: Ratio = "0.5", ["0", "10"], "per year",
        "borrow rate at full use on the line below the kink";
    "perp" borrow_rate_max: Ratio = "1.2", ["0", "20"], "per year",
        "borrow rate at full utilisation (linear from the kink)";
    "perp" perp_open_interest_cap: Ratio = "1", ["0", "100"], "fraction of NAV",
        "open-interest notional cap per side";
    "perp" reserve_factor: Ratio = "0.9", ["0", "1"], "fraction of pool value",
        "reserved notional (|skew| × price) may not exceed this share of the pool";
    "perp" perp_initial_margin: Ratio = "0.1", ["0.001", "1"], "fraction of notional",
        "initial margin of a perp position";
    "perp" perp_maintenance_margin: Ratio = "0.05", ["0.001", "1"], "fraction of notional",
        "maintenance margin of a perp position";
    "perp" perp_margin_size_factor: Ratio = "0.1", ["0", "10"], "ratio",
        "extra margin fraction per skew_scale of position size (larger positions need more)";
    "vault" deposit_delay_s: u64 = "259200", ["0", "7776000"], "seconds",
        "how long an LP deposit waits in the queue";
    "vault" withdrawal_delay_s: u64 = "259200", ["0", "7776000"], "seconds",
        "how long an LP withdrawal waits in the queue";
    "vault" withdrawal_fee_rate: Ratio = "0.003", ["0", "0.1"], "fraction",
        "fee on processed withdrawals, left to the remaining LPs";
    "vault" dead_shares: Shares = "0.001", ["0", "1000"], "shares",
        "shares minted to nobody at each tranche's genesis";
    "vault" junior_weight: Ratio = "2", ["1", "10"], "ratio",
        "junior's share of gains per unit of capital relative to senior";
    "vault" junior_min_ratio: Ratio = "0.1", ["0", "10"], "fraction of senior",
        "junior capital must stay above this fraction of senior for new risk to be written";
    "vault" queue_entries_max: u64 = "10000", ["1", "1000000"], "entries",
        "most entries a deposit or withdrawal queue holds";
    "breakers" breaker_free_liquidity: Ratio = "0.01", ["0", "1"], "fraction of NAV",
        "LP flows pause when free liquidity is below this";
    "breakers" breaker_liquidity_s: u64 = "259200", ["0", "2592000"], "seconds",
        "how long the liquidity breaker holds";
    "breakers" breaker_iv_variance: Ratio = "0.1", ["0", "10"], "vol",
        "LP flows pause when a board's base IV differs from its GWAV by more than this";
    "breakers" breaker_skew_variance: Ratio = "0.35", ["0", "10"], "ratio",
        "LP flows pause when a skew ratio differs from its GWAV by more than this";
    "breakers" breaker_variance_s: u64 = "43200", ["0", "2592000"], "seconds",
        "how long the IV and skew breakers hold";
    "breakers" breaker_settlement_s: u64 = "21600", ["0", "2592000"], "seconds",
        "how long LP flows pause after a settlement";
    "greek cache" greek_cache_max_age_s: u64 = "10800", ["60", "604800"], "seconds",
        "the cache is stale this long after its last refresh";
    "greek cache" greek_cache_max_spot_move: Ratio = "0.05", ["0.001", "1"], "fraction",
        "the cache is stale after a spot move this large since its last refresh";
    "greek cache" scenario_refresh_move: Ratio = "0.01", ["0", "0.05"], "fraction",
        "a refresh re-prices a strike's stress-scenario values when spot has moved this much since they were priced (0: every refresh)";
    "greek cache" scenario_refresh_vol: Ratio = "0.01", ["0", "0.2"], "vol",
        "… or its mark vol has moved this much (absolute; 0: every refresh)";
    "oracle" spot_heartbeat_s: u64 = "60", ["1", "86400"], "seconds",
        "a spot observation is stale after this long";
    "oracle" vol_heartbeat_s: u64 = "1200", ["1", "604800"], "seconds",
        "a vol slice is stale after this long";
    "settlement" settlement_price_max_age_s: u64 = "3600", ["0", "86400"], "seconds",
        "the settlement price is the last median at or before expiry, no older than this";
    "pricing" rate: Ratio = "0", ["-0.5", "1"], "per year",
        "continuously compounded rate; forward F = spot × e^(rT)";
    "hedger" hedge_band: Ratio = "0.05", ["0", "1"], "fraction of |delta|",
        "rebalance when |target − (hedge + pending)| exceeds this share of the pool's absolute delta";
    "hedger" hedge_delay_s: u64 = "3600", ["0", "604800"], "seconds",
        "interaction delay: least time between hedge orders (and before a pending order is re-issued)";
    "hedger" hedge_threshold: Ratio = "0.1", ["0", "10"], "fraction of NAV",
        "a gap whose notional exceeds this is hedged at once, inside the delay";
    "hedger" hedge_cap: Ratio = "1", ["0", "10"], "fraction of NAV",
        "largest hedge position notional; the target is clamped to it";
    "hedger" hedge_order_min: Base = "0.0001", ["0", "1000000"], "base units",
        "smallest hedge order sent";
    "hedger" hedge_venue_capacity: Ratio = "1.5", ["0", "100"], "fraction of NAV",
        "a trade that leaves more unhedged delta notional than this is rejected";
    "governance" governance_voting_period_s: u64 = "259200", ["3600", "2592000"], "seconds",
        "how long a proposal is open for votes";
    "governance" governance_timelock_s: u64 = "172800", ["3600", "2592000"], "seconds",
        "delay between the end of voting and execution";
    "governance" governance_quorum: Ratio = "0.04", ["0.01", "1"], "fraction of supply",
        "votes cast (for + against) a proposal needs to pass";
    "governance" governance_proposal_threshold: Ratio = "0", ["0", "0.5"], "fraction of supply",
        "balance a proposer needs (besides a non-zero one)";
    "controls" paused: u64 = "0", ["0", "1"], "flag",
        "1: trades and LP deposits are rejected";
    "controls" reduce_only: u64 = "0", ["0", "1"], "flag",
        "1: only trades that reduce the trader's position are accepted";
    "margin" collateral_haircut_initial: Ratio = "0.8", ["0", "1"], "ratio",
        "value of a non-quote collateral asset for initial margin, per unit of its oracle value";
    "margin" collateral_haircut_maintenance: Ratio = "0.9", ["0", "1"], "ratio",
        "value of a non-quote collateral asset for maintenance margin";
    "margin" margin_initial_multiple: Ratio = "1.25", ["1", "10"], "ratio",
        "initial requirement = this × maintenance requirement";
    "margin" scenario_spot_max: Ratio = "0.2", ["0.01", "0.9"], "fraction",
        "portfolio margin spot shocks run from −this to +this";
    "margin" scenario_spot_step: Ratio = "0.05", ["0.01", "0.5"], "fraction",
        "step between spot shocks";
    "margin" scenario_vol_up: Ratio = "0.6", ["0", "10"], "ratio",
        "vol shock up = 1 + this × m, m = (30 days / T)^p";
    "margin" scenario_vol_down: Ratio = "0.3", ["0", "1"], "ratio",
        "vol shock down = max(0, 1 − this × m)";
    "margin" scenario_tail_down: Ratio = "0.5", ["0", "0.99"], "fraction",
        "tail scenario: spot falls by this";
    "margin" scenario_tail_up: Ratio = "1", ["0", "10"], "fraction",
        "tail scenario: spot rises by this";
    "margin" scenario_tail_weight: Ratio = "0.5", ["0", "1"], "ratio",
        "damping of tail-scenario losses";
    "margin" static_short_charge: Ratio = "0.02", ["0", "1"], "fraction of spot",
        "static charge per naked short option contract";
    "margin" static_perp_charge: Ratio = "0.03", ["0", "1"], "fraction of notional",
        "static charge per unit of perp notional";
    "margin" confidence_charge_threshold: Ratio = "0.005", ["0", "1"], "fraction",
        "oracle confidence above which the confidence × notional is charged";
    "margin" upnl_initial_cap: Ratio = "0.1", ["0", "1"], "fraction of collateral",
        "most unrealised perp profit that counts toward initial margin";
    "liquidation" liquidation_start: Ratio = "0.95", ["0.5", "1"], "fraction of equity",
        "Dutch auction bid at the start, per unit of the account's equity";
    "liquidation" liquidation_end: Ratio = "0.7", ["0", "1"], "fraction of equity",
        "lowest bid, reached after liquidation_auction_s";
    "liquidation" liquidation_auction_s: u64 = "900", ["1", "86400"], "seconds",
        "how long the bid takes to fall from start to end";
    "liquidation" liquidation_buffer: Ratio = "0.1", ["0", "1"], "fraction",
        "extra share liquidated beyond what restores health exactly";
    "liquidation" penalty_liquidator_share: Ratio = "0.4", ["0", "1"], "fraction",
        "share of the liquidation discount kept by the liquidator";
    "liquidation" penalty_insurance_share: Ratio = "0.3", ["0", "1"], "fraction",
        "share of the discount paid to the insurance fund (the pool gets the rest)";
    "adl" adl_trigger: Ratio = "0.45", ["0.01", "10"], "fraction of NAV",
        "auto-deleveraging starts when traders' unrealised perp profit exceeds this";
    "adl" adl_target: Ratio = "0.4", ["0.01", "10"], "fraction of NAV",
        "auto-deleveraging reduces positions until profit is back under this";
    "pool risk" pool_stress_maintenance: Ratio = "0.5", ["0.01", "1"], "fraction of NAV",
        "the pool's worst scenario loss above this is reported as a breach";
    "pool risk" pool_stress_new_risk: Ratio = "0.35", ["0.01", "1"], "fraction of NAV",
        "a trade that leaves the pool's worst scenario loss above this is rejected unless it reduces it";
    "pool risk" utilisation_cap: Ratio = "0.8", ["0.01", "1"], "ratio",
        "new risk is rejected when utilisation after the trade would exceed this";
    "pool risk" expiry_exposure_cap: Ratio = "0.6", ["0.01", "1"], "fraction of NAV",
        "collateral the pool locks for one expiry may not exceed this";
    "pool risk" strike_exposure_cap: Ratio = "0.3", ["0.01", "1"], "fraction of NAV",
        "collateral the pool locks for one strike may not exceed this";
    "oracle" oracle_max_confidence: Ratio = "0.02", ["0", "1"], "fraction",
        "trading needs the fresh sources' median confidence under this";
    "oracle" twap_window_s: u64 = "600", ["60", "86400"], "seconds",
        "window of the median's time-weighted average";
    "oracle" twap_max_divergence: Ratio = "0.1", ["0.001", "1"], "fraction",
        "trading needs the median within this of the TWAP";
    "oracle" oracle_breaker_jump: Ratio = "0.15", ["0.01", "1"], "fraction",
        "a jump between consecutive medians above this trips the oracle breaker";
    "oracle" oracle_breaker_s: u64 = "600", ["0", "86400"], "seconds",
        "the oracle breaker holds at least this long, and until the median is back near its TWAP";
    "settlement" settlement_override_delay_s: u64 = "3600", ["0", "604800"], "seconds",
        "a governance override may set a waiting board's price this long after expiry";
    "settlement" settlement_override_band: Ratio = "0.1", ["0", "1"], "fraction",
        "an override price must lie within this of the last median before expiry";
}

impl Params {
    /// Applies overrides in name order; the first failure stops and changes nothing.
    pub fn with_overrides(&self, overrides: &ParamOverrides) -> Result<Params, ParamError> {
        let mut p = self.clone();
        for (name, value) in &overrides.0 {
            p.set(name, &value.0)?;
        }
        Ok(p)
    }
}

impl fmt::Display for ParamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {} [{}, {}] {}: {}",
            self.name, self.default, self.min, self.max, self.unit, self.meaning
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_lie_within_their_bounds() {
        let p = Params::default();
        for spec in PARAM_SPECS {
            let mut q = p.clone();
            q.set(spec.name, spec.default)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(q, p);
        }
    }

    #[test]
    fn out_of_bounds_and_unknown_are_refused() {
        let mut p = Params::default();
        assert!(matches!(
            p.set("withdrawal_fee_rate", "0.5"),
            Err(ParamError::OutOfBounds { .. })
        ));
        assert!(matches!(p.set("nope", "1"), Err(ParamError::Unknown(_))));
        assert!(matches!(
            p.set("deposit_delay_s", "1.5"),
            Err(ParamError::Invalid { .. })
        ));
        assert_eq!(p, Params::default());
    }
}
