//! Prometheus text exposition (format 0.0.4), written by hand: per-pool NAV, tranche share
//! prices, Greeks, utilisation, open interest, funding, insurance fund (DESIGN.md §5.5), the
//! commands applied by type and rejected by code, journal fsync latency and HTTP request
//! latency histograms.

use derivpool_engine::Engine;
use derivpool_types::Fixed;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Upper bounds of the latency histogram buckets, seconds.
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// A histogram with the fixed [`LATENCY_BUCKETS_S`] bounds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_S.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one observation in seconds.
    pub fn observe(&self, seconds: f64) {
        if let Some(i) = LATENCY_BUCKETS_S.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add((seconds * 1e9) as u64, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, n) in LATENCY_BUCKETS_S.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

/// Counters and histograms shared by the engine thread and the HTTP layer.
#[derive(Debug, Default)]
pub struct Metrics {
    applied: Mutex<BTreeMap<&'static str, u64>>,
    rejected: Mutex<BTreeMap<&'static str, u64>>,
    /// Duration of each journal `append_batch` (one fsync), seconds.
    pub journal_fsync_seconds: Histogram,
    http: Mutex<BTreeMap<(String, &'static str), std::sync::Arc<Histogram>>>,
}

impl Metrics {
    /// Adds a batch's tallies.
    pub fn count_commands(
        &self,
        applied: &HashMap<&'static str, u64>,
        rejected: &HashMap<&'static str, u64>,
    ) {
        for (map, tally) in [(&self.applied, applied), (&self.rejected, rejected)] {
            if tally.is_empty() {
                continue;
            }
            let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
            for (k, n) in tally {
                *m.entry(k).or_default() += n;
            }
        }
    }

    /// Records the latency of one HTTP request.
    pub fn observe_http(&self, route: &str, method: &'static str, seconds: f64) {
        let h = {
            let mut m = self.http.lock().unwrap_or_else(|e| e.into_inner());
            m.entry((route.to_string(), method)).or_default().clone()
        };
        h.observe(seconds);
    }

    /// The counters and histograms as exposition text.
    pub fn render(&self, out: &mut String) {
        let applied = self
            .applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        header(
            out,
            "derivpool_commands_applied_total",
            "counter",
            "Commands applied, by type.",
        );
        for (k, n) in applied {
            let _ = writeln!(out, "derivpool_commands_applied_total{{type=\"{k}\"}} {n}");
        }
        let rejected = self
            .rejected
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        header(
            out,
            "derivpool_commands_rejected_total",
            "counter",
            "Commands rejected, by reject code.",
        );
        for (k, n) in rejected {
            let _ = writeln!(out, "derivpool_commands_rejected_total{{code=\"{k}\"}} {n}");
        }
        header(
            out,
            "derivpool_journal_fsync_seconds",
            "histogram",
            "Time of one journal group commit (append + fsync).",
        );
        self.journal_fsync_seconds
            .render(out, "derivpool_journal_fsync_seconds", "");
        header(
            out,
            "derivpool_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by route and method.",
        );
        let http = self.http.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for ((route, method), h) in http {
            let labels = format!("route=\"{}\",method=\"{method}\"", escape(&route));
            h.render(out, "derivpool_http_request_duration_seconds", &labels);
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One gauge family: its help text and (labels, value) samples.
type Family = (&'static str, Vec<(String, f64)>);

/// Per-pool gauges from the engine's state, as exposition text.
pub fn render_pools(engine: &Engine, seq: u64, out: &mut String) {
    header(
        out,
        "derivpool_journal_seq",
        "gauge",
        "Sequence number of the last durable command.",
    );
    let _ = writeln!(out, "derivpool_journal_seq {seq}");
    let mut gauges: BTreeMap<&'static str, Family> = BTreeMap::new();
    let mut put = |name: &'static str, help: &'static str, labels: String, v: f64| {
        gauges
            .entry(name)
            .or_insert_with(|| (help, Vec::new()))
            .1
            .push((labels, v));
    };
    for name in engine.state().pools.keys() {
        let Some(m) = engine.metrics(name) else {
            continue;
        };
        let p = format!("pool=\"{}\"", escape(name));
        put(
            "derivpool_pool_nav",
            "Pool NAV in its quote asset.",
            p.clone(),
            m.nav.to_f64(),
        );
        for (tranche, t) in &m.tranches {
            let l = format!("{p},tranche=\"{tranche}\"");
            put(
                "derivpool_tranche_nav",
                "Tranche NAV in the quote asset.",
                l.clone(),
                t.nav.to_f64(),
            );
            put(
                "derivpool_tranche_share_price",
                "Tranche NAV per share.",
                l.clone(),
                t.share_price.to_f64(),
            );
            put(
                "derivpool_tranche_shares",
                "Tranche shares outstanding.",
                l,
                t.shares.to_f64(),
            );
        }
        put(
            "derivpool_pool_net_delta",
            "Net delta of the pool (options and perps), base units.",
            p.clone(),
            m.net_delta.to_f64(),
        );
        put(
            "derivpool_pool_net_gamma",
            "Net gamma of the pool's options.",
            p.clone(),
            m.net_gamma.to_f64(),
        );
        put(
            "derivpool_pool_net_vega",
            "Net vega per 1.00 vol, quote.",
            p.clone(),
            m.net_vega.to_f64(),
        );
        put(
            "derivpool_pool_net_theta",
            "Net theta per year, quote.",
            p.clone(),
            m.net_theta.to_f64(),
        );
        put(
            "derivpool_pool_utilisation",
            "Committed capital / pool assets.",
            p.clone(),
            m.utilisation.to_f64(),
        );
        put(
            "derivpool_pool_free_liquidity",
            "Free liquidity, quote.",
            p.clone(),
            m.free_liquidity.to_f64(),
        );
        put(
            "derivpool_pool_insurance_fund",
            "Insurance fund, quote.",
            p.clone(),
            m.insurance_fund.to_f64(),
        );
        put(
            "derivpool_pool_bad_debt",
            "Bad debt absorbed, quote.",
            p.clone(),
            m.bad_debt.to_f64(),
        );
        put(
            "derivpool_pool_fees_earned",
            "Fees earned, quote.",
            p.clone(),
            m.fees_earned.to_f64(),
        );
        put(
            "derivpool_pool_hedge_position",
            "Hedge position, base units.",
            p.clone(),
            m.hedge_position.to_f64(),
        );
        for (inst, perp) in &m.perps {
            let l = format!("{p},instrument=\"{}\"", escape(inst));
            put(
                "derivpool_perp_open_interest",
                "Perp open interest by side, base units.",
                format!("{l},side=\"long\""),
                perp.long.to_f64(),
            );
            put(
                "derivpool_perp_open_interest",
                "Perp open interest by side, base units.",
                format!("{l},side=\"short\""),
                perp.short.to_f64(),
            );
            put(
                "derivpool_perp_funding_rate",
                "Perp funding rate per day.",
                l.clone(),
                perp.funding_rate.to_f64(),
            );
            put(
                "derivpool_perp_borrow_rate",
                "Perp borrow rate per year.",
                l,
                perp.borrow_rate.to_f64(),
            );
        }
    }
    for (name, (help, samples)) in gauges {
        header(out, name, "gauge", help);
        for (labels, v) in samples {
            let _ = writeln!(out, "{name}{{{labels}}} {}", number(v));
        }
    }
}

/// A sample value: finite floats as Rust prints them, else Prometheus' spellings.
fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}
