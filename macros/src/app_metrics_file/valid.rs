//! What the configuration accepts but the struct could not: no metrics at all, two
//! metrics wanting one field. (Sample names shared by two metrics are the
//! configuration's own error.)

use std::collections::HashMap;

use syn::LitStr;

use super::file::File;
use crate::ctxt::Ctxt;

/// Every problem, each an error on the path literal.
pub(crate) fn check(path: &LitStr, file: &File, cx: &Ctxt) {
    let origin = path.value();
    if file.metrics.is_empty() {
        cx.error(
            path.span(),
            format!(
                "{origin} declares no metrics under custom_metrics, so there is nothing to \
                 generate: declare them there (`custom_metrics: {{ counters: [{{ name: \
                 orders_total, description: \"Orders processed\", labels: [status] }}] }}`) \
                 or remove `app_metrics!`"
            ),
        );
    }
    check_fields(path, &origin, file, cx);
}

/// Names that map to the same field (`self` and `self_`).
fn check_fields(path: &LitStr, origin: &str, file: &File, cx: &Ctxt) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, metric) in file.metrics.iter().enumerate() {
        let field = metric.field().to_string();
        if let Some(&first) = seen.get(&field) {
            let first = &file.metrics[first];
            cx.error(
                path.span(),
                format!(
                    "{origin}: {}.name: {:?} and {:?} (at {}) would both be the field \
                     `{field}`; rename one of them",
                    metric.path, metric.name, first.name, first.path,
                ),
            );
        } else {
            seen.insert(field, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_metrics_file::file::{Kind, Metric};
    use proc_macro2::Span;

    fn metric(kind: Kind, name: &str, path: &str) -> Metric {
        Metric {
            kind,
            name: name.into(),
            help: "h".into(),
            unit: None,
            labels: Vec::new(),
            buckets: None,
            path: path.into(),
        }
    }

    fn errors(metrics: Vec<Metric>) -> Vec<String> {
        let lit = LitStr::new("rustform.yml", Span::call_site());
        let file = File {
            tracked: None,
            metrics,
        };
        let cx = Ctxt::new();
        check(&lit, &file, &cx);
        match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn an_empty_file_is_an_error_and_distinct_metrics_are_fine() {
        assert!(errors(Vec::new())[0].contains("declares no metrics under custom_metrics"));
        assert!(
            errors(vec![
                metric(Kind::Counter, "orders_total", "c[0]"),
                metric(Kind::Gauge, "orders_open", "g[0]"),
            ])
            .is_empty()
        );
    }

    #[test]
    fn two_names_for_one_field_are_an_error() {
        let found = errors(vec![
            metric(Kind::Gauge, "self", "g[0]"),
            metric(Kind::Gauge, "self_", "g[1]"),
        ]);
        assert_eq!(
            found,
            [
                "rustform.yml: g[1].name: \"self_\" and \"self\" (at g[0]) would both be the field \
                 `self_`; rename one of them"
            ]
        );
    }
}
