//! Governance (DESIGN.md §5.12): proposal lifecycle, quorum, timelock, hard bounds at proposal
//! time, vote-weight snapshot, risk council bounds, and an emergency role that cannot raise a
//! limit.

mod common;
use common::*;
use derivpool_engine::Event;
use serde_json::{json, Value};

fn grant(w: &mut World, account: &str, amount: &str) {
    w.apply(json!({"type": "governance_grant", "account": account, "amount": amount}));
}

fn propose(w: &mut World, proposer: &str, param: &str, value: &str) -> u64 {
    let ev = w.apply(
        json!({"type": "propose", "pool": "main", "proposer": proposer,
        "param": param, "value": value}),
    );
    match &ev[0] {
        Event::Proposed { proposal, .. } => *proposal,
        other => panic!("{other:?}"),
    }
}

fn vote(w: &mut World, id: u64, voter: &str, support: bool) -> Vec<Event> {
    w.apply(json!({"type": "vote", "proposal": id, "voter": voter, "support": support}))
}

fn execute(id: u64) -> Value {
    json!({"type": "execute", "proposal": id})
}

fn param(w: &World, name: &str) -> String {
    w.engine.state().pools["main"].params.get(name).unwrap()
}

fn market_param(w: &World, name: &str) -> String {
    w.engine.state().pools["main"].markets["BTC"]
        .params
        .get(name)
        .unwrap()
}

#[test]
fn full_lifecycle_changes_the_pool_and_its_markets() {
    let mut w = World::standard();
    grant(&mut w, "ann", "600");
    grant(&mut w, "ben", "400");
    let id = propose(&mut w, "ann", "vega_fee_coefficient", "250");
    assert_eq!(id, 1);
    assert_eq!(propose(&mut w, "ben", "withdrawal_fee_rate", "0.005"), 2);
    vote(&mut w, 1, "ann", true);
    vote(&mut w, 1, "ben", false);
    vote(&mut w, 2, "ben", true);
    w.advance(5 * DAY);
    let ev = w.apply(execute(1));
    assert!(ev.iter().any(
        |e| matches!(e, Event::ParamChanged { param, old, new, by, .. }
        if param == "vega_fee_coefficient" && old == "100" && new == "250" && by == "proposal:1")
    ));
    assert!(matches!(
        ev.last(),
        Some(Event::ProposalExecuted { proposal: 1, .. })
    ));
    assert_eq!(param(&w, "vega_fee_coefficient"), "250");
    assert_eq!(market_param(&w, "vega_fee_coefficient"), "250");
    w.apply(execute(2));
    assert_eq!(param(&w, "withdrawal_fee_rate"), "0.005");
    w.reject(execute(1), "proposal_closed");
}

#[test]
fn a_proposal_below_quorum_fails_and_one_at_quorum_passes() {
    let mut w = World::standard();
    grant(&mut w, "whale", "961");
    grant(&mut w, "small", "39");
    // 39 of 1,000 is under the 4 % quorum.
    let id = propose(&mut w, "small", "vega_fee_coefficient", "150");
    vote(&mut w, id, "small", true);
    w.advance(5 * DAY);
    w.reject(execute(id), "proposal_defeated");
    // 40 of 1,000 reaches it.
    grant(&mut w, "small", "1");
    w.apply(json!({"type": "governance_transfer", "from": "whale", "to": "small", "amount": "1"}));
    let id = propose(&mut w, "small", "vega_fee_coefficient", "150");
    vote(&mut w, id, "small", true);
    w.advance(5 * DAY);
    w.apply(execute(id));
    assert_eq!(param(&w, "vega_fee_coefficient"), "150");
}

#[test]
fn majority_against_defeats_a_proposal() {
    let mut w = World::standard();
    grant(&mut w, "a", "100");
    grant(&mut w, "b", "100");
    let id = propose(&mut w, "a", "vega_fee_coefficient", "150");
    vote(&mut w, id, "a", true);
    vote(&mut w, id, "b", false);
    w.advance(5 * DAY);
    w.reject(execute(id), "proposal_defeated");
}

