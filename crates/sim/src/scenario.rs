//! Scenarios by name: the market path, the oracle's faults and the agents' temperament.
//!
//! | name | what happens |
//! |---|---|
//! | `calm` | GBM at 55 % vol, no drift |
//! | `crash` | stochastic vol; at 40 % of the run the price falls 50 % within one day and vol doubles |
//! | `vol-spike` | stochastic vol; vol triples for a week from 35 % of the run |
//! | `oracle-outage` | calm market; every source silent for 12 h at 30 %, one source stale for 12 h at 60 % |
//! | `oracle-manipulation` | calm market; one source pushed 30 % up for 12 h at 40 % |
//! | `bank-run` | −35 % over 12 h at 30 %, vol ×1.5; LPs run at drawdowns of 0.02–0.2 % |
//! | `replay` | real candles from a CSV file ([`crate::candles`]) |

use crate::market::{Overlay, PathModel};
use crate::oracle::{Manipulation, OracleScript, Window};
use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// A named scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// A quiet GBM market.
    Calm,
    /// −50 % within a day, vol doubling.
    Crash,
    /// Vol triples for a week.
    VolSpike,
    /// All oracle sources silent for a while; one stale.
    OracleOutage,
    /// One oracle source pushed for a while.
    OracleManipulation,
    /// A drop that makes LPs run.
    BankRun,
    /// Real candles from CSV.
    Replay,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 7] = [
        Scenario::Calm,
        Scenario::Crash,
        Scenario::VolSpike,
        Scenario::OracleOutage,
        Scenario::OracleManipulation,
        Scenario::BankRun,
        Scenario::Replay,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scenario::Calm => "calm",
            Scenario::Crash => "crash",
            Scenario::VolSpike => "vol-spike",
            Scenario::OracleOutage => "oracle-outage",
            Scenario::OracleManipulation => "oracle-manipulation",
            Scenario::BankRun => "bank-run",
            Scenario::Replay => "replay",
        }
    }

    /// The path model of a synthetic scenario.
    pub fn path_model(self) -> PathModel {
        let sv = PathModel::StochasticVol {
            drift: 0.0,
            vol: 0.55,
            reversion: 4.0,
            vol_of_vol: 0.6,
            correlation: -0.4,
            jump_rate: 4.0,
            jump_mean: -0.04,
            jump_std: 0.03,
            jump_vol_coupling: 3.0,
        };
        match self {
            Scenario::Crash | Scenario::VolSpike => sv,
            Scenario::BankRun => PathModel::Merton {
                drift: 0.0,
                vol: 0.55,
                jump_rate: 4.0,
                jump_mean: -0.03,
                jump_std: 0.03,
            },
            _ => PathModel::Gbm {
                drift: 0.0,
                vol: 0.55,
            },
        }
    }

    /// The scripted moves over a run of `len_s` seconds.
    pub fn overlays(self, len_s: u64) -> Vec<Overlay> {
        let at = |f: f64| (len_s as f64 * f) as u64 / 3600 * 3600;
        match self {
            Scenario::Crash => vec![Overlay::Crash {
                start_s: at(0.4),
                length_s: 86_400,
                factor: 0.5,
                vol_mult: 2.0,
            }],
            Scenario::VolSpike => vec![Overlay::VolSpike {
                start_s: at(0.35),
                length_s: 7 * 86_400,
                vol_mult: 3.0,
            }],
            Scenario::BankRun => vec![Overlay::Crash {
                start_s: at(0.3),
                length_s: 12 * 3600,
                factor: 0.65,
                vol_mult: 1.5,
            }],
            _ => Vec::new(),
        }
    }

    /// The oracle's sources and faults over a run of `len_s` seconds.
    pub fn oracle(self, len_s: u64) -> OracleScript {
        let at = |f: f64| (len_s as f64 * f) as u64 / 3600 * 3600;
        let mut o = OracleScript::honest();
        match self {
            Scenario::OracleOutage => {
                o.outages.push(Window {
                    start_s: at(0.3),
                    length_s: 12 * 3600,
                });
                o.stale.push((
                    2,
                    Window {
                        start_s: at(0.6),
                        length_s: 12 * 3600,
                    },
                ));
            }
            Scenario::OracleManipulation => o.manipulation.push(Manipulation {
                source: 0,
                window: Window {
                    start_s: at(0.4),
                    length_s: 12 * 3600,
                },
                factor: 1.3,
            }),
            _ => {}
        }
        o
    }

    /// The range of drawdowns at which LPs run.
    pub fn lp_run_thresholds(self) -> (f64, f64) {
        match self {
            Scenario::BankRun => (0.0002, 0.002),
            _ => (0.05, 0.3),
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Scenario::ALL.iter().map(|x| x.as_str()).collect();
                format!(
                    "unknown scenario {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}
