//! The catalog: every `#[observed]` function and every `#[derive(AppMetrics)]` struct
//! linked into the program, registered at link time, so tools (the endpoint, alert rule
//! and dashboard generators) can list them without any of them having run.

use crate::metrics::MetricDescription;
use crate::observe::CallSite;

/// One `#[derive(AppMetrics)]` struct, as the derive registers it.
#[doc(hidden)]
pub struct GroupEntry {
    /// The struct's name.
    pub name: &'static str,
    /// `module_path!()` where it is declared.
    pub module: &'static str,
    /// Its `describe()`.
    pub describe: fn() -> &'static [MetricDescription],
}

/// Every `AppMetrics` struct of the program.
#[doc(hidden)]
#[allow(unsafe_code)] // linkme places the slice in a link section
#[linkme::distributed_slice]
pub static METRIC_GROUPS: [GroupEntry];

/// Every observed function of the program.
#[doc(hidden)]
#[allow(unsafe_code)] // linkme places the slice in a link section
#[linkme::distributed_slice]
pub static OBSERVED_FUNCTIONS: [&'static CallSite];

/// Every observed function and declared metric group of the program.
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
        .map(|site| site.describe())
        .collect();
    functions.sort_by(|a, b| (a.module, &a.function).cmp(&(b.module, &b.function)));
    let mut metric_groups: Vec<MetricGroup> = METRIC_GROUPS
        .iter()
        .map(|g| MetricGroup {
            name: g.name,
            module: g.module,
            metrics: (g.describe)(),
        })
        .collect();
    metric_groups.sort_by_key(|g| (g.module, g.name));
    Catalog {
        functions,
        metric_groups,
    }
}

/// What [`catalog`] returns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Catalog {
    /// The observed functions, by module and name.
    pub functions: Vec<ObservedFunction>,
    /// The `AppMetrics` structs, by module and name.
    pub metric_groups: Vec<MetricGroup>,
}

/// One observed function.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ObservedFunction {
    /// The `function` label. For a lone method (its `impl` block not observed) the type
    /// prefix is only known after its first call; before it, this is the bare name and
    /// `resolved` is `false`.
    pub function: String,
    /// Whether `function` is final.
    pub resolved: bool,
    /// The `module` label.
    pub module: &'static str,
    /// The duration histogram's bucket bounds.
    pub buckets: &'static [f64],
    /// Whether `function_calls_concurrent` is kept.
    pub track_concurrency: bool,
    /// Whether calls are labeled with their caller.
    pub callers: bool,
    /// Constant labels.
    pub labels: &'static [(&'static str, &'static str)],
}

/// One `AppMetrics` struct.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricGroup {
    /// The struct's name.
    pub name: &'static str,
    /// The module it is declared in.
    pub module: &'static str,
    /// Its metrics.
    pub metrics: &'static [MetricDescription],
}

/// Resolves every observed function whose name is known without running it, so its
/// series show in `/metrics` at zero from the start.
pub(crate) fn preload_observed_functions() {
    for site in OBSERVED_FUNCTIONS.iter() {
        site.preload();
    }
}
