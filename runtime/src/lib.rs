//! # rustform
//!
//! Production observability from declarations. Write `#[observed]` on a function and
//! every call gets a `tracing` span and autometrics-compatible RED metrics:
//!
//! - `function_calls_total{function, module, service_name, result, ok|error}`
//! - `function_calls_duration_seconds{function, module, service_name}`
//! - `function_calls_concurrent{function, module, service_name}` (with `track_concurrency`)
//!
//! ```
//! use rustform::{observed, ErrorLabel};
//!
//! #[derive(Debug, ErrorLabel)]
//! enum LookupError {
//!     NotFound,
//! }
//!
//! #[observed]
//! fn lookup(id: u32) -> Result<String, LookupError> {
//!     if id == 0 { Err(LookupError::NotFound) } else { Ok(format!("user {id}")) }
//! }
//!
//! lookup(1).unwrap();
//! lookup(0).unwrap_err();
//!
//! let text = rustform::metrics::default_registry().render();
//! assert!(text.contains(r#"function="lookup""#));
//! assert!(text.contains(r#"result="error",error="not_found"} 1"#));
//! ```
//!
//! The metric core ([`metrics`]) stands on its own: counters, gauges and histograms,
//! labeled by typed label sets, exposed in the Prometheus text format or OpenMetrics.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod catalog;
mod clock;
mod error;
mod error_label;
pub mod metrics;
mod observe;

pub use catalog::catalog;
pub use error::Error;
pub use error_label::ErrorLabel;

/// Instruments a function, method, or every method of an `impl` block: a `tracing` span
/// per call and RED metrics (calls by result, duration, optionally concurrency) in the
/// [default registry](metrics::default_registry).
///
/// See the crate documentation for the metric names and the README for every option.
pub use rustform_macros::observed;

/// Derives [`ErrorLabel`] for an enum: each variant's name in snake_case, or
/// `#[label(rename = "...")]`.
pub use rustform_macros::ErrorLabel;

/// Derives the metrics of a struct whose fields are metric types: `register`, `global`
/// and `describe`, help from doc comments, names `prefix_field`. See
/// [`metrics::AppMetric`] for the field types and the README for the options.
pub use rustform_macros::AppMetrics;

/// Derives [`metrics::LabelSet`] for a struct of label values.
pub use rustform_macros::LabelSet;

/// Derives [`metrics::LabelValue`] for a fieldless enum: variant names in snake_case, or
/// `#[label(rename = "...")]`.
pub use rustform_macros::LabelValue;

use std::sync::OnceLock;

/// The service name set in code or configuration; see [`set_service_name`].
static SERVICE_NAME: OnceLock<String> = OnceLock::new();

/// Sets the `service_name` label of every observed function, ahead of
/// `OTEL_SERVICE_NAME` and the crate name. Takes effect for functions first called after
/// it; call it at the start of `main`. Returns `false` if a name was already set.
pub fn set_service_name(name: impl Into<String>) -> bool {
    SERVICE_NAME.set(name.into()).is_ok()
}

/// What generated code calls. Not a public API: anything here may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::catalog::{GroupEntry, METRIC_GROUPS, OBSERVED_FUNCTIONS};
    pub use crate::metrics::Buckets;
    pub use crate::observe::*;
    pub use core;
    pub use linkme;
    pub use std;
    pub use tracing;

    /// A field's description, for `#[derive(AppMetrics)]`; `buckets` as declared.
    pub const fn describe_metric<T: crate::metrics::AppMetric>(
        name: &'static str,
        help: &'static str,
        unit: Option<&'static str>,
        buckets: Option<&'static [f64]>,
    ) -> crate::metrics::MetricDescription {
        crate::metrics::MetricDescription {
            name,
            help,
            metric_type: T::TYPE,
            unit,
            labels: T::LABELS,
            buckets: match buckets {
                Some(declared) => Some(declared),
                None => T::DEFAULT_BUCKETS,
            },
        }
    }

    /// A field's metric on its way into `Registry::__register_group`.
    pub fn group_metric<T: crate::metrics::AppMetric>(metric: &T) -> crate::metrics::GroupMetric {
        crate::metrics::GroupMetric::new(metric.clone())
    }

    /// Reports that an `AppMetrics` struct's `global()` could not register its metrics.
    pub fn registration_failed(group: &str, error: &crate::Error) {
        tracing::error!(target: "rustform", group, %error, "metrics are counted but not exposed");
    }
}
