//! The hedge loop: turns the engine's `hedge_order` events into venue orders and the venue's
//! fills into `hedge_fill` commands (DESIGN.md §2: the outside world acts on effects named in
//! events and brings the results back as commands). The simulator and the server run the same
//! loop around the same [`Venue`] trait.
//!
//! ```text
//! engine ──hedge_order──► HedgeLoop::on_events ──submit──► Venue
//! engine ◄──hedge_fill─── HedgeLoop::poll ◄──fills─────── Venue
//! ```
//!
//! An order that `replaces` another cancels the old one at the venue first, so a late fill of a
//! failed order is not sent (the engine would refuse it anyway: fills must match the pending
//! size). The mid price of an order is the engine's mark for the underlying.

use crate::venue::{Venue, VenueOrder};
use derivpool_engine::{nav, state::State, Command, CommandKind, Event};

/// A venue driven by engine events.
#[derive(Debug, Clone)]
pub struct HedgeLoop<V: Venue> {
    venue: V,
    orders_sent: u64,
}

impl<V: Venue> HedgeLoop<V> {
    /// A loop around a venue.
    pub fn new(venue: V) -> HedgeLoop<V> {
        HedgeLoop {
            venue,
            orders_sent: 0,
        }
    }

    /// The venue.
    pub fn venue(&self) -> &V {
        &self.venue
    }

    /// Orders sent to the venue so far.
    pub fn orders_sent(&self) -> u64 {
        self.orders_sent
    }

    /// Sends the venue every `hedge_order` among `events` (cancelling the orders they replace);
    /// `state` is the engine's state after those events, `now` their command's time.
    pub fn on_events(&mut self, events: &[Event], state: &State, now: u64) {
        for e in events {
            match e {
                Event::HedgeOrder {
                    pool,
                    underlying,
                    id,
                    size,
                    replaces,
                    ..
                } => {
                    if let Some(old) = replaces {
                        self.venue.cancel(pool, underlying, *old);
                    }
                    let Some(mid) = nav::mark_price(state, underlying) else {
                        continue;
                    };
                    self.venue.submit(
                        VenueOrder {
                            pool: pool.clone(),
                            underlying: underlying.clone(),
                            id: *id,
                            size: *size,
                        },
                        mid,
                        now,
                    );
                    self.orders_sent += 1;
                }
                Event::HedgeOrderCancelled {
                    pool,
                    underlying,
                    id,
                } => self.venue.cancel(pool, underlying, *id),
                _ => {}
            }
        }
    }

    /// The `hedge_fill` commands for the fills known by `now`, each at its own time (never
    /// before `now_min`, the engine's current time, so that the log's time never decreases).
    pub fn poll(&mut self, now: u64, now_min: u64) -> Vec<Command> {
        let name = self.venue.name().to_string();
        self.venue
            .poll(now)
            .into_iter()
            .map(|f| Command {
                t: f.t.max(now_min),
                kind: CommandKind::HedgeFill {
                    pool: f.pool,
                    venue: name.clone(),
                    underlying: f.underlying,
                    size: f.size,
                    price: f.price,
                    fee: f.fee,
                },
            })
            .collect()
    }
}
