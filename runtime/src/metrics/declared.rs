//! Metrics declared in `rustform.yml`, reachable by name.
//!
//! A [`DeclaredMetrics`] table holds one storage per declared metric: a family of series
//! told apart by label values, bounded by the cardinality limit like every labeled metric.
//! Two ways lead to it. By name, at run time: [`custom()`]`.counter("orders_total")`, then
//! [`with`](DeclaredMetric::with) the label values. Typed, at compile time: the struct
//! `rustform::app_metrics!("rustform.yml")` generates, whose `global()` joins the same
//! process-wide table. Whichever comes first registers the metric; the other finds it.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, LazyLock, RwLock};

use super::encode::{MetricType, encode_label_pairs};
use super::family::{Arena, DEFAULT_CARDINALITY_LIMIT, Family};
use super::name::{check_label_name, check_metric_name};
use super::registry::sample_names;
use super::{
    Buckets, Counter, Gauge, GroupMetric, Histogram, MetricDescription, Registry, Series,
    default_registry,
};
use crate::Error;
use crate::config::{BusinessMetrics, CustomMetrics, MetricDeclaration};

/// The process-wide table of declared metrics, exposed in the
/// [default registry](super::default_registry).
///
/// `rustform::init()` fills it from the `custom_metrics` section of `rustform.yml` (when
/// `observability.opentelemetry.metrics.custom_metrics` is on), and the `global()` of every
/// `app_metrics!` struct adds the declarations it was compiled from; a metric declared
/// both ways is one metric.
///
/// ```
/// use rustform::Error;
///
/// // Nothing declares `refunds_total` in this program.
/// let err = rustform::metrics::custom().counter("refunds_total").unwrap_err();
/// assert!(matches!(err, Error::UnknownMetric { .. }));
/// ```
pub fn custom() -> &'static DeclaredMetrics {
    static TABLE: LazyLock<DeclaredMetrics> =
        LazyLock::new(|| DeclaredMetrics::new(default_registry()));
    &TABLE
}

/// Registers every metric of `metrics` in `registry` and adds it to the process-wide
/// table ([`custom()`]). Declarations already in the table with the same name, kind,
/// labels and buckets are left as they are; one that differs is an error naming both.
/// `rustform::init()` calls it with the default registry when
/// `observability.opentelemetry.metrics.custom_metrics` is on.
#[track_caller]
pub(crate) fn declare_all(registry: &Registry, metrics: &CustomMetrics) -> Result<(), Error> {
    custom()
        .declare_specs(registry, custom_specs(metrics), Location::caller())
        .map(drop)
}

/// Registers the label-less metrics listed under `prometheus.metrics.business`, when the
/// section is enabled, in `registry` and in the process-wide table.
///
/// A listed name that is already in the table with the same kind (a `custom_metrics`
/// entry, `_total` optional for counters) refers to that metric, labels and all, and
/// adds nothing; a name the table holds with another kind, or whose samples would take a
/// name another metric's samples use, is an error. Each name is declared on its own: the
/// error lists the names that could not be, and the others are registered. Call it after
/// [`declare_all`], so names shared with `custom_metrics` refer to those entries.
#[track_caller]
pub(crate) fn declare_business(
    registry: &Registry,
    business: &BusinessMetrics,
) -> Result<(), Error> {
    custom().declare_each(registry, business_specs(business), Location::caller())
}

/// Declared metrics by name: one storage per metric, registered once in a [`Registry`].
///
/// [`custom()`] is the process-wide table; build one for any registry with
/// [`new`](Self::new), for tests or a component with a registry of its own.
///
/// ```
/// use rustform::config::Config;
/// use rustform::metrics::{DeclaredMetrics, Registry};
///
/// let config = Config::parse(
///     "custom_metrics:\n  counters:\n    - name: orders_total\n      \
///      description: Orders processed\n      labels: [status, payment_method]\n",
///     "rustform.yml",
///     &|_| None,
/// )?;
/// let registry = Registry::new();
/// let declared = DeclaredMetrics::new(&registry);
/// declared.declare(&config.custom_metrics)?;
///
/// declared.counter("orders_total")?.with(&["completed", "card"])?.inc();
/// assert!(registry.render().contains(
///     "orders_total{status=\"completed\",payment_method=\"card\"} 1\n"
/// ));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DeclaredMetrics {
    registry: Registry,
    /// Family name (a counter's without `_total`) → position in `entries`. Its write lock
    /// is held for a whole declaration, so two declarations never interleave.
    index: RwLock<HashMap<Box<str>, usize>>,
    entries: Arena<Entry>,
}

impl DeclaredMetrics {
    /// An empty table whose metrics are registered in `registry`.
    ///
    /// ```
    /// use rustform::metrics::{DeclaredMetrics, Registry};
    ///
    /// let declared = DeclaredMetrics::new(&Registry::new());
    /// assert!(declared.gauge("active_users").is_err());
    /// ```
    pub fn new(registry: &Registry) -> DeclaredMetrics {
        DeclaredMetrics {
            registry: registry.clone(),
            index: RwLock::new(HashMap::new()),
            entries: Arena::new(),
        }
    }

