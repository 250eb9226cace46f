//! Descriptions of declared metrics, for `describe()`, the catalog and the generators;
//! and how `#[derive(AppMetrics)]` builds each field.

use super::buckets::DEFAULT_BUCKETS;
use super::family::DEFAULT_CARDINALITY_LIMIT;
use super::{Buckets, Counter, Gauge, Histogram, LabelSet, MetricType, MetricVec};

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
