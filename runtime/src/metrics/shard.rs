//! Striped atomics: each thread writes its own cache line, a scrape adds the lines up.
//!
//! A counter incremented by every thread through one `AtomicU64` makes that cache line
//! bounce between cores on every call. Instead each metric owns a small power-of-two
//! number of cache-line-sized stripes; a thread picks its stripe once (round robin, on
//! its first metric update) and keeps it. Reads are rare (a scrape) and sum the stripes.

use std::cell::Cell;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Number of `u64` slots in one cache line.
pub(crate) const SLOTS_PER_LINE: usize = 8;

/// One cache line of atomics. Stripes never share a line, so threads never share one.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Line(pub(crate) [AtomicU64; SLOTS_PER_LINE]);

/// How many stripes every metric gets: twice the available cores, rounded up to a power
/// of two, between 4 and 64. More stripes than cores keeps unrelated threads (a runtime's
/// workers and its blocking pool) from colliding; the cap bounds memory per series.
pub(crate) fn stripes() -> usize {
    static STRIPES: LazyLock<usize> = LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(4, usize::from);
        (cores * 2).next_power_of_two().clamp(4, 64)
    });
    *STRIPES
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static THREAD_STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The calling thread's stripe number (unmasked): assigned round robin on first use.
#[inline]
pub(crate) fn thread_stripe() -> usize {
    THREAD_STRIPE.with(|cell| {
        let current = cell.get();
        if current != usize::MAX {
            current
        } else {
            let assigned = NEXT_THREAD.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            cell.set(assigned);
            assigned
        }
    })
}

/// A block of striped `u64` slots: `width` slots per stripe, each stripe starting on its
/// own cache line.
pub(crate) struct Stripes {
    lines: Box<[Line]>,
    lines_per_stripe: usize,
    mask: usize,
}

impl Stripes {
    /// Allocates `width` zeroed slots for each stripe.
    pub(crate) fn new(width: usize) -> Self {
        let count = stripes();
        let lines_per_stripe = width.div_ceil(SLOTS_PER_LINE).max(1);
        let lines = (0..count * lines_per_stripe)
            .map(|_| Line::default())
            .collect();
        Stripes {
            lines,
            lines_per_stripe,
            mask: count - 1,
        }
    }

    /// Slot `index` of the calling thread's stripe.
    #[inline]
    pub(crate) fn local(&self, index: usize) -> &AtomicU64 {
        self.at(thread_stripe(), index)
    }

    /// Slot `index` of the stripe a [`thread_stripe`] number maps to.
    #[inline]
    pub(crate) fn at(&self, thread_stripe: usize, index: usize) -> &AtomicU64 {
        self.slot(thread_stripe & self.mask, index)
    }

    #[inline]
    fn slot(&self, stripe: usize, index: usize) -> &AtomicU64 {
        let line = stripe * self.lines_per_stripe + index / SLOTS_PER_LINE;
        &self.lines[line].0[index % SLOTS_PER_LINE]
    }

    /// Number of stripes.
    pub(crate) fn count(&self) -> usize {
        self.mask + 1
    }

    /// Slot `index` summed over every stripe (wrapping, like the counters themselves).
    pub(crate) fn sum(&self, index: usize) -> u64 {
        (0..self.count()).fold(0u64, |acc, s| {
            acc.wrapping_add(self.slot(s, index).load(Ordering::Relaxed))
        })
    }

    /// Slot `index` of every stripe read as `f64` bits and added.
    pub(crate) fn sum_f64(&self, index: usize) -> f64 {
        (0..self.count())
            .map(|s| f64::from_bits(self.slot(s, index).load(Ordering::Relaxed)))
            .sum()
    }

    /// Slot `index` of every stripe read as `i64` and added.
    pub(crate) fn sum_i64(&self, index: usize) -> i64 {
        (0..self.count()).fold(0i64, |acc, s| {
            acc.wrapping_add(self.slot(s, index).load(Ordering::Relaxed) as i64)
        })
    }
}

/// Adds `delta` to an `f64` stored as bits. The slot is the caller's own stripe, so the
/// compare-exchange almost never retries.
#[inline]
pub(crate) fn add_f64(slot: &AtomicU64, delta: f64) {
    let mut current = slot.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + delta).to_bits();
        match slot.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_a_power_of_two_between_4_and_64() {
        let n = stripes();
        assert!(n.is_power_of_two());
        assert!((4..=64).contains(&n));
    }

    #[test]
    fn each_stripe_starts_on_its_own_line() {
        let s = Stripes::new(9);
        assert_eq!(s.lines_per_stripe, 2);
        let a = s.slot(0, 0) as *const AtomicU64 as usize;
        let b = s.slot(1, 0) as *const AtomicU64 as usize;
        assert_eq!(a % 64, 0);
        assert_eq!(b - a, 128);
    }

    #[test]
    fn sums_cover_every_stripe() {
        let s = Stripes::new(2);
        for stripe in 0..s.count() {
            s.slot(stripe, 1)
                .fetch_add(stripe as u64 + 1, Ordering::Relaxed);
        }
        let n = s.count() as u64;
        assert_eq!(s.sum(1), n * (n + 1) / 2);
        assert_eq!(s.sum(0), 0);
    }

    #[test]
    fn threads_spread_over_stripes() {
        let ids: Vec<usize> = (0..4)
            .map(|_| std::thread::spawn(thread_stripe).join().unwrap())
            .collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            ids.len(),
            "consecutive threads get distinct stripes"
        );
    }
}
