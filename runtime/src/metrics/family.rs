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
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use super::Series;
use super::encode::encode_label_pairs;

/// The cardinality limit of a labeled metric unless configured otherwise (the
/// OpenTelemetry SDK's default).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// The label of the overflow series.
pub(crate) const OVERFLOW_LABEL: (&str, &str) = ("otel_metric_overflow", "true");

/// The labels of one series, kept only as `name="value",…` (escaped): the key a
/// lookup compares and the text every sample line copies. The pairs, when a snapshot or
/// an export wants them, are read back from it.
pub(crate) struct LabelKey {
    pub(crate) text: Box<str>,
}

impl LabelKey {
    pub(crate) fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> LabelKey {
        let mut text = String::new();
        encode_label_pairs(&mut text, pairs);
        LabelKey {
            text: text.into_boxed_str(),
        }
    }

    /// The pairs, unescaped, in order.
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        decode_label_pairs(&self.text)
    }
}

/// Reads `name="value",…` as [`encode_label_pairs`] writes it. Names never hold `=`;
/// values have `\\`, `\"` and `\n` escaped.
fn decode_label_pairs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text;
    while let Some((name, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, other)) => value.push(other),
                    None => {}
                },
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        pairs.push((name.to_owned(), value));
        rest = after[end..].strip_prefix(',').unwrap_or(&after[end..]);
    }
    pairs
}

/// A hasher that passes a `u64` through: the index's keys are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else folds in byte by byte.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// Label texts → position in the arena, without a second copy of each text: the hash of
/// the text (keyed at random per family, so label values from user input cannot aim at
/// one bucket) finds a position, whose stored text is compared. The rare second text
/// with the same hash is kept by its text.
#[derive(Default)]
struct Index {
    by_hash: HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
    collided: HashMap<Box<str>, usize>,
}

impl Index {
    fn len(&self) -> usize {
        self.by_hash.len() + self.collided.len()
    }

    fn get<'t>(
        &self,
        hash: u64,
        key: &str,
        text_at: impl Fn(usize) -> Option<&'t str>,
    ) -> Option<usize> {
        let &i = self.by_hash.get(&hash)?;
        if text_at(i) == Some(key) {
            return Some(i);
        }
        self.collided.get(key).copied()
    }

    fn insert(&mut self, hash: u64, key: &str, i: usize) {
        if let std::collections::hash_map::Entry::Vacant(slot) = self.by_hash.entry(hash) {
            slot.insert(i);
        } else {
            self.collided.insert(Box::from(key), i);
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
    index: RwLock<Index>,
    /// The key of the index's hashes.
    hasher: RandomState,
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
                index: RwLock::new(Index::default()),
                hasher: RandomState::new(),
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
        self.get_or_create_keyed(|key| encode_label_pairs(key, pairs.iter().copied()), make)
            .clone()
    }

    /// The series whose encoded labels `write_key` produces.
    pub(crate) fn get_or_create_keyed(
        &self,
        write_key: impl FnOnce(&mut String),
        make: impl FnOnce(&M::Config) -> M,
    ) -> &M {
        with_key_buffer(|key| {
            write_key(key);
            self.lookup_or_insert(key, make)
        })
    }

    fn lookup_or_insert(&self, key: &str, make: impl FnOnce(&M::Config) -> M) -> &M {
        let inner = &*self.inner;
        let hash = inner.hasher.hash_one(key);
        let text_at = |i: usize| inner.series.get(i).map(|(k, _)| &*k.text);
        {
            let index = inner.index.read().unwrap_or_else(|p| p.into_inner());
            if let Some(series) = index
                .get(hash, key, text_at)
                .and_then(|i| inner.series.get(i))
            {
                return &series.1;
            }
            if index.len() >= inner.limit {
                return self.overflow();
            }
        }
        let mut index = inner.index.write().unwrap_or_else(|p| p.into_inner());
        if let Some(series) = index
            .get(hash, key, text_at)
            .and_then(|i| inner.series.get(i))
        {
            return &series.1;
        }
        if index.len() >= inner.limit {
            drop(index);
            return self.overflow();
        }
        let label_key = LabelKey {
            text: Box::from(key),
        };
        let (i, series) = inner.series.push((label_key, make(&inner.config)));
        index.insert(hash, key, i);
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
    fn the_pairs_are_read_back_from_the_label_text() {
        let values = [
            "plain",
            "",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "=\",x=\"",
            "ünïcödé",
        ];
        for value in values {
            let key = LabelKey::new([("first", value), ("second", "2")]);
            assert_eq!(
                key.pairs(),
                vec![
                    ("first".to_owned(), value.to_owned()),
                    ("second".to_owned(), "2".to_owned())
                ],
                "{}",
                key.text
            );
        }
        assert!(LabelKey::new([]).pairs().is_empty());
    }

    #[test]
    fn texts_with_the_same_hash_stay_apart() {
        let mut index = Index::default();
        let texts = ["a=\"1\"", "a=\"2\"", "a=\"3\""];
        // Every text hashes to 7: the first takes the hash, the others are kept by text.
        for (i, text) in texts.iter().enumerate() {
            index.insert(7, text, i);
        }
        assert_eq!(index.len(), 3);
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(index.get(7, text, |j| texts.get(j).copied()), Some(i));
        }
        assert_eq!(index.get(7, "a=\"4\"", |j| texts.get(j).copied()), None);
        assert_eq!(index.get(8, texts[0], |j| texts.get(j).copied()), None);
    }

    #[test]
    fn escaped_values_are_distinct_keys() {
        let f: Family<Counter> = Family::new((), 10);
        f.get_or_create(&[("a", "x\"")]).inc();
        f.get_or_create(&[("a", "x\\\"")]).inc();
        assert_eq!(f.len(), 2);
    }
}
