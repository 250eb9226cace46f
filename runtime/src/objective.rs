//! Service-level objectives, declared next to the code they judge.
//!
//! An [`Objective`] is a `const`: a name, a success-rate target, a latency target, or
//! both. `#[observed(objective = API_SLO)]` puts a function under it, which adds the
//! labels autometrics defined for this, so its rules and dashboards work unchanged:
//!
//! | series | labels added |
//! | --- | --- |
//! | `function_calls_total` | `objective_name`, `objective_percentile` (the success rate) |
//! | `function_calls_duration_seconds` | `objective_name`, `objective_percentile` (the latency percentile), `objective_latency_threshold` (seconds) |
//!
//! A series gets the labels of the targets the objective sets. The generators in
//! `rustform-generate` turn every objective into multi-window, multi-burn-rate alerts and
//! an SLO dashboard page.
//!
//! ```
//! use std::time::Duration;
//! use rustform::{Objective, observed};
//!
//! /// 99.9 % of calls succeed; 99 % finish within 250 ms.
//! const API_SLO: Objective = Objective::new("api")
//!     .success_rate(99.9)
//!     .latency(Duration::from_millis(250), 99.0);
//!
//! #[observed(objective = API_SLO)]
//! fn get_user(id: u32) -> Result<String, std::fmt::Error> {
//!     Ok(format!("user {id}"))
//! }
//! # get_user(1).unwrap();
//! ```
//!
//! Any percentile between 0 and 100 (exclusive) works, not only autometrics' 90, 95, 99
//! and 99.9. A latency threshold must be one of the bounds of the function's duration
//! buckets (by default [`FUNCTION_BUCKETS`](crate::metrics::FUNCTION_BUCKETS)): the
//! share of calls under it is read from the bucket with that bound, and a threshold
//! between two bounds cannot be measured. `#[observed]` checks this while compiling:
//!
//! ```compile_fail
//! use std::time::Duration;
//! use rustform::{Objective, observed};
//!
//! // 0.3 s is not a bound of the default buckets (… 0.25, 0.5 …).
//! const SLOW: Objective = Objective::new("slow").latency(Duration::from_millis(300), 99.0);
//!
//! #[observed(objective = SLOW)]
//! fn handler() {}
//! ```
//!
//! Objectives that reach the generators another way (a catalog read from a file) are
//! checked there, with [`Objective::check_buckets`]'s error.

use std::fmt;
use std::time::Duration;

/// A service-level objective: a success-rate target, a latency target, or both.
///
/// Build one with [`Objective::new`] and the `const` methods; every check that can fail
/// runs while compiling when the objective is a `const`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Objective {
    name: &'static str,
    success_rate: Option<f64>,
    latency: Option<LatencyTarget>,
}

/// The latency half of an [`Objective`]: `percentile` % of calls finish within
/// `threshold`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyTarget {
    /// The duration a call must finish within.
    pub threshold: Duration,
    /// The share of calls that must, in percent.
    pub percentile: f64,
}

impl LatencyTarget {
    /// The threshold in seconds, as the `objective_latency_threshold` label and the
    /// bucket bound read it.
    pub const fn threshold_seconds(&self) -> f64 {
        self.threshold.as_secs_f64()
    }
}

impl Objective {
    /// An objective named `name` with no target yet. The name is the `objective_name`
    /// label: ASCII letters, digits, `_`, `-` and `.`, 1 to 64 of them.
    ///
    /// # Panics
    ///
    /// If the name is empty, longer than 64 bytes or has another character: in a
    /// `const`, that is a compile error.
    pub const fn new(name: &'static str) -> Objective {
        if !valid_name(name) {
            panic!(
                "an objective's name is its `objective_name` label: use 1 to 64 ASCII \
                 letters, digits, `_`, `-` or `.`, such as \"api\""
            );
        }
        Objective {
            name,
            success_rate: None,
            latency: None,
        }
    }

    /// Sets the success-rate target: `percentile` % of calls return without error.
    ///
    /// # Panics
    ///
    /// If `percentile` is not above 0 and below 100: in a `const`, a compile error.
    pub const fn success_rate(mut self, percentile: f64) -> Objective {
        if !valid_percentile(percentile) {
            panic!(
                "an objective's success rate is a percentage above 0 and below 100, \
                 such as 99.9"
            );
        }
        self.success_rate = Some(percentile);
        self
    }

    /// Sets the latency target: `percentile` % of calls finish within `threshold`.
    ///
    /// # Panics
    ///
    /// If `percentile` is not above 0 and below 100, or `threshold` is zero: in a
    /// `const`, a compile error.
    pub const fn latency(mut self, threshold: Duration, percentile: f64) -> Objective {
        if !valid_percentile(percentile) {
            panic!(
                "an objective's latency percentile is a percentage above 0 and below 100, \
                 such as 99.0"
            );
        }
        if threshold.is_zero() {
            panic!("an objective's latency threshold must be above zero, such as 250 ms");
        }
        self.latency = Some(LatencyTarget {
            threshold,
            percentile,
        });
        self
    }

    /// The name: the `objective_name` label.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The success-rate target in percent, if set.
    pub const fn success_percentile(&self) -> Option<f64> {
        self.success_rate
    }

    /// The latency target, if set.
    pub const fn latency_target(&self) -> Option<LatencyTarget> {
        self.latency
    }

    /// Whether the latency threshold (if any) is one of `buckets`' bounds.
    pub const fn threshold_in(&self, buckets: &[f64]) -> bool {
        match self.latency {
            Some(latency) => is_bound(latency.threshold_seconds(), buckets),
            None => true,
        }
    }

