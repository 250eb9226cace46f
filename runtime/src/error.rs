//! The error type of rustform's fallible operations.

use std::fmt;
use std::panic::Location;

/// What went wrong in a rustform operation: registering a metric, building buckets,
/// reading configuration.
///
/// Every message names the offending value and what would be accepted instead, so it
/// can be shown to a user as it is.
///
/// ```
/// use rustform::metrics::{Counter, Registry};
///
/// let registry = Registry::new();
/// registry.register("jobs", "Jobs run", Counter::new()).unwrap();
/// let err = registry.register("jobs", "Jobs run", Counter::new()).unwrap_err();
/// assert!(err.to_string().contains("already registered"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A metric name that Prometheus would reject or that collides with a reserved form.
    InvalidMetricName {
        /// The name as given.
        name: String,
        /// Why it is not accepted.
        reason: &'static str,
    },
    /// A label name that Prometheus would reject or that is reserved.
    InvalidLabelName {
        /// The name as given.
        name: String,
        /// Why it is not accepted.
        reason: &'static str,
    },
    /// A metric registered twice in one registry, or whose samples collide with another.
    AlreadyRegistered {
        /// The metric name.
        name: String,
        /// Where the existing metric was registered.
        first: &'static Location<'static>,
        /// Where the second registration was attempted.
        second: &'static Location<'static>,
    },
    /// A metric without help text.
    MissingHelp {
        /// The metric name.
        name: String,
    },
    /// A unit that is not the last part of the metric name.
    UnitMismatch {
        /// The metric name.
        name: String,
        /// The unit given.
        unit: String,
    },
    /// Histogram buckets that are empty, unordered or not finite.
    InvalidBuckets {
        /// Why they are not accepted.
        reason: String,
    },
    /// A configuration that was not accepted: every problem with its YAML path.
    Config(crate::config::ConfigError),
    /// `rustform::init()` (or `install`) called when rustform is already installed in
    /// this process.
    AlreadyInitialized,
    /// Something the configuration asked for could not be installed.
    Install {
        /// What was being installed (`logging`, `metrics`).
        what: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// A metric asked for by name that is not declared.
    UnknownMetric {
        /// The name asked for.
        name: String,
        /// The kind asked for: `counter`, `gauge` or `histogram`.
        kind: &'static str,
        /// The names declared with that kind.
        declared: Vec<String>,
    },
    /// The configuration asks for something this build of rustform leaves out: a
    /// Cargo feature of the `rustform` crate that is not enabled.
    MissingFeature {
        /// The YAML path of the setting (`observability.prometheus.listen`).
        path: String,
        /// What the setting asks for, in the user's words (`the endpoint's own server`).
        what: &'static str,
        /// The feature that brings it (`endpoint`).
        feature: &'static str,
    },
    /// Label values that do not match the declared labels.
    LabelCount {
        /// The metric.
        name: String,
        /// The declared label names, in order.
        expected: Vec<String>,
        /// How many values were given.
        found: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidMetricName { name, reason } => {
                write!(f, "invalid metric name {name:?}: {reason}")
            }
            Error::InvalidLabelName { name, reason } => {
                write!(f, "invalid label name {name:?}: {reason}")
            }
            Error::AlreadyRegistered {
                name,
                first,
                second,
            } => write!(
                f,
                "metric {name:?} is already registered (at {first}); registered again at {second}"
            ),
            Error::MissingHelp { name } => write!(
                f,
                "metric {name:?} has no help text: describe what it counts in one sentence"
            ),
            Error::UnitMismatch { name, unit } => write!(
                f,
                "metric {name:?} has unit {unit:?} but does not end with \"_{unit}\": \
                 name it \"{name}_{unit}\" or drop the unit"
            ),
            Error::InvalidBuckets { reason } => write!(f, "invalid histogram buckets: {reason}"),
            Error::Config(error) => write!(f, "{error}"),
            Error::AlreadyInitialized => f.write_str(
                "rustform is already initialized in this process: call rustform::init() once, \
                 at the start of main, and keep the guard it returns",
            ),
            Error::Install { what, reason } => write!(f, "cannot install {what}: {reason}"),
            Error::UnknownMetric {
                name,
                kind,
                declared,
            } => {
                write!(f, "no {kind} named {name:?} is declared")?;
                if declared.is_empty() {
                    write!(f, "; declare it under custom_metrics in rustform.yml")
                } else {
                    let list = declared
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    write!(f, "; the declared {kind}s are {list}")
                }
            }
            Error::MissingFeature {
                path,
                what,
                feature,
            } => write!(
                f,
                "{path}: {what} needs rustform's `{feature}` feature, which this build leaves \
                 out; enable it in Cargo.toml (rustform = {{ version = \"0.1\", features = \
                 [\"{feature}\"] }}) or remove the setting"
            ),
            Error::LabelCount {
                name,
                expected,
                found,
            } => write!(
                f,
                "metric {name:?} has {} label(s) ({}) but {found} value(s) were given; give one value per label, in that order",
                expected.len(),
                expected.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(error) => Some(error),
            _ => None,
        }
    }
}

impl Error {
    /// The setting at `path` asks for `what`, which needs `feature`.
    #[allow(dead_code, reason = "used by whichever features the build leaves out")]
    pub(crate) fn missing_feature(
        path: impl Into<String>,
        what: &'static str,
        feature: &'static str,
    ) -> Error {
        Error::MissingFeature {
            path: path.into(),
            what,
            feature,
        }
    }
}

impl From<crate::config::ConfigError> for Error {
    fn from(error: crate::config::ConfigError) -> Error {
        Error::Config(error)
    }
}
