//! Checks on an `AppMetrics` struct, all run, all errors reported together.

use syn::spanned::Spanned;

use super::ast::{Group, Kind, Metric, SUPPORTED};
use crate::buckets::combine;

pub(crate) fn check(group: &Group) -> syn::Result<()> {
    let mut errors = None;
    let prefix = group.prefix.as_ref().map(|p| p.value());
    if let (Some(lit), Some(prefix)) = (&group.prefix, &prefix)
        && let Some(problem) = name_part_problem(prefix)
    {
        combine(
            &mut errors,
            syn::Error::new(
                lit.span(),
                format!("invalid prefix \"{prefix}\": {problem}"),
            ),
        );
    }
    let mut taken: Vec<(String, &Metric)> = Vec::new();
    for metric in &group.metrics {
        if let Err(e) = check_metric(metric, prefix.as_deref()) {
            combine(&mut errors, e);
        }
        let Some((kind, _)) = metric.kind else {
            continue;
        };
        let name = metric.exposed_name(prefix.as_deref());
        for sample in sample_names(&name, kind) {
            if let Some((_, first)) = taken.iter().find(|(n, _)| *n == sample) {
                combine(
                    &mut errors,
                    syn::Error::new(
                        metric.name_span(),
                        format!(
                            "`{}` and `{}` both expose `{sample}`; give one of them another `#[metric(name = \"...\")]`",
                            first.ident(),
                            metric.ident()
                        ),
                    ),
                );
                break;
            }
        }
        for sample in sample_names(&name, kind) {
            taken.push((sample, metric));
        }
    }
    errors.map_or(Ok(()), Err)
}

fn check_metric(metric: &Metric, prefix: Option<&str>) -> syn::Result<()> {
    let mut errors = None;
    let field = &metric.field;
    let Some((kind, labeled)) = metric.kind else {
        return Err(syn::Error::new(
            field.ty.span(),
            format!(
                "unsupported metric type: a field of an `AppMetrics` struct must be {SUPPORTED}"
            ),
        ));
    };
    if metric.help.is_none() {
        combine(
            &mut errors,
            syn::Error::new(
                metric.ident().span(),
                format!(
                    "metric `{}` has no help text: add a doc comment saying what it measures \
                     (`/// Orders placed`) or `#[metric(help = \"...\")]`",
                    metric.ident()
                ),
            ),
        );
    }
    if let Some(name) = &field.name
        && let Some(problem) = name_part_problem(&name.value())
    {
        combine(
            &mut errors,
            syn::Error::new(
                name.span(),
                format!("invalid metric name \"{}\": {problem}", name.value()),
            ),
        );
    }
    let full = metric.exposed_name(prefix);
    if full.starts_with("__") {
        combine(
            &mut errors,
            syn::Error::new(
                metric.name_span(),
                "metric names starting with `__` are reserved by Prometheus",
            ),
        );
    }
    if let Some(unit) = &field.unit
        && let Some(problem) = unit_problem(&unit.value())
    {
        combine(
            &mut errors,
            syn::Error::new(
                unit.span(),
                format!("invalid unit \"{}\": {problem}", unit.value()),
            ),
        );
    }
    if let Some(buckets) = &field.buckets {
        if kind == Kind::Histogram {
            if let Err(e) = buckets.0.check() {
                combine(&mut errors, e);
            }
        } else {
            combine(
                &mut errors,
                syn::Error::new(
                    buckets.span(),
                    format!(
                        "`buckets` only applies to histograms, and `{}` is {}; remove it",
                        metric.ident(),
                        kind.noun()
                    ),
                ),
            );
        }
    }
    if let Some(limit) = &field.cardinality_limit {
        if !labeled {
            combine(
                &mut errors,
                syn::Error::new(
                    limit.span(),
                    format!(
                        "`cardinality_limit` only applies to labeled metrics, and `{}` has no labels; remove it",
                        metric.ident()
                    ),
                ),
            );
        } else if **limit == 0 {
            combine(
                &mut errors,
                syn::Error::new(limit.span(), "the cardinality limit must be at least 1"),
            );
        }
    }
    errors.map_or(Ok(()), Err)
}

/// Why `part` cannot be (part of) a metric name, if it cannot.
fn name_part_problem(part: &str) -> Option<&'static str> {
    let mut chars = part.chars();
    match chars.next() {
        None => Some("it cannot be empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with an ASCII letter or `_`")
        }
        _ if part.contains(':') => Some("colons are reserved for recording rules; use `_`"),
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            Some("only ASCII letters, digits and `_` are allowed")
        }
        _ => None,
    }
}

/// Why `unit` cannot end a metric name, if it cannot.
fn unit_problem(unit: &str) -> Option<&'static str> {
    if unit.is_empty() {
        Some("a unit cannot be empty")
    } else if unit.starts_with('_') || unit.ends_with('_') {
        Some("a unit is appended after `_`; write it without leading or trailing `_`, like `bytes`")
    } else if !unit
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Some(
            "a unit is the last part of the metric name: lowercase ASCII letters, digits and `_`, like `seconds` or `dollars`",
        )
    } else {
        None
    }
}

/// Every name a family's exposition uses (as the registry checks at run time).
fn sample_names(base: &str, kind: Kind) -> Vec<String> {
    let suffixes: &[&str] = match kind {
        Kind::Counter => &["", "_total", "_created"],
        Kind::Gauge => &[""],
        Kind::Histogram => &["", "_bucket", "_sum", "_count", "_created"],
    };
    suffixes.iter().map(|s| format!("{base}{s}")).collect()
}
