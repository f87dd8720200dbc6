//! Report files as strings: `timeseries.csv` and `index.html` (charts as inline SVG, no
//! scripts, no external files, so it opens offline). `summary.json` is [`Summary::to_json`].

use crate::summary::{chained_index, max_drawdown, Row, Summary, COLUMNS};
use crate::time::{format_utc, write_utc};
use std::fmt::Write;

/// Most points drawn per line (longer series are thinned to every n-th point, last kept).
pub const POINTS_PER_LINE_MAX: usize = 1_200;

/// `timeseries.csv`: a `t` (unix seconds) and `time` (UTC) column, then [`COLUMNS`].
pub fn timeseries_csv(rows: &[Row]) -> String {
    let mut buf = Vec::with_capacity(rows.len() * 300);
    write_timeseries_csv(rows, &mut buf).expect("writing to memory cannot fail");
    String::from_utf8(buf).expect("CSV text is UTF-8")
}

/// Writes [`timeseries_csv`] into `w` row by row (give it a buffered writer).
pub fn write_timeseries_csv<W: std::io::Write>(rows: &[Row], mut w: W) -> std::io::Result<()> {
    let mut s = String::with_capacity(512);
    s.push_str("t,time");
    for (name, _) in COLUMNS {
        s.push(',');
        s.push_str(name);
    }
    s.push('\n');
    w.write_all(s.as_bytes())?;
    for r in rows {
        s.clear();
        let _ = write!(s, "{},", r.t);
        let _ = write_utc(&mut s, r.t);
        for (_, f) in COLUMNS {
            let v = f(r);
            if v.is_nan() {
                s.push(',');
            } else {
                s.push(',');
                push_f64_display(&mut s, v);
            }
        }
        s.push('\n');
        w.write_all(s.as_bytes())?;
    }
    Ok(())
}

/// Appends `v` as the shortest decimal that reads back as `v` (ryu's digits), never with an
/// exponent: what `format!("{v}")` writes, except on exact ties of 17-digit values, where ryu
/// rounds the last digit to even and `Display` up (both read back as `v`). The time series is
/// ~260,000 numbers a simulated year and `Display` was 4 % of the run.
pub fn push_f64_display(out: &mut String, v: f64) {
    if !v.is_finite() {
        let _ = write!(out, "{v}");
        return;
    }
    let mut buf = ryu::Buffer::new();
    let text = buf.format_finite(v);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The significant digits (at most 17, plus zeros ryu may write around them), and where
    // the point goes (digits before it).
    let mut all = [0u8; 48];
    let n = int.len() + frac.len();
    if n > all.len() {
        let _ = write!(out, "{v}");
        return;
    }
    all[..int.len()].copy_from_slice(int.as_bytes());
    all[int.len()..n].copy_from_slice(frac.as_bytes());
    let lead = all[..n].iter().take_while(|&&d| d == b'0').count();
    let end = n - all[lead..n]
        .iter()
        .rev()
        .take_while(|&&d| d == b'0')
        .count();
    // Only ASCII digits were copied.
    let digits = std::str::from_utf8(&all[lead..end.max(lead)]).unwrap_or("0");
    let point = int.len() as i32 + exp - lead as i32;
    if negative {
        out.push('-');
    }
    if digits.is_empty() {
        out.push('0');
    } else if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(digits);
    } else if point as usize >= digits.len() {
        out.push_str(digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
    } else {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    }
}

/// One line of a chart.
struct Line<'a> {
    name: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

/// A chart: title, unit and lines over the rows' times.
struct Chart<'a> {
    title: &'a str,
    unit: &'a str,
    lines: Vec<Line<'a>>,
}

const W: f64 = 900.0;
const H: f64 = 220.0;
const PAD_L: f64 = 80.0;
const PAD_R: f64 = 10.0;
const PAD_T: f64 = 10.0;
const PAD_B: f64 = 24.0;

