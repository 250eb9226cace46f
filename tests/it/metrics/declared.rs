//! Metrics declared in `rustform.yml`: the reference file's `custom_metrics`, used by name
//! and through `app_metrics!`, exposed exactly and accepted by the real `promtool`; every
//! lookup mistake with its message; re-declaration rules; the cardinality bound.

use rustform::Error;
use rustform::config::Config;
use rustform::metrics::{DEFAULT_CARDINALITY_LIMIT, DeclaredMetrics, MetricValue, Registry};

/// The user's reference `rustform.yml`, as a fixture.
const REFERENCE: &str = include_str!("../../config/rustform.full.yml");

rustform::app_metrics!(
    /// The reference file's metrics.
    struct ShopMetrics = "tests/config/rustform.full.yml"
);

fn reference() -> Config {
    Config::parse(REFERENCE, "rustform.yml", &|_| None).expect("the reference file parses")
}

/// A fresh registry and a table holding the reference declarations.
fn declared() -> (Registry, DeclaredMetrics) {
    let registry = Registry::new();
    let table = DeclaredMetrics::new(&registry);
    table.declare(&reference().custom_metrics).unwrap();
    (registry, table)
}

/// One series of each declared metric, written by name.
fn exercise(table: &DeclaredMetrics) -> Result<(), Error> {
    table
        .counter("user_registrations_total")?
        .with(&["email", "free"])?
        .inc();
    let orders = table.counter("orders")?;
    orders.with(&["completed", "card"])?.inc_by(3);
    orders.with(&["failed", "paypal"])?.inc();
    table.gauge("active_users")?.with(&["web"])?.set(42);
    table
        .gauge("inventory_items")?
        .with(&["books", "lyon \"north\""])?
        .set(7);
    let requests = table.histogram("request_duration_seconds")?;
    requests.with(&["GET", "/orders", "200"])?.observe(0.3);
    requests.with(&["GET", "/orders", "200"])?.observe(4.0);
    table
        .histogram("database_query_duration_seconds")?
        .with(&["select", "orders"])?
        .observe(0.004);
    Ok(())
}

const EXPOSITION: &str = r#"# HELP user_registrations_total Total number of user registrations
# TYPE user_registrations_total counter
user_registrations_total{registration_method="email",user_type="free"} 1
# HELP orders_total Total number of orders processed
# TYPE orders_total counter
orders_total{status="completed",payment_method="card"} 3
orders_total{status="failed",payment_method="paypal"} 1
# HELP active_users Number of currently active users
# TYPE active_users gauge
active_users{session_type="web"} 42
# HELP inventory_items Current inventory levels
# TYPE inventory_items gauge
inventory_items{product_category="books",warehouse="lyon \"north\""} 7
# HELP request_duration_seconds HTTP request duration in seconds
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="0.1"} 0
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="0.5"} 1
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="1"} 1
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="2"} 1
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="5"} 2
request_duration_seconds_bucket{method="GET",endpoint="/orders",status="200",le="+Inf"} 2
request_duration_seconds_sum{method="GET",endpoint="/orders",status="200"} 4.3
request_duration_seconds_count{method="GET",endpoint="/orders",status="200"} 2
# HELP database_query_duration_seconds Database query execution time
# TYPE database_query_duration_seconds histogram
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.001"} 0
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.005"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.01"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.05"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.1"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="0.5"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="1"} 1
database_query_duration_seconds_bucket{query_type="select",table="orders",le="+Inf"} 1
database_query_duration_seconds_sum{query_type="select",table="orders"} 0.004
database_query_duration_seconds_count{query_type="select",table="orders"} 1
"#;

#[test]
fn the_reference_declarations_expose_exactly_and_pass_promtool() {
    let (registry, table) = declared();
    // Labeled metrics show once they have a series.
    assert_eq!(registry.render(), "");
    exercise(&table).unwrap();
    let text = registry.render();
    assert_eq!(text, EXPOSITION);
    testkit::assert_promtool_accepts(&text);
    // The OpenMetrics form follows the specification's rules too.
    let families = testkit::openmetrics::parse(&registry.render_openmetrics()).unwrap();
    let names: Vec<_> = families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "user_registrations",
            "orders",
            "active_users",
            "inventory_items",
            "request_duration_seconds",
            "database_query_duration_seconds",
        ]
    );
}

