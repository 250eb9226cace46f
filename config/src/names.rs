//! Prometheus' rules for metric and label names, with the fix in each message. Shared by
//! the configuration, the registry and the macros.

/// Why `name` is not a valid metric name, if it is not.
///
/// ```
/// use rustform_config::names::metric_name_problem;
///
/// assert_eq!(metric_name_problem("orders_total"), None);
/// assert!(metric_name_problem("orders-total").unwrap().contains("only ASCII letters"));
/// ```
pub fn metric_name_problem(name: &str) -> Option<&'static str> {
    if name.contains(':') {
        return Some("colons are reserved for recording rules; use `_` instead");
    }
    common_problem(name, false)
}

/// Why `name` is not a valid label name for user labels, if it is not.
///
/// ```
/// use rustform_config::names::label_name_problem;
///
/// assert_eq!(label_name_problem("status"), None);
/// assert!(label_name_problem("le").unwrap().contains("reserved"));
/// ```
pub fn label_name_problem(name: &str) -> Option<&'static str> {
    if let Some(problem) = common_problem(name, true) {
        return Some(problem);
    }
    if name == "le" || name == "quantile" {
        return Some(
            "`le` and `quantile` are reserved for histogram and summary buckets; choose \
             another name",
        );
    }
    None
}

/// The family name a metric is exposed under: a counter's `_total` is the suffix the
/// exposition adds to its samples, so `orders_total` is the family `orders`. Other kinds
/// keep their name.
///
/// ```
/// use rustform_config::names::family_name;
///
/// assert_eq!(family_name("orders_total", true), "orders");
/// assert_eq!(family_name("queue_depth", false), "queue_depth");
/// ```
pub fn family_name(name: &str, counter: bool) -> &str {
    if counter {
        name.strip_suffix("_total").unwrap_or(name)
    } else {
        name
    }
}

/// The series and label names `#[observed]` writes, as autometrics names them. The macro
/// refuses the labels as user labels; the runtime writes both; the generators query both.
pub mod observed {
    /// The call counter's sample name: calls by result.
    pub const CALLS: &str = "function_calls_total";
    /// The duration histogram's family name.
    pub const DURATION: &str = "function_calls_duration_seconds";
    /// The in-flight gauge's name (with `track_concurrency`).
    pub const CONCURRENT: &str = "function_calls_concurrent";

    /// The function's name.
    pub const FUNCTION: &str = "function";
    /// The function's module path.
    pub const MODULE: &str = "module";
    /// The service the function belongs to.
    pub const SERVICE_NAME: &str = "service_name";
    /// `ok` or `error` on `function_calls_total`.
    pub const RESULT: &str = "result";
    /// The `ErrorLabel` of an `Ok` value, when it has one.
    pub const OK: &str = "ok";
    /// The `ErrorLabel` of an error (or `panic`).
    pub const ERROR: &str = "error";
    /// The observed function that called this one, when there is one.
    pub const CALLER_FUNCTION: &str = "caller_function";
    /// The module of the calling function.
    pub const CALLER_MODULE: &str = "caller_module";
    /// The objective's name.
    pub const OBJECTIVE_NAME: &str = "objective_name";
    /// The objective's success-rate or latency percentile.
    pub const OBJECTIVE_PERCENTILE: &str = "objective_percentile";
    /// The objective's latency threshold in seconds.
    pub const OBJECTIVE_LATENCY_THRESHOLD: &str = "objective_latency_threshold";

    /// Every label above: a user label may not take one of these names.
    pub const LABELS: &[&str] = &[
        FUNCTION,
        MODULE,
        SERVICE_NAME,
        RESULT,
        OK,
        ERROR,
        CALLER_FUNCTION,
        CALLER_MODULE,
        OBJECTIVE_NAME,
        OBJECTIVE_PERCENTILE,
        OBJECTIVE_LATENCY_THRESHOLD,
    ];
}

/// The rules metric and label names share; `label` picks the wording.
fn common_problem(name: &str, label: bool) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None if label => return Some("a label name cannot be empty; give one, such as `tier`"),
        None => return Some("a metric name cannot be empty; give one, such as `orders_total`"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Some(if label {
                "a label name must start with an ASCII letter or `_`; rename it"
            } else {
                "a metric name must start with an ASCII letter or `_`; rename it"
            });
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some(if label {
            "a label name may contain only ASCII letters, digits and `_`; rename it"
        } else {
            "a metric name may contain only ASCII letters, digits and `_`; rename it"
        });
    }
    if name.starts_with("__") {
        return Some(if label {
            "label names starting with `__` are reserved for Prometheus' own use; choose a \
             name without the leading underscores"
        } else {
            "metric names starting with `__` are reserved for Prometheus' own use; choose a \
             name without the leading underscores"
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for good in ["a", "_a", "http_requests", "A9_b"] {
            assert_eq!(metric_name_problem(good), None, "{good}");
        }
        for bad in ["", "9a", "a-b", "a:b", "__a", "é"] {
            assert!(metric_name_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for good in ["a", "_a", "status_code"] {
            assert_eq!(label_name_problem(good), None, "{good}");
        }
        for bad in ["", "1a", "a.b", "__name__", "le", "quantile"] {
            assert!(label_name_problem(bad).is_some(), "{bad}");
        }
    }
}
