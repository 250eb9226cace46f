//! Metrics: [`Counter`], [`Gauge`], [`Histogram`], their labeled forms ([`CounterVec`],
//! [`GaugeVec`], [`HistogramVec`]), the [`Registry`] that names them, and their
//! exposition in the Prometheus text format (0.0.4) and OpenMetrics 1.0.
//!
//! The core is rustform's own: each metric's atomics are striped across cache lines so
//! threads do not contend, labeled metrics with enum labels are arrays indexed without
//! hashing, and the exposition is written straight from the atomics. Through
//! `prometheus::core::Collector` (feature `prometheus`) a rustform [`Registry`] also plugs
//! into a `prometheus::Registry`.
//!
//! ```
//! use rustform::metrics::{default_registry, Counter};
//!
//! let retries = Counter::new();
//! default_registry().register("doc_retries", "Retries of outgoing calls", retries.clone()).unwrap();
//! retries.inc();
//! assert!(default_registry().render().contains("doc_retries_total 1\n"));
//! ```
//!
//! # Which labeled handle
//!
//! Three handles reach labeled series, and which one a user holds depends on where the
//! labels are written down. In code, as a `#[derive(LabelSet)]` struct: a [`CounterVec`]
//! (or [`GaugeVec`], [`HistogramVec`]), the field type of `#[derive(AppMetrics)]`, whose
//! `with(&labels)` is typed by the struct and, for enum labels, an array index. In
//! `rustform.yml`, read by `app_metrics!` while compiling: a [`LabeledCounter<N>`]
//! (or [`LabeledGauge<N>`], [`LabeledHistogram<N>`]), whose `with([..; N])` takes `N`
//! strings in the declared order, so a wrong count does not compile. In `rustform.yml`,
//! found by name at run time: a [`DeclaredMetric`] from [`custom()`]`.counter("name")`,
//! whose `with(&[..])` checks the count at every call and returns an error;
//! [`DeclaredMetric::labeled`] turns it into the typed handle once. The last two reach the
//! same series of the same metric.

pub(crate) mod app_metric;
mod buckets;
mod counter;
pub(crate) mod declared;
pub(crate) mod encode;
pub(crate) mod exemplar;
pub(crate) mod family;
mod gauge;
mod histogram;
pub(crate) mod labels;
mod name;
pub(crate) mod process;
#[cfg(feature = "prometheus")]
mod prometheus_interop;
mod registry;
pub(crate) mod shard;
mod vec;

pub use app_metric::{AppMetric, MetricDescription};
pub use buckets::{Buckets, DEFAULT_BUCKETS, FUNCTION_BUCKETS};
pub use counter::Counter;
pub use declared::{
    DeclaredMetric, DeclaredMetrics, Labeled, LabeledCounter, LabeledGauge, LabeledHistogram,
    custom,
};
pub(crate) use declared::{declare_all, declare_business};
pub use encode::{Format, MetricType};
pub use exemplar::{Exemplar, TraceContext, set_trace_context_source};
pub use family::DEFAULT_CARDINALITY_LIMIT;
pub use gauge::Gauge;
pub(crate) use gauge::InFlight;
pub use histogram::{Histogram, HistogramTimer};
pub use labels::{LabelSet, LabelValue};
pub use process::{BuildInfo, register_process_metrics};
pub(crate) use registry::ON_DEFAULT_REGISTRY;
pub use registry::{Registry, default_registry};
pub use vec::{CounterVec, DENSE_LIMIT, GaugeVec, HistogramVec, MetricVec};

use encode::SampleWriter;
use family::{Family, LabelKey};

mod sealed {
    /// One series' value: how to create it, write its samples and read it.
    pub trait Series: Clone + Send + Sync + 'static {
        /// What creating a series needs (a histogram's buckets).
        type Config: Clone + Send + Sync + 'static;
        /// The family type.
        const TYPE: super::MetricType;
        /// A new series at zero.
        fn create(config: &Self::Config) -> Self;
        /// Writes the series' samples.
        fn write(&self, w: &mut super::SampleWriter<'_>);
        /// The current value.
        fn value(&self) -> super::MetricValue;
    }

    /// Something a registry holds under one family name.
    pub trait Source: Send + Sync + 'static {
        /// Writes the samples of every series.
        fn encode(&self, name: &str, format: super::Format, out: &mut String);
        /// Appends the value of every series.
        fn collect(&self, out: &mut Vec<super::SeriesSnapshot>);
        /// Whether there is nothing to expose yet.
        fn is_empty(&self) -> bool {
            false
        }
        /// Checks the label names before registration.
        fn check(&self) -> Result<(), crate::Error> {
            Ok(())
        }
    }

    /// Turns a metric into what a registry stores.
    pub trait IntoSource {
        /// The family type and the source.
        fn into_source(self) -> (super::MetricType, Box<dyn Source>);
    }
}

pub(crate) use sealed::{Series, Source};

/// Anything a [`Registry`] can hold: [`Counter`], [`Gauge`], [`Histogram`] and the
/// labeled [`MetricVec`]s. Sealed.
pub trait Metric: sealed::IntoSource {}

impl<T: sealed::IntoSource> Metric for T {}

impl<M: Series> Source for M {
    fn encode(&self, name: &str, format: Format, out: &mut String) {
        self.write(&mut SampleWriter::new(out, name, "", format));
    }

    fn collect(&self, out: &mut Vec<SeriesSnapshot>) {
        out.push(SeriesSnapshot {
            labels: Vec::new(),
            value: self.value(),
        });
    }
}

