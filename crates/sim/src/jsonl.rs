//! The command log as JSON lines, fast: the same bytes as `Command::to_json` (serde_json), written
//! without serde for the commands a run is made of (oracle vol slices and prices, trades, hedge
//! fills, ticks: ~99 % of a 365-day log of ~150,000 lines) and through serde for the rest.
//!
//! Field order, names and optional fields follow `derivpool_engine::command`; fixed-point values
//! are JSON strings of their shortest exact decimal (`Fixed`'s `Display`); strings are escaped by
//! serde_json. The tests hold every line of real runs equal to `Command::to_json`.

use derivpool_engine::{Command, CommandKind, Side};
use derivpool_types::Fixed;

/// Appends the decimal digits of `n`.
fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends a fixed-point value as a JSON string (how the types serialise).
fn push_fixed_json<T: Fixed>(out: &mut Vec<u8>, x: T) {
    out.push(b'"');
    x.append_text(out);
    out.push(b'"');
}

/// Appends a JSON string: plain text verbatim, anything serde_json would escape through it.
fn push_str_json(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("strings serialise");
    }
}

/// Appends `{"t":T,"type":"KIND"` (the kind's tag as `CommandKind::type_name` gives it).
fn push_head(out: &mut Vec<u8>, c: &Command) {
    out.extend_from_slice(b"{\"t\":");
    push_u64(out, c.t);
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(c.kind.type_name().as_bytes());
    out.push(b'"');
}

/// Appends `,"name":` and a JSON string.
fn field_str(out: &mut Vec<u8>, name: &str, s: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_str_json(out, s);
}

/// Appends `,"name":` and a fixed-point value.
fn field_fixed<T: Fixed>(out: &mut Vec<u8>, name: &str, x: T) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    push_fixed_json(out, x);
}

/// Appends one command as `Command::to_json` writes it (no newline).
pub fn push_command(out: &mut Vec<u8>, c: &Command) {
    match &c.kind {
        CommandKind::OracleVol {
            source,
            underlying,
            expiry,
            svi,
        } => {
            push_head(out, c);
            field_str(out, "source", source);
            field_str(out, "underlying", underlying);
            field_str(out, "expiry", expiry);
            out.extend_from_slice(b",\"svi\":{\"a\":");
            push_fixed_json(out, svi.a);
            field_fixed(out, "b", svi.b);
            field_fixed(out, "rho", svi.rho);
            field_fixed(out, "m", svi.m);
            field_fixed(out, "sigma", svi.sigma);
            out.extend_from_slice(b"}}");
        }
        CommandKind::OraclePrice {
            source,
            asset,
            price,
            confidence,
        } => {
            push_head(out, c);
            field_str(out, "source", source);
            field_str(out, "asset", asset);
            field_fixed(out, "price", *price);
            if let Some(x) = confidence {
                field_fixed(out, "confidence", *x);
            }
            out.push(b'}');
        }
        CommandKind::Trade {
            pool,
            account,
            instrument,
            side,
            size,
            limit_price,
        } => {
            push_head(out, c);
            field_str(out, "pool", pool);
            field_str(out, "account", account);
            field_str(out, "instrument", instrument);
            let side = match side {
                Side::Buy => "buy",
                Side::Sell => "sell",
            };
            field_str(out, "side", side);
            field_fixed(out, "size", *size);
            if let Some(x) = limit_price {
                field_fixed(out, "limit_price", *x);
            }
            out.push(b'}');
        }
        CommandKind::HedgeFill {
            pool,
            venue,
            underlying,
            size,
            price,
            fee,
        } => {
            push_head(out, c);
            field_str(out, "pool", pool);
            field_str(out, "venue", venue);
            field_str(out, "underlying", underlying);
            field_fixed(out, "size", *size);
            field_fixed(out, "price", *price);
            field_fixed(out, "fee", *fee);
            out.push(b'}');
        }
        CommandKind::Tick {} => {
            push_head(out, c);
            out.push(b'}');
        }
        _ => serde_json::to_writer(&mut *out, c).expect("commands serialise"),
    }
}

/// Writes `log` as JSON lines into `w`, in chunks of about 64 KiB.
pub fn write_jsonl<W: std::io::Write>(log: &[Command], mut w: W) -> std::io::Result<()> {
    const CHUNK: usize = 1 << 16;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    for c in log {
        push_command(&mut buf, c);
        buf.push(b'\n');
        if buf.len() >= CHUNK {
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&buf)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use derivpool_engine::SviParams;
    use derivpool_types::{Base, Price, Quote, Ratio};
    use proptest::prelude::*;

    fn line(c: &Command) -> String {
        let mut out = Vec::new();
        push_command(&mut out, c);
        String::from_utf8(out).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        #[test]
        fn hot_commands_are_to_json(
            t in any::<u64>(),
            name in "[a-z\"\\\\ é\u{1}\u{7f}-]{0,12}",
            raws in proptest::collection::vec(any::<i64>(), 6),
            flags in any::<(bool, bool)>(),
        ) {
            let r = |i: usize| i128::from(raws[i]) * 1_000_003;
            let kinds = [
                CommandKind::OracleVol {
                    source: name.clone(),
                    underlying: "BTC".into(),
                    expiry: name.clone(),
                    svi: SviParams {
                        a: Ratio::from_raw(r(0)),
                        b: Ratio::from_raw(r(1)),
                        rho: Ratio::from_raw(r(2)),
                        m: Ratio::from_raw(r(3)),
                        sigma: Ratio::from_raw(r(4)),
                    },
                },
                CommandKind::OraclePrice {
                    source: name.clone(),
                    asset: "BTC".into(),
                    price: Price::from_raw(r(5)),
                    confidence: flags.0.then(|| Ratio::from_raw(r(0))),
                },
                CommandKind::Trade {
                    pool: "main".into(),
                    account: name.clone(),
                    instrument: "BTC-27DEC24-60000-C".into(),
                    side: if flags.1 { Side::Buy } else { Side::Sell },
                    size: Base::from_raw(r(1)),
                    limit_price: flags.0.then(|| Price::from_raw(r(2))),
                },
                CommandKind::HedgeFill {
                    pool: name.clone(),
                    venue: "sim".into(),
                    underlying: "BTC".into(),
                    size: Base::from_raw(r(3)),
                    price: Price::from_raw(r(4)),
                    fee: Quote::from_raw(r(5)),
                },
                CommandKind::Tick {},
                CommandKind::Deposit {
                    account: name.clone(),
                    asset: "USDC".into(),
                    amount: Quote::from_raw(r(0)),
                },
            ];
            for kind in kinds {
                let c = Command { t, kind };
                prop_assert_eq!(line(&c), c.to_json());
            }
        }
    }
}
