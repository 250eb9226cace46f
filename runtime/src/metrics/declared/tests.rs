use std::panic::Location;

use super::spec::{business_specs, custom_specs};
use super::*;
use crate::Error;
use crate::config::Config;
use crate::metrics::{
    DEFAULT_CARDINALITY_LIMIT, Gauge, MetricDescription, MetricType, MetricValue, Registry,
};

const SHOP: &str = "\
custom_metrics:
  counters:
    - name: orders_total
      description: Total number of orders processed
      labels: [status, payment_method]
    - name: user_registrations_total
      description: Total number of user registrations
      labels: [registration_method, user_type]
  gauges:
    - name: active_users
      description: Number of currently active users
      labels: [session_type]
    - name: queue_depth
      description: Jobs waiting
  histograms:
    - name: request_duration_seconds
      description: HTTP request duration in seconds
      unit: seconds
      labels: [method]
      buckets: [0.1, 0.5, 1.0]
    - name: payload_bytes
      description: Payload sizes
observability:
  prometheus:
    metrics:
      business:
        enabled: true
        custom_counters: [user_registrations, orders_created]
        custom_gauges: [active_users, inventory_levels]
        custom_histograms: [order_values]
";

fn config(text: &str) -> Config {
    Config::parse(text, "rustform.yml", &|_| None).unwrap()
}

fn shop() -> (Registry, DeclaredMetrics, Config) {
    let registry = Registry::new();
    let table = DeclaredMetrics::new(&registry);
    let config = config(SHOP);
    table.declare(&config.custom_metrics).unwrap();
    (registry, table, config)
}

#[test]
fn declared_metrics_are_found_by_name_and_kind() {
    let (registry, table, _) = shop();
    table
        .counter("orders_total")
        .unwrap()
        .with(&["completed", "card"])
        .unwrap()
        .inc();
    table
        .counter("orders")
        .unwrap()
        .with(&["completed", "card"])
        .unwrap()
        .inc();
    table
        .gauge("queue_depth")
        .unwrap()
        .with(&[])
        .unwrap()
        .set(4);
    table
        .histogram("request_duration_seconds")
        .unwrap()
        .with(&["GET"])
        .unwrap()
        .observe(0.2);
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.get(
            "orders_total",
            &[("status", "completed"), ("payment_method", "card")]
        ),
        Some(&MetricValue::Counter(2))
    );
    assert_eq!(
        snapshot.get("queue_depth", &[]),
        Some(&MetricValue::Gauge(4))
    );
    let text = registry.render();
    assert!(text.contains("request_duration_seconds_bucket{method=\"GET\",le=\"0.5\"} 1\n"));
    // A histogram without buckets gets the default ones, and shows at zero.
    assert!(
        text.contains("payload_bytes_bucket{le=\"0.005\"} 0\n"),
        "{text}"
    );
}

#[test]
fn wrong_names_kinds_and_label_counts_are_errors() {
    let (_, table, _) = shop();
    assert_eq!(
        table.gauge("orders_total").unwrap_err(),
        Error::UnknownMetric {
            name: "orders_total".into(),
            kind: "gauge",
            declared: vec!["active_users".into(), "queue_depth".into()],
        }
    );
    assert_eq!(
        table.histogram("active_users").unwrap_err().to_string(),
        "no histogram named \"active_users\" is declared; the declared histograms are \
         \"request_duration_seconds\", \"payload_bytes\""
    );
    assert_eq!(
        table
            .counter("orders_total")
            .unwrap()
            .with(&["a", "b", "c"])
            .unwrap_err(),
        Error::LabelCount {
            name: "orders_total".into(),
            expected: vec!["status".into(), "payment_method".into()],
            found: 3,
        }
    );
    let empty = DeclaredMetrics::new(&Registry::new());
    assert_eq!(
        empty.counter("x").unwrap_err().to_string(),
        "no counter named \"x\" is declared; declare it under custom_metrics in rustform.yml"
    );
}