    /// Registers every metric of a `custom_metrics` section in this table's registry:
    /// help from `description`, `unit`, `labels`, and `buckets` (the
    /// [default buckets](super::DEFAULT_BUCKETS) for a histogram without them).
    ///
    /// A metric already in the table with the same name, kind, labels and buckets is left
    /// as it is (its series keep their values; its help and unit are the first ones).
    /// Anything else under a taken name is an error naming both declarations, and then
    /// nothing of `metrics` is registered.
    ///
    /// ```
    /// use rustform::config::Config;
    /// use rustform::metrics::{DeclaredMetrics, Registry};
    ///
    /// let parse = |text: &str| Config::parse(text, "rustform.yml", &|_| None).unwrap();
    /// let first = parse("custom_metrics:\n  gauges:\n    - { name: queue_depth, description: Jobs waiting, labels: [queue] }\n");
    /// let changed = parse("custom_metrics:\n  gauges:\n    - { name: queue_depth, description: Jobs waiting }\n");
    ///
    /// let declared = DeclaredMetrics::new(&Registry::new());
    /// declared.declare(&first.custom_metrics).unwrap();
    /// declared.declare(&first.custom_metrics).unwrap(); // the same again: nothing to do
    /// let err = declared.declare(&changed.custom_metrics).unwrap_err();
    /// assert!(err.to_string().contains("already declared at custom_metrics.gauges[0]"));
    /// ```
    #[track_caller]
    pub fn declare(&self, metrics: &CustomMetrics) -> Result<(), Error> {
        self.declare_specs(&self.registry, custom_specs(metrics), Location::caller())
            .map(drop)
    }

