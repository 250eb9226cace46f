//! A family of series told apart by label values, created on first use.
//!
//! Each series keeps its labels pre-encoded (`a="x",b="y"`), which is both its key and
//! what the encoder copies into every sample line. Series are never removed or moved, so
//! a lookup hands out a plain reference that lives as long as the family. Past the
//! cardinality limit new label sets share one overflow series labeled
//! `otel_metric_overflow="true"`, as the OpenTelemetry SDK does, so a label fed from user
//! input cannot exhaust memory and no observation is lost.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::Series;
use super::encode::encode_label_pairs;

/// The cardinality limit of a labeled metric unless configured otherwise (the
/// OpenTelemetry SDK's default).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The label of the overflow series.
pub(crate) const OVERFLOW_LABEL: (&str, &str) = ("otel_metric_overflow", "true");

/// The labels of one series.
pub(crate) struct LabelKey {
    /// `name="value",…`, escaped.
    pub(crate) text: Box<str>,
    /// The pairs, unescaped, in order.
    pub(crate) pairs: Box<[(Box<str>, Box<str>)]>,
}

impl LabelKey {
    pub(crate) fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> LabelKey {
        let mut text = String::new();
        encode_label_pairs(&mut text, pairs.clone());
        let pairs = pairs
            .into_iter()
            .map(|(n, v)| (Box::from(n), Box::from(v)))
            .collect();
        LabelKey {
            text: text.into_boxed_str(),
            pairs,
        }
    }
}

/// Chunks of doubling size: chunk `k` holds `2^k` entries.
const CHUNKS: usize = usize::BITS as usize;

/// Append-only storage whose entries never move: references to them live as long as the
/// arena, and readers need no lock. One writer at a time (the owner's write lock).
pub(crate) struct Arena<T> {
    chunks: [OnceLock<Box<[OnceLock<T>]>>; CHUNKS],
    len: AtomicUsize,
}

impl<T> Arena<T> {
    pub(crate) fn new() -> Self {
        Arena {
            chunks: std::array::from_fn(|_| OnceLock::new()),
            len: AtomicUsize::new(0),
        }
    }

    /// Entry `i` lives in chunk `⌊log2(i + 1)⌋`.
    fn locate(i: usize) -> (usize, usize) {
        let n = i + 1;
        let chunk = (usize::BITS - 1 - n.leading_zeros()) as usize;
        (chunk, n - (1 << chunk))
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        let (chunk, offset) = Self::locate(i);
        self.chunks.get(chunk)?.get()?.get(offset)?.get()
    }

    /// Appends `value`; the caller holds the owner's write lock.
    pub(crate) fn push(&self, value: T) -> (usize, &T) {
        let i = self.len.load(Ordering::Relaxed);
        let (chunk, offset) = Self::locate(i);
        let slots = self.chunks[chunk]
            .get_or_init(|| (0..1usize << chunk).map(|_| OnceLock::new()).collect());
        let entry = slots[offset].get_or_init(|| value);
        self.len.store(i + 1, Ordering::Release);
        (i, entry)
    }

    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }
}

/// Series by label set. Cloning shares the family.
pub(crate) struct Family<M: Series> {
    inner: Arc<Inner<M>>,
}

impl<M: Series> Clone for Family<M> {
    fn clone(&self) -> Self {
        Family {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<M: Series> {
    config: M::Config,
    limit: usize,
    /// Encoded labels → position in `series`. Written under its lock, with `series`.
    index: RwLock<HashMap<Box<str>, usize>>,
    series: Arena<(LabelKey, M)>,
    overflow: OnceLock<(LabelKey, M)>,
}

thread_local! {
    static KEY_BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `f` with the thread's key buffer, cleared, saving an allocation per lookup. A
/// re-entrant call (a series constructor that records a metric), or one from a
/// thread-local destructor after the buffer is gone, gets a fresh string instead.
fn with_key_buffer<R>(f: impl FnOnce(&mut String) -> R) -> R {
    let mut f = Some(f);
    let reused = KEY_BUFFER.try_with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut key) => {
            key.clear();
            f.take().map(|f| f(&mut key))
        }
        Err(_) => None,
    });
    match (reused, f) {
        (Ok(Some(result)), _) => result,
        (_, Some(f)) => f(&mut String::new()),
        (_, None) => unreachable!("`f` is taken only when it runs and its result is returned"),
    }
}

impl<M: Series> Family<M> {
    pub(crate) fn new(config: M::Config, limit: usize) -> Family<M> {
        Family {
            inner: Arc::new(Inner {
                config,
                limit,
                index: RwLock::new(HashMap::new()),
                series: Arena::new(),
                overflow: OnceLock::new(),
            }),
        }
    }

    /// A handle to the series for these labels, created with the family's configuration
    /// if new.
    pub(crate) fn get_or_create(&self, pairs: &[(&str, &str)]) -> M {
        self.get_or_create_with(pairs, |config| M::create(config))
    }