#[test]
fn execution_waits_for_the_voting_period_and_the_timelock() {
    let mut w = World::standard();
    grant(&mut w, "a", "100");
    let ev = w.apply(json!({"type": "propose", "pool": "main", "proposer": "a",
        "param": "deposit_delay_s", "value": "86400"}));
    let (voting_ends_t, executable_t) = match &ev[0] {
        Event::Proposed {
            voting_ends_t,
            executable_t,
            ..
        } => (*voting_ends_t, *executable_t),
        other => panic!("{other:?}"),
    };
    assert_eq!(voting_ends_t, w.t + 3 * DAY);
    assert_eq!(executable_t, voting_ends_t + 2 * DAY, "2-day timelock");
    vote(&mut w, 1, "a", true);
    w.t = voting_ends_t;
    w.reject(
        json!({"type": "vote", "proposal": 1, "voter": "b", "support": true}),
        "proposal_closed",
    );
    w.reject(execute(1), "proposal_not_ready");
    w.t = executable_t - 1;
    w.reject(execute(1), "proposal_not_ready");
    w.t = executable_t;
    w.apply(execute(1));
    assert_eq!(param(&w, "deposit_delay_s"), "86400");
}

#[test]
fn a_value_outside_hard_bounds_is_rejected_when_proposed() {
    let mut w = World::standard();
    grant(&mut w, "a", "100");
    let r = w.reject(
        json!({"type": "propose", "pool": "main", "proposer": "a",
            "param": "withdrawal_fee_rate", "value": "0.5"}),
        "invalid_param",
    );
    assert!(r.message.contains("outside its bounds"), "{}", r.message);
    w.reject(
        json!({"type": "propose", "pool": "main", "proposer": "a",
            "param": "no_such_param", "value": "1"}),
        "invalid_param",
    );
    w.reject(
        json!({"type": "propose", "pool": "main", "proposer": "a",
            "action": {"type": "council_bounds", "param": "vega_fee_coefficient", "min": "500", "max": "100"}}),
        "invalid_param",
    );
    // Nothing was numbered: the next proposal is 1.
    assert_eq!(propose(&mut w, "a", "withdrawal_fee_rate", "0.05"), 1);
}

