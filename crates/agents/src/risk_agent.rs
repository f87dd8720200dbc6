//! The risk agent (DESIGN.md §5.12): an automated member of a pool's risk council. It watches
//! the pool's metrics and moves parameters **only** through `council_set` commands, each with a
//! `reason`, so every action is in the log and the engine checks it against the council's
//! bounds like any other member's.
//!
//! Rules, evaluated in this order on every observation of a pool ([`RiskAgentConfig`] holds
//! every threshold and factor; defaults in brackets):
//!
//! | rule | trigger | action |
//! |---|---|---|
//! | `vega` | \|net std vega\| / NAV > `vega_concentration_max` [0.005] | `vega_fee_coefficient` × `fee_widen_factor` [1.5] |
//! | `insurance` | insurance fund / NAV < `insurance_fund_min` [0.01] while perp open interest > 0 | `perp_open_interest_cap` × `oi_cap_factor` [0.8] |
//! | `vol_spike` | mark vol / previous mark vol − 1 > `vol_spike_min` [0.25] | `utilisation_cap` × `utilisation_cap_factor` [0.85] |
//! | `gap` | max over underlyings \|spot / previous spot − 1\| > `gap_min` [0.08] | `hedge_delay_s` × `hedge_delay_factor` [0.25] (hedge sooner) |
//!
//! "Previous" is the agent's previous observation of the same pool, so the first observation
//! can only trigger `vega` and `insurance`. The new value is clamped into the council's bounds
//! for the parameter (fees widen rounding up, caps and delays tighten rounding down, the delay
//! to whole seconds). No command is issued when the council has no bounds for the parameter or
//! the clamped value equals the current one. Each rule acts at most once per `cooldown_s`
//! [6 h] per pool, so a persisting condition does not ratchet a parameter every step. The agent
//! never relaxes a parameter: undoing its moves is a decision for the council or governance.

use derivpool_engine::metrics::PoolMetrics;
use derivpool_engine::params::Params;
use derivpool_engine::state::State;
use derivpool_engine::{nav, params::ParamValue, Command, CommandKind, Engine};
use derivpool_types::{Fixed, Ratio, Rounding};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Thresholds and factors of the rules (module table). Reads from JSON with every field
/// optional (missing ones take their defaults); factors are decimal strings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RiskAgentConfig {
    /// Council member name the agent acts as.
    pub member: String,
    /// `vega` fires above this |net std vega| / NAV.
    pub vega_concentration_max: f64,
    /// `vega` multiplies `vega_fee_coefficient` by this.
    pub fee_widen_factor: Ratio,
    /// `insurance` fires below this insurance fund / NAV.
    pub insurance_fund_min: f64,
    /// `insurance` multiplies `perp_open_interest_cap` by this.
    pub oi_cap_factor: Ratio,
    /// `vol_spike` fires above this relative rise of the mark vol between observations.
    pub vol_spike_min: f64,
    /// `vol_spike` multiplies `utilisation_cap` by this.
    pub utilisation_cap_factor: Ratio,
    /// `gap` fires above this relative spot move between observations.
    pub gap_min: f64,
    /// `gap` multiplies `hedge_delay_s` by this.
    pub hedge_delay_factor: Ratio,
    /// Least time between two actions of one rule on one pool, seconds.
    pub cooldown_s: u64,
}

impl Default for RiskAgentConfig {
    fn default() -> Self {
        let r = |s: &str| Ratio::from_str(s).expect("literal ratio");
        RiskAgentConfig {
            member: "risk_agent".to_string(),
            vega_concentration_max: 0.005,
            fee_widen_factor: r("1.5"),
            insurance_fund_min: 0.01,
            oi_cap_factor: r("0.8"),
            vol_spike_min: 0.25,
            utilisation_cap_factor: r("0.85"),
            gap_min: 0.08,
            hedge_delay_factor: r("0.25"),
            cooldown_s: 6 * 3_600,
        }
    }
}

/// What the agent sees of one pool at one time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// Time, unix seconds.
    pub t: u64,
    /// Pool.
    pub pool: String,
    /// NAV, quote.
    pub nav: f64,
    /// Net standardised vega, quote.
    pub net_std_vega: f64,
    /// Insurance fund, quote.
    pub insurance_fund: f64,
    /// Perp open interest, long + short, at mark, quote.
    pub open_interest_notional: f64,
    /// Mean mark vol over the strikes of unexpired boards, if any.
    pub mark_vol: Option<f64>,
    /// Spot (mark) per underlying.
    pub spots: BTreeMap<String, f64>,
    /// Current values (decimal text) of the parameters the rules move ([`RULE_PARAMS`]; the
    /// agent reads no others).
    pub params: BTreeMap<String, String>,
    /// Council bounds per parameter (min, max) as decimal text.
    pub council_bounds: BTreeMap<String, (String, String)>,
}

