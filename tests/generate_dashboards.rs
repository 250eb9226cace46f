//! The generated Grafana dashboards against a real Prometheus server.
//!
//! The test process is an instrumented service: `#[observed]` functions (one under an
//! objective, one a method named after its type on its first call), an `AppMetrics`
//! struct, metrics declared in `rustform.yml`, and an axum app behind
//! `rustform::http::ObserveLayer` taking requests all along. Prometheus scrapes the
//! default registry every second. The dashboards are generated from `rustform::catalog()`
//! (taken before the first call, as a build would) and the configuration; then every
//! PromQL expression in them, the templating queries included, runs on Prometheus with
//! Grafana's variables replaced by real values: each must be accepted, and the core
//! panels must show the live traffic.
//!
//! A test binary of its own: the process installs rustform (once per process) and its
//! catalog is the service the dashboards describe.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{get, post};
use rustform::catalog::Catalog;
use rustform::config::Config;
use rustform::http::ObserveLayer;
use rustform::metrics::{Counter, CounterVec, Gauge, Histogram, default_registry};
use rustform::{AppMetrics, LabelSet, LabelValue, Objective, observed};
use rustform_generate::{Service, dashboards};
use serde_json::Value;
use testkit::metrics_server::MetricsServer;
use testkit::prometheus_server::{Job, PrometheusServer};

const SERVICE: &str = "dashboards-test";
const JOB: &str = "dashboards-test";

/// 99.9 % of calls succeed; 99 % finish within 250 ms.
const ORDERS_SLO: Objective = Objective::new("orders")
    .success_rate(99.9)
    .latency(Duration::from_millis(250), 99.0);

const CONFIG: &str = "name: dashboards-test
observability:
  logging:
    level: warn
  opentelemetry:
    service_name: dashboards-test
  prometheus:
    metrics:
      business:
        enabled: true
        custom_counters: [dash_signups_total]
custom_metrics:
  counters:
    - name: dash_refunds_total
      description: Refunds issued
      labels: [reason]
  gauges:
    - name: dash_queue_depth
      description: Jobs waiting
  histograms:
    - name: dash_payment_seconds
      description: Time to take a payment
      unit: seconds
";

/// Every fifth order fails.
#[observed(objective = ORDERS_SLO)]
fn get_order(id: u32) -> Result<u32, std::io::Error> {
    if id.is_multiple_of(5) {
        Err(std::io::Error::other("no such order"))
    } else {
        Ok(id)
    }
}

#[observed(track_concurrency)]
async fn load_inventory() -> usize {
    tokio::time::sleep(Duration::from_millis(2)).await;
    42
}

#[observed]
fn price(items: u32) -> u64 {
    u64::from(items) * 250
}

struct Cart;

impl Cart {
    /// Named `Cart::add` from its first call on; the catalog taken before lists `add`.
    #[observed]
    fn add(&self, items: u32) -> u32 {
        items + 1
    }
}

#[derive(Clone, Copy, LabelValue)]
enum Channel {
    Web,
    Mobile,
}

#[derive(Clone, LabelSet)]
struct OrderLabels {
    channel: Channel,
}

#[derive(AppMetrics)]
#[metrics(prefix = "dash")]
struct DashMetrics {
    /// Orders placed
    orders: CounterVec<OrderLabels>,
    /// Items in carts right now
    cart_items: Gauge,
    /// Order value
    #[metric(buckets = [10.0, 50.0, 100.0, 500.0], unit = "dollars")]
    order_value: Histogram,
    /// Orders cancelled
    cancellations: Counter,
}