#[test]
fn tokens_moved_after_the_proposal_do_not_vote_twice() {
    let mut w = World::standard();
    grant(&mut w, "a", "100");
    grant(&mut w, "b", "10");
    grant(&mut w, "c", "50");
    // Moved before the proposal: they vote from the receiver.
    w.apply(json!({"type": "governance_transfer", "from": "c", "to": "b", "amount": "50"}));
    let id = propose(&mut w, "a", "vega_fee_coefficient", "150");
    // Moved after: a's 100 go to d, and fresh tokens are minted to d.
    w.apply(json!({"type": "governance_transfer", "from": "a", "to": "d", "amount": "100"}));
    grant(&mut w, "d", "1000");
    let weight = |ev: &[Event]| match &ev[0] {
        Event::Voted { weight, .. } => weight.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(weight(&vote(&mut w, id, "a", true)), "100");
    assert_eq!(weight(&vote(&mut w, id, "b", false)), "60");
    w.reject(
        json!({"type": "vote", "proposal": id, "voter": "d", "support": true}),
        "no_voting_power",
    );
    w.reject(
        json!({"type": "vote", "proposal": id, "voter": "c", "support": true}),
        "no_voting_power",
    );
    let p = &w.engine.state().governance.proposals[&id];
    assert_eq!(p.votes_for.to_string(), "100");
    assert_eq!(p.votes_against.to_string(), "60");
    assert_eq!(p.supply.to_string(), "160");
    // A later proposal sees the new balances.
    let id2 = propose(&mut w, "d", "vega_fee_coefficient", "120");
    assert_eq!(weight(&vote(&mut w, id2, "d", true)), "1100");
    w.reject(
        json!({"type": "vote", "proposal": id2, "voter": "a", "support": true}),
        "no_voting_power",
    );
}

#[test]
fn the_council_moves_parameters_only_inside_owner_set_bounds() {
    let mut w = World::standard();
    w.pass(&[
        json!({"type": "council_add", "member": "risk_agent"}),
        json!({"type": "council_bounds", "param": "vega_fee_coefficient", "min": "50", "max": "400"}),
    ]);
    let ev = w.apply(
        json!({"type": "council_set", "pool": "main", "member": "risk_agent",
        "param": "vega_fee_coefficient", "value": "300", "reason": "vega concentrated"}),
    );
    assert!(matches!(&ev[0], Event::ParamChanged { by, reason, new, .. }
        if by == "council:risk_agent" && reason == "vega concentrated" && new == "300"));
    assert_eq!(market_param(&w, "vega_fee_coefficient"), "300");
    for bad in ["401", "49"] {
        w.reject(
            json!({"type": "council_set", "pool": "main", "member": "risk_agent",
            "param": "vega_fee_coefficient", "value": bad, "reason": "x"}),
            "outside_council_bounds",
        );
    }
    // No bounds for this parameter: the council may not touch it.
    w.reject(
        json!({"type": "council_set", "pool": "main", "member": "risk_agent",
        "param": "perp_fee_rate", "value": "0.001", "reason": "x"}),
        "outside_council_bounds",
    );
    // A reason is required.
    w.reject(
        json!({"type": "council_set", "pool": "main", "member": "risk_agent",
        "param": "vega_fee_coefficient", "value": "200", "reason": ""}),
        "invalid_param",
    );
    // Removed members lose the power.
    w.pass(&[json!({"type": "council_remove", "member": "risk_agent"})]);
    w.reject(
        json!({"type": "council_set", "pool": "main", "member": "risk_agent",
        "param": "vega_fee_coefficient", "value": "200", "reason": "x"}),
        "not_authorised",
    );
}

#[test]
fn the_emergency_role_can_only_reduce_risk() {
    let mut w = World::standard();
    w.pass(&[json!({"type": "emergency_add", "member": "guardian"})]);
    let set = |param: &str, value: &str| {
        json!({"type": "emergency_set", "pool": "main", "member": "guardian",
            "param": param, "value": value, "reason": "incident"})
    };
    // Lowering a cap is allowed; raising it back is not, not even to where it was.
    w.apply(set("perp_open_interest_cap", "0.5"));
    assert_eq!(market_param(&w, "perp_open_interest_cap"), "0.5");
    w.reject(set("perp_open_interest_cap", "0.8"), "not_risk_reducing");
    w.reject(set("perp_open_interest_cap", "1"), "not_risk_reducing");
    w.reject(set("hedge_venue_capacity", "2"), "not_risk_reducing");
    // Parameters that are not limits are out of reach.
    w.reject(set("vega_fee_coefficient", "1000"), "not_risk_reducing");
    w.reject(set("vega_fee_coefficient", "1"), "not_risk_reducing");
    // Pause, and it cannot unpause.
    w.apply(set("paused", "1"));
    w.reject(
        json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP",
            "side": "buy", "size": "1"}),
        "pool_paused",
    );
    w.reject(
        json!({"type": "lp_deposit", "pool": "main", "lp": "x", "tranche": "senior", "amount": "10"}),
        "pool_paused",
    );
    w.reject(set("paused", "0"), "not_risk_reducing");
    // Someone without the role can do nothing.
    w.reject(
        json!({"type": "emergency_set", "pool": "main", "member": "mallory",
            "param": "paused", "value": "1", "reason": "x"}),
        "not_authorised",
    );
    // Unpausing takes the owner: a proposal.
    w.pass(&[json!({"type": "set_param", "param": "paused", "value": "0"})]);
    w.apply(
        json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP",
        "side": "buy", "size": "1"}),
    );
}

#[test]
fn reduce_only_accepts_closing_trades_only() {
    let mut w = World::standard();
    w.apply(
        json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP",
        "side": "buy", "size": "2"}),
    );
    w.pass(&[json!({"type": "emergency_add", "member": "guardian"})]);
    w.apply(
        json!({"type": "emergency_set", "pool": "main", "member": "guardian",
        "param": "reduce_only", "value": "1", "reason": "vol spike"}),
    );
    let perp = |side: &str, size: &str| {
        json!({"type": "trade", "pool": "main", "account": "alice", "instrument": "BTC-PERP",
            "side": side, "size": size})
    };
    w.reject(perp("buy", "0.1"), "reduce_only");
    w.reject(perp("sell", "3"), "reduce_only");
    w.apply(perp("sell", "1.5"));
    w.apply(perp("sell", "0.5"));
    w.reject(perp("sell", "0.1"), "reduce_only");
}