    /// The declared counter `name` (with or without its `_total` suffix).
    ///
    /// Fails with [`Error::UnknownMetric`], listing the declared counters, when there is
    /// none by that name.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, Registry};
    /// # let config = Config::parse("custom_metrics:\n  counters:\n    - { name: orders_total, description: Orders processed, labels: [status] }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    /// let orders = declared.counter("orders")?; // the same as "orders_total"
    /// orders.with(&["completed"])?.inc_by(2);
    /// assert_eq!(declared.counter("orders_total")?.with(&["completed"])?.get(), 2);
    ///
    /// let err = declared.counter("order_total").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "no counter named \"order_total\" is declared; the declared counters are \"orders_total\""
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn counter(&self, name: &str) -> Result<DeclaredMetric<'_, Counter>, Error> {
        self.find(name)
    }

    /// The declared gauge `name`.
    ///
    /// Fails with [`Error::UnknownMetric`], listing the declared gauges, when there is
    /// none by that name.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, Registry};
    /// # let config = Config::parse("custom_metrics:\n  gauges:\n    - { name: active_users, description: Users with a session }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    /// declared.gauge("active_users")?.with(&[])?.set(12);
    /// assert!(declared.counter("active_users").is_err()); // a gauge, not a counter
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gauge(&self, name: &str) -> Result<DeclaredMetric<'_, Gauge>, Error> {
        self.find(name)
    }

    /// The declared histogram `name`.
    ///
    /// Fails with [`Error::UnknownMetric`], listing the declared histograms, when there is
    /// none by that name.
    ///
    /// ```
    /// # use rustform::config::Config;
    /// # use rustform::metrics::{DeclaredMetrics, Registry};
    /// # let config = Config::parse("custom_metrics:\n  histograms:\n    - { name: request_duration_seconds, description: Request durations, labels: [method], buckets: [0.1, 1] }\n", "rustform.yml", &|_| None)?;
    /// # let declared = DeclaredMetrics::new(&Registry::new());
    /// # declared.declare(&config.custom_metrics)?;
    /// let durations = declared.histogram("request_duration_seconds")?;
    /// durations.with(&["GET"])?.observe(0.25);
    /// assert_eq!(durations.with(&["GET"])?.cumulative_counts(), vec![0, 1, 1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn histogram(&self, name: &str) -> Result<DeclaredMetric<'_, Histogram>, Error> {
        self.find(name)
    }

    fn find<M: Series>(&self, name: &str) -> Result<DeclaredMetric<'_, M>, Error> {
        let base = family_name(name, M::TYPE);
        let position = self
            .index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(base)
            .copied();
        if let Some(entry) = position.and_then(|i| self.entries.get(i))
            && entry.meta.kind == M::TYPE
            && let Some(family) = entry.store.family::<M>()
        {
            return Ok(DeclaredMetric {
                meta: &entry.meta,
                family,
            });
        }
        Err(Error::UnknownMetric {
            name: name.to_owned(),
            kind: M::TYPE.as_str(),
            declared: self.names(M::TYPE),
        })
    }

    /// The names of the declared metrics of `kind`, as declared, in declaration order.
    fn names(&self, kind: MetricType) -> Vec<String> {
        (0..self.entries.len())
            .filter_map(|i| self.entries.get(i))
            .filter(|e| e.meta.kind == kind)
            .map(|e| e.meta.name.to_string())
            .collect()
    }

    /// Declares each of `specs` on its own; the error lists those that failed.
    fn declare_each(
        &self,
        registry: &Registry,
        specs: Vec<Spec<'_>>,
        location: &'static Location<'static>,
    ) -> Result<(), Error> {
        let mut problems = Vec::new();
        for spec in specs {
            let path = spec.path.to_string();
            match self.declare_specs(registry, vec![spec], location) {
                Ok(_) => {}
                Err(Error::Install { reason, .. }) => problems.push(reason),
                Err(other) => problems.push(format!("{path}: {other}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Install {
                what: "business metrics",
                reason: problems.join("; "),
            })
        }
    }

    /// Declares `specs` at once: each one already in the table (the same, or a business
    /// name referring to it) is found; the others are registered in `registry` together
    /// and added. Returns each spec's position in the table.
    fn declare_specs(
        &self,
        registry: &Registry,
        specs: Vec<Spec<'_>>,
        location: &'static Location<'static>,
    ) -> Result<Vec<usize>, Error> {
        let mut checked = Vec::with_capacity(specs.len());
        for spec in specs {
            checked.push(check(spec)?);
        }
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());

        // Where each spec lands: an existing entry, or a new one (by position in `new`).
        enum Slot {
            Existing(usize),
            New(usize),
        }
        let mut slots = Vec::with_capacity(checked.len());
        let mut new: Vec<&Checked<'_>> = Vec::new();
        let mut conflicts = Vec::new();
        for spec in &checked {
            let existing = index
                .get(spec.base)
                .and_then(|&i| Some((i, &self.entries.get(i)?.meta)));
            if let Some((i, meta)) = existing {
                if spec.same_as(meta) {
                    slots.push(Slot::Existing(i));
                } else {
                    conflicts.push(conflict(spec, &meta.name, &meta.path, &meta.shape()));
                }
                continue;
            }
            match new.iter().position(|n| n.base == spec.base) {
                Some(j) if spec.same_as_spec(new[j]) => slots.push(Slot::New(j)),
                Some(j) => conflicts.push(conflict(
                    spec,
                    new[j].spec.name,
                    &new[j].spec.path,
                    &new[j].shape(),
                )),
                None => {
                    // A name another metric's samples use (`x_count` of a histogram `x`,
                    // `x_created` of a counter `x`) would make the exposition ambiguous.
                    let taken = (0..self.entries.len())
                        .filter_map(|i| self.entries.get(i))
                        .map(|e| (&*e.meta.name, &*e.meta.path, &*e.meta.base, e.meta.kind))
                        .chain(
                            new.iter()
                                .map(|n| (n.spec.name, &*n.spec.path, n.base, n.spec.kind)),
                        )
                        .find_map(|(name, path, base, kind)| {
                            let theirs = sample_names(base, kind);
                            sample_names(spec.base, spec.spec.kind)
                                .into_iter()
                                .find(|s| theirs.contains(s))
                                .map(|sample| (name, path, kind, sample))
                        });
                    if let Some((name, path, kind, sample)) = taken {
                        conflicts.push(format!(
                            "{}: {:?} would expose the sample name {sample:?}, which the {} \
                             {name:?} declared at {path} also uses; rename one of them",
                            spec.spec.path,
                            spec.spec.name,
                            kind.as_str(),
                        ));
                        continue;
                    }
                    slots.push(Slot::New(new.len()));
                    new.push(spec);
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(Error::Install {
                what: "custom metrics",
                reason: conflicts.join("; "),
            });
        }

        let created: Vec<Entry> = new.iter().map(|spec| spec.entry()).collect();
        if !created.is_empty() {
            let group = created
                .iter()
                .map(|entry| {
                    let meta = &entry.meta;
                    (
                        &*meta.name,
                        &*meta.help,
                        meta.unit.as_deref(),
                        entry.store.group_metric(),
                    )
                })
                .collect();
            registry.__register_group(group, location)?;
        }
        let mut positions = Vec::with_capacity(created.len());
        for entry in created {
            let base = entry.meta.base.clone();
            let (position, _) = self.entries.push(entry);
            index.insert(base, position);
            positions.push(position);
        }
        Ok(slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Existing(i) => i,
                Slot::New(j) => positions.get(j).copied().unwrap_or(usize::MAX),
            })
            .collect())
    }
}

impl fmt::Debug for DeclaredMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                (0..self.entries.len())
                    .filter_map(|i| self.entries.get(i))
                    .map(|e| &e.meta.name),
            )
            .finish()
    }
}

/// One declared metric, found by name in a [`DeclaredMetrics`] table: give it the label
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
    meta: &'a Meta,
    family: &'a Family<M>,
}

impl<'a, M: Series> DeclaredMetric<'a, M> {
    /// The series for these label values, given in the declared order of the labels;
    /// `&[]` for a metric without labels. It lives as long as the table: the series of
    /// [`custom()`] are `&'static`.
    ///
    /// Past the cardinality limit ([`DEFAULT_CARDINALITY_LIMIT`](super::DEFAULT_CARDINALITY_LIMIT)
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
    family: Family<M>,
    meta: Arc<Meta>,
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

/// One metric as `app_metrics!` read it from the file. Not a public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    /// The name as written (a counter's may end in `_total`).
    pub name: &'static str,
    /// Its YAML path, for messages.
    pub path: &'static str,
    /// What `/metrics` shows; a histogram's effective buckets.
    pub metric: MetricDescription,
}