    /// Checks the latency threshold against the bounds of the function's duration
    /// buckets.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rustform::Objective;
    ///
    /// let slo = Objective::new("api").latency(Duration::from_millis(300), 99.0);
    /// let error = slo.check_buckets(&[0.1, 0.25, 0.5]).unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "objective `api`: the latency threshold 0.3 s is not a bucket bound of the \
    ///      function's duration histogram (bounds: 0.1, 0.25, 0.5); use one of them, or \
    ///      add 0.3 to the function's `buckets`",
    /// );
    /// ```
    pub fn check_buckets(&self, buckets: &[f64]) -> Result<(), ThresholdError> {
        match self.latency {
            Some(latency) if !is_bound(latency.threshold_seconds(), buckets) => {
                Err(ThresholdError {
                    objective: self.name.to_owned(),
                    threshold: latency.threshold_seconds(),
                    buckets: buckets.to_vec(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// A latency threshold that is not a bucket bound; see [`Objective::check_buckets`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdError {
    /// The objective's name.
    pub objective: String,
    /// The threshold, in seconds.
    pub threshold: f64,
    /// The histogram's bounds.
    pub buckets: Vec<f64>,
}

impl fmt::Display for ThresholdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bounds: Vec<String> = self.buckets.iter().map(|b| b.to_string()).collect();
        write!(
            f,
            "objective `{}`: the latency threshold {} s is not a bucket bound of the function's \
             duration histogram (bounds: {}); use one of them, or add {} to the function's \
             `buckets`",
            self.objective,
            self.threshold,
            bounds.join(", "),
            self.threshold,
        )
    }
}

impl std::error::Error for ThresholdError {}

/// Whether `value` is one of `bounds`, allowing for the rounding of a duration converted
/// to seconds.
pub(crate) const fn is_bound(value: f64, bounds: &[f64]) -> bool {
    let mut i = 0;
    while i < bounds.len() {
        if (bounds[i] - value).abs() <= value * 1e-9 {
            return true;
        }
        i += 1;
    }
    false
}

const fn valid_percentile(p: f64) -> bool {
    p > 0.0 && p < 100.0
}

const fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > 64 {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
            return false;
        }
        i += 1;
    }
    true
}

/// The label value of a percentage: `99.9` → `"99.9"`, `99.0` → `"99"`, as autometrics
/// writes them.
pub fn percentile_label(p: f64) -> String {
    format!("{p}")
}

/// The label value of a threshold in seconds: `0.25` → `"0.25"`.
pub fn threshold_label(seconds: f64) -> String {
    format!("{seconds}")
}

/// What `#[observed(objective = ...)]` checks while compiling: the threshold is a bucket
/// bound. Called in a `const` item, so a mismatch stops the build with this message.
#[doc(hidden)]
pub const fn check_at_compile_time(objective: &Objective, buckets: &[f64]) {
    if !objective.threshold_in(buckets) {
        panic!(
            "the objective's latency threshold is not a bucket bound of this function's \
             duration histogram, so the share of calls under it cannot be measured: choose \
             a threshold among the bounds (by default 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, \
             0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10 seconds) or add it to `buckets = [...]`"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: Objective = Objective::new("api")
        .success_rate(99.9)
        .latency(Duration::from_millis(250), 99.0);

    #[test]
    fn a_const_objective_keeps_its_targets() {
        assert_eq!(API.name(), "api");
        assert_eq!(API.success_percentile(), Some(99.9));
        let latency = API.latency_target().unwrap();
        assert_eq!(latency.threshold_seconds(), 0.25);
        assert_eq!(latency.percentile, 99.0);
    }

    #[test]
    fn labels_are_written_as_autometrics_writes_them() {
        assert_eq!(percentile_label(99.9), "99.9");
        assert_eq!(percentile_label(99.0), "99");
        assert_eq!(percentile_label(95.0), "95");
        assert_eq!(percentile_label(99.95), "99.95");
        assert_eq!(threshold_label(0.25), "0.25");
        assert_eq!(threshold_label(1.0), "1");
        assert_eq!(
            threshold_label(Duration::from_millis(5).as_secs_f64()),
            "0.005"
        );
    }

    #[test]
    fn every_default_bound_is_reachable_from_a_duration() {
        for &bound in crate::metrics::FUNCTION_BUCKETS {
            let threshold = Duration::from_secs_f64(bound);
            let slo = Objective::new("x").latency(threshold, 99.0);
            assert!(
                slo.threshold_in(crate::metrics::FUNCTION_BUCKETS),
                "{bound}"
            );
        }
        let off = Objective::new("x").latency(Duration::from_millis(300), 99.0);
        assert!(!off.threshold_in(crate::metrics::FUNCTION_BUCKETS));
        assert!(Objective::new("x").success_rate(99.0).threshold_in(&[]));
    }

    #[test]
    fn bad_values_panic_with_the_fix() {
        type Case = (fn() -> Objective, &'static str);
        let cases: [Case; 5] = [
            (|| Objective::new(""), "objective_name"),
            (|| Objective::new("a b"), "objective_name"),
            (|| Objective::new("a").success_rate(100.0), "below 100"),
            (
                || Objective::new("a").latency(Duration::ZERO, 99.0),
                "above zero",
            ),
            (
                || Objective::new("a").latency(Duration::from_secs(1), f64::NAN),
                "above 0",
            ),
        ];
        for (make, expected) in cases {
            let panic = std::panic::catch_unwind(make).unwrap_err();
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap();
            assert!(message.contains(expected), "{message}");
        }
    }
}
