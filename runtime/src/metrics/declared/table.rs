//! The table of declared metrics: each name to one storage, registered once.
//!
//! Declarations reach the table from `rustform.yml` (at `init()`) and from each
//! `app_metrics!` struct (at its `global()`), in any order and as often as they like: a
//! declaration the table already holds finds its entry, anything else under a taken name
//! is refused, and a batch is registered all at once or not at all, so a failed
//! declaration leaves nothing half-registered. Entries never move, so a handle to one is
//! a plain reference.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::{LazyLock, RwLock};

use super::entry::Entry;
use super::family_name;
use super::handles::DeclaredMetric;
use super::spec::{Checked, Spec, business_specs, check, conflict, custom_specs};
use crate::Error;
use crate::config::{BusinessMetrics, CustomMetrics};
use crate::metrics::family::Arena;
use crate::metrics::registry::sample_names;
use crate::metrics::{Counter, Gauge, Histogram, MetricType, Registry, Series, default_registry};

/// The process-wide table of declared metrics, exposed in the
/// [default registry](crate::metrics::default_registry).
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
    pub(super) registry: Registry,
    /// Family name (a counter's without `_total`) → position in `entries`. Its write lock
    /// is held for a whole declaration, so two declarations never interleave.
    index: RwLock<HashMap<Box<str>, usize>>,
    pub(super) entries: Arena<Entry>,
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
    /// [default buckets](crate::metrics::DEFAULT_BUCKETS) for a histogram without them).
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
    pub(super) fn names(&self, kind: MetricType) -> Vec<String> {
        (0..self.entries.len())
            .filter_map(|i| self.entries.get(i))
            .filter(|e| e.meta.kind == kind)
            .map(|e| e.meta.name.to_string())
            .collect()
    }

    /// Declares each of `specs` on its own; the error lists those that failed.
    pub(super) fn declare_each(
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
    pub(super) fn declare_specs(
        &self,
        registry: &Registry,
        specs: Vec<Spec<'_>>,
        location: &'static Location<'static>,
    ) -> Result<Vec<usize>, Error> {
        let checked = specs
            .into_iter()
            .map(check)
            .collect::<Result<Vec<_>, _>>()?;
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        let plan = self.plan(&index, &checked)?;
        let created: Vec<Entry> = plan.new.iter().map(|spec| spec.entry()).collect();
        if !created.is_empty() {
            let group = created.iter().map(Entry::group_member).collect();
            registry.register_group(group, location)?;
        }
        let mut positions = Vec::with_capacity(created.len());
        for entry in created {
            let base = entry.meta.base.clone();
            let (position, _) = self.entries.push(entry);
            index.insert(base, position);
            positions.push(position);
        }
        Ok(plan.positions(&positions))
    }

    /// Where each of `checked` lands: an entry of the table, or a new one; every conflict
    /// with the table or within `checked` is an error listing them all.
    fn plan<'s>(
        &self,
        index: &HashMap<Box<str>, usize>,
        checked: &'s [Checked<'s>],
    ) -> Result<Plan<'s>, Error> {
        let mut plan = Plan {
            slots: Vec::with_capacity(checked.len()),
            new: Vec::new(),
        };
        let mut conflicts = Vec::new();
        for spec in checked {
            let existing = index
                .get(spec.base)
                .and_then(|&i| Some((i, &self.entries.get(i)?.meta)));
            if let Some((i, meta)) = existing {
                if spec.same_as(meta) {
                    plan.slots.push(Slot::Existing(i));
                } else {
                    conflicts.push(conflict(spec, &meta.name, &meta.path, &meta.shape()));
                }
                continue;
            }
            match plan.new.iter().position(|n| n.base == spec.base) {
                Some(j) if spec.same_as_spec(plan.new[j]) => plan.slots.push(Slot::New(j)),
                Some(j) => {
                    let first = plan.new[j];
                    conflicts.push(conflict(
                        spec,
                        first.spec.name,
                        &first.spec.path,
                        &first.shape(),
                    ));
                }
                None => match self.sample_name_clash(spec, &plan.new) {
                    Some(clash) => conflicts.push(clash),
                    None => {
                        plan.slots.push(Slot::New(plan.new.len()));
                        plan.new.push(spec);
                    }
                },
            }
        }
        if conflicts.is_empty() {
            Ok(plan)
        } else {
            Err(Error::Install {
                what: "custom metrics",
                reason: conflicts.join("; "),
            })
        }
    }

    /// A name another metric's samples use (`x_count` of a histogram `x`, `x_created` of
    /// a counter `x`) would make the exposition ambiguous: the message, if `spec`'s
    /// samples take one of the table's or of `new`'s.
    fn sample_name_clash(&self, spec: &Checked<'_>, new: &[&Checked<'_>]) -> Option<String> {
        let ours = sample_names(spec.base, spec.spec.kind);
        let (name, path, kind, sample) = (0..self.entries.len())
            .filter_map(|i| self.entries.get(i))
            .map(|e| (&*e.meta.name, &*e.meta.path, &*e.meta.base, e.meta.kind))
            .chain(
                new.iter()
                    .map(|n| (n.spec.name, &*n.spec.path, n.base, n.spec.kind)),
            )
            .find_map(|(name, path, base, kind)| {
                let theirs = sample_names(base, kind);
                ours.iter()
                    .find(|s| theirs.contains(s))
                    .map(|sample| (name, path, kind, sample))
            })?;
        Some(format!(
            "{}: {:?} would expose the sample name {sample:?}, which the {} {name:?} declared \
             at {path} also uses; rename one of them",
            spec.spec.path,
            spec.spec.name,
            kind.as_str(),
        ))
    }
}

/// Where a batch of declarations lands.
struct Plan<'s> {
    /// Each declaration's place, in order.
    slots: Vec<Slot>,
    /// The declarations the table does not hold yet, each name once.
    new: Vec<&'s Checked<'s>>,
}

/// Where one declaration lands: an existing entry, or a new one (by position in
/// [`Plan::new`]).
enum Slot {
    Existing(usize),
    New(usize),
}

impl Plan<'_> {
    /// Each declaration's position in the table, given those the new entries took.
    fn positions(self, created: &[usize]) -> Vec<usize> {
        self.slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Existing(i) => i,
                Slot::New(j) => created.get(j).copied().unwrap_or(usize::MAX),
            })
            .collect()
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
