//! Prometheus alert and recording rules: multi-window, multi-burn-rate alerts for every
//! [objective](rustform::Objective) in the catalog, and the configuration's `alerts:`.
//!
//! # Objectives
//!
//! Every distinct objective target becomes one SLO with its own rule group
//! (`<service>-slo-<slo>`). An objective with both targets makes two SLOs, and functions
//! that share an objective (same name, same targets) share its SLOs:
//!
//! | SLO (`slo` label) | what counts as a bad call | series |
//! | --- | --- | --- |
//! | `api-success-rate-99.9` | a call that returned an error or panicked (`result="error"`) | `function_calls_total` |
//! | `api-latency-0.25s-99` | a call that took longer than the threshold | `function_calls_duration_seconds` |
//!
//! A group holds, in this order:
//!
//! - `slo:sli_error:ratio_rate<window>`: the share of bad calls over each window the
//!   alerts use (every long and short window of [`Options::burn_rate_windows`]), summed
//!   over the instances, with the labels `service_name`, `objective_name`,
//!   `objective_percentile` (and `objective_latency_threshold`), `slo` and `window`.
//!   The series are chosen by their objective labels, as autometrics' rules do, so every
//!   function under the objective counts, whatever its name.
//! - `slo:objective:ratio` and `slo:error_budget:ratio`: the target (`0.999`) and the
//!   share of bad calls it allows (`0.001`), for dashboards.
//! - one alert per [`BurnRateWindow`]: `ErrorBudgetBurn` (success rate) or
//!   `LatencyBudgetBurn` (latency), firing while the bad-call ratio over the long window
//!   **and** over the short window are both above `burn_rate × (1 − objective)`. The
//!   long window makes the alert significant (a real share of the budget is gone); the
//!   short one makes it reset soon after the problem stops.
//!
//! Choices, and why:
//!
//! - **Cancelled calls** (`result="cancelled"`: a future dropped before it completed) are
//!   neither successes nor failures: the caller gave up, the function did not fail. They
//!   are left out of the success-rate ratio (errors ÷ (ok + errors)). The duration
//!   histogram records them, so a call abandoned after the latency threshold does count
//!   as slow. autometrics counts `result="error"` the same way.
//! - **No traffic, no alert**: each ratio divides by `(… > 0)`, so a window without calls
//!   has no value at all instead of `NaN`, and an idle service neither fires nor draws a
//!   line at 0 % errors.
//! - **Thresholds are exact**: `14.4 × (1 − 99.9 %)` is written `0.0144`, computed in
//!   decimal, not `0.014400000000000002`. Any percentile works, not only 90, 95, 99 and
//!   99.9. The ratios divide `increase`s (counts of calls), not `rate`s: the same ratio,
//!   but whole counts subtract and divide without rounding, so a service running exactly
//!   at its objective sits exactly at the 1× threshold instead of a rounding error above
//!   it.
//! - **The threshold's bucket** is selected by every text its `le` label can be stored
//!   under: what the runtime writes and what Prometheus 3 rewrites it to on ingestion
//!   (`le="0.25"`; `le=~"1|1\\.0"`; `le=~"0\\.00001|1e-05"`), the same values the SLO
//!   dashboard selects.
//! - **`for:`** is half the short window, rounded down to whole minutes (none below
//!   two minutes): with the SRE workbook's windows `2m`, `15m`, `1h` and `3h`, as the
//!   Kubernetes mixins use. A single bad evaluation does not page; a sustained burn at
//!   the alert's own rate still fires within one and a half short windows. See
//!   [`BurnRateWindow::pending`].
//! - A window whose threshold is 1 or more (a fast burn rate against a loose objective:
//!   14.4 × 10 % for a 90 % objective) can never fire, since at most every call fails;
//!   it is left out for that SLO instead of generating an alert that cannot fire.
//!
//! The annotations state the objective, the burn rate and the budget:
//!
//! ```text
//! summary: Objective api: calls fail at 14.4× the rate the 99.9% success rate allows
//! description: {{ $value | humanizePercentage }} of the calls under objective api on
//!   {{ $labels.service_name }} failed over the last 1h, and more than 1.44% over the
//!   last 5m. The objective is 99.9% successful calls, an error budget of 0.1%; burning
//!   it at 14.4× spends 2% of a 30-day budget in 1h.
//! ```
//!
//! # The configuration's `alerts:`
//!
//! Each becomes a rule of the group `<service>-alerts`, as written: the name as the
//! alert's name, the `condition` verbatim as `expr`, `duration` as `for` (in Prometheus'
//! syntax: `5m`, `1h30m`, `1m30s`, `500ms`), `severity` and `labels` as labels,
//! `summary`, `description` and `annotations` as annotations. An entry of `labels` or
//! `annotations` takes precedence over the field of the same name.
//!
//! [`Options::burn_rate_windows`]: super::Options::burn_rate_windows

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::promql::{self, CALLS, DURATION_BUCKET, DURATION_COUNT};
use super::{GenerateError, Service, slug, to_yaml};
use rustform::catalog::CatalogObjective;
use rustform::config::names::observed::{
    OBJECTIVE_LATENCY_THRESHOLD, OBJECTIVE_NAME, OBJECTIVE_PERCENTILE, SERVICE_NAME,
};

