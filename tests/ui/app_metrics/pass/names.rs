//! Names and help: `#[metrics(prefix)]`, `#[metric(name)]`, `_total` on a counter and a
//! unit already at the end of the name are not doubled, `unit` is appended otherwise,
//! `help` wins over the doc comment, and a doc comment's lines are joined with spaces.

#![deny(warnings)]

use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Histogram, MetricDescription, MetricType, Registry};

#[derive(AppMetrics)]
#[metrics(prefix = "shop")]
struct ShopMetrics {
    /// Orders placed
    orders_total: Counter,
    /// Payments that failed
    #[metric(name = "payment_failures_total")]
    failed_payments: Counter,
    /// Refunds granted
    #[metric(name = "refunds")]
    refunds_granted: Counter,
    /// Bytes sent
    #[metric(unit = "bytes")]
    sent: Counter,
    /// Bytes received
    #[metric(unit = "bytes")]
    received_bytes_total: Counter,
    /// Time to serve a request
    #[metric(unit = "seconds", buckets = [0.1])]
    request_duration_seconds: Histogram,
    /// Order values
    #[metric(unit = "dollars", buckets = [10.0])]
    order_values: Histogram,
    /// Not the help text: `help` wins.
    #[metric(help = "Items in carts")]
    cart_items: Gauge,
    /// Orders waiting to be shipped,
    /// oldest first.
    ///
    ///    Counted at checkout.
    backlog: Gauge,
    #[metric(help = "Open carts")]
    carts: Gauge,
}

fn main() {
    let registry = Registry::new();
    let m = ShopMetrics::register(&registry).unwrap();
    m.orders_total.inc();
    m.failed_payments.inc();
    m.refunds_granted.inc();
    m.sent.inc_by(512);
    m.received_bytes_total.inc_by(64);
    m.request_duration_seconds.observe(0.05);
    m.order_values.observe(12.5);
    m.cart_items.set(3);
    m.backlog.set(7);
    m.carts.set(1);

    assert_eq!(
        registry.render(),
        r#"# HELP shop_orders_total Orders placed
# TYPE shop_orders_total counter
shop_orders_total 1
# HELP shop_payment_failures_total Payments that failed
# TYPE shop_payment_failures_total counter
shop_payment_failures_total 1
# HELP shop_refunds_total Refunds granted
# TYPE shop_refunds_total counter
shop_refunds_total 1
# HELP shop_sent_bytes_total Bytes sent
# TYPE shop_sent_bytes_total counter
shop_sent_bytes_total 512
# HELP shop_received_bytes_total Bytes received
# TYPE shop_received_bytes_total counter
shop_received_bytes_total 64
# HELP shop_request_duration_seconds Time to serve a request
# TYPE shop_request_duration_seconds histogram
shop_request_duration_seconds_bucket{le="0.1"} 1
shop_request_duration_seconds_bucket{le="+Inf"} 1
shop_request_duration_seconds_sum 0.05
shop_request_duration_seconds_count 1
# HELP shop_order_values_dollars Order values
# TYPE shop_order_values_dollars histogram
shop_order_values_dollars_bucket{le="10"} 0
shop_order_values_dollars_bucket{le="+Inf"} 1
shop_order_values_dollars_sum 12.5
shop_order_values_dollars_count 1
# HELP shop_cart_items Items in carts
# TYPE shop_cart_items gauge
shop_cart_items 3
# HELP shop_backlog Orders waiting to be shipped, oldest first. Counted at checkout.
# TYPE shop_backlog gauge
shop_backlog 7
# HELP shop_carts Open carts
# TYPE shop_carts gauge
shop_carts 1
"#
    );

    let openmetrics = registry.render_openmetrics();
    for unit in [
        "# UNIT shop_sent_bytes bytes\n",
        "# UNIT shop_received_bytes bytes\n",
        "# UNIT shop_request_duration_seconds seconds\n",
        "# UNIT shop_order_values_dollars dollars\n",
    ] {
        assert!(openmetrics.contains(unit), "{unit:?} in:\n{openmetrics}");
    }

    let d = ShopMetrics::describe();
    assert_eq!(
        d[3],
        MetricDescription {
            name: "shop_sent_bytes",
            help: "Bytes sent",
            metric_type: MetricType::Counter,
            unit: Some("bytes"),
            labels: &[],
            buckets: None,
        }
    );
    assert_eq!(d[3].sample_name(), "shop_sent_bytes_total");
    assert_eq!(d[5].name, "shop_request_duration_seconds");
    assert_eq!(d[5].unit, Some("seconds"));
    assert_eq!(d[7].help, "Items in carts");
    assert_eq!(
        d[8].help,
        "Orders waiting to be shipped, oldest first. Counted at checkout."
    );
    assert_eq!(d[9].unit, None);
}
