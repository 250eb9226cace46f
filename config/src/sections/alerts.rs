//! `alerts`: the alert rules the generators write, each with its own name.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{duration, string_map};
use crate::decode::{Decoder, join};
use crate::node::Node;

/// `alerts[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alert {
    /// `name`.
    pub name: String,
    /// `condition`: a PromQL expression.
    pub condition: String,
    /// `duration` (`for:`; default 0).
    pub duration: Duration,
    /// `severity` (default warning).
    pub severity: String,
    /// `description`.
    pub description: Option<String>,
    /// `summary`.
    pub summary: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
}

/// `alerts`: the rules that are valid and named for the first time.
pub(super) fn alerts(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<Alert>> {
    let mut out: Vec<Alert> = Vec::new();
    for (node, path) in d.list(node, path) {
        let Some(alert) = Alert::decode(d, node, &path) else {
            continue;
        };
        if out.iter().any(|a| a.name == alert.name) {
            d.error(
                &join(&path, "name"),
                node.at,
                format!(
                    "an alert named {:?} is already declared; give each alert its own name",
                    alert.name
                ),
            );
            continue;
        }
        out.push(alert);
    }
    Some(out)
}

impl Alert {
    /// One item of `alerts`; `None` without a valid name and condition.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Alert> {
        let mut f = d.map(node, path);
        let name = f.required(
            d,
            "name",
            "the alert's name, like \"high_error_rate\"",
            alert_name,
        );
        let condition = f.required(d, "condition", "a PromQL expression", |d, n, p| {
            let condition = d.string(n, p)?;
            if condition.trim().is_empty() {
                d.error(
                    p,
                    n.at,
                    "expected a PromQL expression, found an empty string",
                );
                return None;
            }
            Some(condition)
        });
        let duration = f
            .read(d, "duration", duration(Duration::ZERO))
            .unwrap_or(Duration::ZERO);
        let severity = f
            .read(d, "severity", severity)
            .unwrap_or_else(|| "warning".to_owned());
        let description = f.read(d, "description", Decoder::string);
        let summary = f.read(d, "summary", Decoder::string);
        let labels = f.read(d, "labels", string_map).unwrap_or_default();
        let annotations = f.read(d, "annotations", string_map).unwrap_or_default();
        f.finish(d);
        Some(Alert {
            name: name?,
            condition: condition?,
            duration,
            severity,
            description,
            summary,
            labels,
            annotations,
        })
    }
}

/// An alert's `name`: letters, digits and `_`, starting with a letter.
fn alert_name(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    let name = d.string(node, path)?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        d.error(
            path,
            node.at,
            format!(
                "{name:?} is not a valid alert name: use letters, digits and `_`, starting with a letter"
            ),
        );
        return None;
    }
    Some(name)
}

/// An alert's `severity`: a lowercase word.
fn severity(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    let severity = d.string(node, path)?;
    if severity.is_empty() || !severity.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
        d.error(
            path,
            node.at,
            format!(
                "expected a severity in lowercase, like \"critical\", \"warning\" or \"info\", found {severity:?}"
            ),
        );
        return None;
    }
    Some(severity)
}
