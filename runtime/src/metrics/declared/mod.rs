//! Metrics declared in `rustform.yml`, reachable by name.
//!
//! A [`DeclaredMetrics`] table holds one storage per declared metric: a family of series
//! told apart by label values, bounded by the cardinality limit like every labeled metric.
//! Two ways lead to it. By name, at run time: [`custom()`]`.counter("orders_total")`, then
//! [`with`](DeclaredMetric::with) the label values. Typed, at compile time: the struct
//! `rustform::app_metrics!("rustform.yml")` generates, whose `global()` joins the same
//! process-wide table. Whichever comes first registers the metric; the other finds it.
//!
//! One file per concept, so each can be read on its own:
//!
//! - `table`: the table itself, and declaring into it all at once or not at all;
//! - `spec`: a declaration on its way in, from the file or from `app_metrics!`, and the
//!   checks and messages that keep a name to one kind, label list and bucket layout;
//! - `entry`: what the table keeps for each metric, its description and its series;
//! - `handles`: what a user holds to reach a series, by name or typed by its label count;
//! - `group`: the declarations of one `app_metrics!` struct, for its generated code.

mod entry;
mod group;
mod handles;
mod spec;
mod table;
#[cfg(test)]
mod tests;

pub use group::{Declaration, DeclaredGroup, declare_group, declare_group_or_log};
pub use handles::{DeclaredMetric, Labeled, LabeledCounter, LabeledGauge, LabeledHistogram};
pub use table::{DeclaredMetrics, custom};
pub(crate) use table::{declare_all, declare_business};

use super::MetricType;

/// The family a name stands for: a counter's `_total` is the suffix its samples add.
fn family_name(name: &str, kind: MetricType) -> &str {
    rustform_config::names::family_name(name, kind == MetricType::Counter)
}
