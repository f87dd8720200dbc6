//! A spare core for the tick (optional; off by default).
//!
//! A `tick` does two independent things with the state it starts from: the liquidation scan
//! judges every account with positions ([`crate::liquidation::judge`], read-only), and the rest
//! of the tick accrues funding, settles, refreshes the greek caches, hedges, checks breakers,
//! deleverages and processes LP queues on the tick's copy of the state. Nothing in the rest of
//! the tick reads `liquidatable_since`, the only field the scan writes, so the scan's marks can be
//! judged on the starting state while the rest runs, and written at the end: the result (state,
//! events, rejects) is exactly that of running them one after the other, and a [`Helper`]
//! changes no outcome, only where the work runs.
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
}