#[test]
fn the_same_declarations_again_change_nothing() {
    let (registry, table, config) = shop();
    table
        .counter("orders_total")
        .unwrap()
        .with(&["a", "b"])
        .unwrap()
        .inc();
    let before = registry.render();
    table.declare(&config.custom_metrics).unwrap();
    declare_group(&table, SHOP_DECLARATIONS, Location::caller()).unwrap();
    assert_eq!(registry.render(), before);
    assert_eq!(registry.snapshot().families.len(), 6);
}

#[test]
fn a_different_declaration_under_a_taken_name_names_both() {
    let (registry, table, _) = shop();
    let changed = config(
        "custom_metrics:\n  counters:\n    - { name: new_total, description: New }\n  \
         gauges:\n    - { name: orders, description: Orders as a gauge }\n",
    );
    let err = table.declare(&changed.custom_metrics).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot install custom metrics: custom_metrics.gauges[0]: \"orders\" is a gauge \
         without labels, but \"orders_total\" is already declared at \
         custom_metrics.counters[0] as a counter with labels [status, payment_method]; a \
         metric keeps one kind, label list and bucket layout for the life of the process: \
         make the declarations match or rename one"
    );
    // Nothing of the failed declaration was registered.
    assert!(table.counter("new_total").is_err());
    assert!(!registry.render().contains("new_total"));
}

#[test]
fn a_name_taken_in_the_registry_is_an_error_and_registers_nothing() {
    let registry = Registry::new();
    registry
        .register("queue_depth", "Taken", Gauge::new())
        .unwrap();
    let table = DeclaredMetrics::new(&registry);
    let err = table.declare(&config(SHOP).custom_metrics).unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
    assert!(table.counter("orders_total").is_err());
    assert_eq!(registry.snapshot().families.len(), 1);
}

#[test]
fn business_names_refer_to_declared_metrics_or_are_label_less() {
    let registry = Registry::new();
    let table = DeclaredMetrics::new(&registry);
    let config = config(SHOP);
    table
        .declare_specs(
            &registry,
            custom_specs(&config.custom_metrics),
            Location::caller(),
        )
        .unwrap();
    let business = &config.observability.prometheus.metrics.business;
    // `orders_created` would be read as the `_created` sample of `orders_total`, as in
    // the reference file: it alone is refused.
    let refused = "cannot install business metrics: \
         observability.prometheus.metrics.business.custom_counters[1]: \"orders_created\" \
         would expose the sample name \"orders_created\", which the counter \
         \"orders_total\" declared at custom_metrics.counters[0] also uses; rename one of \
         them";
    let err = table
        .declare_each(&registry, business_specs(business), Location::caller())
        .unwrap_err();
    assert_eq!(err.to_string(), refused);
    // Again: nothing new, the same refusal.
    let err = table
        .declare_each(&registry, business_specs(business), Location::caller())
        .unwrap_err();
    assert_eq!(err.to_string(), refused);
    // `user_registrations` is the declared counter, labels and all.
    let registrations = table.counter("user_registrations").unwrap();
    assert_eq!(registrations.name(), "user_registrations_total");
    assert_eq!(registrations.labels().len(), 2);
    // `active_users` is the declared gauge.
    assert_eq!(table.gauge("active_users").unwrap().labels().len(), 1);
    // The others are new and label-less, at zero from the start.
    assert!(table.counter("orders_created").is_err());
    table
        .gauge("inventory_levels")
        .unwrap()
        .with(&[])
        .unwrap()
        .set(7);
    let text = registry.render();
    assert!(text.contains("inventory_levels 7\n"), "{text}");
    assert!(text.contains("order_values_count 0\n"), "{text}");
    assert!(text.contains(
        "# HELP inventory_levels Business gauge inventory_levels (rustform.yml: \
         observability.prometheus.metrics.business.custom_gauges)\n"
    ));
    assert_eq!(registry.snapshot().families.len(), 8);

    // A business name declared with another kind is an error.
    let clash = self::config(
        "observability:\n  prometheus:\n    metrics:\n      business:\n        enabled: true\n        \
         custom_gauges: [orders]\n",
    );
    let err = table
        .declare_each(
            &registry,
            business_specs(&clash.observability.prometheus.metrics.business),
            Location::caller(),
        )
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "observability.prometheus.metrics.business.custom_gauges[0]: \"orders\" is a gauge"
        ),
        "{err}"
    );

    // Disabled: nothing.
    let mut off = business.clone();
    off.enabled = false;
    assert!(business_specs(&off).is_empty());
}

