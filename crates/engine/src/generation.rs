//! The three pool generations in one engine (DESIGN.md §5.13): what each supports, checked
//! before a command's own rules. A command a generation does not support is rejected with
//! `generation_unsupported`, naming the generation, the command and why.
//!
//! | | `static` (first: vault) | `hedged` (second: AMM + hedger) | `cross_margin` (third) |
//! |---|---|---|---|
//! | underlyings per pool | one | one | several |
//! | traders buy options, close longs | yes | yes | yes |
//! | traders sell options short | no | yes | yes |
//! | perps | no | yes | yes |
//! | delta hedging (`hedge_order`, `hedge_fill`) | no | yes | yes (per underlying) |
//! | trader margin | cash collateral | isolated or portfolio | portfolio across underlyings |
//!
//! A `static` pool is a covered-call / cash-secured-put vault (Ribbon/Thetanuts style): it only
//! *sells* options, each fully collateralised by the pool's lock (a call by spot, a put by its
//! strike: [`crate::cache::pool_lock`]), and never hedges, so its LPs carry the options' payoff.
//! The portfolio margin of the third generation is [`crate::margin`]'s; this module only gates
//! what differs.

use crate::command::{CommandKind, Generation, Side};
use crate::instrument::Instrument;
use crate::reject::Reject;
use crate::state::State;
use derivpool_types::{Base, Fixed};

/// The snake_case name of a generation.
pub fn name(g: Generation) -> &'static str {
    match g {
        Generation::Static => "static",
        Generation::Hedged => "hedged",
        Generation::CrossMargin => "cross_margin",
    }
}

fn unsupported(g: Generation, command: &str, why: &str) -> Reject {
    crate::reject!(
        GenerationUnsupported,
        "generation {} does not support {command}: {why}",
        name(g)
    )
}

/// Rejects a command the target pool's generation does not support.
pub fn check(state: &State, kind: &CommandKind) -> Result<(), Reject> {
    match kind {
        CommandKind::ListUnderlying {
            pool, underlying, ..
        } => {
            let Some(p) = state.pools.get(pool) else {
                return Ok(());
            };
            if p.generation != Generation::CrossMargin
                && !p.markets.is_empty()
                && !p.markets.contains_key(underlying)
            {
                return Err(unsupported(
                    p.generation,
                    "list_underlying",
                    "one underlying per pool (cross_margin pools take several)",
                ));
            }
            Ok(())
        }
        CommandKind::Trade {
            pool,
            account,
            instrument,
            side,
            size,
            ..
        } => {
            let Some(p) = state.pools.get(pool) else {
                return Ok(());
            };
            if p.generation != Generation::Static {
                return Ok(());
            }
            match Instrument::parse(instrument) {
                Ok(Instrument::Perp { .. }) => Err(unsupported(
                    p.generation,
                    "trade",
                    &format!("{instrument}: no perps in a static vault"),
                )),
                Ok(Instrument::Option { .. }) if *side == Side::Sell => {
                    let held = state
                        .accounts
                        .get(account)
                        .and_then(|a| a.positions.get(pool))
                        .and_then(|m| m.get(instrument))
                        .map(|p| p.size)
                        .unwrap_or(Base::ZERO);
                    if size.raw() > held.raw() {
                        Err(unsupported(
                            p.generation,
                            "trade",
                            &format!(
                                "{instrument}: traders may only buy and close; selling {size} \
                                 against a position of {held} would open a short"
                            ),
                        ))
                    } else {
                        Ok(())
                    }
                }
                _ => Ok(()),
            }
        }
        CommandKind::HedgeFill { pool, .. } => match state.pools.get(pool) {
            Some(p) if p.generation == Generation::Static => Err(unsupported(
                p.generation,
                "hedge_fill",
                "a static vault does not hedge",
            )),
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}
