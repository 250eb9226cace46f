//! The dashboards as a whole: what Grafana requires of each, what they query, when each
//! is written, and how they are named.

use std::collections::HashSet;

use serde_json::{Value, json};

use super::grafana::{MAX_UID_LEN, SCHEMA_VERSION};
use super::http::HTTP_ACTIVE;
use super::overview::EXPANDED_FUNCTIONS;
use super::{GenerateError, Service, dashboards};
use crate::promql::{CALLS, CONCURRENT, DURATION_BUCKET};
use rustform::catalog::ObservedFunction;
use rustform::catalog::{Catalog, CatalogLatency, CatalogMetric, CatalogObjective, MetricGroup};
use rustform::config::Config;
use rustform::metrics::MetricType;

const YAML: &str = "name: shop
custom_metrics:
  counters:
    - name: orders_total
      description: Orders placed
      labels: [status]
  gauges:
    - name: queue_depth
      description: Jobs waiting
  histograms:
    - name: payment_seconds
      description: Payment time
      unit: seconds
observability:
  prometheus:
    metrics:
      business:
        enabled: true
        custom_counters: [signups_total, orders_total]
        custom_gauges: [active_carts]
        custom_histograms: [basket_size]
";

fn function(module: &str, name: &str) -> ObservedFunction {
    ObservedFunction::new(module, name)
}

fn objective(name: &str, success: Option<f64>, latency: Option<(f64, f64)>) -> CatalogObjective {
    CatalogObjective::new(
        name,
        success,
        latency.map(|(threshold, percentile)| CatalogLatency::new(threshold, percentile)),
    )
}

fn metric(name: &str, kind: MetricType, unit: Option<&str>, labels: &[&str]) -> CatalogMetric {
    let mut metric = CatalogMetric::new(name, kind);
    metric.help = format!("{name} help");
    metric.unit = unit.map(str::to_owned);
    metric.labels = labels.iter().map(|l| (*l).to_owned()).collect();
    metric.buckets = (kind == MetricType::Histogram).then(|| vec![1.0, 10.0]);
    metric
}

fn catalog() -> Catalog {
    let api = objective("api", Some(99.9), Some((0.25, 99.0)));
    let mut checkout = function("shop::orders", "checkout");
    checkout.track_concurrency = true;
    checkout.objective = Some(api.clone());
    let mut get_user = function("shop::users", "get_user");
    get_user.objective = Some(api);
    let mut search = function("shop::search", "search");
    search.objective = Some(objective("search", None, Some((0.1, 95.0))));
    let mut process = function("shop::jobs", "process");
    process.resolved = false;
    let mut catalog = Catalog::empty("shop");
    catalog.functions = vec![checkout, get_user, search, process];
    catalog.metric_groups = vec![MetricGroup::new(
        "ShopMetrics",
        "shop::metrics",
        vec![
            metric("shop_payments", MetricType::Counter, None, &["method"]),
            metric("shop_active_users", MetricType::Gauge, None, &[]),
            metric("shop_cache_hit", MetricType::Gauge, Some("ratio"), &[]),
            metric(
                "shop_order_size_bytes",
                MetricType::Histogram,
                Some("bytes"),
                &[],
            ),
        ],
    )];
    catalog
}

fn config(yaml: &str) -> Config {
    Config::parse(yaml, "rustform.yml", &|_| None).expect("a valid configuration")
}

fn generate(config: &Config, catalog: &Catalog) -> Vec<(String, Value)> {
    dashboards(&Service::new(config, catalog))
        .expect("dashboards")
        .into_iter()
        .map(|f| {
            let json = serde_json::from_str(&f.contents).expect("valid JSON");
            (f.path.to_string_lossy().into_owned(), json)
        })
        .collect()
}

/// Every panel, those inside rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dashboard["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

fn expressions(dashboard: &Value) -> Vec<String> {
    panels(dashboard)
        .into_iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("expr").to_owned())
        .collect()
}

