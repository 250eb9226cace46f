//! The generated Prometheus rules against the real `promtool`: `promtool check rules`
//! accepts the file made from a catalog with two objectives (four SLOs, one with an odd
//! percentile and a whole-second threshold) and the reference configuration's alerts, and
//! `promtool test rules` shows every burn-rate alert firing on a synthetic burn and staying
//! silent while errors run exactly at the objective, and each configured alert firing on
//! its condition and not below it.
//!
//! The series are what rustform exposes: `function_calls_total` by `result` and
//! `function_calls_duration_seconds` with the objective labels, one sample a minute.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use rustform::catalog::Catalog;
use rustform::config::Config;
use rustform_generate::{Service, alert_rules};

/// The reference `rustform.yml`, with its three alerts.
fn reference_config() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/rustform.full.yml");
    let text = std::fs::read_to_string(&path).expect("the reference configuration");
    let config = Config::parse(&text, "rustform.full.yml", &|_| None).expect("it loads");
    assert_eq!(config.alerts.len(), 3);
    config
}

/// Two objectives over four functions, as `GET /catalog` serves them: `api` (99.9 %
/// success, 99 % within 250 ms) and `checkout` (99.5 % success, 97.3 % within 1 s).
fn catalog() -> Catalog {
    serde_json::from_str(
        r#"{
            "service": "shop",
            "functions": [
                {"function": "get_user", "module": "shop::api", "objective":
                    {"name": "api", "success_rate": 99.9,
                     "latency": {"threshold_seconds": 0.25, "percentile": 99.0}}},
                {"function": "list_users", "module": "shop::api", "objective":
                    {"name": "api", "success_rate": 99.9,
                     "latency": {"threshold_seconds": 0.25, "percentile": 99.0}}},
                {"function": "pay", "module": "shop::checkout", "objective":
                    {"name": "checkout", "success_rate": 99.5,
                     "latency": {"threshold_seconds": 1.0, "percentile": 97.3}}},
                {"function": "refund", "module": "shop::checkout", "objective":
                    {"name": "checkout", "success_rate": 99.5,
                     "latency": {"threshold_seconds": 1.0, "percentile": 97.3}}},
                {"function": "health", "module": "shop"}
            ]
        }"#,
    )
    .expect("a catalog")
}

fn generated_rules() -> String {
    let config = reference_config();
    let catalog = catalog();
    alert_rules(&Service::new(&config, &catalog)).expect("rules")
}

/// Runs promtool with `args` in `dir`; returns whether it succeeded and its output.
fn promtool(dir: &Path, args: &[&str]) -> (bool, String) {
    testkit::run(
        Command::new(testkit::promtool())
            .args(args)
            .current_dir(dir),
    )
}

#[test]
fn promtool_accepts_the_rules_of_two_objectives_and_the_reference_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rules = generated_rules();
    std::fs::write(dir.path().join("rules.yml"), &rules).unwrap();
    let (ok, output) = promtool(dir.path(), &["check", "rules", "rules.yml"]);
    assert!(
        ok,
        "promtool check rules failed:\n{output}\n--- rules ---\n{rules}"
    );
    // Four SLOs × (7 ratios, target, budget, 4 alerts) and the three configured alerts.
    assert!(
        output.contains("SUCCESS: 55 rules found"),
        "{output}\n--- rules ---\n{rules}"
    );
    for group in [
        "shop-slo-api-latency-0.25s-99",
        "shop-slo-api-success-rate-99.9",
        "shop-slo-checkout-latency-1s-97.3",
        "shop-slo-checkout-success-rate-99.5",
        "shop-alerts",
    ] {
        assert!(
            rules.contains(&format!("- name: {group}\n")),
            "{group}\n{rules}"
        );
    }
    for alert in [
        "high_error_rate",
        "high_response_time",
        "database_connection_exhaustion",
    ] {
        assert!(
            rules.contains(&format!("- alert: {alert}\n")),
            "{alert}\n{rules}"
        );
    }

    // Nothing to alert on is still a file Prometheus loads.
    let config = Config::parse_str("name: idle\n").unwrap();
    let empty = alert_rules(&Service::new(&config, &Catalog::empty("idle"))).unwrap();
    assert_eq!(empty, "groups: []\n");
    std::fs::write(dir.path().join("empty.yml"), &empty).unwrap();
    let (ok, output) = promtool(dir.path(), &["check", "rules", "empty.yml"]);
    assert!(ok, "{output}");
}