/// The parameters the rules move, in rule order (module table).
pub const RULE_PARAMS: [&str; 4] = [
    "vega_fee_coefficient",
    "perp_open_interest_cap",
    "utilisation_cap",
    "hedge_delay_s",
];

impl Observation {
    /// Reads a pool from an engine; `None` for an unknown pool.
    pub fn from_engine(engine: &Engine, pool: &str) -> Option<Observation> {
        let m = engine.metrics(pool)?;
        Observation::from_state(engine.state(), pool, &m)
    }

    /// Reads a pool from a state and the pool's metrics in that state (`engine.metrics(pool)`,
    /// for a caller that has them already); `None` for an unknown pool.
    pub fn from_state(state: &State, pool: &str, m: &PoolMetrics) -> Option<Observation> {
        let p = state.pools.get(pool)?;
        let mut spots = BTreeMap::new();
        let mut oi = 0.0;
        let (mut vol_sum, mut vol_n) = (0.0, 0u32);
        for (u, market) in &p.markets {
            if let Some(price) = nav::mark_price(state, u) {
                spots.insert(u.clone(), price.to_f64());
                let size = market.perp.long_oi.to_f64() + market.perp.short_oi.to_f64();
                oi += size * price.to_f64();
            }
            for b in market.boards.values() {
                if b.settled_price.is_some() || b.expiry_t <= state.t {
                    continue;
                }
                for s in b.strikes.values() {
                    if s.greeks.mark_vol > Ratio::ZERO {
                        vol_sum += s.greeks.mark_vol.to_f64();
                        vol_n += 1;
                    }
                }
            }
        }
        Some(Observation {
            t: state.t,
            pool: pool.to_string(),
            nav: m.nav.to_f64(),
            net_std_vega: m.net_std_vega.to_f64(),
            insurance_fund: m.insurance_fund.to_f64(),
            open_interest_notional: oi,
            mark_vol: (vol_n > 0).then(|| vol_sum / f64::from(vol_n)),
            spots,
            params: RULE_PARAMS
                .iter()
                .filter_map(|&k| Some((k.to_string(), rule_param_text(&p.params, k)?)))
                .collect(),
            council_bounds: state
                .governance
                .roles
                .get(pool)
                .map(|r| r.council_bounds.clone())
                .unwrap_or_default(),
        })
    }
}

/// `params.get(name)` for the [`RULE_PARAMS`], read from the typed fields (`Params::get` matches
/// the name against every parameter's).
fn rule_param_text(params: &Params, name: &str) -> Option<String> {
    Some(match name {
        "vega_fee_coefficient" => params.vega_fee_coefficient.to_string(),
        "perp_open_interest_cap" => params.perp_open_interest_cap.to_string(),
        "utilisation_cap" => params.utilisation_cap.to_string(),
        "hedge_delay_s" => params.hedge_delay_s.to_string(),
        other => return params.get(other),
    })
}

/// One rule's decision, before clamping.
struct Trigger {
    rule: &'static str,
    param: &'static str,
    factor: Ratio,
    /// Round the product up (widening) or down (tightening).
    up: bool,
    /// Whole numbers only (seconds).
    integer: bool,
    why: String,
}

/// What the rules compare with the previous observation of a pool.
#[derive(Debug, Clone)]
struct Previous {
    mark_vol: Option<f64>,
    spots: BTreeMap<String, f64>,
}