#[test]
fn a_typed_handle_and_a_lookup_share_series() {
    let (_, table, _) = shop();
    let group = declare_group(&table, SHOP_DECLARATIONS, Location::caller()).unwrap();
    let orders: LabeledCounter<2> = group.labeled(0);
    orders.with(["completed", "card"]).inc();
    let queue: Gauge = group.unlabeled(1);
    queue.set(9);
    assert_eq!(
        table
            .counter("orders_total")
            .unwrap()
            .with(&["completed", "card"])
            .unwrap()
            .get(),
        1
    );
    assert_eq!(
        table.gauge("queue_depth").unwrap().with(&[]).unwrap().get(),
        9
    );
    let by_name: LabeledCounter<2> = table.counter("orders").unwrap().labeled().unwrap();
    assert_eq!(by_name.with(["completed", "card"]).get(), 1);
    assert_eq!(by_name.labels(), ["status", "payment_method"]);
}

#[test]
fn series_past_the_limit_share_the_overflow_series() {
    let (registry, table, _) = shop();
    let active = table.gauge("active_users").unwrap();
    for i in 0..DEFAULT_CARDINALITY_LIMIT + 10 {
        active.with(&[&i.to_string()]).unwrap().inc();
    }
    let family = registry.snapshot();
    let family = family.family("active_users").unwrap();
    assert_eq!(family.series.len(), DEFAULT_CARDINALITY_LIMIT + 1);
    assert_eq!(
        family.series.last().unwrap().labels,
        [("otel_metric_overflow".to_owned(), "true".to_owned())]
    );
    assert_eq!(family.series.last().unwrap().value, MetricValue::Gauge(10));
}

#[test]
fn invalid_declarations_are_rejected_before_anything_is_registered() {
    let registry = Registry::new();
    let table = DeclaredMetrics::new(&registry);
    let mut config = config(SHOP);
    config.custom_metrics.gauges[0].labels.push("le".into());
    assert!(matches!(
        table.declare(&config.custom_metrics),
        Err(Error::InvalidLabelName { .. })
    ));
    let mut config = self::config(SHOP);
    config.custom_metrics.histograms[0].buckets = Some(vec![1.0, 0.5]);
    assert!(matches!(
        table.declare(&config.custom_metrics),
        Err(Error::InvalidBuckets { .. })
    ));
    let mut config = self::config(SHOP);
    config.custom_metrics.gauges[1].name = "queue_total".into();
    assert!(matches!(
        table.declare(&config.custom_metrics),
        Err(Error::InvalidMetricName { .. })
    ));
    assert!(registry.snapshot().families.is_empty());
}

#[test]
fn entries_fill_doubling_chunks() {
    let table = DeclaredMetrics::new(&Registry::new());
    let mut text = String::from("custom_metrics:\n  counters:\n");
    for i in 0..40 {
        text.push_str(&format!(
            "    - {{ name: c{i}_total, description: C{i} }}\n"
        ));
    }
    table.declare(&config(&text).custom_metrics).unwrap();
    for i in 0..40 {
        assert_eq!(
            table.counter(&format!("c{i}")).unwrap().name(),
            format!("c{i}_total")
        );
    }
    assert_eq!(table.names(MetricType::Counter).len(), 40);
}

static SHOP_DECLARATIONS: &[Declaration] = &[
    Declaration {
        name: "orders_total",
        path: "custom_metrics.counters[0]",
        metric: MetricDescription {
            name: "orders",
            help: "Total number of orders processed",
            metric_type: MetricType::Counter,
            unit: None,
            labels: &["status", "payment_method"],
            buckets: None,
        },
    },
    Declaration {
        name: "queue_depth",
        path: "custom_metrics.gauges[1]",
        metric: MetricDescription {
            name: "queue_depth",
            help: "Jobs waiting",
            metric_type: MetricType::Gauge,
            unit: None,
            labels: &[],
            buckets: None,
        },
    },
];
