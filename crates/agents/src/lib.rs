//! Drivers around the derivpool engine that act on it **only through commands**: the hedge
//! venue, the hedge loop and the risk agent (DESIGN.md §5.10, §5.12). The engine stays pure
//! (no IO, clock or randomness); these components may hold clocks, seeds and queues, and are
//! shared by the simulator (`derivpool-sim`) and the server.
//!
//! ```text
//!            events (hedge_order)                     metrics + state
//! Engine ───────────────────────► HedgeLoop ─► Venue     Engine ─────────► RiskAgent
//!   ▲                                            │         ▲                    │
//!   └──────── hedge_fill commands ◄──────────────┘         └── council_set ◄────┘ (with a reason)
//! ```
//!
//! | component | module |
//! |---|---|
//! | `Venue` trait and the seeded simulated venue (fee, slippage, latency, failures, partial fills) | [`venue`] |
//! | hedge loop: `hedge_order` events → venue → `hedge_fill` commands | [`hedge_loop`] |
//! | risk agent: metric rules → `council_set` commands within council bounds | [`risk_agent`] |
//! | seeded random stream | [`rng`] |
//!
//! ## Commands of the hedging and governance issue (engine vocabulary, DESIGN.md §4 style)
//!
//! | type | fields (besides `t`) | what it does |
//! |---|---|---|
//! | `hedge_fill` | `pool`, `venue`, `underlying`, `size` (signed base), `price`, `fee` | books an external hedge fill against the pending order |
//! | `governance_grant` | `account`, `amount` | genesis allocation of governance tokens |
//! | `governance_transfer` | `from`, `to`, `amount` | moves governance tokens |
//! | `propose` | `pool`, `proposer`, `param` + `value` or `action` | a proposal, numbered 1, 2, 3, … |
//! | `vote` | `proposal`, `voter`, `support` | a vote weighted by the balance at proposal time |
//! | `execute` | `proposal` | applies a passed proposal after voting and the timelock |
//! | `council_set` | `pool`, `member`, `param`, `value`, `reason` | a risk-council change within owner-set bounds |
//! | `emergency_set` | `pool`, `member`, `param`, `value`, `reason` | pause, reduce-only or a lower cap; never a raise |
//!
//! `action` (in `propose`): `set_param {param, value}`, `council_add {member}`,
//! `council_remove {member}`, `council_bounds {param, min, max}`, `emergency_add {member}`,
//! `emergency_remove {member}`.
//!
//! | event | fields | when |
//! |---|---|---|
//! | `hedge_order` | `pool`, `underlying`, `id`, `size`, `target`, `position`, `replaces` | a tick finds the hedge outside its band (and the delay over or the gap beyond the threshold) |
//! | `hedge_order_cancelled` | `pool`, `underlying`, `id` | a pending order is no longer needed |
//! | `hedge_filled` | `pool`, `venue`, `underlying`, `size`, `price`, `fee`, `realised_pnl`, `position`, `pending` | a fill was booked |
//! | `param_changed` | `pool`, `param`, `old`, `new`, `by`, `reason` | governance, the council or the emergency role changed a parameter |
//! | `proposed`, `voted`, `proposal_executed`, `role_changed`, `council_bounds_set`, `governance_granted`, `governance_transferred` | | the governance lifecycle |
//!
//! The rules themselves live in the engine's `hedger`, `governance` and `generation` modules.

pub mod hedge_loop;
pub mod risk_agent;
pub mod rng;
pub mod venue;

pub use hedge_loop::HedgeLoop;
pub use risk_agent::{Observation, RiskAgent, RiskAgentConfig};
pub use venue::{SimVenue, SimVenueConfig, Venue, VenueFill, VenueOrder};
