//! Adaptive striping: a series is one set of atomics until it is hot, then each thread
//! writes its own cache line and a read adds the lines up.
//!
//! A counter incremented by every thread through one `AtomicU64` makes that cache line
//! bounce between cores on every call, and each increment is a locked read-modify-write.
//! Giving every series a cache line per core avoids both, but most series are cold (one
//! label set of many, touched now and then), and memory that grows with the core count
//! for each of them is paid on every large host and read on every scrape. So, in the
//! manner of `java.util.concurrent.atomic.LongAdder`, a series starts *cold*:
//!
//! - its values are one set of atomics, the **base**, updated with read-modify-writes by
//!   any thread, as in a plain atomic counter;
//! - it turns *hot* when contention is seen (a compare-and-swap on the base fails:
//!   another thread wrote between our load and our swap), or when it takes more than
//!   [`HOT_AFTER`] writes between two reads (a scrape), which makes the reads the window
//!   that tells a busy series from one touched now and then.
//!
//! A hot series gets a directory of stripes, allocated [`GROUP`] stripes at a time on
//! the first write of a thread whose stripe is in that group. Threads take the lowest
//! free slot, so a hot series touched by three threads holds one group whatever the core
//! count. The base keeps what it counted, and a read sums the base and the stripes.
//!
//! A thread takes a *slot* on its first metric update and gives it back when it exits:
//!
//! - an **owned** slot is written by that thread alone, so an update of a hot series is a
//!   relaxed load and store (no locked instruction), and concurrent readers still see
//!   whole values;
//! - when every owned slot is taken, further threads share a few **shared** stripes,
//!   updated with atomic read-modify-writes.
//!
//! A slot handed back is handed out again under a mutex, so the next owner's first load
//! sees the previous owner's last store. Every write lands in exactly one cell, by an
//! atomic read-modify-write or by the one thread that owns the cell, so counts are exact
//! under any number of threads.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock};

/// Number of `u64` slots in one cache line.
pub(crate) const SLOTS_PER_LINE: usize = 8;

/// One cache line of atomics. Stripes never share a line, so threads never share one.
#[repr(align(64))]
#[derive(Default)]
pub(crate) struct Line(pub(crate) [AtomicU64; SLOTS_PER_LINE]);

/// Stripes for threads without an owned slot.
const SHARED_STRIPES: usize = 2;

/// Stripes allocated together when a hot series first needs one of them.
pub(crate) const GROUP: usize = 4;

/// A cold series turns hot after this many writes between two reads: at a 15-second
/// scrape interval, about 70 writes a second.
pub(crate) const HOT_AFTER: u32 = 1024;

/// The environment variable that forces the number of stripes a hot series may have,
/// owned and shared together (at least 3), so tests and benchmarks on a small machine can
/// measure what a large host does: `RUSTFORM_METRIC_STRIPES=66` is a host with 32 or more
/// cores. A testing aid, not a tuning knob; an unreadable value is ignored.
pub(crate) const FORCE_STRIPES_VAR: &str = "RUSTFORM_METRIC_STRIPES";

/// How many owned slots there are: twice the available cores, at least 4 and at most
/// 64, unless [`FORCE_STRIPES_VAR`] says otherwise. More slots than cores covers a
/// runtime's workers plus a few helper threads; the cap bounds a hot series' memory.
fn owned_slots() -> usize {
    static OWNED: LazyLock<usize> = LazyLock::new(|| {
        let forced = std::env::var(FORCE_STRIPES_VAR)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .map(|total| total.clamp(SHARED_STRIPES + 1, 1024) - SHARED_STRIPES);
        forced.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(4, usize::from);
            (cores * 2).clamp(4, 64)
        })
    });
    *OWNED
}

/// Stripes a hot series may have: the owned ones, then the shared ones.
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

/// The values of one series: `width` `u64`s (a counter has one; a histogram a count per
/// bucket and its sum), cold or hot as the module says. `B` holds the base: an array for
/// a fixed width, a boxed slice otherwise.
pub(crate) struct Cells<B> {
    base: B,
    /// Writes since the last read, while cold (a hint: racing updates may lose some).
    heat: AtomicU32,
    /// Set once the series is hot: one entry per [`GROUP`] of stripes, each allocated on
    /// first use.
    hot: OnceLock<Directory>,
}

/// One striped `u64`: a counter, an in-flight gauge.
pub(crate) type StripedU64 = Cells<[AtomicU64; 1]>;

/// A series of several values (a histogram's buckets and sum).
pub(crate) type Stripes = Cells<Box<[AtomicU64]>>;

