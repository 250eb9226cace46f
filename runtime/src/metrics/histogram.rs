//! [`Histogram`]: observations counted in cumulative buckets, striped across cache lines.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::buckets::{Buckets, Layout};
use super::encode::{MetricType, SampleWriter};
use super::exemplar::{Exemplar, ExemplarCell};
use super::shard::{Stripes, thread_slot};
use super::{HistogramValue, MetricValue, Series};

/// Observations (latencies, sizes, amounts) counted in buckets, with their sum and count.
///
/// An observation is one bucket increment and one add to the sum. A histogram written
/// now and then keeps them in one set of atomics; a busy one gives each writing thread
/// its own cache line. `_count` is the sum of the buckets, so
/// the `+Inf` bucket always equals `_count`, even in a scrape that races observations.
///
/// ```
/// use rustform::metrics::{Buckets, Histogram};
///
/// let latency = Histogram::new(Buckets::new([0.1, 0.5, 1.0]).unwrap());
/// latency.observe(0.25);
/// latency.observe(2.0);
/// assert_eq!(latency.count(), 2);
/// assert_eq!(latency.sum(), 2.25);
/// assert_eq!(latency.cumulative_counts(), vec![0, 1, 1, 2]);
/// ```
#[derive(Clone)]
pub struct Histogram {
    core: Arc<HistogramCore>,
}

struct HistogramCore {
    layout: Arc<Layout>,
    /// Per stripe: one slot per bucket (the last is `+Inf`), then the sum's bits.
    cells: Stripes,
    /// One per bucket; allocated on the first exemplar.
    exemplars: std::sync::OnceLock<Box<[ExemplarCell]>>,
}

