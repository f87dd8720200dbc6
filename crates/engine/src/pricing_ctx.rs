//! Inputs shared by quoting, marking and collateral: spot, time to expiry, the forward and the
//! oracle's vol slices for one board, and the conversions between fixed point and floats.
//!
//! Time: T = (expiry − now) / (365 × 86,400) years (ACT/365). Forward: F = S·e^(rT) with the
//! market's `rate`. Log-moneyness: k = ln(K/F).

use crate::oracle::{svi_raw, vol_at};
use crate::params::Params;
use crate::state::{Board, Oracle};
use derivpool_pricing::{bsm_greeks, bsm_greeks_call_put, BsmInputs, Greeks, OptionKind, SviRaw};
use derivpool_types::{Fixed, Price, Ratio};

/// Seconds in the ACT/365 year.
pub const YEAR_S: f64 = 365.0 * 86_400.0;

/// Everything needed to price options on one board at one time.
#[derive(Debug, Clone)]
pub struct BoardCtx {
    /// Spot (median of fresh sources).
    pub spot: f64,
    /// Time to expiry in years.
    pub t_years: f64,
    /// Rate.
    pub rate: f64,
    /// Forward.
    pub forward: f64,
    /// Fresh oracle vol slices.
    pub slices: Vec<SviRaw>,
}

impl BoardCtx {
    /// [`BoardCtx::new`] for a listed board of `underlying`.
    pub fn for_board(
        oracle: &Oracle,
        params: &Params,
        underlying: &str,
        board: &Board,
        now: u64,
    ) -> Result<BoardCtx, &'static str> {
        BoardCtx::new(
            oracle,
            params,
            underlying,
            &board.expiry,
            board.expiry_t,
            now,
        )
    }

    /// Builds the context, or says what is missing (`"spot"` or `"vol"`).
    pub fn new(
        oracle: &Oracle,
        params: &Params,
        underlying: &str,
        expiry: &str,
        expiry_t: u64,
        now: u64,
    ) -> Result<BoardCtx, &'static str> {
        let spot = oracle
            .spot(underlying, now, params.spot_heartbeat_s)
            .ok_or("spot")?
            .to_f64();
        let slices: Vec<SviRaw> = oracle
            .fresh_vols(underlying, expiry, now, params.vol_heartbeat_s)
            .into_iter()
            .map(|o| svi_raw(&o.svi))
            .collect();
        if slices.is_empty() {
            return Err("vol");
        }
        let t_years = expiry_t.saturating_sub(now) as f64 / YEAR_S;
        let rate = params.rate.to_f64();
        Ok(BoardCtx {
            spot,
            t_years,
            rate,
            forward: spot * libm::exp(rate * t_years),
            slices,
        })
    }

    /// The oracle vol at a strike (median of the sources' implied vols).
    pub fn oracle_vol(&self, strike: Price) -> f64 {
        let k = libm::log(strike.to_f64() / self.forward);
        vol_at(&self.slices, k, self.t_years).unwrap_or(0.0)
    }

    /// Price and Greeks of one contract at `vol`.
    pub fn greeks(&self, kind: OptionKind, strike: Price, vol: f64) -> Greeks {
        bsm_greeks(&self.inputs(kind, strike, vol)).unwrap_or_default()
    }

    /// Price and Greeks of the call and of the put at `vol` (equal to two [`BoardCtx::greeks`]
    /// calls, from one shared evaluation).
    pub fn greeks_call_put(&self, strike: Price, vol: f64) -> (Greeks, Greeks) {
        bsm_greeks_call_put(&self.inputs(OptionKind::Call, strike, vol)).unwrap_or_default()
    }

    /// The model inputs of one contract on this board (no dividend).
    fn inputs(&self, kind: OptionKind, strike: Price, vol: f64) -> BsmInputs {
        BsmInputs {
            kind,
            spot: self.spot,
            strike: strike.to_f64(),
            t: self.t_years,
            rate: self.rate,
            div: 0.0,
            vol,
        }
    }

    /// Days to expiry.
    pub fn days(&self) -> f64 {
        self.t_years * 365.0
    }

    /// Standardised vega per contract: vega × √(30 / max(days, 7)) × 0.01 (Lyra).
    pub fn std_vega(&self, vega: f64) -> f64 {
        vega * libm::sqrt(30.0 / self.days().max(7.0)) * 0.01
    }
}

/// Trading vol = (oracle vol + base-IV offset) × skew ratio.
pub fn trading_vol(oracle_vol: f64, base_iv_offset: Ratio, skew_ratio: Ratio) -> f64 {
    (oracle_vol + base_iv_offset.to_f64()) * skew_ratio.to_f64()
}
