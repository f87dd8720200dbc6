//! Governance: token votes on parameters, a risk council inside owner-set bounds, and an
//! emergency role that may only reduce risk (Lyra Newport governance wrappers, GMX v2 config
//! keeper bounds; DESIGN.md §5.12).
//!
//! Three powers, from strongest to weakest:
//!
//! | who | how | may change |
//! |---|---|---|
//! | token holders (the owner) | `propose` → `vote` → `execute` | any parameter within its hard bounds ([`crate::params`]); council and emergency membership; the council's bounds |
//! | risk council member | `council_set` | a parameter the owner gave council bounds to, within those bounds (and the hard bounds) |
//! | emergency member | `emergency_set` | only in the risk-reducing direction of [`RISK_REDUCING`]: pause, reduce-only, lower caps — never raise a limit |
//!
//! Commands (fields besides `t`; amounts are decimal strings):
//!
//! | type | fields | what it does |
//! |---|---|---|
//! | `governance_grant` | `account`, `amount` | mints governance tokens (genesis allocation) |
//! | `governance_transfer` | `from`, `to`, `amount` | moves tokens |
//! | `propose` | `pool`, `proposer`, `param` + `value`, or `action` | a proposal, numbered 1, 2, 3, … |
//! | `vote` | `proposal`, `voter`, `support` | votes with the voter's balance at proposal time |
//! | `execute` | `proposal` | applies a passed proposal once voting and the timelock are over |
//! | `council_set` | `pool`, `member`, `param`, `value`, `reason` | a council change within bounds |
//! | `emergency_set` | `pool`, `member`, `param`, `value`, `reason` | a risk-reducing change |
//!
//! `action` is one of `{"type": "set_param", "param", "value"}`, `{"type": "council_add",
//! "member"}`, `{"type": "council_remove", "member"}`, `{"type": "council_bounds", "param",
//! "min", "max"}`, `{"type": "emergency_add", "member"}`, `{"type": "emergency_remove",
//! "member"}` ([`ProposalAction`]).
//!
//! **Rules** (Compound Governor Bravo's lifecycle, with GMX-style bounds):
//! - a proposer needs a non-zero balance of at least `governance_proposal_threshold` × supply;
//! - a parameter value (or council bound) outside the parameter's hard bounds is rejected when
//!   *proposed*, not when executed;
//! - voting is open for `governance_voting_period_s` after the proposal; voting power is the
//!   balance at proposal time: the first time a balance changes while a proposal is open, its
//!   old value is recorded in that proposal, so tokens moved after the proposal vote once, from
//!   the account that held them (no double voting); one vote per voter;
//! - a proposal passes when for + against ≥ `governance_quorum` × supply at proposal time
//!   (default 4 %) and for > against; it may be executed `governance_timelock_s` (default 2
//!   days) after voting ends, once, by anyone;
//! - governance parameters are those of the target pool when proposed.
//!
//! A parameter change sets the pool's value and every listed market's value (a market's own
//! override is replaced) and emits `param_changed` with who changed it and why.
//!
//! **Controls.** `paused` = 1 rejects trades and LP deposits (`pool_paused`); `reduce_only` = 1
//! rejects any trade that does not reduce the trader's position (`reduce_only`). Both are
//! ordinary parameters: the emergency role may set them to 1; clearing them takes a proposal or
//! a council member with bounds for them.

use crate::command::{CommandKind, Side};
use crate::event::Event;
use crate::params::{ParamValue, Params};
use crate::reject::{Reject, RejectCode};
use crate::state::State;
use derivpool_types::{Base, Fixed, Quote, Ratio, Rounding};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;

/// Longest `reason` accepted on council and emergency changes, in bytes.
pub const REASON_LEN_MAX: usize = 512;

/// Which way a parameter moves to reduce risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RiskDirection {
    /// A higher value is safer (e.g. `paused` 0 → 1).
    Up,
    /// A lower value is safer (caps).
    Down,
}