/// The storages of an `app_metrics!` struct's declarations, in order. Not a public API.
#[doc(hidden)]
pub struct DeclaredGroup {
    declarations: &'static [Declaration],
    stores: Vec<Store>,
}

impl DeclaredGroup {
    /// Declaration `i`, with `N` labels.
    pub fn labeled<M: Series, const N: usize>(&self, i: usize) -> Labeled<M, N>
    where
        M::Config: Default,
    {
        let meta = match self.declarations.get(i) {
            Some(d) => Meta::from_declaration(d),
            None => Meta::from_declaration(&Declaration {
                name: "",
                path: "",
                metric: MetricDescription {
                    name: "",
                    help: "",
                    metric_type: M::TYPE,
                    unit: None,
                    labels: &[],
                    buckets: None,
                },
            }),
        };
        Labeled {
            family: self.family(i),
            meta: Arc::new(meta),
        }
    }

    /// Declaration `i`, without labels: its only series.
    pub fn unlabeled<M: Series>(&self, i: usize) -> M
    where
        M::Config: Default,
    {
        self.family::<M>(i).get_or_create(&[])
    }

    /// Declaration `i`'s family; a detached one if the kinds disagree, which the macro
    /// never generates.
    fn family<M: Series>(&self, i: usize) -> Family<M>
    where
        M::Config: Default,
    {
        match self.stores.get(i).and_then(Store::family::<M>) {
            Some(family) => family.clone(),
            None => Family::new(M::Config::default(), DEFAULT_CARDINALITY_LIMIT),
        }
    }
}

/// Declares an `app_metrics!` struct's metrics in `table`. Not a public API.
#[doc(hidden)]
pub fn declare_group(
    table: &DeclaredMetrics,
    declarations: &'static [Declaration],
    location: &'static Location<'static>,
) -> Result<DeclaredGroup, Error> {
    let specs = declarations.iter().map(Spec::from_declaration).collect();
    let positions = table.declare_specs(&table.registry, specs, location)?;
    let stores = positions
        .into_iter()
        .zip(declarations)
        .map(|(i, d)| match table.entries.get(i) {
            Some(entry) => entry.store.clone(),
            None => Store::detached(d),
        })
        .collect();
    Ok(DeclaredGroup {
        declarations,
        stores,
    })
}

/// Reports that an `AppMetrics` struct's `global()` could not register its metrics. Not
/// a public API.
#[doc(hidden)]
pub fn registration_failed(group: &str, error: &crate::Error) {
    tracing::error!(target: "rustform", group, %error, "metrics are counted but not exposed");
}

/// [`declare_group`] for `global()`: on failure the error is logged on target `rustform`
/// and the metrics count unexposed, in storage of their own. Not a public API.
#[doc(hidden)]
#[track_caller]
pub fn declare_group_or_log(
    table: &DeclaredMetrics,
    declarations: &'static [Declaration],
    group: &str,
) -> DeclaredGroup {
    match declare_group(table, declarations, Location::caller()) {
        Ok(declared) => declared,
        Err(error) => {
            registration_failed(group, &error);
            DeclaredGroup {
                declarations,
                stores: declarations.iter().map(Store::detached).collect(),
            }
        }
    }
}

/// What a declaration says about a metric, kept for lookups and messages.
#[derive(Debug, Clone)]
struct Meta {
    /// As declared.
    name: Box<str>,
    /// The family name: a counter's without `_total`.
    base: Box<str>,
    kind: MetricType,
    help: Box<str>,
    unit: Option<Box<str>>,
    labels: Box<[Box<str>]>,
    /// A histogram's buckets.
    buckets: Option<Buckets>,
    /// Where it was declared.
    path: Box<str>,
}

impl Meta {
    fn from_declaration(d: &Declaration) -> Meta {
        let kind = d.metric.metric_type;
        Meta {
            name: d.name.into(),
            base: family_name(d.name, kind).into(),
            kind,
            help: d.metric.help.into(),
            unit: d.metric.unit.map(Into::into),
            labels: d.metric.labels.iter().map(|l| Box::from(*l)).collect(),
            buckets: (kind == MetricType::Histogram).then(|| {
                d.metric
                    .buckets
                    .map_or_else(Buckets::default, Buckets::from_checked)
            }),
            path: d.path.into(),
        }
    }

    fn label_count(&self, found: usize) -> Error {
        Error::LabelCount {
            name: self.name.to_string(),
            expected: self.labels.iter().map(ToString::to_string).collect(),
            found,
        }
    }

    fn shape(&self) -> String {
        shape(
            self.kind,
            self.labels.iter().map(|l| &**l),
            self.buckets.as_ref(),
        )
    }
}

/// One declaration in the table. Entries never move or go away.
struct Entry {
    meta: Meta,
    store: Store,
}