/// One burn-rate alert: a long and a short window and the burn rate both must exceed.
///
/// ```
/// use std::time::Duration;
/// use rustform_generate::BurnRateWindow;
///
/// let fast = &BurnRateWindow::sre_workbook()[0];
/// assert_eq!(fast.long, Duration::from_secs(3600));
/// assert_eq!(fast.short, Duration::from_secs(300));
/// assert_eq!(fast.burn_rate, 14.4);
/// assert_eq!(fast.severity, "page");
/// assert_eq!(fast.pending(), Duration::from_secs(120));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BurnRateWindow {
    /// The long window, such as `1h`.
    pub long: Duration,
    /// The short window, such as `5m`.
    pub short: Duration,
    /// The burn rate: how many times faster than sustainable the error budget burns.
    pub burn_rate: f64,
    /// The alert's `severity` label.
    pub severity: String,
}

impl BurnRateWindow {
    /// A window pair: the alert fires while the error ratio over both `long` and `short`
    /// is above `burn_rate` times the error budget.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rustform_generate::BurnRateWindow;
    ///
    /// let window = BurnRateWindow::new(Duration::from_secs(2 * 3600), Duration::from_secs(600), 10.0, "page");
    /// assert_eq!(window.pending(), Duration::from_secs(300));
    /// ```
    pub fn new(
        long: Duration,
        short: Duration,
        burn_rate: f64,
        severity: impl Into<String>,
    ) -> BurnRateWindow {
        BurnRateWindow {
            long,
            short,
            burn_rate,
            severity: severity.into(),
        }
    }

    /// The Google SRE workbook's windows: 1h/5m at 14.4×, 6h/30m at 6× (page), 1d/2h at
    /// 3×, 3d/6h at 1× (ticket). Against a 30-day budget they fire once 2 %, 5 %, 10 %
    /// and 10 % of it is spent.
    pub fn sre_workbook() -> Vec<BurnRateWindow> {
        const MINUTE: u64 = 60;
        const HOUR: u64 = 60 * MINUTE;
        let window = |long: u64, short: u64, burn_rate: f64, severity: &str| {
            BurnRateWindow::new(
                Duration::from_secs(long),
                Duration::from_secs(short),
                burn_rate,
                severity,
            )
        };
        vec![
            window(HOUR, 5 * MINUTE, 14.4, "page"),
            window(6 * HOUR, 30 * MINUTE, 6.0, "page"),
            window(24 * HOUR, 2 * HOUR, 3.0, "ticket"),
            window(72 * HOUR, 6 * HOUR, 1.0, "ticket"),
        ]
    }

    /// How long the condition must hold before the alert fires (its `for:`): half the
    /// short window, rounded down to whole minutes; zero (no `for:`) when that is less
    /// than a minute. The short window already requires the burn to be current; waiting
    /// half of it again keeps one bad evaluation from paging anyone.
    pub fn pending(&self) -> Duration {
        let half = self.short.as_secs() / 2;
        Duration::from_secs(half - half % 60)
    }

    /// The share of a budget period's error budget spent over the long window at this
    /// burn rate: `burn_rate × long ÷ period`.
    fn budget_spent(&self, period: Duration) -> f64 {
        self.burn_rate * self.long.as_secs_f64() / period.as_secs_f64()
    }

    fn check(&self) -> Result<(), GenerateError> {
        let name = format!(
            "the burn-rate window {}/{}",
            promql::duration(self.long),
            promql::duration(self.short)
        );
        if promql::duration(self.short) == "0s" {
            return Err(GenerateError::Invalid(format!(
                "{name}: the short window must be at least a millisecond, such as 5m"
            )));
        }
        if self.long <= self.short {
            return Err(GenerateError::Invalid(format!(
                "{name}: the long window must be longer than the short one, such as 1h/5m"
            )));
        }
        if !(self.burn_rate.is_finite() && self.burn_rate > 0.0)
            || Decimal::of(self.burn_rate).is_none()
        {
            return Err(GenerateError::Invalid(format!(
                "{name}: the burn rate must be a number above 0, such as 14.4; found {}",
                self.burn_rate
            )));
        }
        if self.severity.is_empty() {
            return Err(GenerateError::Invalid(format!(
                "{name}: the severity must not be empty, such as \"page\" or \"ticket\""
            )));
        }
        Ok(())
    }
}