/// The parameters the emergency role may move, and the only direction it may move them.
pub const RISK_REDUCING: &[(&str, RiskDirection)] = &[
    ("paused", RiskDirection::Up),
    ("reduce_only", RiskDirection::Up),
    ("perp_open_interest_cap", RiskDirection::Down),
    ("reserve_factor", RiskDirection::Down),
    ("utilisation_cap", RiskDirection::Down),
    ("expiry_exposure_cap", RiskDirection::Down),
    ("strike_exposure_cap", RiskDirection::Down),
    ("pool_stress_new_risk", RiskDirection::Down),
    ("hedge_venue_capacity", RiskDirection::Down),
];

/// What a proposal does when executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProposalAction {
    /// Sets a parameter of the pool (and of its markets).
    SetParam {
        /// Parameter name.
        param: String,
        /// New value.
        value: ParamValue,
    },
    /// Adds a risk-council member.
    CouncilAdd {
        /// Member name.
        member: String,
    },
    /// Removes a risk-council member.
    CouncilRemove {
        /// Member name.
        member: String,
    },
    /// Lets the council move `param` within [`min`, `max`] (inside the hard bounds).
    CouncilBounds {
        /// Parameter name.
        param: String,
        /// Lowest value the council may set.
        min: ParamValue,
        /// Highest value the council may set.
        max: ParamValue,
    },
    /// Adds an emergency-role member.
    EmergencyAdd {
        /// Member name.
        member: String,
    },
    /// Removes an emergency-role member.
    EmergencyRemove {
        /// Member name.
        member: String,
    },
}

/// Governance state: token balances, proposals and per-pool roles.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    /// Token balance per account (18 decimals).
    pub balances: BTreeMap<String, Quote>,
    /// Total supply.
    pub supply: Quote,
    /// Proposals by number (1, 2, 3, …).
    pub proposals: BTreeMap<u64, Proposal>,
    /// Council and emergency roles and council bounds per pool.
    pub roles: BTreeMap<String, PoolRoles>,
}

/// Roles of one pool.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolRoles {
    /// Risk-council members.
    pub council: BTreeSet<String>,
    /// Emergency-role members.
    pub emergency: BTreeSet<String>,
    /// Council bounds per parameter: (min, max) as canonical decimal text.
    pub council_bounds: BTreeMap<String, (String, String)>,
}

/// A proposal and its tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// Number.
    pub id: u64,
    /// Target pool.
    pub pool: String,
    /// Who proposed it.
    pub proposer: String,
    /// What it does.
    pub action: ProposalAction,
    /// When it was made (unix seconds).
    pub created_t: u64,
    /// Votes are accepted while t < this.
    pub voting_ends_t: u64,
    /// It may be executed from this time on.
    pub executable_t: u64,
    /// Supply at proposal time.
    pub supply: Quote,
    /// Votes (for + against) needed.
    pub quorum: Quote,
    /// Votes for.
    pub votes_for: Quote,
    /// Votes against.
    pub votes_against: Quote,
    /// Who voted.
    pub voters: BTreeSet<String>,
    /// Balances at proposal time of accounts whose balance changed since (vote-weight snapshot).
    pub snapshot: BTreeMap<String, Quote>,
    /// True once executed.
    pub executed: bool,
}

impl Governance {
    fn balance(&self, account: &str) -> Quote {
        self.balances.get(account).copied().unwrap_or(Quote::ZERO)
    }

    /// Records `account`'s current balance in every open proposal that has not recorded it,
    /// before the balance changes.
    fn remember(&mut self, account: &str, now: u64) {
        let bal = self.balance(account);
        for p in self.proposals.values_mut() {
            if now < p.voting_ends_t && !p.snapshot.contains_key(account) {
                p.snapshot.insert(account.to_string(), bal);
            }
        }
    }

    /// Voting power of `voter` on proposal `p`: its balance at proposal time.
    pub fn power(&self, p: &Proposal, voter: &str) -> Quote {
        p.snapshot
            .get(voter)
            .copied()
            .unwrap_or_else(|| self.balance(voter))
    }
}

fn param_err(e: crate::params::ParamError) -> Reject {
    Reject::new(RejectCode::InvalidParam, e.to_string())
}

/// A decimal parameter value as a comparable number.
fn decimal(text: &str) -> Option<Ratio> {
    Ratio::from_str(text).ok()
}