impl Histogram {
    /// A histogram with the given buckets.
    pub fn new(buckets: Buckets) -> Histogram {
        let layout = buckets.layout().clone();
        let width = layout.bounds.len() + 2;
        Histogram {
            core: Arc::new(HistogramCore {
                layout,
                cells: Stripes::new(width),
                exemplars: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Records one observation.
    #[inline]
    pub fn observe(&self, value: f64) {
        self.observe_in(thread_slot(), value);
    }

    /// Records one observation in `slot`'s stripe (the calling thread's, looked up once
    /// by the caller).
    #[inline]
    pub(crate) fn observe_in(&self, slot: super::shard::Slot, value: f64) {
        let core = &*self.core;
        let bucket = core.layout.index(value);
        let sum = core.layout.bounds.len() + 1;
        if let Some(stripe) = core.cells.hot_stripe(slot) {
            stripe.add(bucket, 1);
            stripe.add_f64(sum, value);
            return;
        }
        self.observe_cold(slot, bucket, sum, value);
    }

    /// [`observe_in`](Self::observe_in) for a series not hot yet, or whose stripe is not
    /// allocated yet.
    #[inline(never)]
    fn observe_cold(&self, slot: super::shard::Slot, bucket: usize, sum: usize, value: f64) {
        let stripe = self.core.cells.stripe(slot);
        stripe.add(bucket, 1);
        stripe.add_f64(sum, value);
    }

    /// Records a duration, in seconds.
    #[inline]
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// Records one observation and keeps `exemplar` as the latest example for its bucket.
    pub fn observe_with_exemplar(&self, value: f64, exemplar: Exemplar) {
        self.observe(value);
        let bucket = self.core.layout.index(value);
        let cells = self.core.exemplars.get_or_init(|| {
            (0..=self.core.layout.bounds.len())
                .map(|_| ExemplarCell::default())
                .collect()
        });
        cells[bucket].set(exemplar);
    }

    /// Records one observation and, when a trace is current (see
    /// [`set_trace_context_source`](super::set_trace_context_source)), keeps it as its
    /// bucket's exemplar.
    pub fn observe_traced(&self, value: f64) {
        match Exemplar::current(value) {
            Some(exemplar) => self.observe_with_exemplar(value, exemplar),
            None => self.observe(value),
        }
    }

    /// Offers the current trace as the exemplar of `value`'s bucket, at most once per
    /// second per bucket (the `#[observed]` duration histogram does this on every call
    /// whose span is enabled).
    pub(crate) fn offer_exemplar(&self, value: f64, now_nanos: u64) {
        let bucket = self.core.layout.index(value);
        self.exemplar_cells()[bucket].offer(value, now_nanos);
    }

    fn exemplar_cells(&self) -> &[ExemplarCell] {
        self.core.exemplars.get_or_init(|| {
            (0..=self.core.layout.bounds.len())
                .map(|_| ExemplarCell::default())
                .collect()
        })
    }

    /// A timer that observes the elapsed seconds when dropped.
    ///
    /// ```
    /// # let histogram = rustform::metrics::Histogram::default();
    /// {
    ///     let _timer = histogram.start_timer();
    ///     // work being timed
    /// }
    /// assert_eq!(histogram.count(), 1);
    /// ```
    pub fn start_timer(&self) -> HistogramTimer<'_> {
        HistogramTimer {
            histogram: self,
            start: crate::clock::now(),
        }
    }

    /// The number of observations.
    pub fn count(&self) -> u64 {
        let n = self.core.layout.bounds.len();
        (0..=n)
            .map(|i| self.core.cells.sum(i))
            .fold(0, u64::wrapping_add)
    }

    /// The sum of the observations.
    pub fn sum(&self) -> f64 {
        self.core.cells.sum_f64(self.core.layout.bounds.len() + 1)
    }

    /// The upper bounds, without the implicit `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.core.layout.bounds
    }

    /// Cumulative count per bucket, `+Inf` last (equal to [`count`](Self::count)).
    pub fn cumulative_counts(&self) -> Vec<u64> {
        let n = self.core.layout.bounds.len();
        let mut total = 0u64;
        (0..=n)
            .map(|i| {
                total = total.wrapping_add(self.core.cells.sum(i));
                total
            })
            .collect()
    }
}

impl Default for Histogram {
    /// A histogram with Prometheus' default buckets.
    fn default() -> Self {
        Histogram::new(Buckets::default())
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("sum", &self.sum())
            .field("bounds", &self.bounds())
            .finish()
    }
}

/// Observes the seconds since [`Histogram::start_timer`] when dropped.
#[must_use = "the timer observes when it is dropped; bind it to a variable"]
pub struct HistogramTimer<'a> {
    histogram: &'a Histogram,
    start: crate::clock::Instant,
}

impl Drop for HistogramTimer<'_> {
    fn drop(&mut self) {
        self.histogram
            .observe_duration(crate::clock::now().saturating_duration_since(self.start));
    }
}

impl Series for Histogram {
    type Config = Buckets;
    const TYPE: MetricType = MetricType::Histogram;

    fn create(buckets: &Buckets) -> Self {
        Histogram::new(buckets.clone())
    }

    fn write(&self, w: &mut SampleWriter<'_>) {
        self.core.cells.cool();
        let layout = &self.core.layout;
        let exemplars = self.core.exemplars.get().filter(|_| w.wants_exemplars());
        let mut cumulative = 0u64;
        for (i, le) in layout.le.iter().enumerate() {
            cumulative = cumulative.wrapping_add(self.core.cells.sum(i));
            let exemplar = exemplars.and_then(|cells| cells[i].get());
            w.bucket(le, cumulative, exemplar.as_ref());
        }
        w.histogram_totals(self.sum(), cumulative);
    }

    fn value(&self) -> MetricValue {
        self.core.cells.cool();
        let counts = self.cumulative_counts();
        let count = *counts.last().unwrap_or(&0);
        let buckets = self
            .bounds()
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(counts)
            .collect();
        let exemplars = self
            .core
            .exemplars
            .get()
            .map(|cells| {
                cells
                    .iter()
                    .enumerate()
                    .filter_map(|(i, cell)| Some((i, cell.get()?)))
                    .collect()
            })
            .unwrap_or_default();
        MetricValue::Histogram(HistogramValue {
            buckets,
            count,
            sum: self.sum(),
            exemplars,
        })
    }
}