fn fmt_num(x: f64) -> String {
    let a = x.abs();
    if a >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if a >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else if a >= 10.0 || a == 0.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.4}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn svg(chart: &Chart<'_>, times: &[u64]) -> String {
    let n = times.len();
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for l in &chart.lines {
        for v in l.values.iter().filter(|v| v.is_finite()) {
            lo = lo.min(*v);
            hi = hi.max(*v);
        }
    }
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if hi - lo < 1e-12 * hi.abs().max(1.0) {
        (lo, hi) = (
            lo - 0.5 * lo.abs().max(1.0) * 0.01,
            hi + 0.5 * hi.abs().max(1.0) * 0.01,
        );
    }
    let x = |i: usize| PAD_L + (W - PAD_L - PAD_R) * i as f64 / (n.max(2) - 1) as f64;
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - (v - lo) / (hi - lo));
    let stride = n.div_ceil(POINTS_PER_LINE_MAX).max(1);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        escape(chart.title)
    );
    let _ = write!(
        s,
        r##"<rect x="{PAD_L}" y="{PAD_T}" width="{}" height="{}" fill="#fafafa" stroke="#ccc"/>"##,
        W - PAD_L - PAD_R,
        H - PAD_T - PAD_B
    );
    for (v, anchor_y) in [
        (hi, PAD_T + 10.0),
        ((lo + hi) / 2.0, (H - PAD_B + PAD_T) / 2.0),
        (lo, H - PAD_B),
    ] {
        let _ = write!(
            s,
            r##"<text x="{}" y="{anchor_y:.1}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            PAD_L - 4.0,
            escape(&fmt_num(v))
        );
    }
    if lo < 0.0 && hi > 0.0 {
        let _ = write!(
            s,
            r##"<line x1="{PAD_L}" x2="{}" y1="{y0:.1}" y2="{y0:.1}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            W - PAD_R,
            y0 = y(0.0)
        );
    }
    if let (Some(a), Some(b)) = (times.first(), times.last()) {
        let _ = write!(
            s,
            r##"<text x="{PAD_L}" y="{}" font-size="11" fill="#555">{}</text><text x="{}" y="{}" font-size="11" text-anchor="end" fill="#555">{}</text>"##,
            H - 6.0,
            &format_utc(*a)[..10],
            W - PAD_R,
            H - 6.0,
            &format_utc(*b)[..10]
        );
    }
    for l in &chart.lines {
        let mut pts = String::new();
        let mut i = 0;
        while i < n {
            let v = l.values[i];
            if v.is_finite() {
                let _ = write!(pts, "{:.1},{:.1} ", x(i), y(v));
            }
            i = if i + 1 < n && i + stride >= n {
                n - 1
            } else {
                i + stride
            };
            if i == n - 1 {
                let v = l.values[i];
                if v.is_finite() {
                    let _ = write!(pts, "{:.1},{:.1}", x(i), y(v));
                }
                break;
            }
        }
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.4" points="{}"><title>{}</title></polyline>"#,
            l.color,
            pts.trim_end(),
            escape(l.name)
        );
    }
    s.push_str("</svg>");
    s
}

fn col(rows: &[Row], f: impl Fn(&Row) -> f64) -> Vec<f64> {
    rows.iter().map(f).collect()
}

fn drawdown_series(xs: &[f64]) -> Vec<f64> {
    let mut peak = 0.0f64;
    xs.iter()
        .map(|x| {
            peak = peak.max(*x);
            if peak > 0.0 {
                -(1.0 - x / peak)
            } else {
                0.0
            }
        })
        .collect()
}

/// The chart titles of the report, in order (tests check each has data).
pub const CHART_TITLES: &[&str] = &[
    "Price and oracle",
    "NAV per tranche",
    "Share price per tranche",
    "Pool delta",
    "Pool gamma",
    "Pool vega",
    "Hedge position",
    "Utilisation",
    "Funding rate",
    "Open interest",
    "Liquidations and bad debt",
    "Insurance fund",
    "LP drawdowns",
];