/// The pool's parameters with `param` set to `value` (hard bounds checked), and the canonical
/// text of the new value.
fn with_param(params: &Params, param: &str, value: &str) -> Result<(Params, String), Reject> {
    let mut p = params.clone();
    p.set(param, value).map_err(param_err)?;
    let canonical = p.get(param).expect("a parameter that was set exists");
    Ok((p, canonical))
}

/// Sets a parameter on a pool and all its markets; the `param_changed` event.
fn set_param(
    state: &mut State,
    pool_name: &str,
    param: &str,
    value: &str,
    by: String,
    reason: String,
) -> Result<Event, Reject> {
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let old = pool
        .params
        .get(param)
        .ok_or_else(|| param_err(crate::params::ParamError::Unknown(param.to_string())))?;
    let (new_params, new) = with_param(&pool.params, param, value)?;
    let mut markets = Vec::new();
    for (u, m) in &pool.markets {
        markets.push((u.clone(), with_param(&m.params, param, value)?.0));
    }
    let pool = state.pools.get_mut(pool_name).expect("pool exists");
    pool.params = new_params;
    for (u, p) in markets {
        pool.markets.get_mut(&u).expect("market exists").params = p;
    }
    Ok(Event::ParamChanged {
        pool: pool_name.to_string(),
        param: param.to_string(),
        old,
        new,
        by,
        reason,
    })
}

fn positive(amount: Quote) -> Result<(), Reject> {
    if amount <= Quote::ZERO {
        return Err(crate::reject!(
            InvalidAmount,
            "amount must be positive, got {amount}"
        ));
    }
    Ok(())
}

/// `governance_grant`: mints tokens to `account`.
pub fn grant(
    state: &mut State,
    account: &str,
    amount: Quote,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    crate::engine::check_name("account", account)?;
    positive(amount)?;
    let g = Arc::make_mut(&mut state.governance);
    let supply = g.supply.checked_add(amount)?;
    let bal = g.balance(account).checked_add(amount)?;
    g.remember(account, now);
    g.supply = supply;
    g.balances.insert(account.to_string(), bal);
    Ok(vec![Event::GovernanceGranted {
        account: account.to_string(),
        amount,
        supply,
    }])
}

/// `governance_transfer`: moves tokens.
pub fn transfer(
    state: &mut State,
    from: &str,
    to: &str,
    amount: Quote,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    crate::engine::check_name("account", to)?;
    positive(amount)?;
    let g = Arc::make_mut(&mut state.governance);
    let have = g.balance(from);
    if have < amount {
        return Err(crate::reject!(
            InsufficientBalance,
            "{from:?} holds {have} governance tokens, cannot transfer {amount}"
        ));
    }
    let from_after = have.checked_sub(amount)?;
    let to_after = if from == to {
        have
    } else {
        g.balance(to).checked_add(amount)?
    };
    g.remember(from, now);
    g.remember(to, now);
    if from != to {
        g.balances.insert(from.to_string(), from_after);
        g.balances.insert(to.to_string(), to_after);
    }
    Ok(vec![Event::GovernanceTransferred {
        from: from.to_string(),
        to: to.to_string(),
        amount,
    }])
}

/// Checks an action against the pool's hard bounds now (a proposal outside them is rejected
/// when proposed).
fn validate_action(state: &State, pool_name: &str, action: &ProposalAction) -> Result<(), Reject> {
    let pool = &state.pools[pool_name];
    match action {
        ProposalAction::SetParam { param, value } => {
            with_param(&pool.params, param, &value.0)?;
            for m in pool.markets.values() {
                with_param(&m.params, param, &value.0)?;
            }
        }
        ProposalAction::CouncilBounds { param, min, max } => {
            let (_, lo) = with_param(&pool.params, param, &min.0)?;
            let (_, hi) = with_param(&pool.params, param, &max.0)?;
            if decimal(&lo) > decimal(&hi) {
                return Err(crate::reject!(
                    InvalidParam,
                    "council bounds for {param}: min {lo} is above max {hi}"
                ));
            }
        }
        ProposalAction::CouncilAdd { member }
        | ProposalAction::CouncilRemove { member }
        | ProposalAction::EmergencyAdd { member }
        | ProposalAction::EmergencyRemove { member } => {
            crate::engine::check_name("member", member)?;
        }
    }
    Ok(())
}

