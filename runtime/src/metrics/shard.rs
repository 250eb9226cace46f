//! Striped atomics: each thread writes its own cache line, a scrape adds the lines up.
//!
//! A counter incremented by every thread through one `AtomicU64` makes that cache line
//! bounce between cores on every call, and each increment is a locked read-modify-write.
//! Instead each metric owns one cache-line stripe per *slot*. A thread takes a slot on
//! its first metric update and gives it back when it exits:
//!
//! - an **owned** slot is written by that thread alone, so an update is a relaxed load
//!   and store (no locked instruction), and concurrent readers still see whole values;
//! - when every owned slot is taken, further threads share a few **shared** stripes,
//!   updated with atomic read-modify-writes.
//!
//! A slot handed back is handed out again under a mutex, so the next owner's first load
//! sees the previous owner's last store. Reads (a scrape) sum all stripes.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

/// Number of `u64` slots in one cache line.
pub(crate) const SLOTS_PER_LINE: usize = 8;

/// One cache line of atomics. Stripes never share a line, so threads never share one.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Line(pub(crate) [AtomicU64; SLOTS_PER_LINE]);

/// Stripes for threads without an owned slot.
const SHARED_STRIPES: usize = 2;

/// How many owned slots there are: twice the available cores, at least 4 and at most
/// 64. More slots than cores covers a runtime's workers plus a few helper threads; the
/// cap bounds the memory of each series.
fn owned_slots() -> usize {
    static OWNED: LazyLock<usize> = LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(4, usize::from);
        (cores * 2).clamp(4, 64)
    });
    *OWNED
}

/// Stripes per metric: the owned ones, then the shared ones.
pub(crate) fn stripes() -> usize {
    owned_slots() + SHARED_STRIPES
}

/// Where the calling thread writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Slot {
    stripe: usize,
    owned: bool,
}

/// Owned slots handed back by exited threads, and the next never-used one.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
static NEXT_FRESH: AtomicUsize = AtomicUsize::new(0);
static NEXT_SHARED: AtomicUsize = AtomicUsize::new(0);

/// A thread's slot; an owned one goes back to the pool when the thread exits.
struct ThreadSlot(Slot);

impl ThreadSlot {
    fn acquire() -> ThreadSlot {
        let reused = FREE.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let owned = reused.or_else(|| {
            let fresh = NEXT_FRESH.fetch_add(1, Ordering::Relaxed);
            (fresh < owned_slots()).then_some(fresh)
        });
        ThreadSlot(match owned {
            Some(stripe) => Slot {
                stripe,
                owned: true,
            },
            None => Slot {
                stripe: shared_stripe(),
                owned: false,
            },
        })
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        if self.0.owned {
            FREE.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(self.0.stripe);
        }
    }
}

fn shared_stripe() -> usize {
    owned_slots() + NEXT_SHARED.fetch_add(1, Ordering::Relaxed) % SHARED_STRIPES
}

thread_local! {
    static THREAD_SLOT: ThreadSlot = ThreadSlot::acquire();
}

/// The calling thread's slot (a shared one while the thread's locals are being torn
/// down).
#[inline]
pub(crate) fn thread_slot() -> Slot {
    THREAD_SLOT.try_with(|s| s.0).unwrap_or_else(|_| Slot {
        stripe: owned_slots(),
        owned: false,
    })
}

/// Adds `n` (wrapping) to `cell`: with a plain load and store when the calling thread
/// owns the stripe (no other thread writes it), else atomically.
#[inline]
fn add_to(cell: &AtomicU64, owned: bool, n: u64) {
    if owned {
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    } else {
        cell.fetch_add(n, Ordering::Relaxed);
    }
}

/// One striped `u64` (a counter, an in-flight gauge): a cache line per stripe, found by
/// the stripe number alone.
pub(crate) struct StripedU64 {
    lines: Box<[Line]>,
}

impl StripedU64 {
    pub(crate) fn new() -> Self {
        StripedU64 {
            lines: (0..stripes()).map(|_| Line::default()).collect(),
        }
    }

    /// Adds `n` (wrapping) in the calling thread's stripe.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.add_in(thread_slot(), n);
    }

    /// Adds `n` (wrapping) in `slot`'s stripe (the calling thread's, looked up once for
    /// several updates).
    #[inline]
    pub(crate) fn add_in(&self, slot: Slot, n: u64) {
        add_to(&self.lines[slot.stripe].0[0], slot.owned, n);
    }

    /// The sum over every stripe (wrapping).
    pub(crate) fn sum(&self) -> u64 {
        self.lines.iter().fold(0u64, |acc, line| {
            acc.wrapping_add(line.0[0].load(Ordering::Relaxed))
        })
    }
}

/// A block of striped `u64` slots: `width` values per stripe, each stripe starting on
/// its own cache line.
pub(crate) struct Stripes {
    lines: Box<[Line]>,
    lines_per_stripe: usize,
    count: usize,
}

