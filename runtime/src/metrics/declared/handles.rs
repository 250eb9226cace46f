//! Handles to a declared metric's series.
//!
//! A [`DeclaredMetric`] is what a lookup by name finds: its label values are a slice,
//! checked against the declared labels at every call, because a name read at run time
//! says nothing about them. A [`Labeled`] with `N` labels is what `app_metrics!` fields
//! are, and what [`DeclaredMetric::labeled`] makes: its label values are an array of
//! `N`, checked once by the compiler or at its creation. Both reach the same series.

use std::fmt;
use std::sync::Arc;

use super::entry::Meta;
use crate::Error;
use crate::metrics::encode::encode_label_pairs;
use crate::metrics::family::Family;
use crate::metrics::{Counter, Gauge, Histogram, Series};

/// One declared metric, found by name in a [`DeclaredMetrics`](super::DeclaredMetrics) table: give it the label
/// values to reach a series.
///
/// ```
/// # use rustform::config::Config;
/// # use rustform::metrics::{DeclaredMetrics, Registry};
/// # let config = Config::parse("custom_metrics:\n  counters:\n    - { name: orders_total, description: Orders processed, labels: [status, payment_method] }\n", "rustform.yml", &|_| None)?;
/// # let declared = DeclaredMetrics::new(&Registry::new());
/// # declared.declare(&config.custom_metrics)?;
/// let orders = declared.counter("orders_total")?;
/// assert_eq!(orders.name(), "orders_total");
/// assert_eq!(orders.labels().collect::<Vec<_>>(), ["status", "payment_method"]);
/// orders.with(&["completed", "card"])?.inc();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DeclaredMetric<'a, M: Series> {
    pub(super) meta: &'a Meta,
    pub(super) family: &'a Family<M>,
}

impl<'a, M: Series> DeclaredMetric<'a, M> {
    /// The series for these label values, given in the declared order of the labels;
    /// `&[]` for a metric without labels. It lives as long as the table: the series of
    /// [`custom()`](super::custom) are `&'static`.
    ///
    /// Past the cardinality limit ([`DEFAULT_CARDINALITY_LIMIT`](crate::metrics::DEFAULT_CARDINALITY_LIMIT)
    /// series), new label values share one series labeled `otel_metric_overflow="true"`.
    /// Fails with [`Error::LabelCount`] when the number of values is not the number of
    /// labels.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, Registry};
    /// # let config = Config::parse("custom_metrics:\n  counters:\n    - { name: orders_total, description: Orders processed, labels: [status, payment_method] }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    /// let orders = declared.counter("orders_total")?;
    /// orders.with(&["completed", "card"])?.inc();
    /// let err = orders.with(&["completed"]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "metric \"orders_total\" has 2 label(s) (status, payment_method) but 1 value(s) \
    ///      were given; give one value per label, in that order"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with(&self, values: &[&str]) -> Result<&'a M, Error> {
        if values.len() != self.meta.labels.len() {
            return Err(self.meta.label_count(values.len()));
        }
        Ok(series(
            self.family,
            self.meta.labels.iter().map(|l| &**l),
            values.iter().copied(),
        ))
    }

    /// A typed handle to the same storage whose [`with`](Labeled::with) takes exactly `N`
    /// values, checked once here instead of at every call.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, Registry};
    /// use rustform::metrics::LabeledCounter;
    /// # let config = Config::parse("custom_metrics:\n  counters:\n    - { name: orders_total, description: Orders processed, labels: [status, payment_method] }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    ///
    /// let orders: LabeledCounter<2> = declared.counter("orders_total")?.labeled()?;
    /// orders.with(["completed", "card"]).inc();
    /// assert_eq!(declared.counter("orders_total")?.with(&["completed", "card"])?.get(), 1);
    /// assert!(declared.counter("orders_total")?.labeled::<1>().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn labeled<const N: usize>(&self) -> Result<Labeled<M, N>, Error> {
        if N != self.meta.labels.len() {
            return Err(self.meta.label_count(N));
        }
        Ok(Labeled {
            family: self.family.clone(),
            meta: Arc::new(self.meta.clone()),
        })
    }

    /// The name as declared (a counter's with `_total` if the declaration has it).
    pub fn name(&self) -> &'a str {
        &self.meta.name
    }

    /// The label names, in the order [`with`](Self::with) takes their values.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &'a str> + 'a {
        self.meta.labels.iter().map(|l| &**l)
    }
}

