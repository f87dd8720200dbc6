#!/usr/bin/env python3
"""Writes examples/btc_crash.jsonl: BTC falls 40 % in four hours.

A USDC pool with senior and junior LPs lists BTC (one board, 27DEC24, and the perp). Traders
open leveraged perp longs and short puts in a calm day; then spot falls from 60,000 to 36,000 in
five-minute steps (each under the oracle breaker's 15 %) while implied vol doubles. A well-funded
liquidator (`liq`) works through the unhealthy accounts every fifteen minutes; the most levered
account (`degen`) is only offered, after the crash, to an under-funded liquidator (`smallfry`):
by then the account is bankrupt, the pool closes it, and the loss waterfall pays its deficit:
the insurance fund (filled by the earlier liquidations' penalties) first, then the junior
tranche. Deterministic:  python3 examples/make_btc_crash.py > examples/btc_crash.jsonl
"""
import json
import sys

T0 = 1733097600  # 2024-12-02 00:00:00 UTC
EXPIRY = ("27DEC24", 1735286400)
SOURCES = ["chainlink", "pyth", "redstone"]
out = []


def cmd(t, **fields):
    line = {"t": t}
    line.update(fields)
    out.append(json.dumps(line, separators=(",", ":")))


def oracle(t, spot, vol):
    for i, src in enumerate(SOURCES):
        cmd(t, type="oracle_price", source=src, asset="BTC", price=f"{spot * (1 + (i - 1) * 0.0001):.2f}",
            confidence="0.0005")
    years = (EXPIRY[1] - t) / (365 * 86400)
    for src in SOURCES:
        cmd(t, type="oracle_vol", source=src, underlying="BTC", expiry=EXPIRY[0],
            svi={"a": f"{vol * vol * years:.10f}", "b": "0.0", "rho": "0", "m": "0", "sigma": "0.1"})


cmd(T0, type="create_pool", pool="btc", quote_asset="USDC", generation="hedged",
    params={"deposit_delay_s": "3600", "withdrawal_delay_s": "3600"})
cmd(T0, type="list_underlying", pool="btc", underlying="BTC", oracle_sources=SOURCES,
    params={"skew_scale": "50000"})
oracle(T0, 60000, 0.6)
cmd(T0, type="list_expiry", pool="btc", underlying="BTC", expiry=EXPIRY[0],
    strikes=["45000", "50000", "55000", "60000", "65000", "70000"])
cmd(T0, type="lp_deposit", pool="btc", lp="pension", tranche="senior", amount="4000000")
cmd(T0, type="lp_deposit", pool="btc", lp="hedgefund", tranche="junior", amount="1200000")
for who, amount in [("degen", "60000"), ("whale", "250000"), ("putseller", "150000"),
                    ("liq", "2000000"), ("smallfry", "100")]:
    cmd(T0, type="deposit", account=who, asset="USDC", amount=amount)
t = T0 + 2 * 3600
oracle(t, 60000, 0.6)
cmd(t, type="tick")
cmd(t + 10, type="trade", pool="btc", account="degen", instrument="BTC-PERP", side="buy", size="5")
cmd(t + 10, type="trade", pool="btc", account="whale", instrument="BTC-PERP", side="buy", size="20")
cmd(t + 10, type="trade", pool="btc", account="putseller", instrument="BTC-27DEC24-55000-P",
    side="sell", size="6")
# A calm day, hourly.
for h in range(1, 24):
    t = T0 + 2 * 3600 + h * 3600
    oracle(t, 60000, 0.6)
    cmd(t, type="tick")
# The crash: 48 five-minute steps from 60,000 to 36,000, vol from 60 % to 120 %.
start = T0 + 26 * 3600
for i in range(1, 49):
    t = start + i * 300
    spot = 60000 * 0.6 ** (i / 48)
    vol = 0.6 * 2 ** (i / 48)
    oracle(t, spot, vol)
    cmd(t, type="tick")
    if i % 3 == 0:
        for who in ["whale", "putseller"]:
            cmd(t + 5, type="liquidate", pool="btc", liquidator="liq", account=who)
# After: an hour of quiet at the bottom.
for i in range(1, 13):
    t = start + 48 * 300 + i * 300
    oracle(t, 36000, 1.2)
    cmd(t, type="tick")
    cmd(t + 5, type="liquidate", pool="btc", liquidator="liq", account="whale")
    cmd(t + 5, type="liquidate", pool="btc", liquidator="smallfry", account="degen")
sys.stdout.write("\n".join(out) + "\n")