/// `propose`: either `param` and `value`, or an `action`.
pub fn propose(
    state: &mut State,
    pool_name: &str,
    proposer: &str,
    param: Option<&str>,
    value: Option<&ParamValue>,
    action: Option<&ProposalAction>,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let pool = state
        .pools
        .get(pool_name)
        .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {pool_name:?}"))?;
    let action = match (param, value, action) {
        (Some(param), Some(value), None) => ProposalAction::SetParam {
            param: param.to_string(),
            value: value.clone(),
        },
        (None, None, Some(a)) => a.clone(),
        _ => {
            return Err(crate::reject!(
                InvalidParam,
                "a proposal names either `param` and `value`, or an `action`"
            ))
        }
    };
    let p = &pool.params;
    let g = &state.governance;
    let bal = g.balance(proposer);
    let needed = g
        .supply
        .mul_ratio(p.governance_proposal_threshold, Rounding::Up)?;
    if bal.is_zero() || bal < needed {
        return Err(crate::reject!(
            NoVotingPower,
            "proposer {proposer:?} holds {bal} governance tokens; proposing needs more than 0 and at least {needed}"
        ));
    }
    validate_action(state, pool_name, &action)?;
    let voting_ends_t = now.saturating_add(p.governance_voting_period_s);
    let executable_t = voting_ends_t.saturating_add(p.governance_timelock_s);
    let quorum = g.supply.mul_ratio(p.governance_quorum, Rounding::Up)?;
    let id = g.proposals.keys().next_back().copied().unwrap_or(0) + 1;
    let proposal = Proposal {
        id,
        pool: pool_name.to_string(),
        proposer: proposer.to_string(),
        action: action.clone(),
        created_t: now,
        voting_ends_t,
        executable_t,
        supply: g.supply,
        quorum,
        votes_for: Quote::ZERO,
        votes_against: Quote::ZERO,
        voters: BTreeSet::new(),
        snapshot: BTreeMap::new(),
        executed: false,
    };
    Arc::make_mut(&mut state.governance)
        .proposals
        .insert(id, proposal);
    Ok(vec![Event::Proposed {
        proposal: id,
        pool: pool_name.to_string(),
        proposer: proposer.to_string(),
        action,
        voting_ends_t,
        executable_t,
        quorum,
    }])
}

fn proposal(state: &State, id: u64) -> Result<&Proposal, Reject> {
    state
        .governance
        .proposals
        .get(&id)
        .ok_or_else(|| crate::reject!(UnknownProposal, "no proposal {id}"))
}

/// `vote`: one vote per voter, weighted by the balance at proposal time.
pub fn vote(
    state: &mut State,
    id: u64,
    voter: &str,
    support: bool,
    now: u64,
) -> Result<Vec<Event>, Reject> {
    let p = proposal(state, id)?;
    if now >= p.voting_ends_t {
        return Err(crate::reject!(
            ProposalClosed,
            "voting on proposal {id} ended at {}",
            p.voting_ends_t
        ));
    }
    if p.voters.contains(voter) {
        return Err(crate::reject!(
            AlreadyVoted,
            "{voter:?} has voted on proposal {id} already"
        ));
    }
    let weight = state.governance.power(p, voter);
    if weight.is_zero() {
        return Err(crate::reject!(
            NoVotingPower,
            "{voter:?} held no governance tokens when proposal {id} was made"
        ));
    }
    let (votes_for, votes_against) = if support {
        (p.votes_for.checked_add(weight)?, p.votes_against)
    } else {
        (p.votes_for, p.votes_against.checked_add(weight)?)
    };
    let p = Arc::make_mut(&mut state.governance)
        .proposals
        .get_mut(&id)
        .expect("exists");
    p.votes_for = votes_for;
    p.votes_against = votes_against;
    p.voters.insert(voter.to_string());
    Ok(vec![Event::Voted {
        proposal: id,
        voter: voter.to_string(),
        support,
        weight,
    }])
}