/// The error-budget period the annotations compare the burn with: the SRE workbook's
/// burn rates are chosen for 30 days.
const BUDGET_PERIOD: Duration = Duration::from_secs(30 * 24 * 3600);

/// The labels the error ratios keep: the series' objective labels and the service.
const SUCCESS_BY: [&str; 3] = [SERVICE_NAME, OBJECTIVE_NAME, OBJECTIVE_PERCENTILE];
const LATENCY_BY: [&str; 4] = [
    SERVICE_NAME,
    OBJECTIVE_NAME,
    OBJECTIVE_PERCENTILE,
    OBJECTIVE_LATENCY_THRESHOLD,
];

/// The Prometheus rules file.
///
/// ```
/// use rustform::catalog::Catalog;
/// use rustform::config::Config;
/// use rustform_generate::{Service, alert_rules};
///
/// let config = Config::parse_str("name: shop\n").unwrap();
/// let catalog: Catalog = serde_json::from_str(r#"{
///     "service": "shop",
///     "functions": [{
///         "function": "get_user",
///         "module": "shop::api",
///         "objective": {"name": "api", "success_rate": 99.9}
///     }]
/// }"#).unwrap();
/// let rules = alert_rules(&Service::new(&config, &catalog)).unwrap();
/// assert!(rules.contains("- name: shop-slo-api-success-rate-99.9"));
/// assert!(rules.contains("record: slo:sli_error:ratio_rate5m"));
/// assert!(rules.contains("alert: ErrorBudgetBurn"));
/// assert!(rules.contains("> 0.0144"));
///
/// let nothing = alert_rules(&Service::new(&config, &Catalog::empty("shop"))).unwrap();
/// assert_eq!(nothing, "groups: []\n");
/// ```
pub fn alert_rules(service: &Service<'_>) -> Result<String, GenerateError> {
    service.catalog.check_objectives()?;
    let windows = &service.options.burn_rate_windows;
    for window in windows {
        window.check()?;
    }
    let mut groups = Vec::new();
    for slo in slos(service)? {
        groups.push(slo.group(service, windows)?);
    }
    if !service.config.alerts.is_empty() {
        groups.push(configured_alerts(service)?);
    }
    Ok(to_yaml(&json!({ "groups": groups })))
}

/// What an SLO judges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Indicator {
    /// `percentile` % of calls return without error.
    SuccessRate { percentile: f64 },
    /// `percentile` % of calls finish within `threshold` seconds.
    Latency { threshold: f64, percentile: f64 },
}

/// One SLO: an objective's name and one of its targets.
#[derive(Debug, Clone, PartialEq)]
struct Slo {
    objective: String,
    indicator: Indicator,
}

/// The distinct SLOs of the catalog's objectives, by their `slo` label.
fn slos(service: &Service<'_>) -> Result<Vec<Slo>, GenerateError> {
    let mut found: BTreeMap<String, Slo> = BTreeMap::new();
    for function in &service.catalog.functions {
        let Some(objective) = &function.objective else {
            continue;
        };
        for slo in Slo::of(objective)? {
            found.insert(slo.id(), slo);
        }
    }
    Ok(found.into_values().collect())
}

impl Slo {
    fn of(objective: &CatalogObjective) -> Result<Vec<Slo>, GenerateError> {
        let name = &objective.name;
        let valid_name = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
        if !valid_name {
            return Err(GenerateError::Invalid(format!(
                "objective {name:?}: an objective's name is its `objective_name` label: use 1 \
                 to 64 ASCII letters, digits, `_`, `-` or `.`"
            )));
        }
        let percentile_ok = |p: f64| p > 0.0 && p < 100.0 && Decimal::of(p).is_some();
        let mut out = Vec::new();
        if let Some(percentile) = objective.success_rate {
            if !percentile_ok(percentile) {
                return Err(GenerateError::Invalid(format!(
                    "objective `{name}`: the success rate is a percentage above 0 and below \
                     100, such as 99.9; found {percentile}"
                )));
            }
            out.push(Slo {
                objective: name.clone(),
                indicator: Indicator::SuccessRate { percentile },
            });
        }
        if let Some(latency) = objective.latency {
            if !percentile_ok(latency.percentile) {
                return Err(GenerateError::Invalid(format!(
                    "objective `{name}`: the latency percentile is a percentage above 0 and \
                     below 100, such as 99; found {}",
                    latency.percentile
                )));
            }
            let threshold = latency.threshold_seconds;
            if !(threshold.is_finite() && threshold > 0.0) {
                return Err(GenerateError::Invalid(format!(
                    "objective `{name}`: the latency threshold must be a number of seconds \
                     above 0, such as 0.25; found {threshold}"
                )));
            }
            out.push(Slo {
                objective: name.clone(),
                indicator: Indicator::Latency {
                    threshold,
                    percentile: latency.percentile,
                },
            });
        }
        Ok(out)
    }

