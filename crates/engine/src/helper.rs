//! A spare core for the tick (optional; off by default).
//!
//! A `tick` does two independent things with the state it starts from: the liquidation scan
//! judges every account with positions ([`crate::liquidation::judge`], read-only), and the rest
//! of the tick accrues funding, settles, refreshes the greek caches, hedges, checks breakers,
//! deleverages and processes LP queues on the tick's copy of the state. Nothing in the rest of
//! the tick reads `liquidatable_since`, the only field the scan writes, so the scan's marks can be
//! judged on the starting state while the rest runs, and written at the end: the result (state,
//! events, rejects) is exactly that of running them one after the other, and a [`Helper`]
//! changes no outcome, only where the work runs. The stress values the refresh finds due are
//! likewise read by nothing else in the tick: the helper prices them ahead from the starting
//! state ([`crate::pool_risk::price_due_ahead`]), and a value is used only if the refresh asks
//! for exactly it. [`Helper::map`] shares such lists between the two threads, so whichever
//! finishes its part first takes the other's remaining pieces.
//!
//! The helper is a one-thread [`micropool`] pool whose worker keeps spinning for a while after
//! each job instead of going to sleep: a simulation ticks every ~100 µs, and waking a sleeping
//! thread costs tens of microseconds on a virtual machine (a `rayon::join` here made the 365-day
//! simulation slower, 1.67 → 2.06 s). The spinning ends a few milliseconds after the last tick.
//! It is for one engine at a time on an otherwise idle core — `derivpool simulate` uses it;
//! `derivpool sweep`, which already runs one simulation per core, does not.
//!
//! A panic inside a helped tick aborts the process (micropool does not carry panics across
//! threads); engine panics are bugs (a violated invariant), never bad input.

use std::fmt;
use std::sync::Arc;

/// Spin iterations (each a load and a `pause`, tens of cycles) the worker makes after a job
/// before it sleeps: a few milliseconds, well above the time between two ticks.
const IDLE_SPIN: usize = 100_000;

/// A worker thread that runs half of a tick (see the module docs). Cloning shares it.
#[derive(Clone)]
pub struct Helper {
    pool: Arc<micropool::ThreadPool>,
}

impl Helper {
    /// Starts the worker thread.
    pub fn new() -> Helper {
        Helper {
            pool: Arc::new(
                micropool::ThreadPoolBuilder::default()
                    .num_threads(1)
                    .idle_spin_cycles(IDLE_SPIN)
                    .build(),
            ),
        }
    }

    /// Runs `a` and `b`, possibly at the same time, and returns both results.
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.pool.join(a, b)
    }

    /// `f` of every item, in order. The items are split in halves down to `grain` items, and
    /// either thread may take a half: a thread that finished its own part of a [`Helper::join`]
    /// takes the halves the other has not started, so uneven work evens out.
    pub fn map<T, R, F>(&self, items: &[T], grain: usize, f: &F) -> Vec<R>
    where
        T: Sync,
        R: Send,
        F: Fn(&T) -> R + Sync,
    {
        if items.len() <= grain.max(1) {
            return items.iter().map(f).collect();
        }
        let (a, b) = items.split_at(items.len() / 2);
        let (mut ra, rb) = self.join(|| self.map(a, grain, f), || self.map(b, grain, f));
        ra.extend(rb);
        ra
    }
}

/// [`Helper::map`] with a helper, a plain in-order map without one.
pub fn map<T, R, F>(helper: Option<&Helper>, items: &[T], grain: usize, f: &F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    match helper {
        Some(h) => h.map(items, grain, f),
        None => items.iter().map(f).collect(),
    }
}

impl Default for Helper {
    fn default() -> Self {
        Helper::new()
    }
}

impl fmt::Debug for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Helper")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_returns_both_results_in_order() {
        let h = Helper::new();
        let data: Vec<u64> = (1..=1000).collect();
        for _ in 0..100 {
            let (a, b) = h.join(
                || data.iter().sum::<u64>(),
                || data.iter().map(|x| x * 2).sum::<u64>(),
            );
            assert_eq!((a, b), (500_500, 1_001_000));
        }
    }

    #[test]
    fn map_keeps_the_order_of_the_items() {
        let h = Helper::new();
        let items: Vec<u64> = (0..1000).collect();
        for grain in [1, 3, 64, 5000] {
            let got = h.map(&items, grain, &|x| x * x);
            let want: Vec<u64> = items.iter().map(|x| x * x).collect();
            assert_eq!(got, want, "grain {grain}");
            assert_eq!(map(None, &items, grain, &|x| x * x), want);
        }
    }
}