/// A declared metric's series.
#[derive(Clone)]
enum Store {
    Counter(Family<Counter>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

impl Store {
    /// New, empty storage; a metric without labels gets its one series now, so it shows
    /// at zero before its first use.
    fn new(kind: MetricType, labels: usize, buckets: Option<&Buckets>) -> Store {
        fn family<M: Series>(config: M::Config, labels: usize) -> Family<M> {
            let family = Family::new(config, DEFAULT_CARDINALITY_LIMIT);
            if labels == 0 {
                family.get_or_create(&[]);
            }
            family
        }
        match kind {
            MetricType::Counter => Store::Counter(family((), labels)),
            MetricType::Gauge => Store::Gauge(family((), labels)),
            _ => Store::Histogram(family(buckets.cloned().unwrap_or_default(), labels)),
        }
    }

    fn detached(d: &Declaration) -> Store {
        let meta = Meta::from_declaration(d);
        Store::new(meta.kind, meta.labels.len(), meta.buckets.as_ref())
    }

    fn family<M: Series>(&self) -> Option<&Family<M>> {
        let family: &dyn Any = match self {
            Store::Counter(f) => f,
            Store::Gauge(f) => f,
            Store::Histogram(f) => f,
        };
        family.downcast_ref()
    }

    fn group_metric(&self) -> GroupMetric {
        match self {
            Store::Counter(f) => GroupMetric::new(f.clone()),
            Store::Gauge(f) => GroupMetric::new(f.clone()),
            Store::Histogram(f) => GroupMetric::new(f.clone()),
        }
    }
}

/// The series of `family` for these label pairs.
fn series<'f, 'l, M: Series>(
    family: &'f Family<M>,
    names: impl Iterator<Item = &'l str> + Clone,
    values: impl Iterator<Item = &'l str> + Clone,
) -> &'f M {
    let pairs = names.zip(values);
    let key_pairs = pairs.clone();
    family.get_or_create_keyed(
        |key| encode_label_pairs(key, key_pairs),
        || pairs.map(|(n, v)| (Box::from(n), Box::from(v))).collect(),
        M::create,
    )
}

/// A declaration on its way into a table.
struct Spec<'a> {
    kind: MetricType,
    name: &'a str,
    help: std::borrow::Cow<'a, str>,
    unit: Option<&'a str>,
    labels: Vec<&'a str>,
    buckets: Option<&'a [f64]>,
    path: std::borrow::Cow<'a, str>,
    /// A name from `prometheus.metrics.business`: an entry of the same kind under the
    /// name is this metric, whatever its labels and buckets.
    refers: bool,
}

impl<'a> Spec<'a> {
    fn from_config(kind: MetricType, d: &'a MetricDeclaration) -> Spec<'a> {
        Spec {
            kind,
            name: &d.name,
            help: d.description.as_str().into(),
            unit: d.unit.as_deref(),
            labels: d.labels.iter().map(String::as_str).collect(),
            buckets: d.buckets.as_deref(),
            path: d.path.as_str().into(),
            refers: false,
        }
    }

    fn from_declaration(d: &'a Declaration) -> Spec<'a> {
        Spec {
            kind: d.metric.metric_type,
            name: d.name,
            help: d.metric.help.into(),
            unit: d.metric.unit,
            labels: d.metric.labels.to_vec(),
            buckets: d.metric.buckets,
            path: d.path.into(),
            refers: false,
        }
    }
}

fn custom_specs(metrics: &CustomMetrics) -> Vec<Spec<'_>> {
    let sections = [
        (MetricType::Counter, &metrics.counters),
        (MetricType::Gauge, &metrics.gauges),
        (MetricType::Histogram, &metrics.histograms),
    ];
    sections
        .into_iter()
        .flat_map(|(kind, list)| list.iter().map(move |d| Spec::from_config(kind, d)))
        .collect()
}

const BUSINESS_PATH: &str = "observability.prometheus.metrics.business";

fn business_specs(business: &BusinessMetrics) -> Vec<Spec<'_>> {
    if !business.enabled {
        return Vec::new();
    }
    let lists = [
        (
            MetricType::Counter,
            "custom_counters",
            &business.custom_counters,
        ),
        (MetricType::Gauge, "custom_gauges", &business.custom_gauges),
        (
            MetricType::Histogram,
            "custom_histograms",
            &business.custom_histograms,
        ),
    ];
    lists
        .into_iter()
        .flat_map(|(kind, key, names)| {
            names.iter().enumerate().map(move |(i, name)| Spec {
                kind,
                name,
                help: format!(
                    "Business {} {name} (rustform.yml: {BUSINESS_PATH}.{key})",
                    kind.as_str()
                )
                .into(),
                unit: None,
                labels: Vec::new(),
                buckets: None,
                path: format!("{BUSINESS_PATH}.{key}[{i}]").into(),
                refers: true,
            })
        })
        .collect()
}

/// A spec whose names and buckets are valid.
struct Checked<'a> {
    spec: Spec<'a>,
    base: &'a str,
    buckets: Option<Buckets>,
}

