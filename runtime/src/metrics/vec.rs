//! [`MetricVec`]: one metric per value of a [`LabelSet`].

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
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
    storage: Arc<Storage<M>>,
    _labels: PhantomData<fn(&L)>,
}

/// Counters by label set.
pub type CounterVec<L> = MetricVec<L, Counter>;
/// Gauges by label set.
pub type GaugeVec<L> = MetricVec<L, Gauge>;
/// Histograms by label set.
pub type HistogramVec<L> = MetricVec<L, Histogram>;

enum Storage<M: Series> {
    Dense(Box<[(LabelKey, M)]>),
    Dynamic(Family<M>),
}

/// A series of a [`MetricVec`]: borrowed for fixed label sets, shared for open-ended ones.
/// Dereferences to the metric.
pub struct SeriesRef<'a, M>(SeriesRefInner<'a, M>);

enum SeriesRefInner<'a, M> {
    Borrowed(&'a M),
    Shared(M),
}

impl<M> Deref for SeriesRef<'_, M> {
    type Target = M;

    #[inline]
    fn deref(&self) -> &M {
        match &self.0 {
            SeriesRefInner::Borrowed(m) => m,
            SeriesRefInner::Shared(m) => m,
        }
    }
}

impl<M: fmt::Debug> fmt::Debug for SeriesRef<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<L: LabelSet, M: Series> MetricVec<L, M> {
    fn build(config: M::Config, limit: usize) -> Self {
        let storage = match L::CARDINALITY {
            Some(n) if n > 0 && n <= DENSE_LIMIT => match dense::<L, M>(n, &config) {
                Some(series) => Storage::Dense(series),
                None => Storage::Dynamic(Family::new(config, limit)),
            },
            _ => Storage::Dynamic(Family::new(config, limit)),
        };
        MetricVec {
            storage: Arc::new(storage),
            _labels: PhantomData,
        }
    }

    /// The series for `labels`.
    #[inline]
    pub fn with(&self, labels: &L) -> SeriesRef<'_, M> {
        match &*self.storage {
            Storage::Dense(series) => {
                // A LabelSet whose dense_index is out of range (a faulty hand-written
                // impl) falls back to the first series rather than panicking.
                let i = labels.dense_index();
                let entry = series.get(i).unwrap_or(&series[0]);
                SeriesRef(SeriesRefInner::Borrowed(&entry.1))
            }
            Storage::Dynamic(family) => {
                SeriesRef(SeriesRefInner::Shared(family.get_or_create_keyed(
                    |key| write_key::<L>(key, labels),
                    || pairs::<L>(labels),
                    M::create,
                )))
            }
        }
    }

    /// Number of series, the overflow series included.
    pub fn len(&self) -> usize {
        match &*self.storage {
            Storage::Dense(series) => series.len(),
            Storage::Dynamic(family) => family.len(),
        }
    }

    /// Whether there are no series yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&LabelKey, &M)) {
        match &*self.storage {
            Storage::Dense(series) => series.iter().for_each(|(k, m)| f(k, m)),
            Storage::Dynamic(family) => family.for_each(f),
        }
    }

    pub(crate) fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    pub(crate) fn write_all(&self, name: &str, format: super::Format, out: &mut String) {
        self.for_each(&mut |key, metric| {
            metric.write(&mut SampleWriter {
                out,
                name,
                labels: &key.text,
                format,
            });
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

/// Every series of a fixed-cardinality set, or `None` if the set's `from_dense_index`
/// does not produce them all.
fn dense<L: LabelSet, M: Series>(n: usize, config: &M::Config) -> Option<Box<[(LabelKey, M)]>> {
    (0..n)
        .map(|i| {
            let labels = L::from_dense_index(i)?;
            let pairs = pairs::<L>(&labels);
            let mut text = String::new();
            write_key::<L>(&mut text, &labels);
            Some((
                LabelKey {
                    text: text.into_boxed_str(),
                    pairs,
                },
                M::create(config),
            ))
        })
        .collect()
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

fn pairs<L: LabelSet>(labels: &L) -> Box<[(Box<str>, Box<str>)]> {
    let mut names = L::NAMES.iter();
    let mut pairs = Vec::with_capacity(L::NAMES.len());
    labels.visit_values(&mut |value| {
        if let Some(name) = names.next() {
            pairs.push((Box::from(*name), Box::from(value)));
        }
    });
    pairs.into_boxed_slice()
}