async fn order(Path(id): Path<u32>) -> Result<String, StatusCode> {
    let metrics = DashMetrics::global();
    let channel = if id.is_multiple_of(2) {
        Channel::Web
    } else {
        Channel::Mobile
    };
    metrics.orders.with(&OrderLabels { channel }).inc();
    metrics.order_value.observe(f64::from(id % 600));
    metrics.cart_items.set(i64::from(id % 7));
    Cart.add(id);
    match get_order(id) {
        Ok(id) => Ok(format!("order {id}: {}", price(id % 4))),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

async fn inventory() -> String {
    load_inventory().await.to_string()
}

async fn upload(body: String) -> String {
    body.len().to_string()
}

/// The service, Prometheus scraping it, and the dashboards generated before any call.
struct World {
    prometheus: PrometheusServer,
    catalog: Catalog,
    /// (file path, dashboard).
    dashboards: Vec<(String, Value)>,
    _metrics: MetricsServer,
    _guard: rustform::Guard,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let guard = rustform::Observability::builder()
        .config_yaml(CONFIG)
        .install()
        .expect("rustform installs");
    let config = Config::parse(CONFIG, "rustform.yml", &|_| None).expect("a valid configuration");
    // Before the first call, as `rustform generate` sees a program.
    let catalog = rustform::catalog();
    let files = dashboards(&Service::new(&config, &catalog)).expect("dashboards");
    let dashboards = files
        .into_iter()
        .map(|f| {
            let path = f.path.to_string_lossy().into_owned();
            let json = serde_json::from_str(&f.contents)
                .unwrap_or_else(|e| panic!("{path} is not JSON: {e}\n{}", f.contents));
            (path, json)
        })
        .collect();

    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/inventory", get(inventory))
        .route("/upload", post(upload))
        .layer(ObserveLayer::from_config(&config));
    let base = format!("http://{}", testkit::serve_axum(app, 2));
    std::thread::spawn(move || traffic(&base));

    let metrics = MetricsServer::start(default_registry().clone());
    let prometheus = PrometheusServer::start(
        &[Job {
            name: JOB,
            target: metrics.target(),
            extra: "",
        }],
        &[],
    );
    prometheus.wait_until_up(JOB);
    // Enough scrapes for a rate over a one-minute window, with traffic between them.
    prometheus.wait(
        "four scrapes of the service with traffic",
        Duration::from_secs(60),
        || {
            prometheus
                .try_query(&format!(
                    "count_over_time(http_server_request_duration_seconds_count{{job=\"{JOB}\",http_route=\"/orders/{{id}}\"}}[1m]) >= 4"
                ))
                .is_ok_and(|r| !r.is_empty())
        },
    );
    World {
        prometheus,
        catalog,
        dashboards,
        _metrics: metrics,
        _guard: guard,
    }
});

/// Requests for as long as the test process runs: orders (one in five fails), the
/// inventory, uploads with a body; and the declared metrics.
fn traffic(base: &str) {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let declared = rustform::metrics::custom();
    for id in 1u32.. {
        let _ = client.get(format!("{base}/orders/{id}")).send();
        let _ = client.get(format!("{base}/inventory")).send();
        let _ = client
            .post(format!("{base}/upload"))
            .body("x".repeat(id as usize % 2048))
            .send();
        if id.is_multiple_of(10) {
            DashMetrics::global().cancellations.inc();
        }
        if let Ok(refunds) = declared.counter("dash_refunds_total")
            && let Ok(late) = refunds.with(&["late"])
        {
            late.inc();
        }
        if let Ok(depth) = declared.gauge("dash_queue_depth")
            && let Ok(depth) = depth.with(&[])
        {
            depth.set(i64::from(id % 13));
        }
        if let Ok(payment) = declared.histogram("dash_payment_seconds")
            && let Ok(payment) = payment.with(&[])
        {
            payment.observe(f64::from(id % 100) / 1000.0);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
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

fn dashboard<'a>(world: &'a World, kind: &str) -> &'a Value {
    world
        .dashboards
        .iter()
        .find(|(path, _)| path.ends_with(&format!("-{kind}.json")))
        .map(|(_, d)| d)
        .unwrap_or_else(|| panic!("no {kind} dashboard"))
}

/// Grafana's variables in `text` replaced by `values` and its built-ins by windows that
/// fit a minute of data.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = text
        .replace("$__rate_interval", "1m")
        .replace("$__range", "1h")
        .replace("$__interval", "15s");
    // Longest names first, so `$job` never eats the start of a longer name.
    let mut names: Vec<&String> = values.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for name in names {
        out = out
            .replace(&format!("${{{name}}}"), &values[name])
            .replace(&format!("${name}"), &values[name]);
    }
    out
}

/// `label_values(selector, label)` as the PromQL whose result holds the values.
fn label_values_query(query: &str) -> (String, String) {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not a label_values query: {query}"));
    let (selector, label) = inner
        .rsplit_once(',')
        .unwrap_or_else(|| panic!("label_values without a selector: {query}"));
    let label = label.trim().to_owned();
    (format!("count by ({label}) ({})", selector.trim()), label)
}

/// Resolves a dashboard's variables in order, as Grafana does: each query runs on
/// Prometheus with the values chosen before it. Returns the values and the queries run.
fn resolve_variables(world: &World, dashboard: &Value) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for variable in dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list")
    {
        let name = variable["name"]
            .as_str()
            .expect("a variable's name")
            .to_owned();
        match variable["type"].as_str() {
            Some("datasource") => {
                assert_eq!(variable["query"], "prometheus");
                values.insert(name, "prometheus".to_owned());
            }
            Some("query") => {
                let query = variable["query"]["query"]
                    .as_str()
                    .or(variable["query"].as_str())
                    .expect("a query variable's query");
                let (promql, label) = label_values_query(&substitute(query, &values));
                let result = world
                    .prometheus
                    .try_query(&promql)
                    .unwrap_or_else(|e| panic!("variable {name}: {promql}: {e}"));
                let found: Vec<String> = result
                    .iter()
                    .filter_map(|s| s["metric"][&label].as_str().map(str::to_owned))
                    .collect();
                assert!(!found.is_empty(), "variable {name}: {promql} found nothing");
                let value = match name.as_str() {
                    "service" => {
                        assert!(found.contains(&world.catalog.service), "{found:?}");
                        world.catalog.service.clone()
                    }
                    _ => match variable["allValue"].as_str() {
                        Some(all) => all.to_owned(),
                        // Grafana's "All" without a custom value: every value, as a regex.
                        None => format!("({})", found.join("|")),
                    },
                };
                values.insert(name, value);
            }
            other => panic!("variable {name} of unexpected type {other:?}"),
        }
    }
    values
}