    /// The `slo` label: `api-success-rate-99.9`, `api-latency-0.25s-99`.
    fn id(&self) -> String {
        match self.indicator {
            Indicator::SuccessRate { percentile } => {
                format!(
                    "{}-success-rate-{}",
                    self.objective,
                    percentile_label(percentile)
                )
            }
            Indicator::Latency {
                threshold,
                percentile,
            } => format!(
                "{}-latency-{}s-{}",
                self.objective,
                threshold_label(threshold),
                percentile_label(percentile)
            ),
        }
    }

    fn percentile(&self) -> f64 {
        match self.indicator {
            Indicator::SuccessRate { percentile } | Indicator::Latency { percentile, .. } => {
                percentile
            }
        }
    }

    /// The target as a ratio: 99.9 % → 0.999.
    fn objective_ratio(&self) -> Decimal {
        Decimal::of(self.percentile())
            .expect("checked in Slo::of")
            .scaled_down(2)
    }

    /// The error budget as a ratio: 99.9 % → 0.001.
    fn budget(&self) -> Decimal {
        Decimal::ONE
            .minus(self.objective_ratio())
            .expect("a percentile below 100 has a budget")
    }

    /// The label matchers every series of the SLO carries.
    fn matchers(&self, service: &str) -> String {
        let threshold = match self.indicator {
            Indicator::SuccessRate { .. } => None,
            Indicator::Latency { threshold, .. } => Some(threshold_label(threshold)),
        };
        format!(
            "{},{}",
            promql::equal(SERVICE_NAME, service),
            promql::objective_matchers(
                &self.objective,
                &percentile_label(self.percentile()),
                threshold.as_deref()
            )
        )
    }

    /// The share of bad calls over `window`, summed over instances; no value without
    /// calls.
    fn error_ratio(&self, service: &str, window: &str) -> String {
        let matchers = self.matchers(service);
        match self.indicator {
            Indicator::SuccessRate { .. } => {
                let calls = |result: String| {
                    promql::increase_sum(
                        &SUCCESS_BY,
                        &format!("{CALLS}{{{matchers},{result}}}"),
                        window,
                    )
                };
                promql::share(&calls(promql::failed()), &calls(promql::completed()))
            }
            Indicator::Latency { threshold, .. } => {
                let le = promql::le_matcher(threshold);
                let count = promql::increase_sum(
                    &LATENCY_BY,
                    &format!("{DURATION_COUNT}{{{matchers}}}"),
                    window,
                );
                let within = promql::increase_sum(
                    &LATENCY_BY,
                    &format!("{DURATION_BUCKET}{{{matchers},{le}}}"),
                    window,
                );
                promql::share(&format!("({count}\n- {within})"), &count)
            }
        }
    }

    /// The rule group: the ratios, the target and budget, the alerts.
    fn group(
        &self,
        service: &Service<'_>,
        windows: &[BurnRateWindow],
    ) -> Result<Value, GenerateError> {
        let name = service.name();
        let id = self.id();
        let mut spans: Vec<Duration> = windows.iter().flat_map(|w| [w.short, w.long]).collect();
        spans.sort();
        spans.dedup_by_key(|d| promql::duration(*d));
        let mut rules = Vec::new();
        for span in spans {
            let window = promql::duration(span);
            rules.push(json!({
                "record": format!("slo:sli_error:ratio_rate{window}"),
                "expr": self.error_ratio(name, &window),
                "labels": {"slo": id, "window": window},
            }));
        }
        let meta_labels = self.meta_labels(name);
        rules.push(json!({
            "record": "slo:objective:ratio",
            "expr": format!("vector({})", self.objective_ratio()),
            "labels": meta_labels,
        }));
        rules.push(json!({
            "record": "slo:error_budget:ratio",
            "expr": format!("vector({})", self.budget()),
            "labels": meta_labels,
        }));
        for window in windows {
            if let Some(alert) = self.alert(name, window)? {
                rules.push(alert);
            }
        }
        Ok(json!({
            "name": format!("{}-slo-{id}", slug(name)),
            "rules": rules,
        }))
    }

    /// The labels of the target and budget series: those the ratios carry, bar `window`.
    fn meta_labels(&self, service: &str) -> Value {
        let mut labels = Map::new();
        labels.insert(SERVICE_NAME.into(), service.into());
        labels.insert(OBJECTIVE_NAME.into(), self.objective.clone().into());
        labels.insert(
            OBJECTIVE_PERCENTILE.into(),
            percentile_label(self.percentile()).into(),
        );
        if let Indicator::Latency { threshold, .. } = self.indicator {
            labels.insert(
                OBJECTIVE_LATENCY_THRESHOLD.into(),
                threshold_label(threshold).into(),
            );
        }
        labels.insert("slo".into(), self.id().into());
        Value::Object(labels)
    }

