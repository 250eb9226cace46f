//! [`Counter`]: a monotonic count, striped across cache lines once it is busy.

use std::fmt;
use std::sync::Arc;

use super::encode::{MetricType, SampleWriter};
use super::exemplar::{Exemplar, ExemplarCell};
use super::shard::StripedU64;
use super::{MetricValue, Series};

/// A count that only goes up: requests served, jobs failed, bytes sent.
///
/// Cloning gives another handle to the same count. A counter starts as one atomic; once
/// it is busy, increments from different threads land on different cache lines, so a
/// hot counter does not serialise its callers and a cold one costs no more memory on a
/// large host than on a small one.
///
/// ```
/// use rustform::metrics::{Counter, Registry};
///
/// let registry = Registry::new();
/// let jobs = Counter::new();
/// registry.register("jobs_processed", "Jobs processed", jobs.clone()).unwrap();
/// jobs.inc();
/// jobs.inc_by(2);
/// assert_eq!(jobs.get(), 3);
/// assert!(registry.render().contains("jobs_processed_total 3\n"));
/// ```
#[derive(Clone)]
pub struct Counter {
    core: Arc<CounterCore>,
}

struct CounterCore {
    cells: StripedU64,
    exemplar: ExemplarCell,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Counter {
        Counter {
            core: Arc::new(CounterCore {
                cells: StripedU64::new(),
                exemplar: ExemplarCell::default(),
            }),
        }
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.inc_by(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn inc_by(&self, n: u64) {
        self.core.cells.add(n);
    }

    /// Adds one in `slot`'s stripe (the calling thread's, looked up once by the caller).
    #[inline]
    pub(crate) fn inc_in(&self, slot: super::shard::Slot) {
        self.core.cells.add_in(slot, 1);
    }

    /// Adds `n` and keeps `exemplar` as the counter's latest example (OpenMetrics shows it).
    pub fn inc_by_with_exemplar(&self, n: u64, exemplar: Exemplar) {
        self.inc_by(n);
        self.core.exemplar.set(exemplar);
    }

    /// Adds `n` and, when a trace is current (see
    /// [`set_trace_context_source`](super::set_trace_context_source)), keeps it as the
    /// counter's exemplar.
    pub fn inc_by_traced(&self, n: u64) {
        match Exemplar::current(n as f64) {
            Some(exemplar) => self.inc_by_with_exemplar(n, exemplar),
            None => self.inc_by(n),
        }
    }

    /// The current count: the sum over every thread's stripe.
    pub fn get(&self) -> u64 {
        self.core.cells.sum(0)
    }
}

impl Default for Counter {
    fn default() -> Self {
        Counter::new()
    }
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Counter").field(&self.get()).finish()
    }
}

impl Series for Counter {
    type Config = ();
    const TYPE: MetricType = MetricType::Counter;

    fn create(_: &()) -> Self {
        Counter::new()
    }

    fn write(&self, w: &mut SampleWriter<'_>) {
        self.core.cells.cool();
        let exemplar = if w.wants_exemplars() {
            self.core.exemplar.get()
        } else {
            None
        };
        w.counter(self.get(), exemplar.as_ref());
    }

    fn value(&self) -> MetricValue {
        self.core.cells.cool();
        MetricValue::Counter(self.get())
    }
}
