#!/usr/bin/env python3
"""Writes examples/hedged_governance.jsonl: a hedged BTC pool, its hedge, and its governance.

A USDC pool lists BTC and one board (27DEC24). LPs deposit; traders buy calls and go long the
perp, so the pool is short delta; the hourly tick emits hedge_order events and a venue reports
hedge_fill commands (one partial fill, one fill that matches nothing and is rejected). Token
holders then vote the risk agent onto the council with bounds for the vega fee, and a guardian
into the emergency role; the council widens the vega fee with a reason, the guardian lowers the
perp open-interest cap and pauses the pool, and a trade after the pause is rejected
(pool_paused). Deterministic:  python3 examples/make_hedged_governance.py > examples/hedged_governance.jsonl
"""
import json
import sys

T0 = 1733097600  # 2024-12-02 00:00:00 UTC
HOUR = 3600
DAY = 86400
EXPIRY_T = 1735286400  # 27DEC24 08:00 UTC
SOURCES = ["chainlink", "pyth", "redstone"]
out = []


def cmd(t, **fields):
    line = {"t": t}
    line.update(fields)
    out.append(json.dumps(line, separators=(",", ":")))


def oracle(t, price, vol=0.6):
    a = vol * vol * (EXPIRY_T - t) / (365 * DAY)
    for s in SOURCES:
        cmd(t, type="oracle_price", source=s, asset="BTC", price=f"{price:.2f}")
        cmd(t, type="oracle_vol", source=s, underlying="BTC", expiry="27DEC24",
            svi={"a": f"{a:.10f}", "b": "0", "rho": "0", "m": "0", "sigma": "0.1"})


t = T0
cmd(t, type="create_pool", pool="btc-hedged", quote_asset="USDC", generation="hedged")
cmd(t, type="list_underlying", pool="btc-hedged", underlying="BTC", oracle_sources=SOURCES)
oracle(t, 96000)
cmd(t, type="list_expiry", pool="btc-hedged", underlying="BTC", expiry="27DEC24",
    strikes=["85000", "90000", "95000", "100000", "105000"])
cmd(t, type="lp_deposit", pool="btc-hedged", lp="lp-senior", tranche="senior", amount="3000000")
cmd(t, type="lp_deposit", pool="btc-hedged", lp="lp-junior", tranche="junior", amount="1000000")
t += 3 * DAY
oracle(t, 96000)
cmd(t, type="tick")
cmd(t, type="deposit", account="trader", asset="USDC", amount="1000000")
cmd(t, type="trade", pool="btc-hedged", account="trader", instrument="BTC-27DEC24-95000-C",
    side="buy", size="10")
cmd(t, type="trade", pool="btc-hedged", account="trader", instrument="BTC-PERP", side="buy", size="5")
cmd(t, type="tick")  # hedge_order 1: buy about 10.7 BTC
# The venue fills 6 BTC, then fails; a late 8 BTC fill matches nothing pending beyond 4.7.
cmd(t + 2, type="hedge_fill", pool="btc-hedged", venue="sim", underlying="BTC", size="6",
    price="96005.5", fee="28.8")
cmd(t + 4, type="hedge_fill", pool="btc-hedged", venue="sim", underlying="BTC", size="8",
    price="96004", fee="38.4")
t += HOUR + 60
oracle(t, 96200)
cmd(t, type="tick")  # hedge_order 2 replaces 1 with what is missing
cmd(t + 2, type="hedge_fill", pool="btc-hedged", venue="sim", underlying="BTC", size="4",
    price="96203", fee="19.3")
# Governance: genesis tokens, three proposals, votes, the timelock, execution.
t += 10
cmd(t, type="governance_grant", account="dao-treasury", amount="600000")
cmd(t, type="governance_grant", account="alice", amount="300000")
cmd(t, type="governance_grant", account="bob", amount="100000")
cmd(t, type="propose", pool="btc-hedged", proposer="alice",
    action={"type": "council_add", "member": "risk_agent"})
cmd(t, type="propose", pool="btc-hedged", proposer="alice",
    action={"type": "council_bounds", "param": "vega_fee_coefficient", "min": "50", "max": "400"})
cmd(t, type="propose", pool="btc-hedged", proposer="bob",
    action={"type": "emergency_add", "member": "guardian"})
for p in (1, 2, 3):
    cmd(t, type="vote", proposal=p, voter="dao-treasury", support=True)
    cmd(t, type="vote", proposal=p, voter="bob", support=False)
cmd(t, type="execute", proposal=1)  # rejected: proposal_not_ready
t += 5 * DAY
oracle(t, 95500)
cmd(t, type="tick")
for p in (1, 2, 3):
    cmd(t, type="execute", proposal=p)
cmd(t, type="council_set", pool="btc-hedged", member="risk_agent", param="vega_fee_coefficient",
    value="150", reason="risk agent rule vega: |net std vega| / NAV above 0.005")
cmd(t, type="council_set", pool="btc-hedged", member="risk_agent", param="vega_fee_coefficient",
    value="500", reason="too far")  # rejected: outside_council_bounds
cmd(t, type="emergency_set", pool="btc-hedged", member="guardian", param="perp_open_interest_cap",
    value="0.5", reason="thin insurance fund")
cmd(t, type="emergency_set", pool="btc-hedged", member="guardian", param="perp_open_interest_cap",
    value="2", reason="raise it")  # rejected: not_risk_reducing
cmd(t, type="emergency_set", pool="btc-hedged", member="guardian", param="paused", value="1",
    reason="oracle incident")
cmd(t, type="trade", pool="btc-hedged", account="trader", instrument="BTC-PERP", side="buy",
    size="1")  # rejected: pool_paused
sys.stdout.write("\n".join(out) + "\n")
