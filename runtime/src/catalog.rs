//! The catalog: every `#[observed]` function and every `#[derive(AppMetrics)]` struct
//! linked into the program, registered at link time, so tools (the endpoint, alert rule
//! and dashboard generators) can list them without any of them having run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::app_metric::METRIC_GROUPS;
use crate::metrics::{MetricDescription, MetricType};
use crate::observed::{CallSite, OBSERVED_FUNCTIONS};

/// Every observed function and declared metric group of the program.
///
/// The catalog is what the generators in `rustform-generate` read: it serializes to JSON
/// (`serde_json::to_string(&rustform::catalog())`, and `GET /catalog` on the endpoint,
/// behind the same authentication as `/metrics`), so `rustform generate --catalog` can
/// read it from a file or from a running service.
///
/// ```
/// use rustform::metrics::Counter;
/// use rustform::{observed, AppMetrics};
///
/// #[observed]
/// fn checkout() {}
///
/// #[derive(AppMetrics)]
/// #[metrics(prefix = "doc")]
/// struct DocMetrics {
///     /// Pages served
///     pages: Counter,
/// }
///
/// let catalog = rustform::catalog();
/// assert!(catalog.functions.iter().any(|f| f.function == "checkout"));
/// let group = catalog.metric_groups.iter().find(|g| g.name == "DocMetrics").unwrap();
/// assert_eq!(group.metrics[0].name, "doc_pages");
/// ```
pub fn catalog() -> Catalog {
    let mut functions: Vec<ObservedFunction> = OBSERVED_FUNCTIONS
        .iter()
        .map(|site| describe(site))
        .collect();
    functions.sort_by(|a, b| (&a.module, &a.function).cmp(&(&b.module, &b.function)));
    let mut metric_groups: Vec<MetricGroup> = METRIC_GROUPS
        .iter()
        .map(|g| MetricGroup {
            name: g.name.to_owned(),
            module: g.module.to_owned(),
            metrics: (g.describe)().iter().map(CatalogMetric::from).collect(),
        })
        .collect();
    metric_groups.sort_by(|a, b| (&a.module, &a.name).cmp(&(&b.module, &b.name)));
    let service = OBSERVED_FUNCTIONS
        .first()
        .map(|site| site.service_name().to_owned())
        .or_else(crate::observed::set_service_name_of_process)
        .unwrap_or_default();
    Catalog {
        service,
        functions,
        metric_groups,
    }
}

/// What [`catalog`] returns: owned, serializable, and readable back from JSON.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Catalog {
    /// The `service_name` label of the program's series (empty when nothing set it and
    /// no function is observed).
    #[serde(default)]
    pub service: String,
    /// The observed functions, by module and name.
    #[serde(default)]
    pub functions: Vec<ObservedFunction>,
    /// The `AppMetrics` structs, by module and name.
    #[serde(default)]
    pub metric_groups: Vec<MetricGroup>,
}

impl Catalog {
    /// An empty catalog for `service`: what the generators use when only the
    /// configuration is known.
    pub fn empty(service: impl Into<String>) -> Catalog {
        Catalog {
            service: service.into(),
            ..Catalog::default()
        }
    }

