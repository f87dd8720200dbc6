//! The derivpool engine: a pure, deterministic state machine in which a pool of LP capital is
//! the counterparty for option and perpetual trades.
//!
//! ```text
//! command (JSON line) ──► Engine::apply ──► Ok(events) | Err(reject {code, message})
//! ```
//!
//! No IO, no clock, no randomness: time enters only as a command's `t`, and the same command
//! log always gives the same state and [`Engine::state_hash`]. Money is fixed point
//! ([`derivpool_types`]); floats live only inside pricing and are quantised with a named
//! rounding direction before they touch state.
//!
//! Where each mechanism lives (each module documents its formula at the top):
//!
//! | mechanism | module |
//! |---|---|
//! | command vocabulary (the public interface) | [`command`] |
//! | events, rejects and their codes | [`event`], [`reject`](mod@reject) |
//! | parameters, defaults and bounds | [`params`] |
//! | instrument names and expiries | [`instrument`] |
//! | oracle median, vol slices | [`oracle`] |
//! | spot/forward/vol inputs of a board | [`pricing_ctx`] |
//! | option quote, skew impact, limits | [`options`] |
//! | option fees (price, spot, vega, utilisation) | [`fees`] |
//! | trader short collateral | [`collateral`] |
//! | trader margin and health (isolated and portfolio) | [`margin`] |
//! | oracle guard rails: TWAP, confidence, breaker | [`guards`] |
//! | liquidation: Dutch auction, partial, bankruptcy | [`liquidation`] |
//! | loss waterfall: insurance fund, junior, senior | [`waterfall`] |
//! | auto-deleveraging | [`adl`] |
//! | perps: fill price, funding, borrow, caps, margin | [`perp`] |
//! | NAV, tranche NAVs, free liquidity | [`nav`] |
//! | pool risk limits: stress loss, utilisation and exposure caps | [`pool_risk`] |
//! | dynamic delta hedging (orders, fills, venue capacity) | [`hedger`] |
//! | governance: votes, risk council, emergency role, pause | [`governance`] |
//! | pool generations: what each supports | [`generation`] |
//! | LP queues, tranches, circuit breakers | [`vault`] |
//! | greek cache | [`cache`] |
//! | a spare core for the tick (optional) | [`helper`] |
//! | settlement | [`settlement`] |
//! | invariants | [`invariants`] |
//! | metrics | [`metrics`] |

pub mod adl;
pub mod cache;
pub mod collateral;
pub mod command;
mod engine;
pub mod event;
pub mod fees;
pub mod generation;
pub mod governance;
pub mod guards;
pub mod hedger;
pub mod helper;
pub mod instrument;
pub mod invariants;
pub mod liquidation;
pub mod margin;
pub mod metrics;
pub mod nav;
pub mod options;
pub mod oracle;
pub mod params;
pub mod perp;
pub mod pool_risk;
pub mod pricing_ctx;
pub mod reject;
pub mod settlement;
pub mod state;
pub mod vault;
pub mod waterfall;

pub use command::{Command, CommandKind, Generation, Side, SviParams, TradeRequest, Tranche};
pub use engine::{
    Engine, PerpQuote, TradeQuote, GWAV_OBSERVATIONS_MAX, NAME_LEN_MAX, STRIKES_PER_EXPIRY_MAX,
};
pub use event::Event;
pub use helper::Helper;
pub use reject::{Reject, RejectCode};