/// Every target of a dashboard: (panel title, refId, expression with the variables
/// replaced).
fn queries(world: &World, dashboard: &Value) -> Vec<(String, String, String)> {
    let values = resolve_variables(world, dashboard);
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = substitute(target["expr"].as_str().expect("expr"), &values);
            assert!(!expr.contains('$'), "a variable left in {expr}");
            out.push((
                panel["title"].as_str().unwrap_or_default().to_owned(),
                target["refId"].as_str().unwrap_or_default().to_owned(),
                expr,
            ));
        }
    }
    out
}

/// The result of a panel's target, which must be accepted and not empty.
fn live(world: &World, kind: &str, title: &str, ref_id: &str) -> Vec<Value> {
    let d = dashboard(world, kind);
    let (_, _, expr) = queries(world, d)
        .into_iter()
        .find(|(t, r, _)| t == title && r == ref_id)
        .unwrap_or_else(|| panic!("no panel {title:?} ({ref_id}) on the {kind} dashboard"));
    let result = world
        .prometheus
        .try_query(&expr)
        .unwrap_or_else(|e| panic!("{kind} / {title}: {expr}: {e}"));
    assert!(
        !result.is_empty(),
        "{kind} / {title} ({ref_id}) shows nothing against the live data: {expr}"
    );
    result
}