    /// The burn-rate alert of `window`, unless its threshold cannot be reached.
    fn alert(
        &self,
        service: &str,
        window: &BurnRateWindow,
    ) -> Result<Option<Value>, GenerateError> {
        let threshold = self.threshold(window)?;
        if !threshold.is_below_one() {
            return Ok(None);
        }
        let long = promql::duration(window.long);
        let short = promql::duration(window.short);
        let selector = format!(
            "{{{},{}}}",
            promql::equal(SERVICE_NAME, service),
            promql::equal("slo", &self.id())
        );
        let expr = format!(
            "slo:sli_error:ratio_rate{long}{selector} > {threshold}\n\
             and ignoring (window)\n\
             slo:sli_error:ratio_rate{short}{selector} > {threshold}"
        );
        let (alert, summary, description) = self.texts(window, &threshold);
        let mut rule = Map::new();
        rule.insert("alert".into(), alert.into());
        rule.insert("expr".into(), expr.into());
        let pending = window.pending();
        if !pending.is_zero() {
            rule.insert("for".into(), promql::duration(pending).into());
        }
        rule.insert(
            "labels".into(),
            json!({
                "severity": window.severity,
                "slo": self.id(),
                "window": long,
                "short_window": short,
            }),
        );
        rule.insert(
            "annotations".into(),
            json!({"summary": summary, "description": description}),
        );
        Ok(Some(Value::Object(rule)))
    }

    /// `burn_rate × budget`, exactly.
    fn threshold(&self, window: &BurnRateWindow) -> Result<Decimal, GenerateError> {
        Decimal::of(window.burn_rate)
            .and_then(|rate| rate.times(self.budget()))
            .ok_or_else(|| {
                GenerateError::Invalid(format!(
                    "objective `{}`: the burn rate {} times the error budget {} is not a \
                     number the rules can state exactly",
                    self.objective,
                    window.burn_rate,
                    self.budget()
                ))
            })
    }

    /// The alert's name, summary and description.
    fn texts(
        &self,
        window: &BurnRateWindow,
        threshold: &Decimal,
    ) -> (&'static str, String, String) {
        let objective = &self.objective;
        let rate = Decimal::of(window.burn_rate).expect("checked in BurnRateWindow::check");
        let long = promql::duration(window.long);
        let short = promql::duration(window.short);
        let percentile = percentile_label(self.percentile());
        let budget = self.budget().percent();
        let limit = threshold.percent();
        let spent = share(window.budget_spent(BUDGET_PERIOD));
        let burn = format!(
            "burning it at {rate}× spends {spent} of a {}-day budget in {long}.",
            BUDGET_PERIOD.as_secs() / 86_400
        );
        match self.indicator {
            Indicator::SuccessRate { .. } => (
                "ErrorBudgetBurn",
                format!(
                    "Objective {objective}: calls fail at {rate}× the rate the \
                     {percentile}% success rate allows"
                ),
                format!(
                    "{{{{ $value | humanizePercentage }}}} of the calls under objective \
                     {objective} on {{{{ $labels.service_name }}}} failed over the last {long}, \
                     and more than {limit}% over the last {short}. The objective is \
                     {percentile}% successful calls, an error budget of {budget}%; {burn}"
                ),
            ),
            Indicator::Latency { threshold, .. } => {
                let seconds = threshold_label(threshold);
                (
                    "LatencyBudgetBurn",
                    format!(
                        "Objective {objective}: calls take longer than {seconds} s at \
                         {rate}× the rate the {percentile}% latency target allows"
                    ),
                    format!(
                        "{{{{ $value | humanizePercentage }}}} of the calls under objective \
                         {objective} on {{{{ $labels.service_name }}}} took longer than \
                         {seconds} s over the last {long}, and more than {limit}% over the \
                         last {short}. The objective is {percentile}% of calls within \
                         {seconds} s, a budget of {budget}% slower calls; {burn}"
                    ),
                )
            }
        }
    }
}

fn percentile_label(p: f64) -> String {
    rustform::objective::percentile_label(p)
}

fn threshold_label(seconds: f64) -> String {
    rustform::objective::threshold_label(seconds)
}

