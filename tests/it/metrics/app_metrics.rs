//! `#[derive(AppMetrics)]`, `LabelSet` and `LabelValue`: the user's reference example,
//! its exact exposition, its description and its registration rules.

use rustform::metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, LabelSet, MetricType, Registry,
};
use rustform::{AppMetrics, LabelSet, LabelValue};

#[derive(Clone, Copy, LabelValue)]
enum RegistrationMethod {
    Email,
    Google,
    Github,
}

#[derive(Clone, Copy, LabelValue)]
enum UserType {
    Free,
    Premium,
}

#[derive(Clone, LabelSet)]
struct RegistrationLabels {
    registration_method: RegistrationMethod,
    user_type: UserType,
}

#[derive(Clone, Copy, LabelValue)]
enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    #[label(rename = "cancelled_by_user")]
    Cancelled,
}

#[derive(Clone, Copy, LabelValue)]
enum PaymentMethod {
    Card,
    Paypal,
    BankTransfer,
}

#[derive(Clone, LabelSet)]
struct OrderLabels {
    status: OrderStatus,
    payment_method: PaymentMethod,
}

#[derive(Clone, LabelSet)]
struct InventoryLabels {
    product_category: String,
    warehouse: &'static str,
}

#[derive(Clone, Copy, LabelValue)]
enum QueryType {
    Select,
    Insert,
}

#[derive(Clone, LabelSet)]
struct QueryLabels {
    query_type: QueryType,
    #[label(rename = "table")]
    table_name: &'static str,
}

#[derive(AppMetrics)]
#[metrics(prefix = "shop")]
struct ShopMetrics {
    /// Total number of user registrations
    user_registrations: CounterVec<RegistrationLabels>,
    /// Total number of orders processed
    orders: CounterVec<OrderLabels>,
    /// Number of currently active users
    active_users: Gauge,
    /// Current inventory levels
    inventory_items: GaugeVec<InventoryLabels>,
    /// Order values in dollars
    #[metric(buckets = [10.0, 50.0, 100.0, 500.0, 1000.0], unit = "dollars")]
    order_values: Histogram,
    /// Database query execution time
    #[metric(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])]
    database_query_duration_seconds: HistogramVec<QueryLabels>,
    /// Payments that failed
    #[metric(name = "payment_failures_total")]
    failed_payments: Counter,
}

fn exercise(metrics: &ShopMetrics) {
    metrics
        .user_registrations
        .with(&RegistrationLabels {
            registration_method: RegistrationMethod::Google,
            user_type: UserType::Premium,
        })
        .inc();
    let paid_card = OrderLabels {
        status: OrderStatus::Paid,
        payment_method: PaymentMethod::Card,
    };
    metrics.orders.with(&paid_card).inc();
    metrics.orders.with(&paid_card).inc_by(2);
    metrics
        .orders
        .with(&OrderLabels {
            status: OrderStatus::Cancelled,
            payment_method: PaymentMethod::BankTransfer,
        })
        .inc();
    metrics.active_users.set(42);
    metrics
        .inventory_items
        .with(&InventoryLabels {
            product_category: "books".into(),
            warehouse: "eu-1",
        })
        .set(120);
    metrics.order_values.observe(129.0);
    metrics.order_values.observe(15.5);
    metrics
        .database_query_duration_seconds
        .with(&QueryLabels {
            query_type: QueryType::Select,
            table_name: "orders",
        })
        .observe(0.003);
    metrics.failed_payments.inc();
}

#[test]
fn the_reference_example_renders_exactly_the_golden_file() {
    let registry = Registry::new();
    let metrics = ShopMetrics::register(&registry).unwrap();
    exercise(&metrics);
    let text = registry.render();
    testkit::assert_golden("shop_metrics.prom", &text);
    testkit::assert_promtool_accepts(&text);
}

#[test]
fn fixed_label_sets_exist_at_zero_from_registration() {
    let registry = Registry::new();
    let _metrics = ShopMetrics::register(&registry).unwrap();
    let snapshot = registry.snapshot();
    let orders = snapshot.family("shop_orders").unwrap();
    assert_eq!(orders.series.len(), 4 * 3, "every status × payment method");
    assert!(
        orders
            .series
            .iter()
            .all(|s| s.value == rustform::metrics::MetricValue::Counter(0))
    );
    let registrations = snapshot.family("shop_user_registrations_total").unwrap();
    assert_eq!(registrations.series.len(), 3 * 2);
    // Open-ended label sets have no series until used.
    assert!(
        snapshot
            .family("shop_inventory_items")
            .unwrap()
            .series
            .is_empty()
    );
}

#[test]
fn describe_lists_every_metric() {
    let d = ShopMetrics::describe();
    let names: Vec<&str> = d.iter().map(|m| m.name).collect();
    assert_eq!(
        names,
        [
            "shop_user_registrations",
            "shop_orders",
            "shop_active_users",
            "shop_inventory_items",
            "shop_order_values_dollars",
            "shop_database_query_duration_seconds",
            "shop_payment_failures",
        ]
    );
    assert_eq!(d[1].help, "Total number of orders processed");
    assert_eq!(d[1].metric_type, MetricType::Counter);
    assert_eq!(d[1].labels, ["status", "payment_method"]);
    assert_eq!(d[1].sample_name(), "shop_orders_total");
    assert_eq!(d[4].unit, Some("dollars"));
    assert_eq!(d[4].buckets, Some(&[10.0, 50.0, 100.0, 500.0, 1000.0][..]));
    assert_eq!(d[5].labels, ["query_type", "table"]);
    assert_eq!(d[3].labels, InventoryLabels::NAMES);
    assert_eq!(d[2].buckets, None);
}

#[test]
fn registering_twice_names_both_places() {
    let registry = Registry::new();
    let _first = ShopMetrics::register(&registry).unwrap();
    let line = line!() + 1;
    let err = ShopMetrics::register(&registry)
        .err()
        .expect("second registration fails");
    let text = err.to_string();
    assert!(text.contains("shop_user_registrations_total"), "{text}");
    assert!(text.contains(&format!("{}:{line}", file!())), "{text}");
    assert!(
        text.contains(&format!("{}:{}", file!(), line - 2)),
        "{text}"
    );
}

#[test]
fn a_failed_registration_registers_nothing() {
    let registry = Registry::new();
    registry
        .register("shop_active_users", "Taken first", Gauge::new())
        .unwrap();
    assert!(ShopMetrics::register(&registry).is_err());
    let names: Vec<String> = registry
        .snapshot()
        .families
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(names, ["shop_active_users"]);
}

#[test]
fn global_is_registered_once_in_the_default_registry() {
    let a = ShopMetrics::global();
    let b = ShopMetrics::global();
    assert!(std::ptr::eq(a, b));
    a.active_users.set(7);
    let text = rustform::metrics::default_registry().render();
    assert!(text.contains("shop_active_users 7\n"), "{text}");
}

#[test]
fn the_catalog_lists_the_struct() {
    let catalog = rustform::catalog();
    let group = catalog
        .metric_groups
        .iter()
        .find(|g| g.name == "ShopMetrics" && g.module == module_path!())
        .expect("listed");
    assert_eq!(group.module, module_path!());
    assert_eq!(group.metrics, ShopMetrics::describe());
}
