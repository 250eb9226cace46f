//! Metric and label name rules, shared by the registry and the typed label sets.

use crate::Error;

/// Checks a metric name against Prometheus' rules.
pub(crate) fn check_metric_name(name: &str) -> Result<(), Error> {
    match rustform_config::names::metric_name_problem(name) {
        Some(reason) => Err(Error::InvalidMetricName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Checks a label name against Prometheus' rules (`le` and `quantile` are reserved).
pub(crate) fn check_label_name(name: &str) -> Result<(), Error> {
    match rustform_config::names::label_name_problem(name) {
        Some(reason) => Err(Error::InvalidLabelName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
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
