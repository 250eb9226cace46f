//! [`MetricVec`]: one metric per value of a [`LabelSet`].

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::encode::{MetricType, SampleWriter, escape_label_value};
use super::family::{DEFAULT_CARDINALITY_LIMIT, Family, LabelKey};
use super::labels::LabelSet;
use super::{Buckets, Counter, Gauge, Histogram, Series};

/// Fixed-cardinality label sets up to this many values are created up front and looked
/// up by index; larger ones are created on first use like open-ended sets.
pub const DENSE_LIMIT: usize = 4096;

/// A metric per value of the label set `L`.
///
/// When every label of `L` is an enum or a `bool`, all series exist from construction
/// (so `/metrics` shows them at zero before first use) and [`with`](Self::with) is an
/// array index. Otherwise series are created on first use, up to the cardinality limit;
/// past it, new label values share one series labeled `otel_metric_overflow="true"`.
///
/// ```
/// use rustform::metrics::{CounterVec, LabelSet, LabelValue};
///
/// #[derive(Clone, Copy)]
/// enum Method { Get, Post }
///
/// impl LabelValue for Method {
///     const CARDINALITY: Option<usize> = Some(2);
///     fn dense_index(&self) -> usize { *self as usize }
///     fn from_dense_index(i: usize) -> Option<Self> { [Method::Get, Method::Post].get(i).copied() }
///     fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
///         f(match self { Method::Get => "get", Method::Post => "post" })
///     }
/// }
///
/// struct Request { method: Method }
///
/// impl LabelSet for Request {
///     const NAMES: &'static [&'static str] = &["method"];
///     const CARDINALITY: Option<usize> = Method::CARDINALITY;
///     fn dense_index(&self) -> usize { self.method.dense_index() }
///     fn from_dense_index(i: usize) -> Option<Self> { Some(Request { method: Method::from_dense_index(i)? }) }
///     fn visit_values(&self, f: &mut dyn FnMut(&str)) { self.method.with_str(|s| f(s)) }
/// }
///
/// let requests = CounterVec::<Request>::new();
/// requests.with(&Request { method: Method::Post }).inc();
/// assert_eq!(requests.with(&Request { method: Method::Post }).get(), 1);
/// assert_eq!(requests.with(&Request { method: Method::Get }).get(), 0);
/// ```
///
/// (`#[derive(LabelSet, LabelValue)]` writes those impls.)
pub struct MetricVec<L: LabelSet, M: Series> {
    storage: Storage<M>,
    _labels: PhantomData<fn(&L)>,
}

/// Counters by label set.
pub type CounterVec<L> = MetricVec<L, Counter>;
/// Gauges by label set.
pub type GaugeVec<L> = MetricVec<L, Gauge>;
/// Histograms by label set.
pub type HistogramVec<L> = MetricVec<L, Histogram>;

/// Held inline, so a dense lookup goes from the vec straight to its series.
enum Storage<M: Series> {
    Dense {
        series: Arc<[M]>,
        keys: Arc<[LabelKey]>,
    },
    Dynamic(Family<M>),
}

impl<M: Series> Clone for Storage<M> {
    fn clone(&self) -> Self {
        match self {
            Storage::Dense { series, keys } => Storage::Dense {
                series: series.clone(),
                keys: keys.clone(),
            },
            Storage::Dynamic(family) => Storage::Dynamic(family.clone()),
        }
    }
}

impl<L: LabelSet, M: Series> MetricVec<L, M> {
    fn build(config: M::Config, limit: usize) -> Self {
        let storage = match L::CARDINALITY {
            Some(n) if n > 0 && n <= DENSE_LIMIT => match dense::<L, M>(n, &config) {
                Some((keys, series)) => Storage::Dense { series, keys },
                None => Storage::Dynamic(Family::new(config, limit)),
            },
            _ => Storage::Dynamic(Family::new(config, limit)),
        };
        MetricVec {
            storage,
            _labels: PhantomData,
        }
    }

