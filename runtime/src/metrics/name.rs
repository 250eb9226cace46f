//! Metric and label name rules, shared by the registry and the typed label sets.

use crate::Error;

/// Checks a metric name against Prometheus' rules and rustform's conventions.
pub(crate) fn check_metric_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidMetricName {
            name: name.to_owned(),
            reason,
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return invalid("a metric name cannot be empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return invalid("it must start with an ASCII letter or `_`");
        }
        _ => {}
    }
    if name.contains(':') {
        return invalid("colons are reserved for recording rules; use `_`");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid("only ASCII letters, digits and `_` are allowed");
    }
    if name.starts_with("__") {
        return invalid("names starting with `__` are reserved by Prometheus");
    }
    Ok(())
}

/// Label names no metric may use: Prometheus gives them a meaning of their own.
const RESERVED_LABELS: &[&str] = &["le", "quantile"];

/// Checks a label name against Prometheus' rules.
pub(crate) fn check_label_name(name: &str) -> Result<(), Error> {
    let invalid = |reason| {
        Err(Error::InvalidLabelName {
            name: name.to_owned(),
            reason,
        })
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return invalid("a label name cannot be empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return invalid("it must start with an ASCII letter or `_`");
        }
        _ => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return invalid("only ASCII letters, digits and `_` are allowed");
    }
    if name.starts_with("__") {
        return invalid("names starting with `__` are reserved by Prometheus");
    }
    if RESERVED_LABELS.contains(&name) {
        return invalid("`le` and `quantile` are reserved for histogram and summary buckets");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for good in ["a", "_a", "http_requests", "A9_b"] {
            assert!(check_metric_name(good).is_ok(), "{good}");
        }
        for bad in ["", "9a", "a-b", "a:b", "__a", "é"] {
            assert!(check_metric_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_names() {
        for good in ["a", "_a", "status_code"] {
            assert!(check_label_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a.b", "__name__", "le", "quantile"] {
            assert!(check_label_name(bad).is_err(), "{bad}");
        }
    }
}