fn check(spec: Spec<'_>) -> Result<Checked<'_>, Error> {
    check_metric_name(spec.name)?;
    let base = family_name(spec.name, spec.kind);
    if spec.kind == MetricType::Counter && base.is_empty() {
        return Err(Error::InvalidMetricName {
            name: spec.name.to_owned(),
            reason: "a counter needs a name before `_total`",
        });
    }
    if spec.kind != MetricType::Counter && spec.name.ends_with("_total") {
        return Err(Error::InvalidMetricName {
            name: spec.name.to_owned(),
            reason: "only counters end in `_total`; rename it or declare it as a counter",
        });
    }
    for (i, label) in spec.labels.iter().enumerate() {
        check_label_name(label)?;
        if spec.labels[..i].contains(label) {
            return Err(Error::InvalidLabelName {
                name: (*label).to_owned(),
                reason: "the declaration lists it twice; list each label once",
            });
        }
    }
    let buckets = match (spec.kind, spec.buckets) {
        (MetricType::Histogram, Some(bounds)) => Some(Buckets::new(bounds.iter().copied())?),
        (MetricType::Histogram, None) => Some(Buckets::default()),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(Error::InvalidBuckets {
                reason: format!(
                    "{} is a {}, and only histograms have buckets",
                    spec.name,
                    spec.kind.as_str()
                ),
            });
        }
    };
    Ok(Checked {
        base,
        buckets,
        spec,
    })
}

impl Checked<'_> {
    /// Whether the table's `meta` is this metric: the same kind, labels and buckets (or,
    /// for a business name, the same kind).
    fn same_as(&self, meta: &Meta) -> bool {
        self.spec.kind == meta.kind
            && (self.spec.refers
                || (self
                    .spec
                    .labels
                    .iter()
                    .copied()
                    .eq(meta.labels.iter().map(|l| &**l))
                    && self.buckets == meta.buckets))
    }

    fn same_as_spec(&self, other: &Checked<'_>) -> bool {
        self.spec.kind == other.spec.kind
            && ((self.spec.refers && other.spec.refers)
                || (self.spec.labels == other.spec.labels && self.buckets == other.buckets))
    }

    fn shape(&self) -> String {
        shape(
            self.spec.kind,
            self.spec.labels.iter().copied(),
            self.buckets.as_ref(),
        )
    }

    fn entry(&self) -> Entry {
        let spec = &self.spec;
        let meta = Meta {
            name: spec.name.into(),
            base: self.base.into(),
            kind: spec.kind,
            help: (*spec.help).into(),
            unit: spec.unit.map(Into::into),
            labels: spec.labels.iter().map(|l| Box::from(*l)).collect(),
            buckets: self.buckets.clone(),
            path: (*spec.path).into(),
        };
        let store = Store::new(meta.kind, meta.labels.len(), meta.buckets.as_ref());
        Entry { meta, store }
    }
}

/// `a counter with labels [status, payment_method]`.
fn shape<'l>(
    kind: MetricType,
    labels: impl ExactSizeIterator<Item = &'l str>,
    buckets: Option<&Buckets>,
) -> String {
    let mut out = format!("a {}", kind.as_str());
    if labels.len() == 0 {
        out.push_str(" without labels");
    } else {
        out.push_str(" with labels [");
        out.push_str(&labels.collect::<Vec<_>>().join(", "));
        out.push(']');
    }
    if let Some(buckets) = buckets {
        out.push_str(&format!(" and buckets {:?}", buckets.bounds()));
    }
    out
}

fn conflict(spec: &Checked<'_>, first_name: &str, first_path: &str, first_shape: &str) -> String {
    format!(
        "{path}: {name:?} is {shape}, but {first_name:?} is already declared at {first_path} as \
         {first_shape}; a metric keeps one kind, label list and bucket layout for the life of \
         the process: make the declarations match or rename one",
        path = spec.spec.path,
        name = spec.spec.name,
        shape = spec.shape(),
    )
}