#[test]
fn a_wrong_name_or_kind_lists_the_declared_names_of_that_kind() {
    let (_, table) = declared();
    let err = table.counter("order_total").unwrap_err();
    assert_eq!(
        err,
        Error::UnknownMetric {
            name: "order_total".into(),
            kind: "counter",
            declared: vec!["user_registrations_total".into(), "orders_total".into()],
        }
    );
    assert_eq!(
        err.to_string(),
        "no counter named \"order_total\" is declared; the declared counters are \
         \"user_registrations_total\", \"orders_total\""
    );
    assert_eq!(
        table.counter("active_users").unwrap_err().to_string(),
        "no counter named \"active_users\" is declared; the declared counters are \
         \"user_registrations_total\", \"orders_total\""
    );
    assert_eq!(
        table.gauge("orders_total").unwrap_err().to_string(),
        "no gauge named \"orders_total\" is declared; the declared gauges are \
         \"active_users\", \"inventory_items\""
    );
    assert_eq!(
        table.histogram("active_users").unwrap_err().to_string(),
        "no histogram named \"active_users\" is declared; the declared histograms are \
         \"request_duration_seconds\", \"database_query_duration_seconds\""
    );
    let empty = DeclaredMetrics::new(&Registry::new());
    assert_eq!(
        empty.gauge("active_users").unwrap_err().to_string(),
        "no gauge named \"active_users\" is declared; declare it under custom_metrics in \
         rustform.yml"
    );
}

#[test]
fn a_wrong_number_of_label_values_is_an_error() {
    let (registry, table) = declared();
    let orders = table.counter("orders_total").unwrap();
    for values in [
        &[][..],
        &["completed"][..],
        &["completed", "card", "extra"][..],
    ] {
        assert_eq!(
            orders.with(values).unwrap_err(),
            Error::LabelCount {
                name: "orders_total".into(),
                expected: vec!["status".into(), "payment_method".into()],
                found: values.len(),
            }
        );
    }
    assert_eq!(
        table
            .histogram("request_duration_seconds")
            .unwrap()
            .with(&["GET"])
            .unwrap_err()
            .to_string(),
        "metric \"request_duration_seconds\" has 3 label(s) (method, endpoint, status) but 1 \
         value(s) were given; give one value per label, in that order"
    );
    assert!(
        table
            .counter("orders_total")
            .unwrap()
            .labeled::<3>()
            .is_err()
    );
    // Nothing was created by the mistakes.
    assert_eq!(registry.render(), "");
}

#[test]
fn declaring_the_same_metrics_again_keeps_their_series() {
    let (registry, table) = declared();
    exercise(&table).unwrap();
    table.declare(&reference().custom_metrics).unwrap();
    ShopMetrics::declare_in(&table).unwrap();
    assert_eq!(registry.render(), EXPOSITION);
}

#[test]
fn a_conflicting_declaration_names_both_and_registers_nothing() {
    let (registry, table) = declared();
    let changed = Config::parse(
        "custom_metrics:\n  counters:\n    - name: refunds_total\n      description: Refunds\n    \
         - name: orders_total\n      description: Total number of orders processed\n      \
         labels: [status]\n",
        "rustform.yml",
        &|_| None,
    )
    .unwrap();
    let err = table.declare(&changed.custom_metrics).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot install custom metrics: custom_metrics.counters[1]: \"orders_total\" is a \
         counter with labels [status], but \"orders_total\" is already declared at \
         custom_metrics.counters[1] as a counter with labels [status, payment_method]; a \
         metric keeps one kind, label list and bucket layout for the life of the process: \
         make the declarations match or rename one"
    );
    assert!(table.counter("refunds_total").is_err());
    assert!(!registry.render_openmetrics().contains("refunds"));

    let rebucketed = Config::parse(
        "custom_metrics:\n  histograms:\n    - name: request_duration_seconds\n      \
         description: HTTP request duration in seconds\n      labels: [method, endpoint, status]\n",
        "rustform.yml",
        &|_| None,
    )
    .unwrap();
    let err = table.declare(&rebucketed.custom_metrics).unwrap_err();
    assert!(
        err.to_string().contains(
            "\"request_duration_seconds\" is a histogram with labels [method, endpoint, status] \
             and buckets [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0], but"
        ),
        "{err}"
    );
}