fn value(sample: &Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no value in {sample}"))
}

#[test]
fn the_dashboards_carry_what_grafana_requires() {
    let world = &*WORLD;
    assert_eq!(world.catalog.service, SERVICE);
    let paths: Vec<&str> = world.dashboards.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "dashboards/dashboards-test-overview.json",
            "dashboards/dashboards-test-app-metrics.json",
            "dashboards/dashboards-test-http.json",
            "dashboards/dashboards-test-slo.json",
        ]
    );
    let datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    let mut uids = Vec::new();
    for (path, d) in &world.dashboards {
        assert!(d["title"].is_string(), "{path}: title");
        assert!(d["schemaVersion"].is_u64(), "{path}: schemaVersion");
        let uid = d["uid"].as_str().expect("uid");
        assert!(uid.len() <= 40, "{path}: uid {uid}");
        uids.push(uid.to_owned());
        let variables = d["templating"]["list"].as_array().expect("templating.list");
        assert!(
            variables.iter().any(|v| v["type"] == "datasource"),
            "{path}: no datasource variable"
        );
        assert!(
            !d["panels"].as_array().expect("panels").is_empty(),
            "{path}"
        );
        for p in panels(d) {
            let title = p["title"].as_str().unwrap_or_default();
            assert!(p["type"].is_string(), "{path}: {title}: type");
            assert_eq!(p["datasource"], datasource, "{path}: {title}");
            for key in ["h", "w", "x", "y"] {
                assert!(p["gridPos"][key].is_u64(), "{path}: {title}: gridPos.{key}");
            }
            if p["type"] == "row" {
                continue;
            }
            let targets = p["targets"].as_array().expect("targets");
            assert!(!targets.is_empty(), "{path}: {title}: no targets");
            for t in targets {
                assert!(
                    t["expr"].is_string() && t["refId"].is_string(),
                    "{path}: {t}"
                );
                assert_eq!(t["datasource"], datasource, "{path}: {title}");
            }
        }
    }
    uids.sort();
    uids.dedup();
    assert_eq!(uids.len(), world.dashboards.len());
}

#[test]
fn every_function_and_metric_of_the_catalog_is_on_a_dashboard() {
    let world = &*WORLD;
    let all: Vec<String> = world
        .dashboards
        .iter()
        .flat_map(|(_, d)| panels(d))
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    let names: Vec<&str> = world
        .catalog
        .functions
        .iter()
        .map(|f| f.function.as_str())
        .collect();
    for name in ["get_order", "load_inventory", "price", "add"] {
        assert!(
            names.contains(&name),
            "{name} not in the catalog: {names:?}"
        );
    }
    let add = world.catalog.functions.iter().find(|f| f.function == "add");
    assert!(
        !add.unwrap().resolved,
        "the catalog was taken before Cart::add ran"
    );
    for f in &world.catalog.functions {
        assert!(
            all.iter()
                .any(|e| e.contains(&f.function) && e.contains(&f.module)),
            "{}::{} is on no dashboard",
            f.module,
            f.function
        );
    }
    let group = world
        .catalog
        .metric_groups
        .iter()
        .find(|g| g.name == "DashMetrics")
        .expect("DashMetrics in the catalog");
    let declared = [
        "dash_refunds_total",
        "dash_queue_depth",
        "dash_payment_seconds",
        "dash_signups_total",
    ];
    for name in group
        .metrics
        .iter()
        .map(|m| m.sample_name())
        .chain(declared.map(str::to_owned))
    {
        assert!(
            all.iter().any(|e| e.contains(&name)),
            "{name} is on no dashboard"
        );
    }
}