impl<M: Series> Clone for DeclaredMetric<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: Series> Copy for DeclaredMetric<'_, M> {}

impl<M: Series> fmt::Debug for DeclaredMetric<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeclaredMetric")
            .field("name", &self.meta.name)
            .field("type", &self.meta.kind)
            .field("labels", &self.meta.labels)
            .finish()
    }
}

/// A declared metric with `N` labels: [`with`](Self::with) takes exactly `N` values, so a
/// wrong number is a compile error, and the lookup cannot fail.
///
/// The fields of an `app_metrics!` struct have these types (a metric without labels is a
/// plain [`Counter`], [`Gauge`] or [`Histogram`]); [`DeclaredMetric::labeled`] makes one
/// from a metric found by name. Cloning gives another handle to the same series.
///
/// ```
/// # use rustform::config::Config;
/// # use rustform::metrics::{DeclaredMetrics, Registry};
/// use rustform::metrics::LabeledGauge;
/// # let config = Config::parse("custom_metrics:\n  gauges:\n    - { name: inventory_items, description: Items in stock, labels: [product_category, warehouse] }\n", "rustform.yml", &|_| None)?;
/// # let declared = DeclaredMetrics::new(&Registry::new());
/// # declared.declare(&config.custom_metrics)?;
///
/// let stock: LabeledGauge<2> = declared.gauge("inventory_items")?.labeled()?;
/// stock.with(["books", "lyon"]).set(40);
/// stock.with(["books", "lyon"]).sub(3);
/// assert_eq!(stock.with(["books", "lyon"]).get(), 37);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Labeled<M: Series, const N: usize> {
    pub(super) family: Family<M>,
    pub(super) meta: Arc<Meta>,
}

/// A declared counter with `N` labels.
pub type LabeledCounter<const N: usize> = Labeled<Counter, N>;
/// A declared gauge with `N` labels.
pub type LabeledGauge<const N: usize> = Labeled<Gauge, N>;
/// A declared histogram with `N` labels.
pub type LabeledHistogram<const N: usize> = Labeled<Histogram, N>;

impl<M: Series, const N: usize> Labeled<M, N> {
    /// The series for these label values, in the declared order of the labels. Past the
    /// cardinality limit, new label values share the overflow series.
    #[inline]
    pub fn with(&self, values: [&str; N]) -> &M {
        series(
            &self.family,
            self.meta.labels.iter().map(|l| &**l),
            values.iter().copied(),
        )
    }

    /// The name as declared.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, LabeledCounter, Registry};
    /// # let config = Config::parse("custom_metrics:\n  counters:\n    - { name: orders_total, description: Orders processed, labels: [status] }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    /// let orders: LabeledCounter<1> = declared.counter("orders")?.labeled()?;
    /// assert_eq!(orders.name(), "orders_total");
    /// assert_eq!(orders.labels(), ["status"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// The label names, in the order [`with`](Self::with) takes their values.
    pub fn labels(&self) -> [&str; N] {
        let mut names = self.meta.labels.iter();
        std::array::from_fn(|_| names.next().map_or("", |l| &**l))
    }
}

impl<M: Series, const N: usize> Clone for Labeled<M, N> {
    fn clone(&self) -> Self {
        Labeled {
            family: self.family.clone(),
            meta: self.meta.clone(),
        }
    }
}

impl<M: Series, const N: usize> fmt::Debug for Labeled<M, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Labeled")
            .field("name", &self.meta.name)
            .field("type", &self.meta.kind)
            .field("labels", &self.meta.labels)
            .field("series", &self.family.len())
            .finish()
    }
}

/// The series of `family` for these label pairs.
fn series<'f, 'l, M: Series>(
    family: &'f Family<M>,
    names: impl Iterator<Item = &'l str>,
    values: impl Iterator<Item = &'l str>,
) -> &'f M {
    family.get_or_create_keyed(|key| encode_label_pairs(key, names.zip(values)), M::create)
}