/// `index.html`: the summary table and every chart.
pub fn html(summary: &Summary, rows: &[Row]) -> String {
    let times: Vec<u64> = rows.iter().map(|r| r.t).collect();
    let line = |name, color, values| Line {
        name,
        color,
        values,
    };
    let senior_sp = col(rows, |r| r.senior_share_price);
    let junior_sp = col(rows, |r| r.junior_share_price);
    let charts = vec![
        Chart {
            title: CHART_TITLES[0],
            unit: "quote per base",
            lines: vec![
                line("spot (true)", "#1f77b4", col(rows, |r| r.spot)),
                line("oracle median", "#ff7f0e", col(rows, |r| r.oracle)),
            ],
        },
        Chart {
            title: CHART_TITLES[1],
            unit: "quote",
            lines: vec![
                line("senior NAV", "#2ca02c", col(rows, |r| r.senior_nav)),
                line("junior NAV", "#d62728", col(rows, |r| r.junior_nav)),
            ],
        },
        Chart {
            title: CHART_TITLES[2],
            unit: "quote per share",
            lines: vec![
                line("senior", "#2ca02c", senior_sp.clone()),
                line("junior", "#d62728", junior_sp.clone()),
            ],
        },
        Chart {
            title: CHART_TITLES[3],
            unit: "base units",
            lines: vec![line("net delta", "#9467bd", col(rows, |r| r.delta))],
        },
        Chart {
            title: CHART_TITLES[4],
            unit: "per unit spot",
            lines: vec![line("net gamma", "#8c564b", col(rows, |r| r.gamma))],
        },
        Chart {
            title: CHART_TITLES[5],
            unit: "quote per 1.00 vol",
            lines: vec![line("net vega", "#e377c2", col(rows, |r| r.vega))],
        },
        Chart {
            title: CHART_TITLES[6],
            unit: "base units",
            lines: vec![line(
                "hedge position",
                "#7f7f7f",
                col(rows, |r| r.hedge_position),
            )],
        },
        Chart {
            title: CHART_TITLES[7],
            unit: "fraction",
            lines: vec![line("utilisation", "#bcbd22", col(rows, |r| r.utilisation))],
        },
        Chart {
            title: CHART_TITLES[8],
            unit: "per day",
            lines: vec![line(
                "funding rate",
                "#17becf",
                col(rows, |r| r.funding_rate),
            )],
        },
        Chart {
            title: CHART_TITLES[9],
            unit: "base units",
            lines: vec![
                line("long OI", "#2ca02c", col(rows, |r| r.long_oi)),
                line("short OI", "#d62728", col(rows, |r| r.short_oi)),
            ],
        },
        Chart {
            title: CHART_TITLES[10],
            unit: "count / quote",
            lines: vec![
                line(
                    "liquidations (cumulative)",
                    "#d62728",
                    col(rows, |r| r.liquidations),
                ),
                line(
                    "bad debt (cumulative)",
                    "#000000",
                    col(rows, |r| r.bad_debt),
                ),
            ],
        },
        Chart {
            title: CHART_TITLES[11],
            unit: "quote",
            lines: vec![line(
                "insurance fund",
                "#1f77b4",
                col(rows, |r| r.insurance_fund),
            )],
        },
        Chart {
            title: CHART_TITLES[12],
            unit: "fraction below peak",
            lines: vec![
                line(
                    "senior",
                    "#2ca02c",
                    drawdown_series(&chained_index(&senior_sp)),
                ),
                line(
                    "junior",
                    "#d62728",
                    drawdown_series(&chained_index(&junior_sp)),
                ),
            ],
        },
    ];
    let mut s = String::with_capacity(256 * 1024);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    let _ = writeln!(
        s,
        "<title>derivpool simulation: {}</title>",
        escape(&summary.scenario)
    );
    s.push_str("<style>body{font-family:system-ui,sans-serif;margin:24px;max-width:960px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}h2{font-size:16px;margin:22px 0 2px}.unit{color:#777;font-size:12px}.legend span{margin-right:14px;font-size:12px}</style>\n</head>\n<body>\n");
    let _ = writeln!(
        s,
        "<h1>derivpool simulation: {} ({} generation)</h1>",
        escape(&summary.scenario),
        escape(&summary.generation)
    );
    let _ = writeln!(
        s,
        "<p>seed {} · {} days of {} steps ({} steps) · {} to {} UTC · state hash <code>{}</code></p>",
        summary.seed, summary.days, summary.step, summary.steps, summary.start, summary.end, summary.state_hash
    );
    s.push_str("<table>\n<tr><th>tranche</th><th>NAV start</th><th>NAV end</th><th>return</th><th>max drawdown</th></tr>\n");
    for (name, t) in &summary.tranches {
        let _ = writeln!(
            s,
            "<tr><td>{name}</td><td>{:.0}</td><td>{:.0}</td><td>{:.2} %</td><td>{:.2} %</td></tr>",
            t.nav_start,
            t.nav_end,
            100.0 * t.ret,
            100.0 * t.max_drawdown
        );
    }
    s.push_str("</table>\n<table>\n");
    let kv: Vec<(&str, String)> = vec![
        (
            "trades (options / perps)",
            format!("{} / {}", summary.option_trades, summary.perp_trades),
        ),
        ("fees paid by traders", format!("{:.0}", summary.fees)),
        (
            "LP deposits / withdrawals queued",
            format!("{} / {}", summary.lp_deposits, summary.lp_withdrawals),
        ),
        ("liquidations", summary.liquidations.to_string()),
        (
            "bad debt (total)",
            format!(
                "{:.2}",
                summary.bad_debt.get("total").copied().unwrap_or(0.0)
            ),
        ),
        ("insurance fund", format!("{:.2}", summary.insurance_fund)),
        ("senior loss", summary.senior_loss.to_string()),
        (
            "worst day of the price",
            format!("{:.1} %", 100.0 * summary.worst_day_return),
        ),
        (
            "commands / rejected",
            format!("{} / {}", summary.commands, summary.rejected),
        ),
        (
            "invariant checks / violations",
            format!(
                "{} / {}",
                summary.invariant_checks, summary.invariant_violations
            ),
        ),
    ];
    for (k, v) in kv {
        let _ = writeln!(s, "<tr><td>{k}</td><td>{}</td></tr>", escape(&v));
    }
    s.push_str("</table>\n");
    if !summary.rejects.is_empty() {
        s.push_str("<table>\n<tr><th>reject code</th><th>count</th></tr>\n");
        for (k, v) in &summary.rejects {
            let _ = writeln!(s, "<tr><td>{k}</td><td>{v}</td></tr>");
        }
        s.push_str("</table>\n");
    }
    if let Some(c) = &summary.cleaning {
        let _ = writeln!(s, "<p>price file: {}</p>", escape(&c.describe()));
    }
    for c in &charts {
        let _ = writeln!(
            s,
            "<h2>{} <span class=\"unit\">({})</span></h2>",
            escape(c.title),
            escape(c.unit)
        );
        s.push_str("<div class=\"legend\">");
        for l in &c.lines {
            let _ = write!(
                s,
                "<span style=\"color:{}\">&#9632; {}</span>",
                l.color,
                escape(l.name)
            );
        }
        s.push_str("</div>\n");
        s.push_str(&svg(c, &times));
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "<p class=\"unit\">senior max drawdown {:.2} %, junior {:.2} %. Files: summary.json, timeseries.csv, commands.jsonl (replay with <code>derivpool replay commands.jsonl</code>).</p>",
        100.0 * max_drawdown(chained_index(&senior_sp)),
        100.0 * max_drawdown(chained_index(&junior_sp))
    );
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shown(v: f64) -> String {
        let mut s = String::from("x");
        push_f64_display(&mut s, v);
        s.split_off(1)
    }

    #[test]
    fn floats_are_written_as_display_writes_them_but_for_ties() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            1e-7,
            1.5e-300,
            5e-324,
            1e15,
            1e16,
            1e21,
            1.2345e22,
            f64::MAX,
            f64::MIN_POSITIVE,
            -123.456,
            73002.12,
            0.30000000000000004,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(shown(v), format!("{v}"), "{v:e}");
        }
        // 107519715616970.125 exactly: a tie between two 17-digit decimals.
        let tie = f64::from_bits(4_816_725_663_831_175_816);
        assert_eq!(shown(tie), "107519715616970.12");
        assert_eq!(format!("{tie}"), "107519715616970.13");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        #[test]
        fn any_float_reads_back_and_is_as_short_as_display(bits in any::<u64>()) {
            let v = f64::from_bits(bits);
            let text = shown(v);
            let display = format!("{v}");
            if v.is_nan() {
                prop_assert_eq!(text, display);
            } else {
                prop_assert_eq!(text.parse::<f64>().map(f64::to_bits), Ok(v.to_bits()));
                prop_assert!(!text.contains(['e', 'E']));
                // Shortest: no more significant digits than Display's (ties round the last
                // one the other way, and may carry into a shorter number either way).
                let significant = |t: &str| {
                    let d: String = t.chars().filter(char::is_ascii_digit).collect();
                    d.trim_matches('0').len()
                };
                prop_assert!(significant(&text) <= significant(&display).max(17), "{text} {display}");
            }
        }

        #[test]
        fn everyday_floats_are_written_as_display_writes_them(x in -1e7f64..1e7, k in 0u32..12) {
            let v = (x * 10f64.powi(k as i32)).round() / 10f64.powi(k as i32);
            prop_assert_eq!(shown(v), format!("{v}"));
        }
    }
}