#[test]
fn prometheus_accepts_every_query() {
    let world = &*WORLD;
    let mut failures = Vec::new();
    let mut count = 0;
    for (path, d) in &world.dashboards {
        for (title, ref_id, expr) in queries(world, d) {
            count += 1;
            if let Err(e) = world.prometheus.try_query(&expr) {
                failures.push(format!("{path}: {title} ({ref_id}): {e}\n    {expr}"));
            }
        }
    }
    assert!(count > 50, "only {count} queries");
    assert!(
        failures.is_empty(),
        "Prometheus refused {} of {count} queries:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_core_panels_show_the_live_traffic() {
    let world = &*WORLD;
    let rate = live(world, "overview", "Request rate by function", "A");
    let functions: Vec<&str> = rate
        .iter()
        .filter_map(|s| s["metric"]["function"].as_str())
        .collect();
    for f in ["get_order", "load_inventory", "price", "Cart::add"] {
        assert!(functions.contains(&f), "{f} not in {functions:?}");
    }
    // The function rows: each of the four functions, its rate, errors and p95.
    let overview = dashboard(world, "overview");
    let rows: Vec<&Value> = overview["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["title"].as_str().unwrap().starts_with("fn "))
        .collect();
    assert_eq!(rows.len(), world.catalog.functions.len());
    let values = resolve_variables(world, overview);
    for row in rows {
        let row_title = row["title"].as_str().unwrap();
        let inner: Vec<&Value> = if row["collapsed"] == true {
            row["panels"].as_array().unwrap().iter().collect()
        } else {
            let all = overview["panels"].as_array().unwrap();
            let at = all.iter().position(|p| p == row).unwrap();
            all[at + 1..]
                .iter()
                .take_while(|p| p["type"] != "row")
                .collect()
        };
        for (title, ref_id) in [
            ("Request rate", "A"),
            ("Error ratio", "A"),
            ("Latency", "B"),
        ] {
            let panel = inner
                .iter()
                .find(|p| p["title"] == title)
                .unwrap_or_else(|| panic!("{row_title}: no {title}"));
            let target = panel["targets"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["refId"] == ref_id)
                .unwrap();
            let expr = substitute(target["expr"].as_str().unwrap(), &values);
            let result = world.prometheus.try_query(&expr).unwrap();
            assert!(
                !result.is_empty(),
                "{row_title} / {title}: nothing for {expr}"
            );
            if row_title.ends_with("::get_order") && title == "Error ratio" {
                let ratio = value(&result[0]);
                assert!(
                    ratio > 0.0 && ratio < 1.0,
                    "get_order fails one call in five: {ratio}"
                );
            }
        }
    }

    let orders = live(world, "app-metrics", "dash_orders (per second)", "A");
    let channels: Vec<&str> = orders
        .iter()
        .filter_map(|s| s["metric"]["channel"].as_str())
        .collect();
    assert!(
        channels.contains(&"web") && channels.contains(&"mobile"),
        "{channels:?}"
    );
    live(world, "app-metrics", "dash_refunds (per second)", "A");

    let routes = live(world, "http", "Request rate by route", "A");
    let routes: Vec<&str> = routes
        .iter()
        .filter(|s| value(s) > 0.0)
        .filter_map(|s| s["metric"]["http_route"].as_str())
        .collect();
    for route in ["/orders/{id}", "/inventory", "/upload"] {
        assert!(routes.contains(&route), "{route} not in {routes:?}");
    }
    let errors = live(world, "http", "Error ratio (5xx)", "A");
    let ratio = value(&errors[0]);
    assert!(
        ratio > 0.0 && ratio < 1.0,
        "one order in five is a 500: {ratio}"
    );

    let success = live(world, "slo", "Success rate (target 99.9%)", "A");
    let sli = value(&success[0]);
    assert!(
        sli > 0.5 && sli < 1.0,
        "get_order succeeds four calls in five: {sli}"
    );
    live(world, "slo", "Calls within 250 ms (target 99%)", "A");
    let burn = live(world, "slo", "Burn rate", "A");
    assert!(
        value(&burn[0]) > 1.0,
        "errors at 20 % burn a 0.1 % budget fast"
    );
}