/// `execute`: applies a passed proposal after voting and the timelock.
pub fn execute(state: &mut State, id: u64, now: u64) -> Result<Vec<Event>, Reject> {
    let p = proposal(state, id)?.clone();
    if p.executed {
        return Err(crate::reject!(
            ProposalClosed,
            "proposal {id} was executed already"
        ));
    }
    if now < p.executable_t {
        return Err(crate::reject!(
            ProposalNotReady,
            "proposal {id} may be executed from t = {} (voting ends {}, then the timelock)",
            p.executable_t,
            p.voting_ends_t
        ));
    }
    let turnout = p.votes_for.checked_add(p.votes_against)?;
    if turnout < p.quorum || p.votes_for <= p.votes_against {
        return Err(crate::reject!(
            ProposalDefeated,
            "proposal {id} did not pass: for {}, against {}, quorum {}",
            p.votes_for,
            p.votes_against,
            p.quorum
        ));
    }
    let mut events = Vec::new();
    let by = format!("proposal:{id}");
    match &p.action {
        ProposalAction::SetParam { param, value } => {
            events.push(set_param(
                state,
                &p.pool,
                param,
                &value.0,
                by,
                format!("governance proposal {id}"),
            )?);
        }
        ProposalAction::CouncilBounds { param, min, max } => {
            let pool = state
                .pools
                .get(&p.pool)
                .ok_or_else(|| crate::reject!(UnknownPool, "no pool named {:?}", p.pool))?;
            let (_, lo) = with_param(&pool.params, param, &min.0)?;
            let (_, hi) = with_param(&pool.params, param, &max.0)?;
            Arc::make_mut(&mut state.governance)
                .roles
                .entry(p.pool.clone())
                .or_default()
                .council_bounds
                .insert(param.clone(), (lo.clone(), hi.clone()));
            events.push(Event::CouncilBoundsSet {
                pool: p.pool.clone(),
                param: param.clone(),
                min: lo,
                max: hi,
            });
        }
        ProposalAction::CouncilAdd { member }
        | ProposalAction::CouncilRemove { member }
        | ProposalAction::EmergencyAdd { member }
        | ProposalAction::EmergencyRemove { member } => {
            let (role, added) = match &p.action {
                ProposalAction::CouncilAdd { .. } => ("council", true),
                ProposalAction::CouncilRemove { .. } => ("council", false),
                ProposalAction::EmergencyAdd { .. } => ("emergency", true),
                _ => ("emergency", false),
            };
            let roles = Arc::make_mut(&mut state.governance)
                .roles
                .entry(p.pool.clone())
                .or_default();
            let set = if role == "council" {
                &mut roles.council
            } else {
                &mut roles.emergency
            };
            if added {
                set.insert(member.clone());
            } else {
                set.remove(member);
            }
            events.push(Event::RoleChanged {
                pool: p.pool.clone(),
                role: role.to_string(),
                member: member.clone(),
                added,
            });
        }
    }
    Arc::make_mut(&mut state.governance)
        .proposals
        .get_mut(&id)
        .expect("exists")
        .executed = true;
    events.push(Event::ProposalExecuted {
        proposal: id,
        pool: p.pool,
    });
    Ok(events)
}

fn check_reason(reason: &str) -> Result<(), Reject> {
    if reason.trim().is_empty() || reason.len() > REASON_LEN_MAX {
        return Err(crate::reject!(
            InvalidParam,
            "a reason of 1 to {REASON_LEN_MAX} bytes is required"
        ));
    }
    Ok(())
}

fn roles<'a>(state: &'a State, pool: &str) -> Result<Option<&'a PoolRoles>, Reject> {
    if !state.pools.contains_key(pool) {
        return Err(crate::reject!(UnknownPool, "no pool named {pool:?}"));
    }
    Ok(state.governance.roles.get(pool))
}

