//! `custom_metrics`: counters, gauges and histograms declared in the file. Each metric
//! needs its own name, and no two may expose the same sample name in either exposition
//! format (a histogram `x` writes `x_count`, so a gauge `x_count` would be ambiguous).

use super::Section;
use crate::decode::{Decoder, Fields, join};
use crate::names::{family_name, label_name_problem, metric_name_problem};
use crate::node::{Node, Position, Value};

/// `custom_metrics`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct CustomMetrics {
    /// `counters`.
    pub counters: Vec<MetricDeclaration>,
    /// `gauges`.
    pub gauges: Vec<MetricDeclaration>,
    /// `histograms`.
    pub histograms: Vec<MetricDeclaration>,
}

/// One declared metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricDeclaration {
    /// `name`, as written (a counter's may end in `_total`).
    pub name: String,
    /// `description`: the help text.
    pub description: String,
    /// `unit`: a base unit that the name ends with (`seconds`, `bytes`).
    pub unit: Option<String>,
    /// `labels`, in the order their values are given.
    pub labels: Vec<String>,
    /// `buckets` (histograms; default: the Prometheus defaults).
    pub buckets: Option<Vec<f64>>,
    /// Where the declaration is in the file, for messages.
    pub path: String,
}

/// A sample name already taken: the sample, then where the metric that exposes it is
/// declared, its kind and its name.
struct Owner {
    sample: String,
    path: String,
    kind: &'static str,
    name: String,
}

impl Section for CustomMetrics {
    /// The three lists in order, each metric checked against those declared before it.
    fn read_keys(&mut self, d: &mut Decoder<'_>, fields: &mut Fields<'_>) {
        let mut owners: Vec<Owner> = Vec::new();
        for (key, slot) in [
            ("counters", &mut self.counters),
            ("gauges", &mut self.gauges),
            ("histograms", &mut self.histograms),
        ] {
            if let Some((node, path)) = fields.get(key) {
                *slot = declarations(d, node, &path, key, &mut owners);
            }
        }
    }
}

/// The metrics of the list `section` that are valid and whose sample names are free.
fn declarations(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    section: &'static str,
    owners: &mut Vec<Owner>,
) -> Vec<MetricDeclaration> {
    let kind = &section[..section.len() - 1];
    let mut declared = Vec::new();
    for (node, path) in d.list(node, path) {
        let Some(metric) = declaration(d, node, &path, section) else {
            continue;
        };
        let family = family_name(&metric.name, section == "counters");
        let samples = sample_names(family, section);
        let clash = samples.iter().find_map(|sample| {
            owners
                .iter()
                .find(|owner| &owner.sample == sample)
                .map(|owner| (sample, owner))
        });
        if let Some((sample, first)) = clash {
            let name_at = name_position(node).unwrap_or(node.at);
            let message = if family_name(&first.name, first.kind == "counter") == family {
                format!(
                    "{:?} is already declared at {}; each metric needs its own name",
                    metric.name, first.path
                )
            } else {
                format!(
                    "the {kind} {:?} would expose the sample name {sample:?}, which the \
                     {} {:?} declared at {} also uses; rename one of them",
                    metric.name, first.kind, first.name, first.path
                )
            };
            d.error(&join(&path, "name"), name_at, message);
            continue;
        }
        for sample in samples {
            owners.push(Owner {
                sample,
                path: path.clone(),
                kind,
                name: metric.name.clone(),
            });
        }
        declared.push(metric);
    }
    declared
}

/// The sample names a metric of family `family` declared under `section` writes, in
/// either exposition format.
fn sample_names(family: &str, section: &str) -> Vec<String> {
    let suffixes: &[&str] = match section {
        "counters" => &["", "_total", "_created"],
        "histograms" => &["", "_bucket", "_sum", "_count", "_created"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{family}{s}")).collect()
}

/// Where a declaration's `name` value is.
fn name_position(node: &Node) -> Option<Position> {
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == "name")
            .map(|(_, v)| v.at),
        _ => None,
    }
}

/// One item of the list `section`.
fn declaration(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    section: &str,
) -> Option<MetricDeclaration> {
    let counter = section == "counters";
    let mut f = d.map(node, path);
    let name = f.required(
        d,
        "name",
        "the metric's name, like \"orders_total\"",
        |d, n, p| metric_name(d, n, p, counter),
    );
    let description = f.required(
        d,
        "description",
        "one sentence saying what the metric measures",
        |d, n, p| {
            let text = d.string(n, p)?;
            if text.trim().is_empty() {
                d.error(
                    p,
                    n.at,
                    "expected one sentence saying what the metric measures, found an empty string",
                );
                return None;
            }
            Some(text)
        },
    );
    let unit = f.read(d, "unit", |d, n, p| {
        let unit = d.string(n, p)?;
        if let Some(name) = &name
            && !family_name(name, counter).ends_with(&format!("_{unit}"))
        {
            d.error(
                p,
                n.at,
                format!("the unit {unit:?} must end the metric name: rename it to \"{}_{unit}\" or drop the unit", family_name(name, counter)),
            );
            return None;
        }
        Some(unit)
    });
    let labels = f
        .get("labels")
        .map(|(node, path)| labels(d, node, &path))
        .unwrap_or_default();
    let buckets = if section == "histograms" {
        f.read(d, "buckets", Decoder::buckets)
    } else {
        if let Some((node, path)) = f.get("buckets") {
            d.error(
                &path,
                node.at,
                format!("only histograms have buckets; remove \"buckets\" or declare the metric under histograms (it is under {section})"),
            );
        }
        None
    };
    f.finish(d);
    Some(MetricDeclaration {
        name: name?,
        description: description?,
        unit,
        labels,
        buckets,
        path: path.to_owned(),
    })
}

/// A metric's `name`: valid for Prometheus, and ending with `_total` only for a counter.
fn metric_name(d: &mut Decoder<'_>, node: &Node, path: &str, counter: bool) -> Option<String> {
    let name = d.string(node, path)?;
    if let Some(problem) = metric_name_problem(&name) {
        d.error(
            path,
            node.at,
            format!("{name:?} is not a valid metric name: {problem}"),
        );
        return None;
    }
    if !counter && name.ends_with("_total") {
        d.error(
            path,
            node.at,
            format!("{name:?} ends with \"_total\", which Prometheus reserves for counters; rename it or declare it under counters"),
        );
        return None;
    }
    Some(name)
}

/// A metric's `labels`: valid label names, each listed once.
fn labels(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for (label, at, label_path) in d.strings(node, path) {
        if let Some(problem) = label_name_problem(&label) {
            d.error(
                &label_path,
                at,
                format!("{label:?} is not a valid label name: {problem}"),
            );
        } else if labels.contains(&label) {
            d.error(
                &label_path,
                at,
                format!("the label {label:?} is listed twice; list each label once"),
            );
        } else {
            labels.push(label);
        }
    }
    labels
}
