//! Perp traders.
//!
//! - **Momentum**: target position = +size when the log return over the lookback L is positive,
//!   −size when negative: x* = size · sign(ln(S_t / S_{t−L})).
//! - **Mean reversion**: z = ln(S_t / MA_L) / (σ √(L·Δ)) with MA_L the mean price over the
//!   lookback; target −size when z > 1, +size when z < −1, flat when |z| < 0.25, otherwise hold.
//!
//! Both look only at the past and trade the difference between target and position. When the
//! daily funding rate exceeds [`FUNDING_TOLERANCE_PER_DAY`], nobody holds the side that pays it
//! and mean-reverters hold the side that receives it (x* = −size · sign(rate)): velocity funding
//! then turns back, as it does on real venues.

use super::{Agent, View};
use crate::exec::Exec;
use crate::oracle::decimal;
use crate::rng::SimRng;
use derivpool_engine::instrument::perp_name;
use derivpool_engine::{CommandKind, RejectCode, Side};
use derivpool_types::{Base, Fixed};

/// Above this daily funding rate (0.1 %/day, about 44 %/year) traders stop paying it.
pub const FUNDING_TOLERANCE_PER_DAY: f64 = 0.001;

/// Which rule a perp trader follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PerpStyle {
    /// Follows the trend.
    Momentum,
    /// Fades deviations from the moving average.
    MeanReversion,
}

/// A perp trader.
#[derive(Debug, Clone)]
pub struct PerpTrader {
    name: String,
    style: PerpStyle,
    collateral: f64,
    notional: f64,
    lookback_steps: usize,
    decisions_per_day: f64,
    unsupported: bool,
    rng: SimRng,
}

impl PerpTrader {
    /// A trader of `style` with `collateral`, positions of `notional`, a lookback in steps and
    /// a decision rate per day.
    pub fn new(
        name: String,
        style: PerpStyle,
        collateral: f64,
        notional: f64,
        lookback_steps: usize,
        decisions_per_day: f64,
        rng: SimRng,
    ) -> Self {
        PerpTrader {
            name,
            style,
            collateral,
            notional,
            lookback_steps: lookback_steps.max(2),
            decisions_per_day,
            unsupported: false,
            rng,
        }
    }

    fn target(&self, view: &View<'_>, current: f64) -> Option<f64> {
        let i = view.step;
        let l = self.lookback_steps;
        if i < l {
            return None;
        }
        let s = &view.path.spot;
        let size = self.notional / s[i];
        let signal = match self.style {
            PerpStyle::Momentum => size * (s[i] / s[i - l]).ln().signum(),
            PerpStyle::MeanReversion => {
                let ma = s[i - l..=i].iter().sum::<f64>() / (l + 1) as f64;
                let scale =
                    view.vol() * (l as f64 * view.step_s as f64 / crate::time::YEAR_S).sqrt();
                let z = (s[i] / ma).ln() / scale.max(1e-9);
                if z > 1.0 {
                    -size
                } else if z < -1.0 {
                    size
                } else if z.abs() < 0.25 {
                    0.0
                } else {
                    current
                }
            }
        };
        // Funding: nobody holds the paying side above the tolerance, and mean-reverters take
        // the receiving side (a funding carry trade), which pulls the skew and the rate back.
        let rate = view
            .metrics
            .and_then(|m| m.perps.values().next())
            .map_or(0.0, |p| p.funding_rate.to_f64());
        if rate.abs() > FUNDING_TOLERANCE_PER_DAY {
            let pays = signal * rate > 0.0;
            return Some(match (pays, self.style) {
                (_, PerpStyle::MeanReversion) => -size * rate.signum(),
                (true, PerpStyle::Momentum) => 0.0,
                (false, PerpStyle::Momentum) => signal,
            });
        }
        Some(signal)
    }
}

impl Agent for PerpTrader {
    fn kind(&self) -> &'static str {
        match self.style {
            PerpStyle::Momentum => "momentum_perp_trader",
            PerpStyle::MeanReversion => "mean_reversion_perp_trader",
        }
    }

    fn setup(&mut self, ex: &mut Exec, view: &View<'_>) {
        let _ = ex.submit(
            self.kind(),
            CommandKind::Deposit {
                account: self.name.clone(),
                asset: view.quote_asset.into(),
                amount: decimal(self.collateral, 2),
            },
        );
    }

    fn act(&mut self, ex: &mut Exec, view: &View<'_>) {
        if self.unsupported {
            return;
        }
        if !self
            .rng
            .chance(self.decisions_per_day / view.steps_per_day() as f64)
        {
            return;
        }
        let perp = perp_name(view.underlying);
        let current = ex
            .engine
            .state()
            .accounts
            .get(&self.name)
            .and_then(|a| a.positions.get(view.pool))
            .and_then(|ps| ps.get(&perp))
            .map_or(0.0, |p| p.size.to_f64());
        let Some(target) = self.target(view, current) else {
            return;
        };
        let diff = target - current;
        // Ignore changes under 10 % of a full position (no churn on small price moves).
        if diff.abs() * view.spot() < 0.1 * self.notional {
            return;
        }
        let side = if diff > 0.0 { Side::Buy } else { Side::Sell };
        let size: Base = decimal((diff.abs() * 1000.0).floor() / 1000.0, 3);
        if !size.is_positive() {
            return;
        }
        let r = ex.submit(
            self.kind(),
            CommandKind::Trade {
                pool: view.pool.into(),
                account: self.name.clone(),
                instrument: perp,
                side,
                size,
                limit_price: None,
            },
        );
        // A pool without perps (the static generation) says so once; the trader stops asking.
        if matches!(r, Err(rej) if rej.code == RejectCode::GenerationUnsupported) {
            self.unsupported = true;
        }
    }
}
