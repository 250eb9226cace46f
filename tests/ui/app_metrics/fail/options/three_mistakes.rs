use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Histogram, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    orders: Counter,
    /// Number of currently active users
    #[metric(buckets = [1.0, 10.0])]
    active_users: Gauge,
    /// Order values
    #[metric(unit = "Dollars!")]
    order_values: Histogram,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.orders.inc();
    metrics.active_users.set(1);
    metrics.order_values.observe(12.0);
}
