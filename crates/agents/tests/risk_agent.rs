//! The risk agent on a scripted metric path takes exactly the documented actions, and its
//! commands are accepted by the engine inside the council's bounds.

use derivpool_agents::risk_agent::RULE_PARAMS;
use derivpool_agents::{Observation, RiskAgent, RiskAgentConfig};
use derivpool_engine::{Command, CommandKind, Engine, Event};
use serde_json::json;
use std::collections::BTreeMap;

const H: u64 = 3_600;

fn bounds() -> BTreeMap<String, (String, String)> {
    [
        ("vega_fee_coefficient", "50", "200"),
        ("perp_open_interest_cap", "0.5", "1"),
        ("utilisation_cap", "0.5", "0.8"),
        ("hedge_delay_s", "600", "3600"),
    ]
    .into_iter()
    .map(|(p, lo, hi)| (p.to_string(), (lo.to_string(), hi.to_string())))
    .collect()
}

/// A calm observation at hour `h` with the given parameter values.
fn calm(h: u64, params: &BTreeMap<String, String>) -> Observation {
    Observation {
        t: 1_733_011_200 + h * H,
        pool: "main".into(),
        nav: 1_000_000.0,
        net_std_vega: -1_000.0,
        insurance_fund: 50_000.0,
        open_interest_notional: 200_000.0,
        mark_vol: Some(0.6),
        spots: [("BTC".to_string(), 40_000.0)].into_iter().collect(),
        params: params.clone(),
        council_bounds: bounds(),
    }
}