impl StripedU64 {
    pub(crate) fn new() -> Self {
        Cells::with_base([AtomicU64::new(0)])
    }

    /// Adds `n` (wrapping) for the calling thread.
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        self.add_in(thread_slot(), n);
    }

    /// Adds `n` (wrapping) where `slot` writes (the calling thread's slot, looked up once
    /// for several updates).
    ///
    /// A hot series' own stripe is found inline; a cold series, or a stripe not allocated
    /// yet, out of line.
    #[inline]
    pub(crate) fn add_in(&self, slot: Slot, n: u64) {
        match self.hot_stripe(slot) {
            Some(stripe) => stripe.add(0, n),
            None => self.add_slow(slot, n),
        }
    }

    #[inline(never)]
    fn add_slow(&self, slot: Slot, n: u64) {
        self.stripe(slot).add(0, n);
    }
}

impl Stripes {
    /// `width` zeroed values.
    pub(crate) fn new(width: usize) -> Self {
        Cells::with_base((0..width.max(1)).map(|_| AtomicU64::new(0)).collect())
    }
}

impl<B: AsRef<[AtomicU64]>> Cells<B> {
    fn with_base(base: B) -> Self {
        Cells {
            base,
            heat: AtomicU32::new(0),
            hot: OnceLock::new(),
        }
    }

    fn lines_per_stripe(&self) -> usize {
        self.base.as_ref().len().div_ceil(SLOTS_PER_LINE)
    }

    /// `slot`'s stripe of a hot series, if the series is hot and the stripe's group is
    /// allocated: the fast path of a busy series, two loads and their checks.
    #[inline]
    pub(crate) fn hot_stripe(&self, slot: Slot) -> Option<HotStripe<'_>> {
        let hot = self.hot.get()?;
        let group = hot.get(slot.stripe / GROUP).and_then(OnceLock::get)?;
        let lines_per_stripe = self.lines_per_stripe();
        let start = slot.stripe % GROUP * lines_per_stripe;
        Some(HotStripe {
            lines: group.get(start..start + lines_per_stripe)?,
            owned: slot.owned,
        })
    }

    /// Where `slot` writes this series' values, found once for several updates.
    #[inline]
    pub(crate) fn stripe(&self, slot: Slot) -> Stripe<'_> {
        if let Some(stripe) = self.hot_stripe(slot) {
            return Stripe::Hot(stripe);
        }
        if self.hot.get().is_some() {
            return self.grow(slot);
        }
        let heat = self.heat.load(Ordering::Relaxed);
        if heat >= HOT_AFTER {
            return self.grow(slot);
        }
        self.heat.store(heat + 1, Ordering::Relaxed);
        Stripe::Cold {
            base: self.base.as_ref(),
            hot: &self.hot,
        }
    }

    /// The series is hot: `slot`'s stripe, allocated if this is its first write.
    #[cold]
    fn grow(&self, slot: Slot) -> Stripe<'_> {
        let hot = self.hot.get_or_init(directory);
        let lines_per_stripe = self.lines_per_stripe();
        let first = slot.stripe - slot.stripe % GROUP;
        let start = (slot.stripe - first) * lines_per_stripe;
        let lines = hot.get(first / GROUP).and_then(|entry| {
            let group = entry.get_or_init(|| {
                let stripes = GROUP.min(stripes().saturating_sub(first));
                (0..stripes * lines_per_stripe)
                    .map(|_| Line::default())
                    .collect()
            });
            group.get(start..start + lines_per_stripe)
        });
        match lines {
            Some(lines) => Stripe::Hot(HotStripe {
                lines,
                owned: slot.owned,
            }),
            // Unreachable: every slot has its place in the directory. Writing the base
            // is still exact.
            None => Stripe::Cold {
                base: self.base.as_ref(),
                hot: &self.hot,
            },
        }
    }

    /// Value `index` summed over the base and every stripe (wrapping, like the values).
    pub(crate) fn sum(&self, index: usize) -> u64 {
        let base = self
            .base
            .as_ref()
            .get(index)
            .map_or(0, |c| c.load(Ordering::Relaxed));
        self.stripe_cells(index).fold(base, |acc, cell| {
            acc.wrapping_add(cell.load(Ordering::Relaxed))
        })
    }

    /// Value `index` of the base and every stripe read as `f64` bits and added.
    pub(crate) fn sum_f64(&self, index: usize) -> f64 {
        let base = self
            .base
            .as_ref()
            .get(index)
            .map_or(0.0, |c| f64::from_bits(c.load(Ordering::Relaxed)));
        self.stripe_cells(index)
            .map(|cell| f64::from_bits(cell.load(Ordering::Relaxed)))
            .fold(base, |acc, v| acc + v)
    }

    fn stripe_cells(&self, index: usize) -> impl Iterator<Item = &AtomicU64> {
        let lines_per_stripe = self.lines_per_stripe();
        self.hot
            .get()
            .into_iter()
            .flat_map(|hot| hot.iter().filter_map(OnceLock::get))
            .flat_map(move |group| group.chunks(lines_per_stripe))
            .filter_map(move |lines| hot_cell(lines, index))
    }

    /// Starts a new window for the write count that turns a series hot: called by a
    /// scrape, once per series, after reading it.
    pub(crate) fn cool(&self) {
        if self.hot.get().is_none() && self.heat.load(Ordering::Relaxed) != 0 {
            self.heat.store(0, Ordering::Relaxed);
        }
    }

    /// Whether the series has turned hot.
    #[cfg(test)]
    pub(crate) fn is_hot(&self) -> bool {
        self.hot.get().is_some()
    }

    /// How many stripes the series has allocated.
    #[cfg(test)]
    pub(crate) fn allocated_stripes(&self) -> usize {
        let lines_per_stripe = self.lines_per_stripe();
        self.hot.get().map_or(0, |hot| {
            hot.iter()
                .filter_map(OnceLock::get)
                .map(|group| group.len() / lines_per_stripe)
                .sum()
        })
    }
}

