//! [`Gauge`]: a value that goes up and down; and the striped in-flight gauge that
//! `#[observed(track_concurrency)]` uses.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::Ordering::Relaxed;

use super::encode::{MetricType, SampleWriter};
use super::shard::StripedU64;
use super::{MetricValue, Series};

/// A value that goes up and down: queue depth, open connections, active users.
///
/// ```
/// use rustform::metrics::Gauge;
///
/// let active = Gauge::new();
/// active.set(42);
/// active.inc();
/// active.sub(3);
/// assert_eq!(active.get(), 40);
/// ```
#[derive(Clone)]
pub struct Gauge {
    core: Arc<Padded>,
}

/// The gauge's value on a cache line of its own, so neighbouring allocations written by
/// other threads do not slow it down.
#[repr(align(64))]
#[derive(Default)]
struct Padded(AtomicI64);

impl Gauge {
    /// A gauge at zero.
    pub fn new() -> Gauge {
        Gauge {
            core: Arc::new(Padded::default()),
        }
    }

    /// Sets the value.
    #[inline]
    pub fn set(&self, value: i64) {
        self.core.0.store(value, Relaxed);
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    #[inline]
    pub fn dec(&self) {
        self.sub(1);
    }

    /// Adds `delta`.
    #[inline]
    pub fn add(&self, delta: i64) {
        self.core.0.fetch_add(delta, Relaxed);
    }

    /// Subtracts `delta`.
    #[inline]
    pub fn sub(&self, delta: i64) {
        self.core.0.fetch_sub(delta, Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.core.0.load(Relaxed)
    }
}

impl Default for Gauge {
    fn default() -> Self {
        Gauge::new()
    }
}

impl fmt::Debug for Gauge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Gauge").field(&self.get()).finish()
    }
}

impl Series for Gauge {
    type Config = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn create(_: &()) -> Self {
        Gauge::new()
    }

    fn write(&self, w: &mut SampleWriter<'_>) {
        w.gauge(self.get());
    }

    fn value(&self) -> MetricValue {
        MetricValue::Gauge(self.get())
    }
}

/// A gauge that only moves by one, up on entry and down on exit, striped like a counter:
/// the concurrency gauge of an observed function is touched twice per call by every
/// thread, so it must not be one shared cache line. The exit may run on another thread
/// than the entry (an async task moves); the stripes' sum is still exact.
#[derive(Clone)]
pub(crate) struct InFlight {
    cells: Arc<StripedU64>,
}

impl InFlight {
    #[inline]
    pub(crate) fn enter(&self) {
        self.cells.add(1);
    }

    #[inline]
    pub(crate) fn exit(&self) {
        self.cells.add(1u64.wrapping_neg());
    }

    pub(crate) fn get(&self) -> i64 {
        self.cells.sum(0) as i64
    }
}

impl Series for InFlight {
    type Config = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn create(_: &()) -> Self {
        InFlight {
            cells: Arc::new(StripedU64::new()),
        }
    }

    fn write(&self, w: &mut SampleWriter<'_>) {
        self.cells.cool();
        w.gauge(self.get());
    }

    fn value(&self) -> MetricValue {
        self.cells.cool();
        MetricValue::Gauge(self.get())
    }
}