    /// Checks every objective's latency threshold against its function's buckets; a
    /// catalog from [`catalog`] always passes (the macro checks while compiling), one read
    /// from a file may not.
    pub fn check_objectives(&self) -> Result<(), crate::objective::ThresholdError> {
        for f in &self.functions {
            if let Some(objective) = &f.objective
                && let Some(latency) = &objective.latency
            {
                let threshold = latency.threshold_seconds;
                if !crate::objective::is_bound(threshold, &f.buckets) {
                    return Err(crate::objective::ThresholdError {
                        objective: objective.name.clone(),
                        threshold,
                        buckets: f.buckets.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// One observed function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ObservedFunction {
    /// The `function` label. For a lone method (its `impl` block not observed) the type
    /// prefix is only known after its first call; before it, this is the bare name and
    /// `resolved` is `false`.
    pub function: String,
    /// Whether `function` is final.
    #[serde(default = "yes")]
    pub resolved: bool,
    /// The `module` label.
    pub module: String,
    /// The duration histogram's bucket bounds.
    #[serde(default = "function_buckets")]
    pub buckets: Vec<f64>,
    /// Whether `function_calls_concurrent` is kept.
    #[serde(default)]
    pub track_concurrency: bool,
    /// Whether calls are labeled with their caller.
    #[serde(default)]
    pub callers: bool,
    /// Constant labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The objective the function is judged by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<CatalogObjective>,
}

impl ObservedFunction {
    /// The function `function` of `module`, resolved, with the default buckets and no
    /// options: set the fields that apply.
    pub fn new(module: impl Into<String>, function: impl Into<String>) -> ObservedFunction {
        ObservedFunction {
            function: function.into(),
            resolved: true,
            module: module.into(),
            buckets: function_buckets(),
            track_concurrency: false,
            callers: false,
            labels: BTreeMap::new(),
            objective: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn function_buckets() -> Vec<f64> {
    crate::metrics::FUNCTION_BUCKETS.to_vec()
}

/// An objective as the catalog lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CatalogObjective {
    /// The `objective_name` label.
    pub name: String,
    /// The success-rate target, in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// The latency target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<CatalogLatency>,
}

/// A latency target as the catalog lists it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CatalogLatency {
    /// The threshold, in seconds: the `objective_latency_threshold` label.
    pub threshold_seconds: f64,
    /// The share of calls that must finish within it, in percent.
    pub percentile: f64,
}

impl CatalogLatency {
    /// `percentile` percent of calls within `threshold_seconds`.
    pub fn new(threshold_seconds: f64, percentile: f64) -> CatalogLatency {
        CatalogLatency {
            threshold_seconds,
            percentile,
        }
    }
}

impl CatalogObjective {
    /// The objective `name`, with the targets given.
    pub fn new(
        name: impl Into<String>,
        success_rate: Option<f64>,
        latency: Option<CatalogLatency>,
    ) -> CatalogObjective {
        CatalogObjective {
            name: name.into(),
            success_rate,
            latency,
        }
    }

    /// The label value of the success percentile (`99.9`, `99`), as on the series.
    pub fn success_label(&self) -> Option<String> {
        self.success_rate.map(crate::objective::percentile_label)
    }

    /// The label values of the latency target: (percentile, threshold).
    pub fn latency_labels(&self) -> Option<(String, String)> {
        self.latency.map(|l| {
            (
                crate::objective::percentile_label(l.percentile),
                crate::objective::threshold_label(l.threshold_seconds),
            )
        })
    }
}

impl From<&crate::Objective> for CatalogObjective {
    fn from(o: &crate::Objective) -> CatalogObjective {
        CatalogObjective {
            name: o.name().to_owned(),
            success_rate: o.success_percentile(),
            latency: o.latency_target().map(|l| CatalogLatency {
                threshold_seconds: l.threshold_seconds(),
                percentile: l.percentile,
            }),
        }
    }
}

/// One `AppMetrics` struct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricGroup {
    /// The struct's name.
    pub name: String,
    /// The module it is declared in.
    pub module: String,
    /// Its metrics.
    pub metrics: Vec<CatalogMetric>,
}

impl MetricGroup {
    /// The struct `name` of `module`, with its metrics.
    pub fn new(
        name: impl Into<String>,
        module: impl Into<String>,
        metrics: Vec<CatalogMetric>,
    ) -> MetricGroup {
        MetricGroup {
            name: name.into(),
            module: module.into(),
            metrics,
        }
    }
}

/// One declared metric, as the catalog lists it (an owned [`MetricDescription`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CatalogMetric {
    /// The family name (a counter's samples add `_total`).
    pub name: String,
    /// The help text.
    #[serde(default)]
    pub help: String,
    /// The type: `counter`, `gauge` or `histogram`.
    #[serde(rename = "type")]
    pub metric_type: MetricType,
    /// The unit, if declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The label names, in order.
    #[serde(default)]
    pub labels: Vec<String>,
    /// A histogram's bucket bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<f64>>,
}

impl CatalogMetric {
    /// A metric named `name` of type `metric_type`, without help, unit, labels or
    /// buckets: set the fields that apply.
    ///
    /// ```
    /// use rustform::catalog::CatalogMetric;
    /// use rustform::metrics::MetricType;
    ///
    /// let mut metric = CatalogMetric::new("orders", MetricType::Counter);
    /// metric.labels = vec!["status".into()];
    /// assert_eq!(metric.sample_name(), "orders_total");
    /// ```
    pub fn new(name: impl Into<String>, metric_type: MetricType) -> CatalogMetric {
        CatalogMetric {
            name: name.into(),
            help: String::new(),
            metric_type,
            unit: None,
            labels: Vec::new(),
            buckets: None,
        }
    }

    /// The name of the samples that carry the value: `_total` added for a counter.
    pub fn sample_name(&self) -> String {
        match self.metric_type {
            MetricType::Counter => format!("{}_total", self.name),
            _ => self.name.clone(),
        }
    }
}

impl From<&MetricDescription> for CatalogMetric {
    fn from(d: &MetricDescription) -> CatalogMetric {
        CatalogMetric {
            name: d.name.to_owned(),
            help: d.help.to_owned(),
            metric_type: d.metric_type,
            unit: d.unit.map(str::to_owned),
            labels: d.labels.iter().map(|l| (*l).to_owned()).collect(),
            buckets: d.buckets.map(<[f64]>::to_vec),
        }
    }
}

impl PartialEq<MetricDescription> for CatalogMetric {
    fn eq(&self, d: &MetricDescription) -> bool {
        self.name == d.name
            && self.help == d.help
            && self.metric_type == d.metric_type
            && self.unit.as_deref() == d.unit
            && self
                .labels
                .iter()
                .map(String::as_str)
                .eq(d.labels.iter().copied())
            && self.buckets.as_deref() == d.buckets
    }
}

/// An observed function as the catalog lists it.
fn describe(site: &'static CallSite) -> ObservedFunction {
    let info = site.info();
    let resolved = site.resolved_function();
    ObservedFunction {
        function: resolved.unwrap_or(info.function).to_owned(),
        resolved: resolved.is_some() || !info.method_of_self_type,
        module: info.module.to_owned(),
        buckets: info
            .buckets
            .unwrap_or(crate::metrics::FUNCTION_BUCKETS)
            .to_vec(),
        track_concurrency: info.track_concurrency,
        callers: info.callers,
        labels: info
            .labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        objective: info.objective.map(Into::into),
    }
}