/// `council_set`: a council member moves a parameter within the council's bounds.
pub fn council_set(
    state: &mut State,
    pool: &str,
    member: &str,
    param: &str,
    value: &ParamValue,
    reason: &str,
) -> Result<Vec<Event>, Reject> {
    let r = roles(state, pool)?;
    if !r.is_some_and(|r| r.council.contains(member)) {
        return Err(crate::reject!(
            NotAuthorised,
            "{member:?} is not on the risk council of pool {pool}"
        ));
    }
    check_reason(reason)?;
    let Some((lo, hi)) = r.and_then(|r| r.council_bounds.get(param)) else {
        return Err(crate::reject!(
            OutsideCouncilBounds,
            "the council of pool {pool} has no bounds for {param}"
        ));
    };
    let (_, canonical) = with_param(&state.pools[pool].params, param, &value.0)?;
    let v = decimal(&canonical);
    if v < decimal(lo) || v > decimal(hi) {
        return Err(crate::reject!(
            OutsideCouncilBounds,
            "{param} = {canonical} is outside the council's bounds [{lo}, {hi}] for pool {pool}"
        ));
    }
    let e = set_param(
        state,
        pool,
        param,
        &value.0,
        format!("council:{member}"),
        reason.to_string(),
    )?;
    Ok(vec![e])
}

/// `emergency_set`: an emergency member moves a parameter in its risk-reducing direction only.
pub fn emergency_set(
    state: &mut State,
    pool: &str,
    member: &str,
    param: &str,
    value: &ParamValue,
    reason: &str,
) -> Result<Vec<Event>, Reject> {
    let r = roles(state, pool)?;
    if !r.is_some_and(|r| r.emergency.contains(member)) {
        return Err(crate::reject!(
            NotAuthorised,
            "{member:?} does not hold the emergency role of pool {pool}"
        ));
    }
    check_reason(reason)?;
    let Some((_, dir)) = RISK_REDUCING.iter().find(|(name, _)| *name == param) else {
        return Err(crate::reject!(
            NotRiskReducing,
            "the emergency role may not change {param} (only pause, reduce-only and caps)"
        ));
    };
    let params = &state.pools[pool].params;
    let (_, canonical) = with_param(params, param, &value.0)?;
    let old = params.get(param).expect("set succeeded");
    let (new_v, old_v) = (decimal(&canonical), decimal(&old));
    let raises = match dir {
        RiskDirection::Up => new_v < old_v,
        RiskDirection::Down => new_v > old_v,
    };
    // Every market must move the safe way too (a market override may be tighter already).
    let market_raises = state.pools[pool].markets.values().any(|m| {
        let mv = m.params.get(param).and_then(|t| decimal(&t));
        match dir {
            RiskDirection::Up => new_v < mv,
            RiskDirection::Down => new_v > mv,
        }
    });
    if raises || market_raises {
        return Err(crate::reject!(
            NotRiskReducing,
            "the emergency role may only move {param} {} (now {old}, asked {canonical})",
            if *dir == RiskDirection::Up {
                "up"
            } else {
                "down"
            }
        ));
    }
    let e = set_param(
        state,
        pool,
        param,
        &value.0,
        format!("emergency:{member}"),
        reason.to_string(),
    )?;
    Ok(vec![e])
}

/// True when a trade of `side` × `size` reduces a position of `position` without flipping it.
pub fn reduces(position: Base, side: Side, size: Base) -> bool {
    let sells = side == Side::Sell;
    !position.is_zero() && (position.raw() > 0) == sells && size.raw() <= position.raw().abs()
}

/// Pause and reduce-only gates (run before a command's own checks).
pub fn check_controls(state: &State, kind: &CommandKind) -> Result<(), Reject> {
    match kind {
        CommandKind::Trade {
            pool,
            account,
            instrument,
            side,
            size,
            ..
        } => {
            let Some(p) = state.pools.get(pool) else {
                return Ok(());
            };
            if p.params.paused != 0 {
                return Err(crate::reject!(PoolPaused, "pool {pool} is paused"));
            }
            if p.params.reduce_only != 0 {
                let position = state
                    .accounts
                    .get(account)
                    .and_then(|a| a.positions.get(pool))
                    .and_then(|m| m.get(instrument))
                    .map(|p| p.size)
                    .unwrap_or(Base::ZERO);
                if !reduces(position, *side, *size) {
                    return Err(crate::reject!(
                        ReduceOnly,
                        "pool {pool} is reduce-only: {account:?} holds {position} {instrument}, \
                         a {side:?} of {size} does not reduce it"
                    ));
                }
            }
            Ok(())
        }
        CommandKind::LpDeposit { pool, .. } => match state.pools.get(pool) {
            Some(p) if p.params.paused != 0 => {
                Err(crate::reject!(PoolPaused, "pool {pool} is paused"))
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}
