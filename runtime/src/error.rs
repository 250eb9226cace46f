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
        }
    }
}

impl std::error::Error for Error {}
