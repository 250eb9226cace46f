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
//!
//! # Features
//!
//! The lean set (`default-features = false`) is the macros, the metric core and its
//! encoders, the catalog, objectives and logs. On top of it, each a feature:
//!
//! | feature | brings |
//! | --- | --- |
//! | `endpoint` (default) | `endpoint`: `/metrics` and the health checks, to mount or on a server of its own |
//! | `auth` (default) | `auth`: bearer tokens, API keys, the token store, rate limits |
//! | `jwt` | JWT authentication |
//! | `tls` | HTTPS for the endpoint's server |
//! | `otlp`, `zipkin` | OpenTelemetry export |
//! | `http`, `http-client` | `http`: `ObserveLayer` for servers, `ClientMiddleware` for `reqwest` |
//! | `prometheus` | the `prometheus` crate's `Collector` |
//! | `signal` | [`Guard::shutdown_signal`] alone (with `endpoint` and `otlp` already) |
//!
//! A configuration that needs a feature the build leaves out is
//! [`Error::MissingFeature`]. The modules depend downward only: [`metrics`] and
//! [`config`] at the bottom; [`trace`], `observed` (the runtime of `#[observed]`),
//! [`catalog`](mod@catalog), [`objective`] and [`health`] on them; the endpoint, the
//! exporters and the HTTP instrumentation above; `install` ([`init`], [`Observability`]
//! and [`Guard`]) alone wires them together, and never ends the process. Generated code
//! reaches the runtime through one hidden module, `__private`, which only re-exports items
//! that live with their concept.

#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(feature = "auth")]
pub mod auth;
pub mod catalog;
mod clock;
pub mod config;
#[cfg(feature = "endpoint")]
pub mod endpoint;
mod error;
mod error_label;
#[cfg(feature = "otlp")]
mod export;
#[cfg(any(feature = "endpoint", feature = "otlp"))]
mod gzip;
pub mod health;
#[cfg(feature = "http")]
pub mod http;
mod install;
pub mod metrics;
pub mod objective;
mod observed;
mod shutdown;
#[cfg(feature = "tls")]
pub mod tls;
pub mod trace;

pub use catalog::catalog;
pub use error::Error;
pub use error_label::ErrorLabel;
pub use install::{CONFIG_ENV, Guard, Observability, ObservabilityBuilder, init};
pub use objective::Objective;

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

/// Generates a struct from the `custom_metrics` section of a `rustform.yml`, read when
/// the crate compiles: one field per declared metric, typed by its kind and number of
/// labels, documented with its description.
///
/// ```text
/// app_metrics!("rustform.yml");                                     // pub struct CustomMetrics
/// app_metrics!(pub(crate) struct ShopMetrics = "config/shop.yml");  // a name and visibility
/// app_metrics!(
///     /// The shop's metrics.
///     #[derive(Clone, Debug)]
///     #[metrics(crate = my_facade::rustform)]                       // another path to rustform
///     pub struct ShopMetrics = "rustform.yml"
/// );
/// ```
///
/// A relative path is read from the directory of the crate's `Cargo.toml`, else from the
/// directory of the file invoking the macro; the crate is rebuilt when the file changes.
/// A counter, gauge or histogram without labels is a field of type [`metrics::Counter`],
/// [`metrics::Gauge`] or [`metrics::Histogram`]; one with `N` labels a
/// [`metrics::LabeledCounter<N>`](metrics::LabeledCounter) (or `LabeledGauge<N>`,
/// `LabeledHistogram<N>`), whose `with([..; N])` takes the label values in the declared
/// order, so a wrong number of values does not compile. Fields are named like the metrics
/// (a Rust keyword as a raw identifier).
///
/// The struct has `global()`, the process-wide instance: its metrics are those of
/// [`metrics::custom()`], registered once in the default registry whether `global()`,
/// `rustform::init()` or a lookup by name comes first; `declare_in(&table)`, the same for
/// any [`metrics::DeclaredMetrics`] table; and `describe()`.
///
/// Every problem in the file is a compile error on the path, with the file, line, YAML
/// path and the fix.
///
/// ```
/// // This crate's copy of the reference `rustform.yml`; in a service, "rustform.yml".
/// rustform::app_metrics!(pub struct ShopMetrics = "../tests/config/rustform.full.yml");
///
/// let metrics = ShopMetrics::global();
/// metrics.orders_total.with(["completed", "card"]).inc();
/// metrics.request_duration_seconds.with(["GET", "/orders", "200"]).observe(0.3);
///
/// // The same series, by name.
/// let orders = rustform::metrics::custom().counter("orders_total")?;
/// assert_eq!(orders.with(&["completed", "card"])?.get(), 1);
/// # Ok::<(), rustform::Error>(())
/// ```
pub use rustform_macros::app_metrics;