#[test]
fn series_beyond_the_cardinality_limit_share_one_overflow_series() {
    let (registry, table) = declared();
    let orders = table.counter("orders_total").unwrap();
    for i in 0..DEFAULT_CARDINALITY_LIMIT + 500 {
        orders
            .with(&[&format!("status-{i}"), "card"])
            .unwrap()
            .inc();
    }
    let snapshot = registry.snapshot();
    let family = snapshot.family("orders_total").unwrap();
    assert_eq!(family.series.len(), DEFAULT_CARDINALITY_LIMIT + 1);
    assert_eq!(
        snapshot.get("orders_total", &[("otel_metric_overflow", "true")]),
        Some(&MetricValue::Counter(500))
    );
    // A known series keeps counting in place.
    orders.with(&["status-0", "card"]).unwrap().inc();
    assert_eq!(
        registry.snapshot().get(
            "orders_total",
            &[("status", "status-0"), ("payment_method", "card")]
        ),
        Some(&MetricValue::Counter(2))
    );
    testkit::assert_promtool_accepts(&registry.render());
}

#[test]
fn typed_and_by_name_handles_write_the_same_series() {
    let (registry, table) = declared();
    let typed = ShopMetrics::declare_in(&table).unwrap();
    typed.orders_total.with(["completed", "card"]).inc_by(3);
    typed.orders_total.with(["failed", "paypal"]).inc();
    typed.user_registrations_total.with(["email", "free"]).inc();
    typed.active_users.with(["web"]).set(40);
    table
        .gauge("active_users")
        .unwrap()
        .with(&["web"])
        .unwrap()
        .add(2);
    typed
        .inventory_items
        .with(["books", "lyon \"north\""])
        .set(7);
    typed
        .request_duration_seconds
        .with(["GET", "/orders", "200"])
        .observe(0.3);
    table
        .histogram("request_duration_seconds")
        .unwrap()
        .with(&["GET", "/orders", "200"])
        .unwrap()
        .observe(4.0);
    typed
        .database_query_duration_seconds
        .with(["select", "orders"])
        .observe(0.004);
    assert_eq!(registry.render(), EXPOSITION);
    assert_eq!(typed.active_users.with(["web"]).get(), 42);
}

/// The only test of this binary that touches the process-wide table and the default
/// registry.
#[test]
fn global_and_custom_share_one_registration_in_the_default_registry() {
    let by_name = rustform::metrics::custom();
    // Declared by neither yet.
    assert!(by_name.counter("orders_total").is_err());
    let metrics = ShopMetrics::global();
    assert!(std::ptr::eq(metrics, ShopMetrics::global()));
    metrics.orders_total.with(["completed", "card"]).inc();
    by_name
        .counter("orders_total")
        .unwrap()
        .with(&["completed", "card"])
        .unwrap()
        .inc();
    let series: &'static rustform::metrics::Counter = by_name
        .counter("orders")
        .unwrap()
        .with(&["completed", "card"])
        .unwrap();
    assert_eq!(series.get(), 2);
    // Declaring the file's section again, as `rustform::init()` does, changes nothing.
    by_name.declare(&reference().custom_metrics).unwrap();
    let text = rustform::metrics::default_registry().render();
    assert_eq!(
        text.matches("# TYPE orders_total counter\n").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("orders_total{status=\"completed\",payment_method=\"card\"} 2\n"),
        "{text}"
    );
}

#[test]
fn describe_and_the_catalog_list_the_file_metrics() {
    let described = ShopMetrics::describe();
    let names: Vec<_> = described.iter().map(|d| d.name).collect();
    assert_eq!(
        names,
        [
            "user_registrations",
            "orders",
            "active_users",
            "inventory_items",
            "request_duration_seconds",
            "database_query_duration_seconds",
        ]
    );
    assert_eq!(described[1].labels, ["status", "payment_method"]);
    assert_eq!(described[1].sample_name(), "orders_total");
    assert_eq!(described[4].buckets, Some(&[0.1, 0.5, 1.0, 2.0, 5.0][..]));
    assert_eq!(described[2].help, "Number of currently active users");
    let catalog = rustform::catalog();
    let group = catalog
        .metric_groups
        .iter()
        .find(|g| g.name == "ShopMetrics" && g.module == module_path!())
        .expect("listed in the catalog");
    assert_eq!(group.metrics, described);
}