/// The risk agent: rules, their cooldowns, and the previous observation of each pool.
#[derive(Debug, Clone)]
pub struct RiskAgent {
    config: RiskAgentConfig,
    previous: BTreeMap<String, Previous>,
    /// Time of each rule's last action, per pool.
    last_action_t: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl RiskAgent {
    /// An agent with a configuration.
    pub fn new(config: RiskAgentConfig) -> RiskAgent {
        RiskAgent {
            config,
            previous: BTreeMap::new(),
            last_action_t: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RiskAgentConfig {
        &self.config
    }

    /// Applies the rules to an observation; the `council_set` commands to send (at `obs.t`).
    pub fn observe(&mut self, obs: &Observation) -> Vec<Command> {
        let c = &self.config;
        let last_actions = self.last_action_t.get(&obs.pool);
        // A rule still cooling down is skipped before its reason is written.
        let ready = |rule: &str| {
            last_actions
                .and_then(|m| m.get(rule))
                .is_none_or(|last| obs.t >= last.saturating_add(c.cooldown_s))
        };
        let mut triggers = Vec::new();
        if obs.nav > 0.0 {
            let conc = obs.net_std_vega.abs() / obs.nav;
            if conc > c.vega_concentration_max && ready("vega") {
                triggers.push(Trigger {
                    rule: "vega",
                    param: RULE_PARAMS[0],
                    factor: c.fee_widen_factor,
                    up: true,
                    integer: false,
                    why: format!(
                        "|net std vega| / NAV = {conc:.6} > {}",
                        c.vega_concentration_max
                    ),
                });
            }
            let cover = obs.insurance_fund / obs.nav;
            if obs.open_interest_notional > 0.0
                && cover < c.insurance_fund_min
                && ready("insurance")
            {
                triggers.push(Trigger {
                    rule: "insurance",
                    param: RULE_PARAMS[1],
                    factor: c.oi_cap_factor,
                    up: false,
                    integer: false,
                    why: format!(
                        "insurance fund / NAV = {cover:.6} < {} with open interest {:.2}",
                        c.insurance_fund_min, obs.open_interest_notional
                    ),
                });
            }
        }
        if let Some(prev) = self.previous.get(&obs.pool) {
            if let (Some(v0), Some(v1)) = (prev.mark_vol, obs.mark_vol) {
                let rise = v1 / v0 - 1.0;
                if v0 > 0.0 && rise > c.vol_spike_min && ready("vol_spike") {
                    triggers.push(Trigger {
                        rule: "vol_spike",
                        param: RULE_PARAMS[2],
                        factor: c.utilisation_cap_factor,
                        up: false,
                        integer: false,
                        why: format!(
                            "mark vol {v0:.4} → {v1:.4} (+{:.2} %) > {} %",
                            rise * 100.0,
                            c.vol_spike_min * 100.0
                        ),
                    });
                }
            }
            let gap = obs
                .spots
                .iter()
                .filter_map(|(u, s1)| {
                    let s0 = prev.spots.get(u)?;
                    (*s0 > 0.0).then(|| (u, (s1 / s0 - 1.0).abs()))
                })
                .fold(None::<(&String, f64)>, |best, (u, g)| match best {
                    Some((_, b)) if b >= g => best,
                    _ => Some((u, g)),
                });
            if let Some((u, g)) = gap {
                if g > c.gap_min && ready("gap") {
                    triggers.push(Trigger {
                        rule: "gap",
                        param: RULE_PARAMS[3],
                        factor: c.hedge_delay_factor,
                        up: false,
                        integer: true,
                        why: format!(
                            "{u} spot moved {:.2} % > {} %",
                            g * 100.0,
                            c.gap_min * 100.0
                        ),
                    });
                }
            }
        }
        let mut commands = Vec::new();
        for tr in triggers {
            let Some(value) = Self::new_value(obs, &tr) else {
                continue;
            };
            let old = &obs.params[tr.param];
            self.last_action_t
                .entry(obs.pool.clone())
                .or_default()
                .insert(tr.rule, obs.t);
            commands.push(Command {
                t: obs.t,
                kind: CommandKind::CouncilSet {
                    pool: obs.pool.clone(),
                    member: c.member.clone(),
                    param: tr.param.to_string(),
                    value: ParamValue(value.clone()),
                    reason: format!(
                        "risk agent rule {}: {}; {} {old} → {value}",
                        tr.rule, tr.why, tr.param
                    ),
                },
            });
        }
        let previous = Previous {
            mark_vol: obs.mark_vol,
            spots: obs.spots.clone(),
        };
        match self.previous.get_mut(&obs.pool) {
            Some(p) => *p = previous,
            None => {
                self.previous.insert(obs.pool.clone(), previous);
            }
        }
        commands
    }

    /// The clamped new value as text, or `None` when there is nothing to do.
    fn new_value(obs: &Observation, tr: &Trigger) -> Option<String> {
        let current = Ratio::from_str(obs.params.get(tr.param)?).ok()?;
        let (lo, hi) = obs.council_bounds.get(tr.param)?;
        let (lo, hi) = (Ratio::from_str(lo).ok()?, Ratio::from_str(hi).ok()?);
        let rounding = if tr.up { Rounding::Up } else { Rounding::Down };
        let mut v = current.mul_ratio(tr.factor, rounding).ok()?;
        if tr.integer {
            let whole = v.raw().div_euclid(derivpool_types::SCALE);
            v = Ratio::from_raw(whole * derivpool_types::SCALE);
        }
        let v = v.max(lo).min(hi);
        (v != current).then(|| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_parameters_read_from_fields_print_as_params_get() {
        let mut p = Params::default();
        for (name, value) in [
            ("vega_fee_coefficient", "123.456"),
            ("perp_open_interest_cap", "0.75"),
            ("utilisation_cap", "0.6"),
            ("hedge_delay_s", "900"),
        ] {
            p.set(name, value).unwrap();
        }
        for params in [Params::default(), p] {
            for name in RULE_PARAMS.iter().chain(&["delta_min", "no_such_param"]) {
                assert_eq!(rule_param_text(&params, name), params.get(name), "{name}");
            }
        }
    }
}