/// The family a name stands for: a counter's `_total` is the suffix its samples add.
fn family_name(name: &str, kind: MetricType) -> &str {
    rustform_config::names::family_name(name, kind == MetricType::Counter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::metrics::MetricValue;

    const SHOP: &str = "\
custom_metrics:
  counters:
    - name: orders_total
      description: Total number of orders processed
      labels: [status, payment_method]
    - name: user_registrations_total
      description: Total number of user registrations
      labels: [registration_method, user_type]
  gauges:
    - name: active_users
      description: Number of currently active users
      labels: [session_type]
    - name: queue_depth
      description: Jobs waiting
  histograms:
    - name: request_duration_seconds
      description: HTTP request duration in seconds
      unit: seconds
      labels: [method]
      buckets: [0.1, 0.5, 1.0]
    - name: payload_bytes
      description: Payload sizes
observability:
  prometheus:
    metrics:
      business:
        enabled: true
        custom_counters: [user_registrations, orders_created]
        custom_gauges: [active_users, inventory_levels]
        custom_histograms: [order_values]
";

    fn config(text: &str) -> Config {
        Config::parse(text, "rustform.yml", &|_| None).unwrap()
    }

    fn shop() -> (Registry, DeclaredMetrics, Config) {
        let registry = Registry::new();
        let table = DeclaredMetrics::new(&registry);
        let config = config(SHOP);
        table.declare(&config.custom_metrics).unwrap();
        (registry, table, config)
    }

    #[test]
    fn declared_metrics_are_found_by_name_and_kind() {
        let (registry, table, _) = shop();
        table
            .counter("orders_total")
            .unwrap()
            .with(&["completed", "card"])
            .unwrap()
            .inc();
        table
            .counter("orders")
            .unwrap()
            .with(&["completed", "card"])
            .unwrap()
            .inc();
        table
            .gauge("queue_depth")
            .unwrap()
            .with(&[])
            .unwrap()
            .set(4);
        table
            .histogram("request_duration_seconds")
            .unwrap()
            .with(&["GET"])
            .unwrap()
            .observe(0.2);
        let snapshot = registry.snapshot();
        assert_eq!(
            snapshot.get(
                "orders_total",
                &[("status", "completed"), ("payment_method", "card")]
            ),
            Some(&MetricValue::Counter(2))
        );
        assert_eq!(
            snapshot.get("queue_depth", &[]),
            Some(&MetricValue::Gauge(4))
        );
        let text = registry.render();
        assert!(text.contains("request_duration_seconds_bucket{method=\"GET\",le=\"0.5\"} 1\n"));
        // A histogram without buckets gets the default ones, and shows at zero.
        assert!(
            text.contains("payload_bytes_bucket{le=\"0.005\"} 0\n"),
            "{text}"
        );
    }

    #[test]
    fn wrong_names_kinds_and_label_counts_are_errors() {
        let (_, table, _) = shop();
        assert_eq!(
            table.gauge("orders_total").unwrap_err(),
            Error::UnknownMetric {
                name: "orders_total".into(),
                kind: "gauge",
                declared: vec!["active_users".into(), "queue_depth".into()],
            }
        );
        assert_eq!(
            table.histogram("active_users").unwrap_err().to_string(),
            "no histogram named \"active_users\" is declared; the declared histograms are \
             \"request_duration_seconds\", \"payload_bytes\""
        );
        assert_eq!(
            table
                .counter("orders_total")
                .unwrap()
                .with(&["a", "b", "c"])
                .unwrap_err(),
            Error::LabelCount {
                name: "orders_total".into(),
                expected: vec!["status".into(), "payment_method".into()],
                found: 3,
            }
        );
        let empty = DeclaredMetrics::new(&Registry::new());
        assert_eq!(
            empty.counter("x").unwrap_err().to_string(),
            "no counter named \"x\" is declared; declare it under custom_metrics in rustform.yml"
        );
    }

    #[test]
    fn the_same_declarations_again_change_nothing() {
        let (registry, table, config) = shop();
        table
            .counter("orders_total")
            .unwrap()
            .with(&["a", "b"])
            .unwrap()
            .inc();
        let before = registry.render();
        table.declare(&config.custom_metrics).unwrap();
        declare_group(&table, SHOP_DECLARATIONS, Location::caller()).unwrap();
        assert_eq!(registry.render(), before);
        assert_eq!(registry.snapshot().families.len(), 6);
    }

    #[test]
    fn a_different_declaration_under_a_taken_name_names_both() {
        let (registry, table, _) = shop();
        let changed = config(
            "custom_metrics:\n  counters:\n    - { name: new_total, description: New }\n  \
             gauges:\n    - { name: orders, description: Orders as a gauge }\n",
        );
        let err = table.declare(&changed.custom_metrics).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot install custom metrics: custom_metrics.gauges[0]: \"orders\" is a gauge \
             without labels, but \"orders_total\" is already declared at \
             custom_metrics.counters[0] as a counter with labels [status, payment_method]; a \
             metric keeps one kind, label list and bucket layout for the life of the process: \
             make the declarations match or rename one"
        );
        // Nothing of the failed declaration was registered.
        assert!(table.counter("new_total").is_err());
        assert!(!registry.render().contains("new_total"));
    }

    #[test]
    fn a_name_taken_in_the_registry_is_an_error_and_registers_nothing() {
        let registry = Registry::new();
        registry
            .register("queue_depth", "Taken", Gauge::new())
            .unwrap();
        let table = DeclaredMetrics::new(&registry);
        let err = table.declare(&config(SHOP).custom_metrics).unwrap_err();
        assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
        assert!(table.counter("orders_total").is_err());
        assert_eq!(registry.snapshot().families.len(), 1);
    }

    #[test]
    fn business_names_refer_to_declared_metrics_or_are_label_less() {
        let registry = Registry::new();
        let table = DeclaredMetrics::new(&registry);
        let config = config(SHOP);
        table
            .declare_specs(
                &registry,
                custom_specs(&config.custom_metrics),
                Location::caller(),
            )
            .unwrap();
        let business = &config.observability.prometheus.metrics.business;
        // `orders_created` would be read as the `_created` sample of `orders_total`, as in
        // the reference file: it alone is refused.
        let refused = "cannot install business metrics: \
             observability.prometheus.metrics.business.custom_counters[1]: \"orders_created\" \
             would expose the sample name \"orders_created\", which the counter \
             \"orders_total\" declared at custom_metrics.counters[0] also uses; rename one of \
             them";
        let err = table
            .declare_each(&registry, business_specs(business), Location::caller())
            .unwrap_err();
        assert_eq!(err.to_string(), refused);
        // Again: nothing new, the same refusal.
        let err = table
            .declare_each(&registry, business_specs(business), Location::caller())
            .unwrap_err();
        assert_eq!(err.to_string(), refused);
        // `user_registrations` is the declared counter, labels and all.
        let registrations = table.counter("user_registrations").unwrap();
        assert_eq!(registrations.name(), "user_registrations_total");
        assert_eq!(registrations.labels().len(), 2);
        // `active_users` is the declared gauge.
        assert_eq!(table.gauge("active_users").unwrap().labels().len(), 1);
        // The others are new and label-less, at zero from the start.
        assert!(table.counter("orders_created").is_err());
        table
            .gauge("inventory_levels")
            .unwrap()
            .with(&[])
            .unwrap()
            .set(7);
        let text = registry.render();
        assert!(text.contains("inventory_levels 7\n"), "{text}");
        assert!(text.contains("order_values_count 0\n"), "{text}");
        assert!(text.contains(
            "# HELP inventory_levels Business gauge inventory_levels (rustform.yml: \
             observability.prometheus.metrics.business.custom_gauges)\n"
        ));
        assert_eq!(registry.snapshot().families.len(), 8);

        // A business name declared with another kind is an error.
        let clash = self::config(
            "observability:\n  prometheus:\n    metrics:\n      business:\n        enabled: true\n        \
             custom_gauges: [orders]\n",
        );
        let err = table
            .declare_each(
                &registry,
                business_specs(&clash.observability.prometheus.metrics.business),
                Location::caller(),
            )
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "observability.prometheus.metrics.business.custom_gauges[0]: \"orders\" is a gauge"
            ),
            "{err}"
        );

        // Disabled: nothing.
        let mut off = business.clone();
        off.enabled = false;
        assert!(business_specs(&off).is_empty());
    }

    #[test]
    fn a_typed_handle_and_a_lookup_share_series() {
        let (_, table, _) = shop();
        let group = declare_group(&table, SHOP_DECLARATIONS, Location::caller()).unwrap();
        let orders: LabeledCounter<2> = group.labeled(0);
        orders.with(["completed", "card"]).inc();
        let queue: Gauge = group.unlabeled(1);
        queue.set(9);
        assert_eq!(
            table
                .counter("orders_total")
                .unwrap()
                .with(&["completed", "card"])
                .unwrap()
                .get(),
            1
        );
        assert_eq!(
            table.gauge("queue_depth").unwrap().with(&[]).unwrap().get(),
            9
        );
        let by_name: LabeledCounter<2> = table.counter("orders").unwrap().labeled().unwrap();
        assert_eq!(by_name.with(["completed", "card"]).get(), 1);
        assert_eq!(by_name.labels(), ["status", "payment_method"]);
    }

    #[test]
    fn series_past_the_limit_share_the_overflow_series() {
        let (registry, table, _) = shop();
        let active = table.gauge("active_users").unwrap();
        for i in 0..DEFAULT_CARDINALITY_LIMIT + 10 {
            active.with(&[&i.to_string()]).unwrap().inc();
        }
        let family = registry.snapshot();
        let family = family.family("active_users").unwrap();
        assert_eq!(family.series.len(), DEFAULT_CARDINALITY_LIMIT + 1);
        assert_eq!(
            family.series.last().unwrap().labels,
            [("otel_metric_overflow".to_owned(), "true".to_owned())]
        );
        assert_eq!(family.series.last().unwrap().value, MetricValue::Gauge(10));
    }

    #[test]
    fn invalid_declarations_are_rejected_before_anything_is_registered() {
        let registry = Registry::new();
        let table = DeclaredMetrics::new(&registry);
        let mut config = config(SHOP);
        config.custom_metrics.gauges[0].labels.push("le".into());
        assert!(matches!(
            table.declare(&config.custom_metrics),
            Err(Error::InvalidLabelName { .. })
        ));
        let mut config = self::config(SHOP);
        config.custom_metrics.histograms[0].buckets = Some(vec![1.0, 0.5]);
        assert!(matches!(
            table.declare(&config.custom_metrics),
            Err(Error::InvalidBuckets { .. })
        ));
        let mut config = self::config(SHOP);
        config.custom_metrics.gauges[1].name = "queue_total".into();
        assert!(matches!(
            table.declare(&config.custom_metrics),
            Err(Error::InvalidMetricName { .. })
        ));
        assert!(registry.snapshot().families.is_empty());
    }

    #[test]
    fn entries_fill_doubling_chunks() {
        let table = DeclaredMetrics::new(&Registry::new());
        let mut text = String::from("custom_metrics:\n  counters:\n");
        for i in 0..40 {
            text.push_str(&format!(
                "    - {{ name: c{i}_total, description: C{i} }}\n"
            ));
        }
        table.declare(&config(&text).custom_metrics).unwrap();
        for i in 0..40 {
            assert_eq!(
                table.counter(&format!("c{i}")).unwrap().name(),
                format!("c{i}_total")
            );
        }
        assert_eq!(table.names(MetricType::Counter).len(), 40);
    }

    static SHOP_DECLARATIONS: &[Declaration] = &[
        Declaration {
            name: "orders_total",
            path: "custom_metrics.counters[0]",
            metric: MetricDescription {
                name: "orders",
                help: "Total number of orders processed",
                metric_type: MetricType::Counter,
                unit: None,
                labels: &["status", "payment_method"],
                buckets: None,
            },
        },
        Declaration {
            name: "queue_depth",
            path: "custom_metrics.gauges[1]",
            metric: MetricDescription {
                name: "queue_depth",
                help: "Jobs waiting",
                metric_type: MetricType::Gauge,
                unit: None,
                labels: &[],
                buckets: None,
            },
        },
    ];
}