/// A hot series' stripes: one entry per [`GROUP`], each the group's stripes one after
/// the other.
type Directory = Box<[OnceLock<Box<[Line]>>]>;

/// A hot series' directory, no group allocated yet.
fn directory() -> Directory {
    (0..stripes().div_ceil(GROUP))
        .map(|_| OnceLock::new())
        .collect()
}

/// Where the calling thread writes one series' values.
pub(crate) enum Stripe<'a> {
    /// The shared base, updated atomically; a failed compare-and-swap turns the series
    /// hot.
    Cold {
        base: &'a [AtomicU64],
        hot: &'a OnceLock<Directory>,
    },
    /// The thread's stripe of a hot series.
    Hot(HotStripe<'a>),
}

impl Stripe<'_> {
    /// Adds `n` (wrapping) to value `index`.
    #[inline]
    pub(crate) fn add(&self, index: usize, n: u64) {
        match self {
            Stripe::Cold { base, hot } => {
                let Some(cell) = base.get(index) else { return };
                let current = cell.load(Ordering::Relaxed);
                if cell
                    .compare_exchange(
                        current,
                        current.wrapping_add(n),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
                {
                    contended(hot);
                    cell.fetch_add(n, Ordering::Relaxed);
                }
            }
            Stripe::Hot(stripe) => stripe.add(index, n),
        }
    }

    /// Adds `delta` to value `index`, read as `f64` bits.
    #[inline]
    pub(crate) fn add_f64(&self, index: usize, delta: f64) {
        let (base, hot) = match self {
            Stripe::Cold { base, hot } => (base, hot),
            Stripe::Hot(stripe) => return stripe.add_f64(index, delta),
        };
        let Some(cell) = base.get(index) else { return };
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + delta).to_bits();
            match cell.compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => {
                    contended(hot);
                    current = actual;
                }
            }
        }
    }
}

/// The calling thread's stripe of a hot series.
pub(crate) struct HotStripe<'a> {
    lines: &'a [Line],
    owned: bool,
}

