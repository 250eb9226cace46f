//! Log sampling: keep a fixed fraction of the events below WARN, every WARN and ERROR,
//! and count what is dropped.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::Level;

use crate::metrics::{Counter, CounterVec, LabelSet, default_registry};

/// Rates are kept in billionths, so a rate written in decimal (`0.1`, `0.7`) is exact
/// and the count kept is exactly `floor(n × rate)` after `n` events.
const SCALE: u64 = 1_000_000_000;

/// Thins out events below WARN to a fixed fraction, deterministically: of every
/// `n` such events it keeps exactly `floor(n × rate)`, spread evenly (event `i`, from
/// 0, is kept when `floor((i + 1) × rate) > floor(i × rate)`). WARN and ERROR are
/// always kept. Spans are not affected.
///
/// It decides in `event_enabled`, after every layer's `enabled` has accepted the event,
/// so what it counts as seen or dropped would otherwise have been written.
pub(crate) struct Sampling {
    /// The rate in billionths, below `SCALE`.
    keep: u64,
    /// Events below WARN seen so far; the one atomic on the path.
    seen: AtomicU64,
    /// `rustform_log_events_dropped_total{reason="sampling"}`.
    dropped: Counter,
}

impl Sampling {
    /// A sampler keeping `rate` of the events below WARN, or `None` when that is all of
    /// them (a rate of 1 or more, or not a number). A rate of 0 or less keeps none.
    pub(crate) fn new(rate: f64) -> Option<Sampling> {
        if rate.is_nan() || rate >= 1.0 {
            return None;
        }
        let keep = if rate <= 0.0 {
            0
        } else {
            // In (0, SCALE]: a rate within a billionth of 1 keeps everything too.
            (rate * SCALE as f64).round() as u64
        };
        Some(Sampling {
            keep,
            seen: AtomicU64::new(0),
            dropped: dropped(DropReason::Sampling),
        })
    }

    /// Whether the `n`th event (from 0) below WARN is kept: whether a multiple of
    /// `SCALE` lies in `(n × keep, (n + 1) × keep]`. The product is reduced modulo
    /// `SCALE` first, so nothing overflows however long the process runs.
    fn keeps(&self, n: u64) -> bool {
        let remainder = (n % SCALE) * self.keep % SCALE;
        remainder + self.keep >= SCALE
    }
}

impl Sampling {
    /// Whether an event at `level` is written: every WARN and ERROR, and the kept
    /// fraction of the rest.
    pub(crate) fn keeps_level(&self, level: &Level) -> bool {
        // Levels order by verbosity: ERROR < WARN < INFO.
        if *level <= Level::WARN {
            return true;
        }
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if self.keeps(n) {
            true
        } else {
            self.dropped.inc();
            false
        }
    }
}

/// Why a log event was not written.
#[derive(Clone, Copy)]
enum DropReason {
    /// Thinned out by `logging.sampling`.
    Sampling,
}

/// The labels of the dropped events counter.
struct Dropped {
    reason: DropReason,
}

impl LabelSet for Dropped {
    const NAMES: &'static [&'static str] = &["reason"];
    const CARDINALITY: Option<usize> = Some(1);

    fn dense_index(&self) -> usize {
        self.reason as usize
    }

    fn from_dense_index(index: usize) -> Option<Dropped> {
        match index {
            0 => Some(Dropped {
                reason: DropReason::Sampling,
            }),
            _ => None,
        }
    }

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(match self.reason {
            DropReason::Sampling => "sampling",
        })
    }
}

/// The counter of log events dropped for `reason`, registered in the default registry
/// the first time it is asked for.
fn dropped(reason: DropReason) -> Counter {
    static DROPPED: LazyLock<CounterVec<Dropped>> = LazyLock::new(|| {
        let dropped = CounterVec::new();
        if let Err(error) = default_registry().register(
            "rustform_log_events_dropped",
            "Log events not written, by reason",
            dropped.clone(),
        ) {
            tracing::error!(target: "rustform", %error, "dropped log events are counted but not exposed");
        }
        dropped
    });
    DROPPED.with(&Dropped { reason }).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(sampling: &Sampling, events: u64) -> u64 {
        (0..events).filter(|&n| sampling.keeps(n)).count() as u64
    }

    #[test]
    fn keeps_exactly_the_rate() {
        for (rate, events, expected) in [
            (0.1, 1000, 100),
            (0.1, 9, 0),
            (0.1, 10, 1),
            (0.7, 10, 7),
            (0.7, 30, 21),
            (0.5, 1001, 500),
            (0.333, 1000, 333),
            (0.0, 1000, 0),
            (-3.0, 1000, 0),
        ] {
            let sampling = Sampling::new(rate).unwrap();
            assert_eq!(
                kept(&sampling, events),
                expected,
                "rate {rate} over {events}"
            );
        }
    }

    #[test]
    fn a_billionth_is_exact() {
        let sampling = Sampling::new(0.000_000_001).unwrap();
        assert_eq!(kept(&sampling, 1000), 0);
        assert!(sampling.keeps(999_999_999));
        assert!(!sampling.keeps(1_000_000_000));
    }

    #[test]
    fn kept_events_are_spread_evenly() {
        let sampling = Sampling::new(0.25).unwrap();
        let kept: Vec<u64> = (0..12).filter(|&n| sampling.keeps(n)).collect();
        assert_eq!(kept, [3, 7, 11]);
    }

    #[test]
    fn full_or_invalid_rates_keep_everything() {
        assert!(Sampling::new(1.0).is_none());
        assert!(Sampling::new(7.0).is_none());
        assert!(Sampling::new(f64::INFINITY).is_none());
        assert!(Sampling::new(f64::NAN).is_none());
        let almost = Sampling::new(0.999_999_999_9).unwrap();
        assert_eq!(kept(&almost, 1000), 1000);
    }

    #[test]
    fn never_overflows() {
        let sampling = Sampling::new(0.1).unwrap();
        let kept = (u64::MAX - 100..=u64::MAX)
            .filter(|&n| sampling.keeps(n))
            .count();
        assert!((9..=11).contains(&kept));
    }
}
