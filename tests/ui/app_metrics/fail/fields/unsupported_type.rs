use rustform::AppMetrics;
use rustform::metrics::{Counter, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Orders placed
    orders: Counter,
    /// Revenue so far, in cents
    revenue: u64,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.orders.inc();
    let _ = ShopMetrics::describe();
}
