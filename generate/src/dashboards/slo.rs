//! The SLOs: per objective, the SLI over the dashboard's time range against its target,
//! the error budget left, the burn rates over the alert windows, and the SLI over time.
//!
//! The page reads the raw series, not the recording rules of
//! [`alert_rules`](crate::alert_rules), so it works without them loaded; its queries
//! count bad calls as the rules do, and select a latency bucket with the same `le`
//! values ([`promql::le_values`]). It measures over the dashboard's time range
//! (`$__range`, 30 days by default).

use std::time::Duration;

use super::grafana::{
    Dashboard, RATE, bargauge, datasource_variable, instant_target, job_variable, service_selector,
    service_variable, stat, target, thresholds, timeseries,
};
use crate::Service;
use crate::promql::{self, CALLS, DURATION_BUCKET, DURATION_COUNT};
use rustform::catalog::{CatalogObjective, ObservedFunction};

/// The burn-rate windows of the Google SRE workbook's multi-window alerts, which the SLO
/// page shows whatever [`Options::burn_rate_windows`](crate::Options::burn_rate_windows)
/// adds.
const SRE_WINDOWS: [Duration; 7] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(86400),
    Duration::from_secs(3 * 86400),
];

/// One objective and the functions it judges.
struct ObjectiveFunctions<'a> {
    objective: &'a CatalogObjective,
    functions: Vec<&'a ObservedFunction>,
}

/// Per objective: the SLI against its target over the time range, the error budget
/// left, burn rates, and the SLI over time; none when no function has an objective.
pub(super) fn dashboard(service: &Service<'_>) -> Option<Dashboard> {
    let objectives = objectives(service);
    if objectives.is_empty() {
        return None;
    }
    let mut d = Dashboard::new(
        "slo",
        "slo",
        "SLOs",
        "Service-level objectives declared with #[observed(objective = ...)]: the SLI over \
         the time range against its target, the error budget left, and the burn rates of \
         the SRE workbook's alert windows.",
    );
    d.time = "now-30d";
    d.refresh = "5m";
    d.variables = vec![
        datasource_variable(),
        service_variable(service),
        job_variable(),
    ];
    let windows = burn_rate_windows(service);
    for o in &objectives {
        d.row(&format!("Objective {}", o.objective.name), false);
        success_rate(&mut d, o, &windows);
        latency(&mut d, o, &windows);
    }
    Some(d)
}

/// The catalog's objectives, each with the functions under it, in catalog order.
fn objectives<'a>(service: &Service<'a>) -> Vec<ObjectiveFunctions<'a>> {
    let mut objectives: Vec<ObjectiveFunctions<'a>> = Vec::new();
    for f in &service.catalog.functions {
        let Some(objective) = &f.objective else {
            continue;
        };
        match objectives.iter_mut().find(|o| o.objective == objective) {
            Some(o) => o.functions.push(f),
            None => objectives.push(ObjectiveFunctions {
                objective,
                functions: vec![f],
            }),
        }
    }
    objectives
}

impl ObjectiveFunctions<'_> {
    /// `module::function, …`.
    fn names(&self) -> String {
        let names: Vec<String> = self
            .functions
            .iter()
            .map(|f| format!("{}::{}", f.module, f.function))
            .collect();
        names.join(", ")
    }
}

/// The panels of the success-rate target, when the objective has one.
fn success_rate(d: &mut Dashboard, o: &ObjectiveFunctions<'_>, windows: &[Duration]) {
    let objective = o.objective;
    let Some(percentile) = objective.success_label() else {
        return;
    };
    let selector = format!(
        "{},{}",
        service_selector(),
        promql::objective_matchers(&objective.name, &percentile, None)
    );
    let target_ratio = promql::number(objective.success_rate.unwrap_or(0.0) / 100.0);
    // As in the alert rules: cancelled calls are neither success nor failure.
    let errors = |window: &str| {
        promql::ratio_or_zero(
            &format!("{CALLS}{{{selector},{}}}", promql::failed()),
            &format!("{CALLS}{{{selector},{}}}", promql::completed()),
            &[],
            window,
        )
    };
    let about = format!(
        "{percentile}% of the calls of {} return without error.",
        o.names()
    );
    objective_panels(
        d,
        ObjectivePanels {
            sli_title: &format!("Success rate (target {percentile}%)"),
            about: &about,
            target_ratio: &target_ratio,
            bad_ratio: &errors,
            windows,
        },
    );
}