/// A ratio as a percentage with at most two decimals: `0.02` → `2%`.
fn share(ratio: f64) -> String {
    let text = format!("{:.2}", ratio * 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// The group of the configuration's `alerts:`.
fn configured_alerts(service: &Service<'_>) -> Result<Value, GenerateError> {
    let mut rules = Vec::new();
    for (i, alert) in service.config.alerts.iter().enumerate() {
        let path = format!("alerts[{i}]");
        let mut labels = Map::new();
        labels.insert("severity".into(), alert.severity.clone().into());
        for (name, value) in &alert.labels {
            check_label_name(&format!("{path}.labels"), name)?;
            labels.insert(name.clone(), value.clone().into());
        }
        let mut annotations = Map::new();
        if let Some(summary) = &alert.summary {
            annotations.insert("summary".into(), summary.clone().into());
        }
        if let Some(description) = &alert.description {
            annotations.insert("description".into(), description.clone().into());
        }
        for (name, value) in &alert.annotations {
            check_label_name(&format!("{path}.annotations"), name)?;
            annotations.insert(name.clone(), value.clone().into());
        }
        let mut rule = Map::new();
        rule.insert("alert".into(), alert.name.clone().into());
        rule.insert("expr".into(), alert.condition.clone().into());
        let pending = promql::duration(alert.duration);
        if pending != "0s" {
            rule.insert("for".into(), pending.into());
        }
        rule.insert("labels".into(), Value::Object(labels));
        if !annotations.is_empty() {
            rule.insert("annotations".into(), Value::Object(annotations));
        }
        rules.push(Value::Object(rule));
    }
    Ok(json!({
        "name": format!("{}-alerts", service.slug()),
        "rules": rules,
    }))
}

/// Label and annotation names: `[a-zA-Z_][a-zA-Z0-9_]*`, without the reserved `__`.
fn check_label_name(path: &str, name: &str) -> Result<(), GenerateError> {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__");
    if valid {
        Ok(())
    } else {
        Err(GenerateError::Invalid(format!(
            "{path}: {name:?} is not a valid Prometheus label name: use letters, digits and \
             `_`, starting with a letter"
        )))
    }
}

/// An exact decimal number, `units × 10^-scale`: thresholds and budgets computed from the
/// percentiles and burn rates as written, without binary rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Decimal {
    units: i128,
    scale: u32,
}

impl Decimal {
    const ONE: Decimal = Decimal { units: 1, scale: 0 };

    /// The number `{value}` prints: the shortest decimal that reads back as `value`
    /// (Rust never prints an `f64` in exponent notation). `None` when it does not fit.
    fn of(value: f64) -> Option<Decimal> {
        if !value.is_finite() {
            return None;
        }
        let text = value.to_string();
        let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
        let scale = u32::try_from(fraction.len()).ok()?;
        let units = format!("{whole}{fraction}").parse::<i128>().ok()?;
        Some(Decimal { units, scale }.normalized())
    }

    fn normalized(mut self) -> Decimal {
        while self.scale > 0 && self.units % 10 == 0 {
            self.units /= 10;
            self.scale -= 1;
        }
        self
    }

    /// `self ÷ 10^places`.
    fn scaled_down(self, places: u32) -> Decimal {
        Decimal {
            units: self.units,
            scale: self.scale + places,
        }
        .normalized()
    }

    /// Both at the scale of the finer one.
    fn aligned(self, other: Decimal) -> Option<(i128, i128, u32)> {
        let scale = self.scale.max(other.scale);
        let lift = |d: Decimal| d.units.checked_mul(10i128.checked_pow(scale - d.scale)?);
        Some((lift(self)?, lift(other)?, scale))
    }

    fn minus(self, other: Decimal) -> Option<Decimal> {
        let (a, b, scale) = self.aligned(other)?;
        Some(
            Decimal {
                units: a.checked_sub(b)?,
                scale,
            }
            .normalized(),
        )
    }

    fn times(self, other: Decimal) -> Option<Decimal> {
        Some(
            Decimal {
                units: self.units.checked_mul(other.units)?,
                scale: self.scale.checked_add(other.scale)?,
            }
            .normalized(),
        )
    }

    fn is_below_one(self) -> bool {
        match self.aligned(Decimal::ONE) {
            Some((a, one, _)) => a < one,
            None => false,
        }
    }

    /// `self × 100`, for a ratio shown as a percentage.
    fn percent(self) -> Decimal {
        self.times(Decimal {
            units: 100,
            scale: 0,
        })
        .unwrap_or(self)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let sign = if self.units < 0 { "-" } else { "" };
        let scale = self.scale as usize;
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let digits = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustform::catalog::Catalog;
    use rustform::config::Config;

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    #[test]
    fn the_sre_workbook_windows() {
        let windows = BurnRateWindow::sre_workbook();
        let described: Vec<String> = windows
            .iter()
            .map(|w| {
                format!(
                    "{}/{} {}x {} for {}",
                    promql::duration(w.long),
                    promql::duration(w.short),
                    w.burn_rate,
                    w.severity,
                    promql::duration(w.pending())
                )
            })
            .collect();
        assert_eq!(
            described,
            [
                "1h/5m 14.4x page for 2m",
                "6h/30m 6x page for 15m",
                "1d/2h 3x ticket for 1h",
                "3d/6h 1x ticket for 3h",
            ]
        );
        let spent: Vec<String> = windows
            .iter()
            .map(|w| share(w.budget_spent(BUDGET_PERIOD)))
            .collect();
        assert_eq!(spent, ["2%", "5%", "10%", "10%"]);
        assert_eq!(
            BurnRateWindow::new(minutes(10), Duration::from_secs(90), 2.0, "page").pending(),
            Duration::ZERO
        );
    }

    fn slo(percentile: f64) -> Slo {
        Slo {
            objective: "api".into(),
            indicator: Indicator::SuccessRate { percentile },
        }
    }

    #[test]
    fn thresholds_are_exact_decimals() {
        let windows = BurnRateWindow::sre_workbook();
        let thresholds = |p: f64| -> Vec<String> {
            windows
                .iter()
                .map(|w| slo(p).threshold(w).unwrap().to_string())
                .collect()
        };
        // 14.4 × 0.1 % = 0.0144, not 0.014400000000000002.
        assert_eq!(thresholds(99.9), ["0.0144", "0.006", "0.003", "0.001"]);
        assert_eq!(thresholds(99.0), ["0.144", "0.06", "0.03", "0.01"]);
        assert_eq!(thresholds(99.5), ["0.072", "0.03", "0.015", "0.005"]);
        assert_eq!(thresholds(97.3), ["0.3888", "0.162", "0.081", "0.027"]);
        assert_eq!(thresholds(99.99), ["0.00144", "0.0006", "0.0003", "0.0001"]);
        assert_eq!(slo(99.9).budget().to_string(), "0.001");
        assert_eq!(slo(99.9).objective_ratio().to_string(), "0.999");
        assert_eq!(slo(99.9).budget().percent().to_string(), "0.1");
        assert_eq!(slo(90.0).budget().percent().to_string(), "10");
        assert!(!slo(90.0).threshold(&windows[0]).unwrap().is_below_one());
        assert!(slo(90.0).threshold(&windows[1]).unwrap().is_below_one());
    }

    #[test]
    fn decimals_print_as_written() {
        for value in [0.0, 1.0, 14.4, 0.001, 1e-7, 123456.789, -2.5] {
            assert_eq!(Decimal::of(value).unwrap().to_string(), value.to_string());
        }
        assert_eq!(Decimal::of(f64::NAN), None);
        assert_eq!(Decimal::of(1e300), None);
    }

    #[test]
    fn slos_are_named_by_objective_and_target() {
        let latency = Slo {
            objective: "api".into(),
            indicator: Indicator::Latency {
                threshold: 0.25,
                percentile: 99.0,
            },
        };
        assert_eq!(slo(99.9).id(), "api-success-rate-99.9");
        assert_eq!(latency.id(), "api-latency-0.25s-99");
    }

    #[test]
    fn the_success_ratio_counts_errors_among_completed_calls() {
        assert_eq!(
            slo(99.9).error_ratio("shop", "5m"),
            "sum by (service_name, objective_name, objective_percentile) \
             (increase(function_calls_total{service_name=\"shop\",objective_name=\"api\",\
             objective_percentile=\"99.9\",result=\"error\"}[5m]))\n/\n\
             (sum by (service_name, objective_name, objective_percentile) \
             (increase(function_calls_total{service_name=\"shop\",objective_name=\"api\",\
             objective_percentile=\"99.9\",result=~\"ok|error\"}[5m])) > 0)"
        );
    }

    fn catalog(json: &str) -> Catalog {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn shared_objectives_make_one_group_each() {
        let config = Config::parse_str("name: shop\n").unwrap();
        let catalog = catalog(
            r#"{"service": "shop", "functions": [
                {"function": "a", "module": "m", "objective": {"name": "api", "success_rate": 99.9,
                    "latency": {"threshold_seconds": 0.25, "percentile": 99}}},
                {"function": "b", "module": "m", "objective": {"name": "api", "success_rate": 99.9}},
                {"function": "c", "module": "m"}
            ]}"#,
        );
        let rules = alert_rules(&Service::new(&config, &catalog)).unwrap();
        // PromQL is written as literal blocks, readable in the file.
        assert!(!rules.contains("expr: \""), "{rules}");
        let doc: Value = serde_saphyr::from_str(&rules).unwrap();
        let names: Vec<&str> = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "shop-slo-api-latency-0.25s-99",
                "shop-slo-api-success-rate-99.9"
            ]
        );
        let success = &doc["groups"][1]["rules"];
        let records: Vec<&str> = success
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["record"].as_str())
            .collect();
        assert_eq!(
            records,
            [
                "slo:sli_error:ratio_rate5m",
                "slo:sli_error:ratio_rate30m",
                "slo:sli_error:ratio_rate1h",
                "slo:sli_error:ratio_rate2h",
                "slo:sli_error:ratio_rate6h",
                "slo:sli_error:ratio_rate1d",
                "slo:sli_error:ratio_rate3d",
                "slo:objective:ratio",
                "slo:error_budget:ratio",
            ]
        );
        let page = &success[9];
        assert_eq!(page["alert"], "ErrorBudgetBurn");
        assert_eq!(
            page["expr"],
            "slo:sli_error:ratio_rate1h{service_name=\"shop\",slo=\"api-success-rate-99.9\"} > 0.0144\n\
             and ignoring (window)\n\
             slo:sli_error:ratio_rate5m{service_name=\"shop\",slo=\"api-success-rate-99.9\"} > 0.0144"
        );
        assert_eq!(page["for"], "2m");
        assert_eq!(
            page["labels"],
            json!({"severity": "page", "slo": "api-success-rate-99.9", "window": "1h", "short_window": "5m"})
        );
        assert_eq!(
            page["annotations"]["description"],
            "{{ $value | humanizePercentage }} of the calls under objective api on \
             {{ $labels.service_name }} failed over the last 1h, and more than 1.44% over the \
             last 5m. The objective is 99.9% successful calls, an error budget of 0.1%; \
             burning it at 14.4× spends 2% of a 30-day budget in 1h."
        );
    }

    #[test]
    fn loose_objectives_skip_windows_that_cannot_fire() {
        let config = Config::parse_str("name: shop\n").unwrap();
        let catalog = catalog(
            r#"{"service": "shop", "functions": [
                {"function": "a", "module": "m", "objective": {"name": "batch", "success_rate": 90}}
            ]}"#,
        );
        let rules = alert_rules(&Service::new(&config, &catalog)).unwrap();
        assert!(!rules.contains("> 1.44"), "{rules}");
        assert_eq!(
            rules.matches("alert: ErrorBudgetBurn").count(),
            3,
            "{rules}"
        );
    }

    #[test]
    fn bad_inputs_are_errors_not_broken_files() {
        let config = Config::parse_str("name: shop\n").unwrap();
        let bad = catalog(
            r#"{"functions": [{"function": "a", "module": "m",
                "objective": {"name": "a{{b}}", "success_rate": 99}}]}"#,
        );
        let error = alert_rules(&Service::new(&config, &bad)).unwrap_err();
        assert!(error.to_string().contains("objective_name"), "{error}");
        let bad = catalog(
            r#"{"functions": [{"function": "a", "module": "m",
                "objective": {"name": "a", "success_rate": 100}}]}"#,
        );
        let error = alert_rules(&Service::new(&config, &bad)).unwrap_err();
        assert!(error.to_string().contains("below 100"), "{error}");

        let empty = Catalog::empty("shop");
        let options = super::super::Options {
            burn_rate_windows: vec![BurnRateWindow::new(minutes(5), minutes(60), 2.0, "page")],
            ..Default::default()
        };
        let error = alert_rules(&Service::new(&config, &empty).with_options(options)).unwrap_err();
        assert!(
            error.to_string().contains("longer than the short"),
            "{error}"
        );

        let mut config =
            Config::parse_str("alerts:\n  - name: x\n    condition: up == 0\n").unwrap();
        config.alerts[0]
            .labels
            .insert("bad-name".into(), "y".into());
        let error = alert_rules(&Service::new(&config, &empty)).unwrap_err();
        assert!(error.to_string().contains("alerts[0].labels"), "{error}");
    }

    #[test]
    fn configured_alerts_keep_their_names() {
        let config = Config::parse_str(
            "name: shop\nalerts:\n  - name: high_error_rate\n    condition: \"rate(x[5m]) > 1\"\n    \
             duration: 1h30m\n    severity: critical\n    description: too many\n    \
             labels: {team: core}\n    annotations: {runbook_url: \"https://r\"}\n",
        )
        .unwrap();
        let rules = alert_rules(&Service::new(&config, &Catalog::empty("shop"))).unwrap();
        assert_eq!(
            rules,
            "groups:\n  - name: shop-alerts\n    rules:\n      - alert: high_error_rate\n        \
             expr: rate(x[5m]) > 1\n        for: 1h30m\n        labels:\n          \
             severity: critical\n          team: core\n        annotations:\n          \
             description: too many\n          runbook_url: https://r\n"
        );
    }

    #[test]
    fn nothing_to_alert_on_is_still_a_rules_file() {
        let config = Config::parse_str("name: shop\n").unwrap();
        let rules = alert_rules(&Service::new(&config, &Catalog::empty("shop"))).unwrap();
        assert_eq!(rules, "groups: []\n");
    }
}
