//! [`Registry`]: the named metric families of a process, and their exposition.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::Location;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use super::encode::{Format, MetricType, write_header};
use super::name::check_metric_name;
use super::{FamilySnapshot, Metric, Snapshot, Source};
use crate::Error;

/// The metric families of a process (or of one component), in registration order.
///
/// Cloning gives another handle to the same registry. [`render`](Self::render) writes the
/// Prometheus text format; [`encode`](Self::encode) either format.
///
/// ```
/// use rustform::metrics::{Buckets, Counter, Histogram, Registry};
///
/// let registry = Registry::new();
/// let orders = Counter::new();
/// let value = Histogram::new(Buckets::new([10.0, 100.0]).unwrap());
/// registry.register("orders", "Orders placed", orders.clone()).unwrap();
/// registry.register_with_unit("order_value_dollars", "Order values", "dollars", value.clone()).unwrap();
/// orders.inc();
/// value.observe(42.0);
///
/// assert_eq!(registry.render(), "\
/// ## HELP orders_total Orders placed
/// ## TYPE orders_total counter
/// orders_total 1
/// ## HELP order_value_dollars Order values
/// ## TYPE order_value_dollars histogram
/// order_value_dollars_bucket{le=\"10\"} 0
/// order_value_dollars_bucket{le=\"100\"} 1
/// order_value_dollars_bucket{le=\"+Inf\"} 1
/// order_value_dollars_sum 42
/// order_value_dollars_count 1
/// ");
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    families: RwLock<Families>,
    /// Length of the last exposition, to size the next one's buffer.
    last_len: AtomicUsize,
    #[cfg(feature = "prometheus")]
    pub(super) descs: std::sync::OnceLock<Vec<prometheus::core::Desc>>,
}

#[derive(Default)]
struct Families {
    list: Vec<Arc<RegisteredFamily>>,
    /// Every name a family's samples use, and the family that owns it.
    taken: HashMap<Box<str>, usize>,
}

/// A family as the registry holds it: its name, help and unit, its series (the source),
/// where it was registered, and its exposition headers, written once. Not to be confused
/// with [`Family`](super::family::Family), the series of one labeled metric.
pub(crate) struct RegisteredFamily {
    pub(crate) base: Box<str>,
    pub(crate) help: Box<str>,
    pub(crate) unit: Option<Box<str>>,
    pub(crate) metric_type: MetricType,
    pub(crate) source: Box<dyn Source>,
    location: &'static Location<'static>,
    header_text: Box<str>,
    header_openmetrics: Box<str>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Registers `metric` under `name`. A counter's samples end in `_total`: `"orders"` and
    /// `"orders_total"` both expose `orders_total`.
    ///
    /// Fails, naming both places, when the name or one of its sample names (`_total`,
    /// `_bucket`, `_sum`, `_count`) is already taken; and when the name is not a valid
    /// Prometheus name or the help text is empty.
    #[track_caller]
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) -> Result<(), Error> {
        self.add(name, help, None, metric, Location::caller())
    }

    /// Like [`register`](Self::register), with a unit (shown as OpenMetrics `# UNIT`). The
    /// name must end with `_<unit>`.
    #[track_caller]
    pub fn register_with_unit(
        &self,
        name: &str,
        help: &str,
        unit: &str,
        metric: impl Metric,
    ) -> Result<(), Error> {
        self.add(name, help, Some(unit), metric, Location::caller())
    }

    pub(crate) fn add(
        &self,
        name: &str,
        help: &str,
        unit: Option<&str>,
        metric: impl Metric,
        location: &'static Location<'static>,
    ) -> Result<(), Error> {
        let (metric_type, source) = metric.into_source();
        self.add_all(
            vec![Pending {
                name,
                help,
                unit,
                metric_type,
                source,
            }],
            location,
        )
    }

    /// Registers several families at once: either all of them or, on the first problem,
    /// none.
    pub(crate) fn register_group(
        &self,
        group: Vec<(&str, &str, Option<&str>, GroupMetric)>,
        location: &'static Location<'static>,
    ) -> Result<(), Error> {
        let pending = group
            .into_iter()
            .map(
                |(name, help, unit, GroupMetric(metric_type, source))| Pending {
                    name,
                    help,
                    unit,
                    metric_type,
                    source,
                },
            )
            .collect();
        self.add_all(pending, location)
    }

    fn add_all(
        &self,
        pending: Vec<Pending<'_>>,
        location: &'static Location<'static>,
    ) -> Result<(), Error> {
        let mut prepared = Vec::with_capacity(pending.len());
        for p in pending {
            prepared.push(prepare(p, location)?);
        }
        let mut families = self
            .inner
            .families
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let mut claimed: HashMap<&str, &'static Location<'static>> = HashMap::new();
        for (family, names) in &prepared {
            for n in names {
                let first = families
                    .taken
                    .get(n.as_str())
                    .map(|owner| families.list[*owner].location)
                    .or_else(|| claimed.get(n.as_str()).copied());
                if let Some(first) = first {
                    return Err(Error::AlreadyRegistered {
                        name: family.display_name(),
                        first,
                        second: location,
                    });
                }
            }
            for n in names {
                claimed.insert(n.as_str(), location);
            }
        }
        drop(claimed);
        for (family, names) in prepared {
            let index = families.list.len();
            families.list.push(Arc::new(family));
            for n in names {
                families.taken.insert(n.into_boxed_str(), index);
            }
        }
        Ok(())
    }

    /// The Prometheus text exposition (format 0.0.4) of every family.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.encode(Format::Text, &mut out);
        out
    }

    /// The OpenMetrics 1.0 exposition of every family, ending in `# EOF`.
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        self.encode(Format::OpenMetrics, &mut out);
        out
    }

    /// Appends the exposition of every family in `format` to `out`.
    pub fn encode(&self, format: Format, out: &mut String) {
        out.reserve(self.inner.last_len.load(Ordering::Relaxed) + 256);
        let start = out.len();
        let families = self
            .inner
            .families
            .read()
            .unwrap_or_else(|p| p.into_inner());
        for family in &families.list {
            if family.source.is_empty() {
                continue;
            }
            out.push_str(match format {
                Format::Text => &family.header_text,
                Format::OpenMetrics => &family.header_openmetrics,
            });
            family.source.encode(&family.base, format, out);
        }
        drop(families);
        if format == Format::OpenMetrics {
            out.push_str("# EOF\n");
        }
        self.inner
            .last_len
            .store(out.len() - start, Ordering::Relaxed);
    }

    /// The current value of every series, for tests, exporters and tools.
    pub fn snapshot(&self) -> Snapshot {
        let families = self
            .inner
            .families
            .read()
            .unwrap_or_else(|p| p.into_inner());
        Snapshot {
            families: families
                .list
                .iter()
                .map(|f| {
                    let mut series = Vec::new();
                    f.source.collect(&mut series);
                    FamilySnapshot {
                        name: f.base.to_string(),
                        help: f.help.to_string(),
                        unit: f.unit.as_ref().map(ToString::to_string),
                        metric_type: f.metric_type,
                        series,
                    }
                })
                .collect(),
        }
    }

    /// The registered families, in order.
    #[cfg_attr(
        not(feature = "prometheus"),
        allow(dead_code, reason = "read by the prometheus interoperation")
    )]
    pub(crate) fn families(&self) -> Vec<Arc<RegisteredFamily>> {
        let families = self
            .inner
            .families
            .read()
            .unwrap_or_else(|p| p.into_inner());
        families.list.clone()
    }

    #[cfg(feature = "prometheus")]
    pub(super) fn descs_cell(&self) -> &std::sync::OnceLock<Vec<prometheus::core::Desc>> {
        &self.inner.descs
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let families = self
            .inner
            .families
            .read()
            .unwrap_or_else(|p| p.into_inner());
        f.debug_list()
            .entries(families.list.iter().map(|f| &f.base))
            .finish()
    }
}