/// (param, value) of each command, and every command's reason.
fn actions(cmds: &[Command]) -> Vec<(String, String)> {
    cmds.iter()
        .map(|c| match &c.kind {
            CommandKind::CouncilSet {
                param,
                value,
                reason,
                member,
                ..
            } => {
                assert_eq!(member, "risk_agent");
                assert!(reason.starts_with("risk agent rule "), "{reason}");
                (param.clone(), value.0.clone())
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[test]
fn scripted_metric_path_gives_exactly_the_documented_actions() {
    let mut agent = RiskAgent::new(RiskAgentConfig::default());
    let mut params: BTreeMap<String, String> = [
        ("vega_fee_coefficient", "100"),
        ("perp_open_interest_cap", "1"),
        ("utilisation_cap", "0.8"),
        ("hedge_delay_s", "3600"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut step = |o: Observation, params: &mut BTreeMap<String, String>| {
        let cmds = agent.observe(&o);
        for c in &cmds {
            assert_eq!(c.t, o.t);
        }
        let a = actions(&cmds);
        for (p, v) in &a {
            params.insert(p.clone(), v.clone());
        }
        a
    };
    let s = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    // Hour 0: calm, nothing (and no previous observation for spikes or gaps).
    assert_eq!(step(calm(0, &params), &mut params), s(&[]));
    // Hour 1: vega concentrates (6,000 / 1M = 0.6 % > 0.5 %): widen the fee ×1.5.
    let mut o = calm(1, &params);
    o.net_std_vega = -6_000.0;
    assert_eq!(
        step(o.clone(), &mut params),
        s(&[("vega_fee_coefficient", "150")])
    );
    // Hour 2: still concentrated, inside the 6 h cooldown: nothing.
    o = calm(2, &params);
    o.net_std_vega = -6_000.0;
    assert_eq!(step(o, &mut params), s(&[]));
    // Hour 3: the insurance fund is thin (0.5 % < 1 %) with open interest: OI cap ×0.8.
    o = calm(3, &params);
    o.insurance_fund = 5_000.0;
    assert_eq!(
        step(o, &mut params),
        s(&[("perp_open_interest_cap", "0.8")])
    );
    // Hour 4: vol 0.6 → 0.9 and BTC 40,000 → 34,000 (−15 %): utilisation cap ×0.85 and hedge
    // delay ×0.25, in rule order.
    o = calm(4, &params);
    o.mark_vol = Some(0.9);
    o.spots.insert("BTC".into(), 34_000.0);
    assert_eq!(
        step(o, &mut params),
        s(&[("utilisation_cap", "0.68"), ("hedge_delay_s", "900")])
    );
    // Hour 5: vol stays high (no new spike), spot recovers by +2.9 % (under 8 %): nothing.
    o = calm(5, &params);
    o.mark_vol = Some(0.9);
    o.spots.insert("BTC".into(), 35_000.0);
    assert_eq!(step(o, &mut params), s(&[]));
    // Hour 8: vega concentrated again, cooldown over: 150 × 1.5 = 225, clamped to the council's
    // 200.
    o = calm(8, &params);
    o.net_std_vega = 7_000.0;
    o.spots.insert("BTC".into(), 35_000.0);
    o.mark_vol = Some(0.9);
    assert_eq!(step(o, &mut params), s(&[("vega_fee_coefficient", "200")]));
    // Hour 15: at the bound already: nothing to do. Another gap: 900 × 0.25 = 225, clamped to
    // 600; thin insurance again: 0.8 × 0.8 = 0.64.
    o = calm(15, &params);
    o.net_std_vega = 7_000.0;
    o.insurance_fund = 0.0;
    o.spots.insert("BTC".into(), 40_000.0);
    o.mark_vol = Some(0.9);
    assert_eq!(
        step(o, &mut params),
        s(&[("perp_open_interest_cap", "0.64"), ("hedge_delay_s", "600")])
    );
}

#[test]
fn no_bounds_means_no_action() {
    let mut agent = RiskAgent::new(RiskAgentConfig::default());
    let mut o = calm(0, &BTreeMap::new());
    o.params.insert("vega_fee_coefficient".into(), "100".into());
    o.council_bounds.clear();
    o.net_std_vega = 1e6;
    assert!(agent.observe(&o).is_empty());
}

fn cmd(engine: &mut Engine, t: u64, v: serde_json::Value) -> Vec<Event> {
    let mut v = v;
    v["t"] = json!(t);
    let c: Command = serde_json::from_value(v.clone()).unwrap();
    engine
        .apply(&c)
        .unwrap_or_else(|r| panic!("{v}: {} {}", r.code.as_str(), r.message))
}

#[test]
fn the_engine_accepts_the_agents_commands_and_logs_the_reason() {
    let mut e = Engine::new();
    e.set_check_invariants(true);
    let mut t = 1_733_011_200;
    cmd(
        &mut e,
        t,
        json!({"type": "create_pool", "pool": "main", "quote_asset": "USDC", "generation": "hedged"}),
    );
    cmd(
        &mut e,
        t,
        json!({"type": "list_underlying", "pool": "main", "underlying": "BTC", "oracle_sources": ["a"]}),
    );
    cmd(
        &mut e,
        t,
        json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": "40000"}),
    );
    cmd(
        &mut e,
        t,
        json!({"type": "governance_grant", "account": "dao", "amount": "100"}),
    );
    let actions = [
        json!({"type": "council_add", "member": "risk_agent"}),
        json!({"type": "council_bounds", "param": "hedge_delay_s", "min": "600", "max": "3600"}),
    ];
    for (i, a) in actions.iter().enumerate() {
        cmd(
            &mut e,
            t,
            json!({"type": "propose", "pool": "main", "proposer": "dao", "action": a}),
        );
        cmd(
            &mut e,
            t,
            json!({"type": "vote", "proposal": i + 1, "voter": "dao", "support": true}),
        );
    }
    t += 5 * 86_400;
    for id in [1, 2] {
        cmd(&mut e, t, json!({"type": "execute", "proposal": id}));
    }
    let mut agent = RiskAgent::new(RiskAgentConfig::default());
    cmd(
        &mut e,
        t,
        json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": "40000"}),
    );
    assert!(agent
        .observe(&Observation::from_engine(&e, "main").unwrap())
        .is_empty());
    t += H;
    cmd(
        &mut e,
        t,
        json!({"type": "oracle_price", "source": "a", "asset": "BTC", "price": "30000"}),
    );
    let cmds = agent.observe(&Observation::from_engine(&e, "main").unwrap());
    assert_eq!(cmds.len(), 1, "{cmds:?}");
    let ev = e.apply(&cmds[0]).unwrap();
    match &ev[0] {
        Event::ParamChanged {
            param,
            old,
            new,
            by,
            reason,
            ..
        } => {
            assert_eq!(
                (param.as_str(), old.as_str(), new.as_str(), by.as_str()),
                ("hedge_delay_s", "3600", "900", "council:risk_agent")
            );
            assert!(reason.contains("BTC spot moved 25.00 %"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        e.state().pools["main"].markets["BTC"].params.hedge_delay_s,
        900
    );
    // The command is an ordinary log line.
    let line = cmds[0].to_json();
    assert!(line.contains("\"type\":\"council_set\"") && line.contains("\"reason\""));
    // The observation carries exactly the parameters the rules move, as the engine prints them,
    // and reading it with metrics the caller has already gives the same observation.
    let obs = Observation::from_engine(&e, "main").unwrap();
    let mut expected = RULE_PARAMS.to_vec();
    expected.sort_unstable();
    assert_eq!(
        obs.params.keys().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
    for (k, v) in &obs.params {
        assert_eq!(Some(v), e.state().pools["main"].params.get(k).as_ref());
    }
    let m = e.metrics("main").unwrap();
    assert_eq!(Observation::from_state(e.state(), "main", &m), Some(obs));
}

#[test]
fn config_reads_from_json_with_defaults_for_missing_fields() {
    let c: RiskAgentConfig =
        serde_json::from_str(r#"{"member": "bot", "fee_widen_factor": "2", "gap_min": 0.05}"#)
            .unwrap();
    assert_eq!(c.member, "bot");
    assert_eq!(c.fee_widen_factor.to_string(), "2");
    assert_eq!(c.gap_min, 0.05);
    assert_eq!(c.cooldown_s, RiskAgentConfig::default().cooldown_s);
    assert!(serde_json::from_str::<RiskAgentConfig>(r#"{"nope": 1}"#).is_err());
}
