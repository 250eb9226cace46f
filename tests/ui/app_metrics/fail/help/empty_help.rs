use rustform::AppMetrics;
use rustform::metrics::{Counter, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Orders placed
    #[metric(help = "")]
    orders: Counter,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.orders.inc();
}
