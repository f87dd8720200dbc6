#!/usr/bin/env python3
"""Writes examples/btc_pool.jsonl: a BTC pool over four weeks of hourly oracle updates.

A USDC pool lists BTC with two boards (13DEC24 and 27DEC24) and the BTC perp. Three LPs deposit
(two senior, one junior), traders buy and sell options and trade the perp, one LP leaves, and both
boards expire and settle. The spot path is a seeded geometric Brownian motion (60 % vol), so the
file is the same on every run:  python3 examples/make_btc_pool.py > examples/btc_pool.jsonl
"""
import json
import math
import random
import sys

rng = random.Random(7)
T0 = 1733097600  # 2024-12-02 00:00:00 UTC
HOUR = 3600
EXPIRIES = {"13DEC24": 1734076800, "27DEC24": 1735286400}
STRIKES = {"13DEC24": [80000, 85000, 90000, 95000, 100000, 105000, 110000],
           "27DEC24": [75000, 80000, 85000, 90000, 95000, 100000, 105000, 110000, 115000]}
SOURCES = ["chainlink", "pyth", "redstone"]
VOL = 0.6
out = []


def cmd(t, **fields):
    line = {"t": t}
    line.update(fields)
    out.append(json.dumps(line, separators=(",", ":")))


def dec(x, places=2):
    return f"{x:.{places}f}"


def call_delta(spot, strike, years, vol):
    if years <= 0:
        return 1.0 if spot > strike else 0.0
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * years) / (vol * math.sqrt(years))
    return 0.5 * (1 + math.erf(d1 / math.sqrt(2)))


def post_oracle(t, spot):
    for i, src in enumerate(SOURCES):
        noise = 1 + rng.gauss(0, 0.0002)
        cmd(t, type="oracle_price", source=src, asset="BTC", price=dec(spot * noise),
            confidence="0.0005")
    for expiry, et in EXPIRIES.items():
        if et <= t:
            continue
        years = (et - t) / (365 * 86400)
        for src in SOURCES:
            vol = VOL * (1 + rng.gauss(0, 0.01))
            # A gentle smile: w(k) = a + b(ρ(k − m) + √((k − m)² + σ²)) with ATM vol ≈ `vol`.
            b, rho, m, sigma = 0.08 * years ** 0.5, -0.3, 0.0, 0.1
            a = vol * vol * years - b * sigma
            cmd(t, type="oracle_vol", source=src, underlying="BTC", expiry=expiry,
                svi={"a": dec(a, 10), "b": dec(b, 10), "rho": dec(rho, 4), "m": dec(m, 4),
                     "sigma": dec(sigma, 4)})


def near_strike(expiry, spot, t, target_delta, kind):
    years = (EXPIRIES[expiry] - t) / (365 * 86400)
    best = None
    for k in STRIKES[expiry]:
        d = call_delta(spot, k, years, VOL)
        if not 0.2 <= d <= 0.8:
            continue
        want = target_delta if kind == "C" else 1 - target_delta
        if best is None or abs(d - want) < abs(best[1] - want):
            best = (k, d)
    return best[0] if best else None


spot = 96000.0
cmd(T0, type="create_pool", pool="btc-main", quote_asset="USDC", generation="hedged",
    params={"deposit_delay_s": "86400", "withdrawal_delay_s": "86400"})
cmd(T0, type="list_underlying", pool="btc-main", underlying="BTC", oracle_sources=SOURCES,
    params={"skew_scale": "20000", "standard_size": "2"})
post_oracle(T0, spot)
for expiry in EXPIRIES:
    cmd(T0, type="list_expiry", pool="btc-main", underlying="BTC", expiry=expiry,
        strikes=[str(k) for k in STRIKES[expiry]])
cmd(T0, type="lp_deposit", pool="btc-main", lp="lp-fund-a", tranche="senior", amount="4000000")
cmd(T0, type="lp_deposit", pool="btc-main", lp="lp-fund-b", tranche="senior", amount="2000000")
cmd(T0, type="lp_deposit", pool="btc-main", lp="lp-desk", tranche="junior", amount="1500000")
for trader, amount in [("alice", "400000"), ("bob", "900000"), ("carol", "300000"),
                       ("dave", "250000")]:
    cmd(T0, type="deposit", account=trader, asset="USDC", amount=amount)

hours = 28 * 24
for h in range(1, hours + 1):
    t = T0 + h * HOUR
    spot *= math.exp(-0.5 * VOL ** 2 / 8760 + VOL * math.sqrt(1 / 8760) * rng.gauss(0, 1))
    post_oracle(t, spot)
    cmd(t, type="tick")
    live = [e for e, et in EXPIRIES.items() if et - t > 12 * HOUR]
    if h >= 25 and live and h % 3 == 0:
        expiry = live[rng.randrange(len(live))]
        trader = rng.choice(["alice", "bob", "dave"])
        if trader == "alice":
            k = near_strike(expiry, spot, t, 0.35, "C")
            if k:
                side = "buy" if rng.random() < 0.7 else "sell"
                cmd(t + 10, type="trade", pool="btc-main", account="alice",
                    instrument=f"BTC-{expiry}-{k}-C", side=side, size=dec(rng.uniform(0.2, 1.2), 1))
        elif trader == "bob":
            k = near_strike(expiry, spot, t, 0.3, "P")
            if k:
                cmd(t + 10, type="trade", pool="btc-main", account="bob",
                    instrument=f"BTC-{expiry}-{k}-P", side="sell", size=dec(rng.uniform(0.5, 2), 1))
        else:
            k = near_strike(expiry, spot, t, 0.3, "P")
            if k:
                cmd(t + 10, type="trade", pool="btc-main", account="dave",
                    instrument=f"BTC-{expiry}-{k}-P", side="buy", size=dec(rng.uniform(0.5, 2), 1),
                    limit_price=dec(spot * 0.06))
    if h >= 25 and h % 5 == 0:
        side = "buy" if rng.random() < 0.55 else "sell"
        cmd(t + 20, type="trade", pool="btc-main", account="carol", instrument="BTC-PERP",
            side=side, size=dec(rng.uniform(0.2, 1.5), 2))
    if h == 14 * 24:
        cmd(t + 30, type="lp_withdraw", pool="btc-main", lp="lp-fund-b", tranche="senior",
            shares="500000")
    if h == 20 * 24:
        cmd(t + 30, type="withdraw", account="alice", asset="USDC", amount="50000")

sys.stdout.write("\n".join(out) + "\n")
