//! Checks on an `AppMetrics` struct, all run, all errors reported together.

use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{PathArguments, Type};

use super::ast::{Group, Kind, Metric, SUPPORTED};
use crate::ctxt::Ctxt;

pub(crate) fn check(group: &Group, cx: &Ctxt) {
    let prefix = group.prefix.as_ref().map(|p| p.value());
    if let (Some(lit), Some(prefix)) = (&group.prefix, &prefix)
        && let Some(problem) = name_part_problem(prefix)
    {
        cx.error(
            lit.span(),
            format!("invalid prefix \"{prefix}\": {problem}"),
        );
    }
    let mut taken: Vec<(String, &Metric)> = Vec::new();
    for metric in &group.metrics {
        check_metric(metric, prefix.as_deref(), cx);
        let Some((kind, _)) = metric.kind else {
            continue;
        };
        let name = metric.exposed_name(prefix.as_deref());
        let samples = sample_names(&name, kind);
        let collision = samples.iter().find_map(|sample| {
            taken
                .iter()
                .find(|(n, _)| n == sample)
                .map(|(_, first)| (sample, *first))
        });
        if let Some((sample, first)) = collision {
            cx.syn_error(collision_error(first, metric, sample, prefix.as_deref()));
        }
        taken.extend(samples.into_iter().map(|sample| (sample, metric)));
    }
}

/// `second` exposes `sample`, which `first` already exposes.
fn collision_error(
    first: &Metric,
    second: &Metric,
    sample: &str,
    prefix: Option<&str>,
) -> syn::Error {
    let fix = "give one of them another `#[metric(name = \"...\")]`";
    let message = if first.exposed_name(prefix) == second.exposed_name(prefix) {
        format!(
            "`{}` and `{}` are both named `{sample}`; {fix}",
            second.ident(),
            first.ident()
        )
    } else {
        // One family's name is a sample name of the other: its name plus a suffix.
        let (plain, suffixed) = if first.exposed_name(prefix) == sample {
            (first, second)
        } else {
            (second, first)
        };
        let base = suffixed.exposed_name(prefix);
        let (noun, samples) = match suffixed.kind {
            Some((Kind::Counter, _)) => ("counter", format!("`{base}_total` and `{base}_created`")),
            _ => (
                "histogram",
                format!("`{base}_bucket`, `{base}_sum`, `{base}_count` and `{base}_created`"),
            ),
        };
        let subject = if plain.ident().unraw() == sample {
            format!("`{sample}`")
        } else {
            format!("`{}` (exposed as `{sample}`)", plain.ident())
        };
        format!(
            "{subject} clashes with the samples of {noun} `{}`, which exposes {samples}; {fix}",
            suffixed.ident()
        )
    };
    syn::Error::new(second.name_span(), message)
}

fn check_metric(metric: &Metric, prefix: Option<&str>, cx: &Ctxt) {
    let field = &metric.field;
    let Some((kind, labeled)) = metric.kind else {
        cx.error(field.ty.span(), unsupported_type(&field.ty));
        return;
    };
    if let Some(help) = &field.help
        && help.value().trim().is_empty()
    {
        cx.error(
            help.span(),
            format!(
                "the help text of `{}` is empty: say what it measures, such as \
                 `help = \"Orders placed\"`",
                metric.ident()
            ),
        );
    } else if metric.help.is_none() {
        cx.error(
            metric.ident().span(),
            format!(
                "metric `{}` has no help text: add a doc comment saying what it measures \
                 (`/// Orders placed`) or `#[metric(help = \"...\")]`",
                metric.ident()
            ),
        );
    }
    if let Some(problem) = name_part_problem(&metric.name_part()) {
        let message = match &field.name {
            Some(name) => format!("invalid metric name \"{}\": {problem}", name.value()),
            None => format!(
                "field `{}` cannot name a metric ({problem}); give the metric a name with \
                 `#[metric(name = \"...\")]`",
                metric.ident()
            ),
        };
        cx.error(metric.name_span(), message);
    }
    let full = metric.exposed_name(prefix);
    if full.starts_with("__") {
        cx.error(
            metric.name_span(),
            "metric names starting with `__` are reserved for Prometheus' own use; choose a \
             name without the leading underscores",
        );
    }
    if let Some(unit) = &field.unit
        && let Some(problem) = unit_problem(&unit.value())
    {
        cx.error(
            unit.span(),
            format!("invalid unit \"{}\": {problem}", unit.value()),
        );
    }
    if let Some(buckets) = &field.buckets {
        if kind == Kind::Histogram {
            buckets.value.0.check(cx);
        } else {
            cx.error(
                buckets.key,
                format!(
                    "`buckets` only applies to histograms, and `{}` is {}; remove it",
                    metric.ident(),
                    kind.noun()
                ),
            );
        }
    }
    if let Some(limit) = &field.cardinality_limit {
        if !labeled {
            cx.error(
                limit.key,
                format!(
                    "`cardinality_limit` only applies to labeled metrics, and `{}` has no \
                     labels; remove it",
                    metric.ident()
                ),
            );
        } else if limit.value == 0 {
            cx.error(
                limit.value_span,
                "the cardinality limit must be at least 1: it is the number of series \
                 the metric may hold",
            );
        }
    }
}

/// Why `part` cannot be (part of) a metric name, if it cannot.
fn name_part_problem(part: &str) -> Option<String> {
    let mut chars = part.chars();
    match chars.next() {
        None => Some("it cannot be empty".to_owned()),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            Some("it must start with an ASCII letter or `_`".to_owned())
        }
        _ if part.contains(':') => {
            Some("colons are reserved for recording rules; use `_` instead".to_owned())
        }
        _ if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') => {
            let rule = "only ASCII letters, digits and `_` are allowed";
            if part.is_ascii() {
                let fixed: String = part
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                Some(format!("{rule}, as in \"{fixed}\""))
            } else {
                Some(rule.to_owned())
            }
        }
        _ => None,
    }
}

/// Why `unit` cannot end a metric name, if it cannot.
fn unit_problem(unit: &str) -> Option<String> {
    if unit.trim_matches('_').is_empty() {
        return Some(
            "a unit cannot be empty; remove `unit` or name one, like \"bytes\"".to_owned(),
        );
    }
    if unit.starts_with('_') || unit.ends_with('_') {
        return Some(format!(
            "a unit is appended after `_`; write it without leading or trailing `_`, as \"{}\"",
            unit.trim_matches('_')
        ));
    }
    if unit
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let fixed: String = unit
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let example = if fixed.is_empty() || fixed.starts_with('_') || fixed.ends_with('_') {
        "\"seconds\" or \"bytes\"".to_owned()
    } else {
        format!("\"{fixed}\"")
    };
    Some(format!(
        "a unit ends the metric name, so it may contain only lowercase ASCII letters, \
         digits and `_`; write {example}"
    ))
}

/// What to say about a field whose type is not a metric type.
fn unsupported_type(ty: &Type) -> String {
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && matches!(last.arguments, PathArguments::None)
    {
        let ident = last.ident.to_string();
        if matches!(ident.as_str(), "CounterVec" | "GaugeVec" | "HistogramVec") {
            return format!(
                "`{ident}` needs its labels: write `{ident}<L>`, `L` being a struct that \
                 derives `LabelSet`"
            );
        }
    }
    format!(
        "unsupported metric type: each field of an `AppMetrics` struct must be one of \
         {SUPPORTED} (named as such, not through a type alias)"
    )
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