    /// The series for `labels`. For a fixed label set this is an array index.
    #[inline]
    pub fn with(&self, labels: &L) -> &M {
        match &self.storage {
            Storage::Dense { series, .. } => match series.get(labels.dense_index()) {
                Some(metric) => metric,
                // A hand-written LabelSet whose dense_index is out of range falls back to
                // the first series rather than panicking.
                None => &series[0],
            },
            Storage::Dynamic(family) => {
                family.get_or_create_keyed(|key| write_key::<L>(key, labels), M::create)
            }
        }
    }

    /// Number of series, the overflow series included.
    pub fn len(&self) -> usize {
        match &self.storage {
            Storage::Dense { series, .. } => series.len(),
            Storage::Dynamic(family) => family.len(),
        }
    }

    /// Whether there are no series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&LabelKey, &M)) {
        match &self.storage {
            Storage::Dense { series, keys } => {
                keys.iter().zip(series.iter()).for_each(|(k, m)| f(k, m))
            }
            Storage::Dynamic(family) => family.for_each(f),
        }
    }

    pub(crate) fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    pub(crate) fn write_all(&self, name: &str, format: super::Format, out: &mut String) {
        self.for_each(&mut |key, metric| {
            metric.write(&mut SampleWriter::new(out, name, &key.text, format));
        });
    }
}

impl<L: LabelSet, M: Series> Clone for MetricVec<L, M> {
    fn clone(&self) -> Self {
        MetricVec {
            storage: self.storage.clone(),
            _labels: PhantomData,
        }
    }
}

impl<L: LabelSet, M: Series + fmt::Debug> fmt::Debug for MetricVec<L, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        self.for_each(&mut |key, metric| {
            list.entry(&&*key.text, metric);
        });
        list.finish()
    }
}

impl<L: LabelSet> MetricVec<L, Counter> {
    /// Counters for `L`, with the default cardinality limit.
    pub fn new() -> Self {
        Self::build((), DEFAULT_CARDINALITY_LIMIT)
    }

    /// Counters for `L`; open-ended label sets keep at most `limit` series.
    pub fn with_cardinality_limit(limit: usize) -> Self {
        Self::build((), limit)
    }
}

impl<L: LabelSet> Default for MetricVec<L, Counter> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: LabelSet> MetricVec<L, Gauge> {
    /// Gauges for `L`, with the default cardinality limit.
    pub fn new() -> Self {
        Self::build((), DEFAULT_CARDINALITY_LIMIT)
    }

    /// Gauges for `L`; open-ended label sets keep at most `limit` series.
    pub fn with_cardinality_limit(limit: usize) -> Self {
        Self::build((), limit)
    }
}

impl<L: LabelSet> Default for MetricVec<L, Gauge> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: LabelSet> MetricVec<L, Histogram> {
    /// Histograms for `L`, all with `buckets`, with the default cardinality limit.
    pub fn new(buckets: Buckets) -> Self {
        Self::build(buckets, DEFAULT_CARDINALITY_LIMIT)
    }

    /// Histograms for `L`; open-ended label sets keep at most `limit` series.
    pub fn with_cardinality_limit(buckets: Buckets, limit: usize) -> Self {
        Self::build(buckets, limit)
    }
}

/// Every series of a fixed-cardinality set with its labels, or `None` if the set's
/// `from_dense_index` does not produce them all.
#[allow(clippy::type_complexity)]
fn dense<L: LabelSet, M: Series>(
    n: usize,
    config: &M::Config,
) -> Option<(Arc<[LabelKey]>, Arc<[M]>)> {
    let mut keys = Vec::with_capacity(n);
    let mut series = Vec::with_capacity(n);
    for i in 0..n {
        let labels = L::from_dense_index(i)?;
        let mut text = String::new();
        write_key::<L>(&mut text, &labels);
        keys.push(LabelKey {
            text: text.into_boxed_str(),
        });
        series.push(M::create(config));
    }
    Some((keys.into(), series.into()))
}

fn write_key<L: LabelSet>(out: &mut String, labels: &L) {
    let mut names = L::NAMES.iter();
    let mut first = true;
    labels.visit_values(&mut |value| {
        let Some(name) = names.next() else { return };
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(out, value);
        out.push('"');
    });
}