impl HotStripe<'_> {
    /// Adds `n` (wrapping) to value `index`.
    #[inline]
    pub(crate) fn add(&self, index: usize, n: u64) {
        let Some(cell) = hot_cell(self.lines, index) else {
            return;
        };
        if self.owned {
            cell.store(
                cell.load(Ordering::Relaxed).wrapping_add(n),
                Ordering::Relaxed,
            );
        } else {
            cell.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Adds `delta` to value `index`, read as `f64` bits.
    #[inline]
    pub(crate) fn add_f64(&self, index: usize, delta: f64) {
        let Some(cell) = hot_cell(self.lines, index) else {
            return;
        };
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
            match cell.compare_exchange(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

#[inline]
fn hot_cell(lines: &[Line], index: usize) -> Option<&AtomicU64> {
    lines
        .get(index / SLOTS_PER_LINE)
        .map(|line| &line.0[index % SLOTS_PER_LINE])
}

/// Two threads wrote a cold series at once: its next writes go to their own stripes.
#[cold]
fn contended(hot: &OnceLock<Directory>) {
    hot.get_or_init(directory);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(stripe: usize) -> Slot {
        Slot {
            stripe,
            owned: true,
        }
    }

    fn shared(stripe: usize) -> Slot {
        Slot {
            stripe,
            owned: false,
        }
    }

    #[test]
    fn a_series_starts_cold_with_no_stripe() {
        let s = Stripes::new(13);
        s.stripe(owned(0)).add(3, 2);
        assert!(!s.is_hot());
        assert_eq!(s.allocated_stripes(), 0);
        assert_eq!(s.sum(3), 2);
    }

    #[test]
    fn many_writes_between_two_reads_turn_a_series_hot_and_a_read_starts_a_new_window() {
        let s = StripedU64::new();
        for _ in 0..HOT_AFTER {
            s.add_in(owned(0), 1);
        }
        assert!(!s.is_hot());
        s.cool();
        for _ in 0..HOT_AFTER {
            s.add_in(owned(0), 1);
        }
        assert!(!s.is_hot(), "the read started a new window");
        s.add_in(owned(0), 1);
        assert!(s.is_hot());
        assert_eq!(
            s.allocated_stripes(),
            GROUP.min(stripes()),
            "only the writing thread's group"
        );
        assert_eq!(s.sum(0), 2 * u64::from(HOT_AFTER) + 1);
    }

    #[test]
    fn a_hot_series_allocates_only_the_groups_written() {
        let s = Stripes::new(9);
        contended(&s.hot);
        assert_eq!(s.allocated_stripes(), 0);
        s.stripe(owned(1)).add(8, 5);
        assert_eq!(s.allocated_stripes(), GROUP.min(stripes()));
        s.stripe(owned(0)).add(8, 1);
        assert_eq!(s.allocated_stripes(), GROUP.min(stripes()), "same group");
        s.stripe(shared(stripes() - 1)).add(8, 7);
        let last_group = (stripes() - 1) / GROUP * GROUP;
        let expected = match last_group {
            0 => stripes().min(GROUP),
            first => GROUP + (stripes() - first),
        };
        assert_eq!(
            s.allocated_stripes(),
            expected,
            "the first group and the last"
        );
        assert_eq!(s.sum(8), 13);
        let Stripe::Hot(HotStripe { lines, .. }) = s.stripe(owned(1)) else {
            panic!("hot series wrote its base");
        };
        assert_eq!(lines.len(), 2, "9 values take two lines");
        assert_eq!(lines.as_ptr() as usize % 64, 0);
        // Stripes 0 and 1 are neighbours in their group and never share a line.
        let Stripe::Hot(HotStripe { lines: first, .. }) = s.stripe(owned(0)) else {
            panic!("hot series wrote its base");
        };
        assert_eq!(lines.as_ptr() as usize - first.as_ptr() as usize, 128);
    }

    #[test]
    fn sums_cover_the_base_and_every_stripe() {
        let s = Stripes::new(2);
        s.stripe(owned(0)).add(1, 1);
        contended(&s.hot);
        for stripe in 0..stripes() {
            s.stripe(shared(stripe)).add(1, stripe as u64 + 2);
        }
        let n = stripes() as u64;
        assert_eq!(s.sum(1), 1 + (n + 1) * (n + 2) / 2 - 1);
        assert_eq!(s.sum(0), 0);
        assert_eq!(s.sum(7), 0, "past the width reads nothing");
    }

    #[test]
    fn floats_add_up_cold_and_hot() {
        let s = Stripes::new(2);
        s.stripe(owned(0)).add_f64(1, 0.25);
        contended(&s.hot);
        s.stripe(owned(0)).add_f64(1, 0.5);
        s.stripe(shared(stripes() - 1)).add_f64(1, 1.0);
        assert_eq!(s.sum_f64(1), 1.75);
    }

    #[test]
    fn single_values_sum_every_stripe_and_wrap() {
        let s = StripedU64::new();
        s.add(1);
        s.add(u64::MAX);
        assert_eq!(s.sum(0), 0);
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| s.add(2));
            }
        });
        assert_eq!(s.sum(0), 6);
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
    fn more_threads_than_owned_slots_count_exactly_through_the_turn_to_hot() {
        let s = Stripes::new(2);
        let threads = owned_slots() * 2 + 3;
        let barrier = std::sync::Barrier::new(threads);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    barrier.wait();
                    for _ in 0..10_000 {
                        let stripe = s.stripe(thread_slot());
                        stripe.add(0, 1);
                        stripe.add_f64(1, 0.5);
                    }
                });
            }
        });
        assert!(s.is_hot());
        assert_eq!(s.sum(0), threads as u64 * 10_000);
        assert_eq!(s.sum_f64(1), threads as f64 * 5_000.0);
    }
}
