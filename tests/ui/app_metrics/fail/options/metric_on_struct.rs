use rustform::AppMetrics;
use rustform::metrics::{Counter, Registry};

#[derive(AppMetrics)]
#[metric(prefix = "shop")]
struct ShopMetrics {
    /// Orders placed
    orders: Counter,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.orders.inc();
}
