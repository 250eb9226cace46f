use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Orders placed
    orders: Counter,
    active_users: Gauge,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.active_users.set(1);
}