impl<M: Series> sealed::IntoSource for M {
    fn into_source(self) -> (MetricType, Box<dyn Source>) {
        (M::TYPE, Box::new(self))
    }
}

impl<L: LabelSet, M: Series> Source for MetricVec<L, M> {
    fn encode(&self, name: &str, format: Format, out: &mut String) {
        self.write_all(name, format, out);
    }

    fn collect(&self, out: &mut Vec<SeriesSnapshot>) {
        self.for_each(&mut |key, metric| out.push(series_snapshot(key, metric)));
    }

    fn is_empty(&self) -> bool {
        MetricVec::is_empty(self)
    }

    fn check(&self) -> Result<(), crate::Error> {
        let mut seen = std::collections::HashSet::new();
        for name in L::NAMES {
            name::check_label_name(name)?;
            if !seen.insert(*name) {
                return Err(crate::Error::InvalidLabelName {
                    name: (*name).to_owned(),
                    reason: "the label set names it twice",
                });
            }
        }
        Ok(())
    }
}

impl<L: LabelSet, M: Series> sealed::IntoSource for MetricVec<L, M> {
    fn into_source(self) -> (MetricType, Box<dyn Source>) {
        (self.metric_type(), Box::new(self))
    }
}

impl<M: Series> Source for Family<M> {
    fn encode(&self, name: &str, format: Format, out: &mut String) {
        self.for_each(&mut |key, metric| {
            metric.write(&mut SampleWriter::new(out, name, &key.text, format));
        });
    }

    fn collect(&self, out: &mut Vec<SeriesSnapshot>) {
        self.for_each(&mut |key, metric| out.push(series_snapshot(key, metric)));
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<M: Series> sealed::IntoSource for Family<M> {
    fn into_source(self) -> (MetricType, Box<dyn Source>) {
        (M::TYPE, Box::new(self))
    }
}

fn series_snapshot<M: Series>(key: &LabelKey, metric: &M) -> SeriesSnapshot {
    SeriesSnapshot {
        labels: key.pairs(),
        value: metric.value(),
    }
}

/// The values of every series of a [`Registry`] at one moment.
///
/// ```
/// use rustform::metrics::{Counter, MetricValue, Registry};
///
/// let registry = Registry::new();
/// let c = Counter::new();
/// registry.register("hits", "Hits", c.clone()).unwrap();
/// c.inc();
/// let snapshot = registry.snapshot();
/// assert_eq!(snapshot.get("hits_total", &[]), Some(&MetricValue::Counter(1)));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The families, in registration order.
    pub families: Vec<FamilySnapshot>,
}

/// One family of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySnapshot {
    /// The family name; a counter's without `_total`.
    pub name: String,
    /// The help text.
    pub help: String,
    /// The unit, if one was given.
    pub unit: Option<String>,
    /// The family type.
    pub metric_type: MetricType,
    /// Every series.
    pub series: Vec<SeriesSnapshot>,
}

/// One series of a [`FamilySnapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// The label pairs, in order.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: MetricValue,
}

/// A series' value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MetricValue {
    /// A counter's count.
    Counter(u64),
    /// A gauge's value.
    Gauge(i64),
    /// A histogram's buckets, count and sum.
    Histogram(HistogramValue),
    /// A counter whose total is not a whole number (`process_cpu_seconds_total`).
    FloatCounter(f64),
    /// A gauge whose value is not a whole number or may be infinite
    /// (`process_start_time_seconds`, `process_max_fds`).
    FloatGauge(f64),
}

impl MetricValue {
    /// A counter's or gauge's value as a float; `None` for a histogram.
    ///
    /// ```
    /// use rustform::metrics::MetricValue;
    ///
    /// assert_eq!(MetricValue::Counter(3).as_f64(), Some(3.0));
    /// assert_eq!(MetricValue::FloatGauge(1.5).as_f64(), Some(1.5));
    /// ```
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            MetricValue::Counter(v) => Some(*v as f64),
            MetricValue::Gauge(v) => Some(*v as f64),
            MetricValue::FloatCounter(v) | MetricValue::FloatGauge(v) => Some(*v),
            MetricValue::Histogram(_) => None,
        }
    }
}

/// A histogram's state.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramValue {
    /// `(upper bound, cumulative count)`, `+Inf` last.
    pub buckets: Vec<(f64, u64)>,
    /// Number of observations (equal to the `+Inf` bucket).
    pub count: u64,
    /// Sum of the observations.
    pub sum: f64,
    /// The latest exemplar of each bucket that has one: `(bucket index, exemplar)`, the
    /// index into [`buckets`](Self::buckets).
    pub exemplars: Vec<(usize, Exemplar)>,
}

impl Snapshot {
    /// The family named `name`; a counter is found by its base name or with `_total`.
    pub fn family(&self, name: &str) -> Option<&FamilySnapshot> {
        self.families.iter().find(|f| {
            f.name == name
                || (f.metric_type == MetricType::Counter
                    && name.strip_suffix("_total") == Some(f.name.as_str()))
        })
    }

    /// The value of the series of `name` whose labels are exactly `labels` (in any order).
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<&MetricValue> {
        self.family(name)?
            .series
            .iter()
            .find(|s| s.has_labels(labels))
            .map(|s| &s.value)
    }
}

impl SeriesSnapshot {
    /// Whether the series' labels are exactly `labels`, in any order.
    pub fn has_labels(&self, labels: &[(&str, &str)]) -> bool {
        self.labels.len() == labels.len()
            && labels
                .iter()
                .all(|(n, v)| self.labels.iter().any(|(sn, sv)| sn == n && sv == v))
    }
}