/// A metric on its way into a group registration, all or nothing: the derive's
/// [`register_group`](super::app_metric::register_group), and the declared metrics'.
pub struct GroupMetric(MetricType, Box<dyn Source>);

impl GroupMetric {
    /// Wraps a metric.
    pub fn new(metric: impl Metric) -> GroupMetric {
        let (metric_type, source) = metric.into_source();
        GroupMetric(metric_type, source)
    }
}

/// A family to register, as given.
struct Pending<'a> {
    name: &'a str,
    help: &'a str,
    unit: Option<&'a str>,
    metric_type: MetricType,
    source: Box<dyn Source>,
}

/// Checks a family and builds it, with every name its exposition will use.
fn prepare(
    p: Pending<'_>,
    location: &'static Location<'static>,
) -> Result<(RegisteredFamily, Vec<String>), Error> {
    let Pending {
        name,
        help,
        unit,
        metric_type,
        source,
    } = p;
    check_metric_name(name)?;
    source.check()?;
    let base = match metric_type {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    if base.is_empty() {
        return Err(Error::InvalidMetricName {
            name: name.to_owned(),
            reason: "a counter needs a name before `_total`",
        });
    }
    if help.trim().is_empty() {
        return Err(Error::MissingHelp {
            name: name.to_owned(),
        });
    }
    if let Some(unit) = unit {
        let suffix_ok = base.len() > unit.len() + 1
            && base.ends_with(unit)
            && base.as_bytes()[base.len() - unit.len() - 1] == b'_';
        if unit.is_empty() || !suffix_ok {
            return Err(Error::UnitMismatch {
                name: name.to_owned(),
                unit: unit.to_owned(),
            });
        }
    }
    let names = sample_names(base, metric_type);
    let mut header_text = String::new();
    write_header(
        &mut header_text,
        base,
        help,
        unit,
        metric_type,
        Format::Text,
    );
    let mut header_openmetrics = String::new();
    write_header(
        &mut header_openmetrics,
        base,
        help,
        unit,
        metric_type,
        Format::OpenMetrics,
    );
    let family = RegisteredFamily {
        base: base.into(),
        help: help.into(),
        unit: unit.map(Into::into),
        metric_type,
        source,
        location,
        header_text: header_text.into(),
        header_openmetrics: header_openmetrics.into(),
    };
    Ok((family, names))
}

impl RegisteredFamily {
    /// The name users see: with `_total` for a counter.
    fn display_name(&self) -> String {
        match self.metric_type {
            MetricType::Counter => format!("{}_total", self.base),
            _ => self.base.to_string(),
        }
    }
}

/// Every name a family's exposition uses: its own and its samples'.
pub(crate) fn sample_names(base: &str, metric_type: MetricType) -> Vec<String> {
    let suffixes: &[&str] = match metric_type {
        MetricType::Counter => &["", "_total", "_created"],
        MetricType::Gauge => &[""],
        MetricType::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    };
    suffixes.iter().map(|s| format!("{base}{s}")).collect()
}

/// What runs once, on the default registry's first use, before it is handed out: the
/// layers above register here at link time (the observed functions preload their
/// series), so the registry does not name them.
#[allow(unsafe_code)] // linkme places the slice in a link section
#[linkme::distributed_slice]
pub(crate) static ON_DEFAULT_REGISTRY: [fn()];

/// The process-wide registry: `#[observed]` functions record into it, and the metrics
/// endpoint serves it. On first use it resolves every observed function linked into the
/// program, so their series show at zero before their first call.
///
/// ```
/// let text = rustform::metrics::default_registry().render();
/// # let _ = text;
/// ```
pub fn default_registry() -> &'static Registry {
    static DEFAULT: LazyLock<Registry> = LazyLock::new(Registry::new);
    static PRELOADED: OnceLock<()> = OnceLock::new();
    thread_local! {
        static PRELOADING: Cell<bool> = const { Cell::new(false) };
    }
    let registry = &*DEFAULT;
    // Once, on first use, every linked observed function is resolved. Resolving uses
    // this registry again from the same thread, which must pass (the flag); any other
    // thread waits until the preload is done, so it never sees it half-way.
    if PRELOADED.get().is_none() && !PRELOADING.try_with(Cell::get).unwrap_or(true) {
        let _ = PRELOADING.try_with(|p| p.set(true));
        PRELOADED.get_or_init(|| {
            // The call clock calibrates on first use (under a millisecond): do it here,
            // not in the first observed call.
            let _ = crate::clock::now();
            for hook in ON_DEFAULT_REGISTRY {
                hook();
            }
        });
        let _ = PRELOADING.try_with(|p| p.set(false));
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Counter, Gauge, Histogram};

    #[test]
    fn counters_expose_total_once() {
        let r = Registry::new();
        let a = Counter::new();
        r.register("a_total", "A", a.clone()).unwrap();
        a.inc();
        assert_eq!(
            r.render(),
            "# HELP a_total A\n# TYPE a_total counter\na_total 1\n"
        );
        assert_eq!(
            r.render_openmetrics(),
            "# HELP a A\n# TYPE a counter\na_total 1\n# EOF\n"
        );
    }

    #[test]
    fn colliding_sample_names_are_rejected_with_both_places() {
        let r = Registry::new();
        r.register("x", "X", Histogram::default()).unwrap();
        let err = r.register("x_count", "Y", Gauge::new()).unwrap_err();
        let Error::AlreadyRegistered { first, second, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(first.file(), file!());
        assert_eq!(second.file(), file!());
        assert!(second.line() > first.line());
        let err = r.register("x_total", "Z", Counter::new()).unwrap_err();
        assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
    }

    #[test]
    fn label_sets_with_bad_names_are_rejected() {
        struct Bad;
        impl crate::metrics::LabelSet for Bad {
            const NAMES: &'static [&'static str] = &["le"];
            fn visit_values(&self, f: &mut dyn FnMut(&str)) {
                f("x")
            }
        }
        let r = Registry::new();
        let err = r
            .register("x", "X", crate::metrics::CounterVec::<Bad>::new())
            .unwrap_err();
        assert!(matches!(err, Error::InvalidLabelName { .. }), "{err}");
    }

    #[test]
    fn bad_names_help_and_units_are_errors() {
        let r = Registry::new();
        assert!(matches!(
            r.register("1x", "h", Counter::new()),
            Err(Error::InvalidMetricName { .. })
        ));
        assert!(matches!(
            r.register("_total", "h", Counter::new()),
            Err(Error::InvalidMetricName { .. })
        ));
        assert!(matches!(
            r.register("x", " ", Counter::new()),
            Err(Error::MissingHelp { .. })
        ));
        assert!(matches!(
            r.register_with_unit("size", "h", "bytes", Gauge::new()),
            Err(Error::UnitMismatch { .. })
        ));
        assert!(matches!(
            r.register_with_unit("bytes", "h", "bytes", Gauge::new()),
            Err(Error::UnitMismatch { .. })
        ));
        r.register_with_unit("size_bytes", "h", "bytes", Gauge::new())
            .unwrap();
        assert!(r.render_openmetrics().contains("# UNIT size_bytes bytes\n"));
    }
}