    /// A handle to the series for these labels; `make` builds it if new (a per-series
    /// configuration, such as a function's own buckets).
    pub(crate) fn get_or_create_with(
        &self,
        pairs: &[(&str, &str)],
        make: impl FnOnce(&M::Config) -> M,
    ) -> M {
        self.get_or_create_keyed(
            |key| encode_label_pairs(key, pairs.iter().copied()),
            || {
                pairs
                    .iter()
                    .map(|(n, v)| (Box::from(*n), Box::from(*v)))
                    .collect()
            },
            make,
        )
        .clone()
    }

    /// The series whose encoded labels `write_key` produces; `pairs` gives the labels
    /// unescaped and runs only when the series is new.
    pub(crate) fn get_or_create_keyed(
        &self,
        write_key: impl FnOnce(&mut String),
        pairs: impl FnOnce() -> Box<[(Box<str>, Box<str>)]>,
        make: impl FnOnce(&M::Config) -> M,
    ) -> &M {
        with_key_buffer(|key| {
            write_key(key);
            self.lookup_or_insert(key, pairs, make)
        })
    }

    fn lookup_or_insert(
        &self,
        key: &str,
        pairs: impl FnOnce() -> Box<[(Box<str>, Box<str>)]>,
        make: impl FnOnce(&M::Config) -> M,
    ) -> &M {
        let inner = &*self.inner;
        {
            let index = inner.index.read().unwrap_or_else(|p| p.into_inner());
            if let Some(series) = index.get(key).and_then(|&i| inner.series.get(i)) {
                return &series.1;
            }
            if index.len() >= inner.limit {
                return self.overflow();
            }
        }
        let mut index = inner.index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = index.get(key).and_then(|&i| inner.series.get(i)) {
            return &series.1;
        }
        if index.len() >= inner.limit {
            drop(index);
            return self.overflow();
        }
        let label_key = LabelKey {
            text: Box::from(key),
            pairs: pairs(),
        };
        let (i, series) = inner.series.push((label_key, make(&inner.config)));
        index.insert(Box::from(key), i);
        &series.1
    }

    fn overflow(&self) -> &M {
        &self
            .inner
            .overflow
            .get_or_init(|| {
                (
                    LabelKey::new([OVERFLOW_LABEL]),
                    M::create(&self.inner.config),
                )
            })
            .1
    }

    /// Visits every series in creation order, the overflow series last.
    pub(crate) fn for_each(&self, f: &mut dyn FnMut(&LabelKey, &M)) {
        let series = &self.inner.series;
        for i in 0..series.len() {
            if let Some((key, metric)) = series.get(i) {
                f(key, metric);
            }
        }
        if let Some((key, metric)) = self.inner.overflow.get() {
            f(key, metric);
        }
    }

    /// Number of series, the overflow series included.
    pub(crate) fn len(&self) -> usize {
        self.inner.series.len() + usize::from(self.inner.overflow.get().is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Counter;

    #[test]
    fn arena_positions_fill_doubling_chunks() {
        assert_eq!(Arena::<()>::locate(0), (0, 0));
        assert_eq!(Arena::<()>::locate(1), (1, 0));
        assert_eq!(Arena::<()>::locate(2), (1, 1));
        assert_eq!(Arena::<()>::locate(3), (2, 0));
        assert_eq!(Arena::<()>::locate(6), (2, 3));
        assert_eq!(Arena::<()>::locate(7), (3, 0));
        let arena = Arena::new();
        for i in 0..100 {
            assert_eq!(arena.push(i).0, i);
        }
        assert_eq!(arena.len(), 100);
        assert!((0..100).all(|i| arena.get(i) == Some(&i)));
        assert_eq!(arena.get(100), None);
    }

    #[test]
    fn same_labels_same_series() {
        let f: Family<Counter> = Family::new((), 10);
        f.get_or_create(&[("a", "1")]).inc();
        f.get_or_create(&[("a", "1")]).inc();
        f.get_or_create(&[("a", "2")]).inc();
        assert_eq!(f.len(), 2);
        assert_eq!(f.get_or_create(&[("a", "1")]).get(), 2);
    }

    #[test]
    fn past_the_limit_everything_lands_in_one_overflow_series() {
        let f: Family<Counter> = Family::new((), 3);
        for i in 0..10 {
            f.get_or_create(&[("id", &i.to_string())]).inc();
        }
        assert_eq!(f.len(), 4);
        let mut seen = Vec::new();
        f.for_each(&mut |k, c| seen.push((k.text.to_string(), c.get())));
        assert_eq!(seen[3], ("otel_metric_overflow=\"true\"".to_string(), 7));
        assert_eq!(seen.iter().map(|s| s.1).sum::<u64>(), 10);
    }

    #[test]
    fn escaped_values_are_distinct_keys() {
        let f: Family<Counter> = Family::new((), 10);
        f.get_or_create(&[("a", "x\"")]).inc();
        f.get_or_create(&[("a", "x\\\"")]).inc();
        assert_eq!(f.len(), 2);
    }
}