impl Stripes {
    /// Allocates `width` zeroed values for each stripe.
    pub(crate) fn new(width: usize) -> Self {
        let count = stripes();
        let lines_per_stripe = width.div_ceil(SLOTS_PER_LINE).max(1);
        let lines = (0..count * lines_per_stripe)
            .map(|_| Line::default())
            .collect();
        Stripes {
            lines,
            lines_per_stripe,
            count,
        }
    }

    #[inline]
    fn cell(&self, stripe: usize, index: usize) -> &AtomicU64 {
        let line = stripe * self.lines_per_stripe + index / SLOTS_PER_LINE;
        &self.lines[line].0[index % SLOTS_PER_LINE]
    }

    /// The values of `slot`'s stripe, found once for several updates.
    #[inline]
    pub(crate) fn stripe(&self, slot: Slot) -> Stripe<'_> {
        let start = slot.stripe * self.lines_per_stripe;
        Stripe {
            lines: &self.lines[start..start + self.lines_per_stripe],
            owned: slot.owned,
        }
    }

    /// Value `index` summed over every stripe (wrapping, like the values themselves).
    pub(crate) fn sum(&self, index: usize) -> u64 {
        (0..self.count).fold(0u64, |acc, s| {
            acc.wrapping_add(self.cell(s, index).load(Ordering::Relaxed))
        })
    }

    /// Value `index` of every stripe read as `f64` bits and added.
    pub(crate) fn sum_f64(&self, index: usize) -> f64 {
        (0..self.count)
            .map(|s| f64::from_bits(self.cell(s, index).load(Ordering::Relaxed)))
            .sum()
    }
}

/// One stripe of a [`Stripes`], for the calling thread.
pub(crate) struct Stripe<'a> {
    lines: &'a [Line],
    owned: bool,
}

impl Stripe<'_> {
    #[inline]
    fn cell(&self, index: usize) -> &AtomicU64 {
        &self.lines[index / SLOTS_PER_LINE].0[index % SLOTS_PER_LINE]
    }

    /// Adds `n` (wrapping) to value `index`.
    #[inline]
    pub(crate) fn add(&self, index: usize, n: u64) {
        add_to(self.cell(index), self.owned, n);
    }

    /// Adds `delta` to value `index`, read as `f64` bits.
    #[inline]
    pub(crate) fn add_f64(&self, index: usize, delta: f64) {
        let cell = self.cell(index);
        let mut current = cell.load(Ordering::Relaxed);
        if self.owned {
            cell.store(
                (f64::from_bits(current) + delta).to_bits(),
                Ordering::Relaxed,
            );
            return;
        }
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_stripe_starts_on_its_own_line() {
        let s = Stripes::new(9);
        assert_eq!(s.lines_per_stripe, 2);
        let a = s.cell(0, 0) as *const AtomicU64 as usize;
        let b = s.cell(1, 0) as *const AtomicU64 as usize;
        assert_eq!(a % 64, 0);
        assert_eq!(b - a, 128);
    }

    #[test]
    fn sums_cover_every_stripe() {
        let s = Stripes::new(2);
        for stripe in 0..s.count {
            s.stripe(Slot {
                stripe,
                owned: false,
            })
            .add(1, stripe as u64 + 1);
        }
        let n = s.count as u64;
        assert_eq!(s.sum(1), n * (n + 1) / 2);
        assert_eq!(s.sum(0), 0);
    }

    #[test]
    fn single_values_sum_every_stripe_and_wrap() {
        let s = StripedU64::new();
        s.add(1);
        s.add(u64::MAX);
        assert_eq!(s.sum(), 0);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| s.add(2));
            }
        });
        assert_eq!(s.sum(), 6);
    }

    #[test]
    fn live_threads_never_share_an_owned_slot_and_exited_ones_give_theirs_back() {
        // Hold several threads alive at once: their owned slots must all differ.
        let barrier = std::sync::Barrier::new(3);
        let slots: Vec<Slot> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..3)
                .map(|_| {
                    scope.spawn(|| {
                        let slot = thread_slot();
                        barrier.wait();
                        slot
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let owned: Vec<usize> = slots.iter().filter(|s| s.owned).map(|s| s.stripe).collect();
        let mut unique = owned.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), owned.len(), "{slots:?}");
        // Those threads have exited: a new thread is handed an owned slot again. Other
        // tests of this process may hold every owned slot for a moment, so a few tries,
        // a bounded wait between them.
        let owned_again = (0..200).any(|_| {
            let owned = std::thread::spawn(thread_slot).join().unwrap().owned;
            if !owned {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            owned
        });
        assert!(owned_again, "no owned slot came back");
    }

    #[test]
    fn more_threads_than_owned_slots_count_exactly() {
        let s = Stripes::new(1);
        let threads = owned_slots() * 2 + 3;
        let barrier = std::sync::Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..10_000 {
                        s.stripe(thread_slot()).add(0, 1);
                    }
                });
            }
        });
        assert_eq!(s.sum(0), threads as u64 * 10_000);
    }
}