/// Sets the `service_name` label of every observed function, ahead of
/// `OTEL_SERVICE_NAME` and the crate name. Takes effect for functions first called after
/// it; call it at the start of `main`. Returns `false` if a name was already set.
pub fn set_service_name(name: impl Into<String>) -> bool {
    observed::SERVICE_NAME.set(name.into()).is_ok()
}

/// The build of the crate that invokes it, for `build_info`: the crate's version, and the
/// commit and branch from the first of `RUSTFORM_COMMIT`, `AUTOMETRICS_COMMIT`,
/// `VERGEN_GIT_SHA` (and `RUSTFORM_BRANCH`, `AUTOMETRICS_BRANCH`, `VERGEN_GIT_BRANCH`) set
/// when it was compiled — by CI or a `build.rs`. Give it to
/// [`ObservabilityBuilder::build_info`]; the service name is filled in at install.
///
/// ```
/// let info = rustform::build_info!();
/// assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
/// let observability = rustform::Observability::builder().build_info(info).build()?;
/// # Ok::<(), rustform::Error>(())
/// ```
#[macro_export]
macro_rules! build_info {
    () => {
        $crate::metrics::BuildInfo {
            version: $crate::__private::core::env!("CARGO_PKG_VERSION").into(),
            commit: $crate::__private::first_set(&[
                $crate::__private::core::option_env!("RUSTFORM_COMMIT"),
                $crate::__private::core::option_env!("AUTOMETRICS_COMMIT"),
                $crate::__private::core::option_env!("VERGEN_GIT_SHA"),
            ]),
            branch: $crate::__private::first_set(&[
                $crate::__private::core::option_env!("RUSTFORM_BRANCH"),
                $crate::__private::core::option_env!("AUTOMETRICS_BRANCH"),
                $crate::__private::core::option_env!("VERGEN_GIT_BRANCH"),
            ]),
            service_name: $crate::__private::std::string::String::new(),
        }
    };
}

/// What generated code calls. Not a public API: anything here may change in any release.
///
/// Re-exports only: each item lives with the concept it belongs to, and is here because
/// a macro's expansion names it, through this one path a user's imports cannot shadow.
#[doc(hidden)]
pub mod __private {
    pub use core;
    pub use linkme;
    pub use std;
    pub use tracing;

    // `#[observed]`: the call site, its span, the classification of its return value,
    // whether a span with fields of the user's own is wanted, and the objective checked
    // while compiling.
    pub use crate::objective::check_at_compile_time as check_objective;
    pub use crate::observed::*;
    pub use crate::trace::unseen_spans::span_wanted;

    // `#[derive(AppMetrics)]`: each field's description and metric, the struct's
    // registration, and its catalog entry.
    pub use crate::metrics::app_metric::{
        GroupEntry, METRIC_GROUPS, describe_metric, group_metric, register_group,
        registration_failed,
    };

    // `#[derive(LabelSet)]`: the cardinality of a struct of labels.
    pub use crate::metrics::labels::product_cardinality;

    // `build_info!`: the first commit or branch variable set.
    pub use crate::metrics::process::first_set;

    // `app_metrics!`: a file's declarations, the process-wide table they join, and the
    // types of the generated fields and functions.
    pub use crate::Error;
    pub use crate::metrics::declared::{
        Declaration, DeclaredGroup, declare_group, declare_group_or_log,
    };
    pub use crate::metrics::{
        Counter, DEFAULT_BUCKETS, DeclaredMetrics, Gauge, Histogram, LabeledCounter, LabeledGauge,
        LabeledHistogram, MetricDescription, MetricType, custom,
    };
}