/// One SLO of the catalog as the test sees it, written out independently of the
/// generator: its labels, its thresholds and what its alerts say.
struct Slo {
    id: &'static str,
    alert: &'static str,
    objective: &'static str,
    percentile: &'static str,
    /// The latency threshold label, for a latency SLO.
    threshold: Option<&'static str>,
    /// The two functions and the `le` each exposes for the threshold (`1` as rustform
    /// writes it, `1.0` as Prometheus 3 stores it).
    functions: [(&'static str, &'static str, &'static str); 2],
    /// Bad calls a minute, per function, out of `CALLS` when exactly at the objective.
    at_objective: u64,
    /// `burn_rate × budget` for 1h/5m, 6h/30m, 1d/2h, 3d/6h.
    thresholds: [&'static str; 4],
    /// The same in percent.
    limits: [&'static str; 4],
    /// The error budget in percent.
    budget: &'static str,
}

/// Calls a minute per function.
const CALLS: u64 = 1000;

const SLOS: [Slo; 4] = [
    Slo {
        id: "api-success-rate-99.9",
        alert: "ErrorBudgetBurn",
        objective: "api",
        percentile: "99.9",
        threshold: None,
        functions: [
            ("get_user", "shop::api", ""),
            ("list_users", "shop::api", ""),
        ],
        at_objective: 1,
        thresholds: ["0.0144", "0.006", "0.003", "0.001"],
        limits: ["1.44", "0.6", "0.3", "0.1"],
        budget: "0.1",
    },
    Slo {
        id: "api-latency-0.25s-99",
        alert: "LatencyBudgetBurn",
        objective: "api",
        percentile: "99",
        threshold: Some("0.25"),
        functions: [
            ("get_user", "shop::api", "0.25"),
            ("list_users", "shop::api", "0.25"),
        ],
        at_objective: 10,
        thresholds: ["0.144", "0.06", "0.03", "0.01"],
        limits: ["14.4", "6", "3", "1"],
        budget: "1",
    },
    Slo {
        id: "checkout-success-rate-99.5",
        alert: "ErrorBudgetBurn",
        objective: "checkout",
        percentile: "99.5",
        threshold: None,
        functions: [
            ("pay", "shop::checkout", ""),
            ("refund", "shop::checkout", ""),
        ],
        at_objective: 5,
        thresholds: ["0.072", "0.03", "0.015", "0.005"],
        limits: ["7.2", "3", "1.5", "0.5"],
        budget: "0.5",
    },
    Slo {
        id: "checkout-latency-1s-97.3",
        alert: "LatencyBudgetBurn",
        objective: "checkout",
        percentile: "97.3",
        threshold: Some("1"),
        functions: [
            ("pay", "shop::checkout", "1"),
            ("refund", "shop::checkout", "1.0"),
        ],
        at_objective: 27,
        thresholds: ["0.3888", "0.162", "0.081", "0.027"],
        limits: ["38.88", "16.2", "8.1", "2.7"],
        budget: "2.7",
    },
];

/// The SRE workbook's window pairs: long, short, burn rate, severity, share of a 30-day
/// budget.
const WINDOWS: [(&str, &str, &str, &str, &str); 4] = [
    ("1h", "5m", "14.4", "page", "2%"),
    ("6h", "30m", "6", "page", "5%"),
    ("1d", "2h", "3", "ticket", "10%"),
    ("3d", "6h", "1", "ticket", "10%"),
];

/// The burn of the spikes: 31 times the objective's rate of bad calls.
const SPIKE: u64 = 31;

/// A counter's values, one a minute from 0: `phases` of (minutes, increase a minute), in
/// promtool's expanding notation.
fn counter(phases: &[(u64, u64)]) -> String {
    let mut out = String::from("0");
    let mut value = 0;
    for &(minutes, step) in phases {
        write!(out, " {}+{}x{}", value + step, step, minutes - 1).unwrap();
        value += step * minutes;
    }
    out
}

impl Slo {
    fn common_labels(&self, function: &str, module: &str) -> String {
        let mut labels = format!(
            "function=\"{function}\",module=\"{module}\",service_name=\"shop\",objective_name=\"{}\",objective_percentile=\"{}\"",
            self.objective, self.percentile
        );
        if let Some(threshold) = self.threshold {
            write!(labels, ",objective_latency_threshold=\"{threshold}\"").unwrap();
        }
        labels
    }

    /// The input series when each function gets `CALLS` calls a minute, of which
    /// `phases` (minutes, bad calls a minute) are bad.
    fn series(&self, phases: &[(u64, u64)]) -> String {
        let good: Vec<(u64, u64)> = phases.iter().map(|&(m, bad)| (m, CALLS - bad)).collect();
        let bad: Vec<(u64, u64)> = phases.to_vec();
        let all: Vec<(u64, u64)> = phases.iter().map(|&(m, _)| (m, CALLS)).collect();
        let mut out = String::new();
        for (function, module, le) in self.functions {
            let labels = self.common_labels(function, module);
            let mut one = |name: &str, extra: &str, values: &[(u64, u64)]| {
                writeln!(
                    out,
                    "      - series: '{name}{{{labels}{extra}}}'\n        values: '{}'",
                    counter(values)
                )
                .unwrap();
            };
            if self.threshold.is_none() {
                one("function_calls_total", ",result=\"ok\"", &good);
                one("function_calls_total", ",result=\"error\"", &bad);
                // Cancelled calls are neither good nor bad: a steady stream of them
                // must not move the success ratio.
                one("function_calls_total", ",result=\"cancelled\"", &all);
            } else {
                one(
                    "function_calls_duration_seconds_bucket",
                    &format!(",le=\"{le}\""),
                    &good,
                );
                one(
                    "function_calls_duration_seconds_bucket",
                    ",le=\"+Inf\"",
                    &all,
                );
                one("function_calls_duration_seconds_count", "", &all);
            }
        }
        out
    }

    fn labels(&self, window: usize) -> String {
        let (long, short, _, severity, _) = WINDOWS[window];
        let mut labels = format!(
            "          service_name: shop\n          objective_name: {}\n          objective_percentile: \"{}\"\n",
            self.objective, self.percentile
        );
        if let Some(threshold) = self.threshold {
            writeln!(
                labels,
                "          objective_latency_threshold: \"{threshold}\""
            )
            .unwrap();
        }
        write!(
            labels,
            "          slo: {}\n          window: {long}\n          short_window: {short}\n          severity: {severity}\n",
            self.id
        )
        .unwrap();
        labels
    }

    /// The annotations of a firing alert whose long-window ratio is `value` (as
    /// `humanizePercentage` prints it).
    fn annotations(&self, window: usize, value: &str) -> String {
        let (long, short, rate, _, spent) = WINDOWS[window];
        let (objective, percentile, limit, budget) = (
            self.objective,
            self.percentile,
            self.limits[window],
            self.budget,
        );
        let burn = format!("burning it at {rate}× spends {spent} of a 30-day budget in {long}.");
        let (summary, description) = match self.threshold {
            None => (
                format!(
                    "Objective {objective}: calls fail at {rate}× the rate the {percentile}% success rate allows"
                ),
                format!(
                    "{value} of the calls under objective {objective} on shop failed over the last {long}, and more than {limit}% over the last {short}. The objective is {percentile}% successful calls, an error budget of {budget}%; {burn}"
                ),
            ),
            Some(seconds) => (
                format!(
                    "Objective {objective}: calls take longer than {seconds} s at {rate}× the rate the {percentile}% latency target allows"
                ),
                format!(
                    "{value} of the calls under objective {objective} on shop took longer than {seconds} s over the last {long}, and more than {limit}% over the last {short}. The objective is {percentile}% of calls within {seconds} s, a budget of {budget}% slower calls; {burn}"
                ),
            ),
        };
        format!("          summary: \"{summary}\"\n          description: \"{description}\"\n")
    }
}

/// An `alert_rule_test` case: at `eval_time`, exactly `firing` (SLO, window, value) of
/// alert `alert`.
fn alert_case(out: &mut String, eval_time: &str, alert: &str, firing: &[(&Slo, usize, &str)]) {
    write!(
        out,
        "      - eval_time: {eval_time}\n        alertname: {alert}\n"
    )
    .unwrap();
    if firing.is_empty() {
        out.push_str("        exp_alerts: []\n");
        return;
    }
    out.push_str("        exp_alerts:\n");
    for (slo, window, value) in firing {
        write!(
            out,
            "          - exp_labels:\n{}            exp_annotations:\n{}",
            slo.labels(*window)
                .replace("          ", "                "),
            slo.annotations(*window, value)
                .replace("          ", "                "),
        )
        .unwrap();
    }
}

/// A `promql_expr_test` case: at `eval_time`, `expr` gives 1 for each of `slos` labelled
/// with `labels` of each.
fn expr_case(out: &mut String, eval_time: &str, expr: &str, samples: &[String]) {
    write!(
        out,
        "      - expr: '{expr}'\n        eval_time: {eval_time}\n"
    )
    .unwrap();
    if samples.is_empty() {
        out.push_str("        exp_samples: []\n");
        return;
    }
    out.push_str("        exp_samples:\n");
    for labels in samples {
        write!(
            out,
            "          - labels: '{labels}'\n            value: 1\n"
        )
        .unwrap();
    }
}

/// The burn-rate alerts firing: (alert, slo, window) for every SLO and each window of
/// `windows` (indexes into `WINDOWS`).
fn firing(windows: &[usize]) -> Vec<String> {
    let mut out = Vec::new();
    for slo in &SLOS {
        for &w in windows {
            out.push(format!(
                "{{alertname=\"{}\", slo=\"{}\", window=\"{}\"}}",
                slo.alert, slo.id, WINDOWS[w].0
            ));
        }
    }
    out
}

const FIRING: &str = r#"count by (alertname, slo, window) (ALERTS{alertstate="firing", slo!=""})"#;

#[test]
fn burn_rate_alerts_fire_on_a_burn_and_stay_silent_at_the_objective() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), generated_rules()).unwrap();
    // Rules are evaluated every 5 minutes (the series have a sample a minute) to keep
    // three days of evaluations quick; every eval_time is a multiple of it.
    let mut tests = String::from("rule_files: [rules.yml]\nevaluation_interval: 5m\ntests:\n");

    // 1. A burn from the first minute at 31 times the objective's rate: each alert fires
    // once its `for:` has passed (2m, 15m, 1h, 3h), with the ratio and the texts stated.
    tests.push_str("  - name: a burn from the start\n    interval: 1m\n    input_series:\n");
    for slo in &SLOS {
        tests.push_str(&slo.series(&[(200, SPIKE * slo.at_objective)]));
    }
    tests.push_str("    alert_rule_test:\n");
    let values = ["3.1%", "31%", "15.5%", "83.7%"];
    for (eval_time, windows) in [
        ("10m", &[0][..]),
        ("20m", &[0, 1][..]),
        ("1h10m", &[0, 1, 2][..]),
        ("3h10m", &[0, 1, 2, 3][..]),
    ] {
        for alert in ["ErrorBudgetBurn", "LatencyBudgetBurn"] {
            let expected: Vec<(&Slo, usize, &str)> = SLOS
                .iter()
                .zip(values)
                .filter(|(slo, _)| slo.alert == alert)
                .flat_map(|(slo, value)| windows.iter().map(move |&w| (slo, w, value)))
                .collect();
            alert_case(&mut tests, eval_time, alert, &expected);
        }
    }

    // 2. Three days exactly at the objective (silent, though the 3d/6h pair's threshold
    // is the objective itself), then a burn at 31 times it for 3h30m, then the objective
    // again. Each pair fires once its long window crosses and its `for:` has passed; when
    // the burn stops the page of the 1h/5m pair resolves with the short window, while the
    // 1h window is still far above its threshold.
    const DAYS: u64 = 3 * 24 * 60;
    tests.push_str(
        "  - name: three days at the objective, then a burn\n    interval: 1m\n    input_series:\n",
    );
    for slo in &SLOS {
        let at = slo.at_objective;
        tests.push_str(&slo.series(&[(DAYS, at), (210, SPIKE * at), (20, at)]));
    }
    tests.push_str("    promql_expr_test:\n");
    for (eval_time, windows) in [
        ("1d", &[][..]),
        ("3d", &[][..]),
        ("3d20m", &[][..]),
        ("3d45m", &[0][..]),
        ("3d2h", &[0, 1][..]),
        ("3d2h50m", &[0, 1, 2][..]),
        ("3d3h20m", &[0, 1, 2, 3][..]),
        ("3d3h45m", &[1, 2, 3][..]),
    ] {
        expr_case(&mut tests, eval_time, FIRING, &firing(windows));
    }
    let over = |window: &str, threshold: usize| {
        let parts: Vec<String> = SLOS
            .iter()
            .map(|slo| {
                format!(
                    "slo:sli_error:ratio_rate{window}{{slo=\"{}\"}} > {}",
                    slo.id, slo.thresholds[threshold]
                )
            })
            .collect();
        format!("count by (slo) ({})", parts.join(" or "))
    };
    let every_slo: Vec<String> = SLOS
        .iter()
        .map(|s| format!("{{slo=\"{}\"}}", s.id))
        .collect();
    expr_case(&mut tests, "3d3h45m", &over("1h", 0), &every_slo);
    expr_case(&mut tests, "3d3h45m", &over("5m", 0), &[]);
    // At the objective every ratio is exactly the budget: not above the 1× threshold.
    expr_case(&mut tests, "3d", &over("3d", 3), &[]);
    expr_case(&mut tests, "3d", &over("6h", 3), &[]);

    std::fs::write(dir.path().join("tests.yml"), &tests).unwrap();
    let (ok, output) = promtool(dir.path(), &["test", "rules", "tests.yml"]);
    assert!(
        ok,
        "promtool test rules failed:\n{output}\n--- tests ---\n{tests}"
    );
    assert!(output.contains("SUCCESS"), "{output}");
}

#[test]
fn the_reference_alerts_fire_on_their_conditions_and_not_below() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), generated_rules()).unwrap();
    // `http_requests_total{status=~'5..'} / http_requests_total` divides each 5xx series
    // by itself (the two sides match on every label), so as written it is 1 for any 5xx
    // series that has counted a request, and no value (0/0) for one that has not.
    let tests = r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - name: the reference configuration's alerts
    interval: 1m
    input_series:
      - series: 'http_requests_total{route="/orders",status="200"}'
        values: '0+100x30'
      - series: 'http_requests_total{route="/orders",status="500"}'
        values: '0+10x30'
      - series: 'http_requests_total{route="/health",status="503"}'
        values: '0x30'
      - series: 'http_request_duration_seconds{route="/slow",le="1"}'
        values: '10x30'
      - series: 'http_request_duration_seconds{route="/slow",le="2.5"}'
        values: '100x30'
      - series: 'http_request_duration_seconds{route="/slow",le="+Inf"}'
        values: '100x30'
      - series: 'http_request_duration_seconds{route="/fast",le="1"}'
        values: '90x30'
      - series: 'http_request_duration_seconds{route="/fast",le="2.5"}'
        values: '100x30'
      - series: 'http_request_duration_seconds{route="/fast",le="+Inf"}'
        values: '100x30'
      - series: 'database_connections_active{pool="primary"}'
        values: '95x30'
      - series: 'database_connections_max{pool="primary"}'
        values: '100x30'
      - series: 'database_connections_active{pool="replica"}'
        values: '90x30'
      - series: 'database_connections_max{pool="replica"}'
        values: '100x30'
    alert_rule_test:
      - eval_time: 5m
        alertname: high_error_rate
        exp_alerts: []
      - eval_time: 7m
        alertname: high_error_rate
        exp_alerts:
          - exp_labels: {severity: warning, route: /orders, status: "500"}
            exp_annotations: {description: "HTTP error rate is above 5%"}
      - eval_time: 9m
        alertname: high_response_time
        exp_alerts: []
      - eval_time: 12m
        alertname: high_response_time
        exp_alerts:
          - exp_labels: {severity: critical, route: /slow}
            exp_annotations: {description: "95th percentile response time is above 2 seconds"}
      - eval_time: 1m
        alertname: database_connection_exhaustion
        exp_alerts: []
      - eval_time: 3m
        alertname: database_connection_exhaustion
        exp_alerts:
          - exp_labels: {severity: critical, pool: primary}
            exp_annotations: {description: "Database connection pool is nearly exhausted"}
    promql_expr_test:
      - expr: 'count by (alertname) (ALERTS{alertstate="firing"})'
        eval_time: 30m
        exp_samples:
          - labels: '{alertname="high_error_rate"}'
            value: 1
          - labels: '{alertname="high_response_time"}'
            value: 1
          - labels: '{alertname="database_connection_exhaustion"}'
            value: 1
"#;
    std::fs::write(dir.path().join("tests.yml"), tests).unwrap();
    let (ok, output) = promtool(dir.path(), &["test", "rules", "tests.yml"]);
    assert!(ok, "promtool test rules failed:\n{output}");
    assert!(output.contains("SUCCESS"), "{output}");
}
