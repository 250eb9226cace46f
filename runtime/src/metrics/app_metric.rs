//! The fields of a `#[derive(AppMetrics)]` struct: the [`AppMetric`] types, how each is
//! built, and the [`MetricDescription`] its `describe()` gives the catalog and the
//! generators.
//!
//! The derive writes a struct's descriptions and registration as calls into this module,
//! through `rustform::__private`, so the generated code stays a list of fields and the
//! rules (a histogram's default buckets, registering all or nothing, what a failed
//! `global()` does) are written once, here.

use std::panic::Location;

use super::buckets::DEFAULT_BUCKETS;
use super::family::DEFAULT_CARDINALITY_LIMIT;
use super::registry::GroupMetric;
use super::{Buckets, Counter, Gauge, Histogram, LabelSet, MetricType, MetricVec, Registry};
use crate::Error;

/// One declared metric: what `/metrics` will show for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricDescription {
    /// The family name (a counter's samples add `_total`).
    pub name: &'static str,
    /// The help text.
    pub help: &'static str,
    /// The type.
    pub metric_type: MetricType,
    /// The unit, if declared.
    pub unit: Option<&'static str>,
    /// The label names, in order.
    pub labels: &'static [&'static str],
    /// A histogram's bucket bounds.
    pub buckets: Option<&'static [f64]>,
}

impl MetricDescription {
    /// The name of the samples that carry the value: `_total` added for a counter.
    ///
    /// ```
    /// use rustform::metrics::{MetricDescription, MetricType};
    ///
    /// let d = MetricDescription {
    ///     name: "shop_orders", help: "Orders", metric_type: MetricType::Counter,
    ///     unit: None, labels: &[], buckets: None,
    /// };
    /// assert_eq!(d.sample_name(), "shop_orders_total");
    /// ```
    pub fn sample_name(&self) -> String {
        match self.metric_type {
            MetricType::Counter => format!("{}_total", self.name),
            _ => self.name.to_owned(),
        }
    }
}

/// A metric type `#[derive(AppMetrics)]` can declare: how to build it from the field's
/// `#[metric(...)]` options, and what it is. Implemented for [`Counter`], [`Gauge`],
/// [`Histogram`] and their labeled [`MetricVec`]s.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a metric type `#[derive(AppMetrics)]` can declare",
    label = "not a rustform metric type",
    note = "use Counter, Gauge, Histogram, CounterVec<L>, GaugeVec<L> or HistogramVec<L> from rustform::metrics, with L a `#[derive(LabelSet)]` struct"
)]
pub trait AppMetric: super::Metric + Clone + Sized {
    /// The family type.
    const TYPE: MetricType;
    /// The label names.
    const LABELS: &'static [&'static str];
    /// The buckets a histogram gets when none are declared.
    const DEFAULT_BUCKETS: Option<&'static [f64]> = None;
    /// Builds the metric; `buckets` were checked at compile time.
    fn build(buckets: Option<&'static [f64]>, cardinality_limit: Option<usize>) -> Self;
}

impl AppMetric for Counter {
    const TYPE: MetricType = MetricType::Counter;
    const LABELS: &'static [&'static str] = &[];

    fn build(_: Option<&'static [f64]>, _: Option<usize>) -> Self {
        Counter::new()
    }
}

impl AppMetric for Gauge {
    const TYPE: MetricType = MetricType::Gauge;
    const LABELS: &'static [&'static str] = &[];

    fn build(_: Option<&'static [f64]>, _: Option<usize>) -> Self {
        Gauge::new()
    }
}

impl AppMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
    const LABELS: &'static [&'static str] = &[];
    const DEFAULT_BUCKETS: Option<&'static [f64]> = Some(DEFAULT_BUCKETS);

    fn build(buckets: Option<&'static [f64]>, _: Option<usize>) -> Self {
        Histogram::new(buckets.map_or_else(Buckets::default, Buckets::from_checked))
    }
}

impl<L: LabelSet> AppMetric for MetricVec<L, Counter> {
    const TYPE: MetricType = MetricType::Counter;
    const LABELS: &'static [&'static str] = L::NAMES;

    fn build(_: Option<&'static [f64]>, limit: Option<usize>) -> Self {
        Self::with_cardinality_limit(limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT))
    }
}

impl<L: LabelSet> AppMetric for MetricVec<L, Gauge> {
    const TYPE: MetricType = MetricType::Gauge;
    const LABELS: &'static [&'static str] = L::NAMES;

    fn build(_: Option<&'static [f64]>, limit: Option<usize>) -> Self {
        Self::with_cardinality_limit(limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT))
    }
}

impl<L: LabelSet> AppMetric for MetricVec<L, Histogram> {
    const TYPE: MetricType = MetricType::Histogram;
    const LABELS: &'static [&'static str] = L::NAMES;
    const DEFAULT_BUCKETS: Option<&'static [f64]> = Some(DEFAULT_BUCKETS);

    fn build(buckets: Option<&'static [f64]>, limit: Option<usize>) -> Self {
        let buckets = buckets.map_or_else(Buckets::default, Buckets::from_checked);
        Self::with_cardinality_limit(buckets, limit.unwrap_or(DEFAULT_CARDINALITY_LIMIT))
    }
}

/// A field's description, for `#[derive(AppMetrics)]`; `buckets` as declared. Not a
/// public API.
#[doc(hidden)]
pub const fn describe_metric<T: AppMetric>(
    name: &'static str,
    help: &'static str,
    unit: Option<&'static str>,
    buckets: Option<&'static [f64]>,
) -> MetricDescription {
    MetricDescription {
        name,
        help,
        metric_type: T::TYPE,
        unit,
        labels: T::LABELS,
        buckets: match buckets {
            Some(declared) => Some(declared),
            None => T::DEFAULT_BUCKETS,
        },
    }
}

/// A field's metric on its way into [`register_group`]. Not a public API.
#[doc(hidden)]
pub fn group_metric<T: AppMetric>(metric: &T) -> GroupMetric {
    GroupMetric::new(metric.clone())
}

/// Registers a struct's metrics (name, help, unit, metric) in `registry`: either all of
/// them or, on the first problem, none. Not a public API.
#[doc(hidden)]
pub fn register_group(
    registry: &Registry,
    group: Vec<(&str, &str, Option<&str>, GroupMetric)>,
    location: &'static Location<'static>,
) -> Result<(), Error> {
    registry.register_group(group, location)
}

/// Reports that a struct's `global()` could not register its metrics: they count, but are
/// not exposed. Not a public API.
#[doc(hidden)]
pub fn registration_failed(group: &str, error: &Error) {
    tracing::error!(target: "rustform", group, %error, "metrics are counted but not exposed");
}

/// One `#[derive(AppMetrics)]` or `app_metrics!` struct, as its generated code adds it
/// to [`METRIC_GROUPS`]. Not a public API.
#[doc(hidden)]
pub struct GroupEntry {
    /// The struct's name.
    pub name: &'static str,
    /// `module_path!()` where it is declared.
    pub module: &'static str,
    /// Its `describe()`.
    pub describe: fn() -> &'static [MetricDescription],
}

/// Every `AppMetrics` struct of the program, for the catalog: each adds its entry at
/// link time. Not a public API.
#[doc(hidden)]
#[allow(unsafe_code)] // linkme places the slice in a link section
#[linkme::distributed_slice]
pub static METRIC_GROUPS: [GroupEntry];