/// The panels of the latency target, when the objective has one: the calls slower than
/// the threshold are those above its bucket, selected by the same `le` values as the
/// alert rules select.
fn latency(d: &mut Dashboard, o: &ObjectiveFunctions<'_>, windows: &[Duration]) {
    let objective = o.objective;
    let (Some((percentile, threshold)), Some(latency)) =
        (objective.latency_labels(), objective.latency)
    else {
        return;
    };
    let selector = format!(
        "{},{}",
        service_selector(),
        promql::objective_matchers(&objective.name, &percentile, Some(&threshold))
    );
    let le = promql::string(&promql::le_pattern(latency.threshold_seconds));
    let target_ratio = promql::number(latency.percentile / 100.0);
    let slow = |window: &str| {
        let within = format!("{DURATION_BUCKET}{{{selector},le=~{le}}}");
        let all = format!("{DURATION_COUNT}{{{selector}}}");
        format!(
            "1 - {} / {}",
            promql::rate_sum(&[], &within, window),
            promql::rate_sum(&[], &all, window),
        )
    };
    let within = human_seconds(latency.threshold_seconds);
    let about = format!(
        "{percentile}% of the calls of {} finish within {within}.",
        o.names()
    );
    objective_panels(
        d,
        ObjectivePanels {
            sli_title: &format!("Calls within {within} (target {percentile}%)"),
            about: &about,
            target_ratio: &target_ratio,
            bad_ratio: &slow,
            windows,
        },
    );
}

/// What the four panels of one target of an objective need.
struct ObjectivePanels<'a> {
    sli_title: &'a str,
    about: &'a str,
    /// The target as a ratio: `0.999`.
    target_ratio: &'a str,
    /// The share of bad calls over a window (an error, or slower than the threshold).
    bad_ratio: &'a dyn Fn(&str) -> String,
    windows: &'a [Duration],
}

/// The SLI over the time range, the error budget left, the burn rate of each window, the
/// SLI over time against its target.
fn objective_panels(d: &mut Dashboard, p: ObjectivePanels<'_>) {
    let budget = format!("(1 - {})", p.target_ratio);
    let target_value: f64 = p.target_ratio.parse().unwrap_or(0.0);
    d.add(
        6,
        8,
        stat(
            p.sli_title,
            &format!("{} Measured over the dashboard's time range.", p.about),
            "percentunit",
            vec![target(
                format!("1 - ({})", (p.bad_ratio)("$__range")),
                "SLI",
            )],
            thresholds(&[("red", None), ("green", Some(target_value))]),
        ),
    );
    d.add(
        6,
        8,
        stat(
            "Error budget remaining",
            &format!(
                "Share of the error budget {budget} not yet spent over the dashboard's time \
                 range; below zero, the objective is missed."
            ),
            "percentunit",
            vec![target(
                format!("1 - ({}) / {budget}", (p.bad_ratio)("$__range")),
                "remaining",
            )],
            thresholds(&[("red", None), ("orange", Some(0.0)), ("green", Some(0.25))]),
        ),
    );
    let burn_targets = p
        .windows
        .iter()
        .map(|w| {
            let window = promql::duration(*w);
            instant_target(format!("({}) / {budget}", (p.bad_ratio)(&window)), &window)
        })
        .collect();
    d.add(
        6,
        8,
        bargauge(
            "Burn rate",
            "How many times faster than sustainable the error budget burns, over each \
             window of the SRE workbook's alerts (1 = the budget lasts exactly the SLO \
             period; the page alerts fire at 14.4 over 1h and 5m, and 6 over 6h and 30m).",
            burn_targets,
            thresholds(&[
                ("green", None),
                ("yellow", Some(1.0)),
                ("orange", Some(6.0)),
                ("red", Some(14.4)),
            ]),
        ),
    );
    d.add(
        6,
        8,
        timeseries(
            &format!("{} over time", p.sli_title),
            &format!("{} The SLI per rate interval against its target.", p.about),
            "percentunit",
            vec![
                target(format!("1 - ({})", (p.bad_ratio)(RATE)), "SLI"),
                target(format!("vector({})", p.target_ratio), "target"),
            ],
        ),
    );
}

/// The SRE workbook's windows and those of the alert options, shortest first.
fn burn_rate_windows(service: &Service<'_>) -> Vec<Duration> {
    let mut windows: Vec<Duration> = SRE_WINDOWS.to_vec();
    for w in &service.options.burn_rate_windows {
        windows.extend([w.short, w.long]);
    }
    windows.retain(|w| w.as_secs() > 0);
    windows.sort();
    windows.dedup_by_key(|w| w.as_secs());
    windows
}

/// `0.25` → `250 ms`, `2.5` → `2.5 s`.
fn human_seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{} ms", promql::number(seconds * 1000.0))
    } else {
        format!("{} s", promql::number(seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_written_for_people() {
        assert_eq!(human_seconds(0.25), "250 ms");
        assert_eq!(human_seconds(2.5), "2.5 s");
    }
}