/// `expr` without its string literals.
fn without_strings(expr: &str) -> String {
    let mut out = String::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => break,
                    _ => {}
                }
            }
            out.push_str("\"\"");
        } else {
            out.push(c);
        }
    }
    out
}

/// Brackets balance outside string literals.
fn balanced(expr: &str) -> bool {
    let mut stack = Vec::new();
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => loop {
                match chars.next() {
                    Some('\\') => {
                        chars.next();
                    }
                    Some('"') => break,
                    Some(_) => {}
                    None => return false,
                }
            },
            '(' | '{' | '[' => stack.push(c),
            ')' | '}' | ']' => {
                let open = match c {
                    ')' => '(',
                    '}' => '{',
                    _ => '[',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty()
}

#[test]
fn every_dashboard_has_what_grafana_requires() {
    let config = config(YAML);
    let catalog = catalog();
    let ds = json!({"type": "prometheus", "uid": "${datasource}"});
    for (path, d) in generate(&config, &catalog) {
        assert!(
            d["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("shop / ")),
            "{path}"
        );
        assert_eq!(d["schemaVersion"], SCHEMA_VERSION, "{path}");
        assert_eq!(d["tags"][0], "rustform", "{path}");
        assert!(
            d["time"]["from"].is_string() && d["refresh"].is_string(),
            "{path}"
        );
        let variables = d["templating"]["list"].as_array().expect("templating.list");
        assert_eq!(variables[0]["type"], "datasource", "{path}");
        assert_eq!(variables[0]["query"], "prometheus", "{path}");
        assert_eq!(variables[1]["name"], "service", "{path}");
        assert_eq!(variables[1]["current"]["value"], "shop", "{path}");
        for v in &variables[1..] {
            assert_eq!(v["datasource"], ds, "{path}: variable {}", v["name"]);
        }
        let mut ids = HashSet::new();
        for p in panels(&d) {
            let title = &p["title"];
            assert!(
                ids.insert(p["id"].as_u64().expect("id")),
                "{path}: id of {title}"
            );
            let grid = &p["gridPos"];
            for key in ["h", "w", "x", "y"] {
                assert!(grid[key].is_u64(), "{path}: gridPos.{key} of {title}");
            }
            assert!(grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24);
            assert_eq!(p["datasource"], ds, "{path}: {title}");
            assert!(p["type"].is_string() && title.is_string(), "{path}");
            if p["type"] == "row" {
                continue;
            }
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{path}: {title}");
            let mut refs = HashSet::new();
            for t in targets {
                assert_eq!(t["datasource"], ds, "{path}: {title}");
                assert!(refs.insert(t["refId"].as_str().expect("refId")));
                let expr = t["expr"].as_str().expect("expr");
                assert!(balanced(expr), "{path}: {title}: {expr}");
                assert!(
                    !without_strings(expr).contains(':'),
                    "{path}: a recording rule in {expr}"
                );
            }
        }
    }
}

#[test]
fn every_function_and_metric_is_queried() {
    let config = config(YAML);
    let catalog = catalog();
    let files = generate(&config, &catalog);
    let all: Vec<String> = files.iter().flat_map(|(_, d)| expressions(d)).collect();
    let overview = expressions(&files[0].1);
    for f in &catalog.functions {
        let needle = if f.resolved {
            format!("function=\"{}\",module=\"{}\"", f.function, f.module)
        } else {
            format!(
                "function=~\"(?:.+::)?{}\",module=\"{}\"",
                f.function, f.module
            )
        };
        assert!(overview.iter().any(|e| e.contains(&needle)), "{needle}");
    }
    let declared = [
        "orders_total",
        "queue_depth",
        "payment_seconds_bucket",
        "signups_total",
        "active_carts",
        "basket_size_bucket",
    ];
    let groups = catalog.metric_groups[0]
        .metrics
        .iter()
        .map(|m| match m.metric_type {
            MetricType::Histogram => format!("{}_bucket", m.name),
            _ => m.sample_name(),
        });
    for sample in groups.chain(declared.map(str::to_owned)) {
        let needle = format!("{sample}{{");
        assert!(all.iter().any(|e| e.contains(&needle)), "{sample}");
    }
    for family in [
        CALLS,
        DURATION_BUCKET,
        CONCURRENT,
        "build_info",
        HTTP_ACTIVE,
    ] {
        assert!(all.iter().any(|e| e.contains(family)), "{family}");
    }
    // `orders_total` is declared twice (custom_metrics and business): one panel.
    let metrics = &files
        .iter()
        .find(|(p, _)| p.ends_with("-app-metrics.json"))
        .unwrap()
        .1;
    let orders = panels(metrics)
        .into_iter()
        .filter(|p| p["title"] == "orders (per second)")
        .count();
    assert_eq!(orders, 1);
}

#[test]
fn a_declared_metric_typed_by_app_metrics_gets_panels_once() {
    // `app_metrics!` puts the file's declarations in the catalog as a group.
    let config = config(YAML);
    let mut catalog = catalog();
    catalog.metric_groups.push(MetricGroup::new(
        "DeclaredMetrics",
        "shop",
        vec![metric("orders", MetricType::Counter, None, &["status"])],
    ));
    let files = generate(&config, &catalog);
    let metrics = &files
        .iter()
        .find(|(p, _)| p.ends_with("-app-metrics.json"))
        .unwrap()
        .1;
    let all = panels(metrics);
    let orders: Vec<_> = all
        .iter()
        .filter(|p| p["title"] == "orders (per second)")
        .collect();
    assert_eq!(orders.len(), 1);
    // The rest of the file's metrics keep their row.
    let rows: Vec<_> = all
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            "ShopMetrics (shop::metrics)",
            "DeclaredMetrics (shop)",
            "Declared in rustform.yml"
        ]
    );
    assert!(all.iter().any(|p| p["title"] == "queue_depth"));
}

#[test]
fn uids_are_stable_short_and_distinct() {
    let config = config(YAML);
    let catalog = catalog();
    let uids = |catalog: &Catalog| -> Vec<String> {
        generate(&config, catalog)
            .into_iter()
            .map(|(_, d)| d["uid"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        uids(&catalog),
        [
            "rf-shop-overview",
            "rf-shop-metrics",
            "rf-shop-http",
            "rf-shop-slo"
        ]
    );
    assert_eq!(uids(&catalog), uids(&catalog));
    let long = |tail: &str| {
        let mut c = catalog.clone();
        c.service = format!("{}{tail}", "very-long-service-name-".repeat(2));
        c
    };
    let (a, b) = (uids(&long("a")), uids(&long("b")));
    for uid in a.iter().chain(&b) {
        assert!(uid.len() <= MAX_UID_LEN, "{uid}");
        assert!(uid.starts_with("rf-very-long-"), "{uid}");
        assert!(
            uid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'),
            "{uid}"
        );
    }
    let distinct: HashSet<&String> = a.iter().chain(&b).collect();
    assert_eq!(distinct.len(), 8, "{a:?} {b:?}");
    assert_eq!(a, uids(&long("a")));
}

#[test]
fn dashboards_follow_what_there_is_to_show() {
    let catalog = Catalog::empty("shop");
    let paths = |yaml: &str| -> Vec<String> {
        generate(&config(yaml), &catalog)
            .into_iter()
            .map(|(p, _)| p)
            .collect()
    };
    assert_eq!(
        paths("name: shop\n"),
        ["dashboards/shop-overview.json", "dashboards/shop-http.json"]
    );
    assert_eq!(
        paths(
            "name: shop\nobservability:\n  prometheus:\n    metrics:\n      http:\n        enabled: false\n"
        ),
        ["dashboards/shop-overview.json"]
    );
    assert_eq!(
        paths(YAML),
        [
            "dashboards/shop-overview.json",
            "dashboards/shop-app-metrics.json",
            "dashboards/shop-http.json"
        ]
    );
}

#[test]
fn functions_get_a_row_each() {
    let config = config("name: shop\n");
    let mut catalog = catalog();
    let rows = |catalog: &Catalog| -> Vec<(String, bool)> {
        let overview = generate(&config, catalog).remove(0).1;
        overview["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["title"].as_str().unwrap().starts_with("fn "))
            .map(|p| {
                (
                    p["title"].as_str().unwrap().to_owned(),
                    p["collapsed"] == true,
                )
            })
            .collect()
    };
    assert_eq!(
        rows(&catalog),
        [
            ("fn shop::orders::checkout".to_owned(), false),
            ("fn shop::users::get_user".to_owned(), false),
            ("fn shop::search::search".to_owned(), false),
            ("fn shop::jobs::process".to_owned(), false),
        ]
    );
    // Many functions: their rows start collapsed, their panels inside.
    for i in 0..EXPANDED_FUNCTIONS {
        catalog
            .functions
            .push(function("shop::more", &format!("f{i}")));
    }
    let rows = rows(&catalog);
    assert_eq!(rows.len(), 4 + EXPANDED_FUNCTIONS);
    assert!(rows.iter().all(|(_, collapsed)| *collapsed));
}

#[test]
fn the_slo_page_reads_the_raw_series() {
    let config = config("name: shop\n");
    let catalog = catalog();
    let files = generate(&config, &catalog);
    let slo = &files.last().unwrap().1;
    assert_eq!(slo["time"]["from"], "now-30d");
    let rows: Vec<&str> = slo["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["Objective api", "Objective search"]);
    let exprs = expressions(slo);
    let success = r#"objective_name="api",objective_percentile="99.9""#;
    let latency = r#"objective_name="api",objective_percentile="99",objective_latency_threshold="0.25",le=~"0\\.25""#;
    assert!(
        exprs
            .iter()
            .any(|e| e.contains(success) && e.contains(r#"result="error""#))
    );
    assert!(exprs.iter().any(|e| e.contains(latency)));
    // Every success-rate share counts ok and error calls only, as the alert rules do,
    // and every query selects the `job` variable.
    for e in exprs.iter().filter(|e| e.contains(success)) {
        assert!(
            e.contains(&format!(r#"{success},result=~"ok|error"}}"#)),
            "{e}"
        );
    }
    for e in exprs.iter().filter(|e| e.contains("objective_name")) {
        assert!(e.contains(r#"job=~"$job""#), "{e}");
    }
    assert!(
        slo["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "job")
    );
    assert!(exprs.iter().any(|e| e.contains("/ (1 - 0.999)")));
    assert!(exprs.iter().any(|e| e.contains("/ (1 - 0.99)")));
    assert!(exprs.iter().any(|e| e.contains("[$__range]")));
    assert!(exprs.contains(&"vector(0.999)".to_owned()));
    let burn = panels(slo)
        .into_iter()
        .find(|p| p["type"] == "bargauge")
        .unwrap();
    let windows: Vec<&str> = burn["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["legendFormat"].as_str().unwrap())
        .collect();
    assert_eq!(windows, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
    assert!(
        burn["targets"][0]["expr"]
            .as_str()
            .unwrap()
            .contains("[5m]")
    );
    // A latency-only objective has no success panels.
    let search = r#"objective_name="search""#;
    assert!(
        !exprs
            .iter()
            .any(|e| e.contains(search) && e.contains(CALLS))
    );
    assert!(
        exprs
            .iter()
            .any(|e| e.contains(search) && e.contains(r#"le=~"0\\.1""#))
    );
}

#[test]
fn a_threshold_between_bounds_is_refused() {
    let config = config("name: shop\n");
    let mut catalog = catalog();
    catalog.functions[0].objective = Some(objective("slow", None, Some((0.3, 99.0))));
    let err = dashboards(&Service::new(&config, &catalog)).unwrap_err();
    assert!(matches!(err, GenerateError::Objective(_)), "{err}");
}
