use rustform::AppMetrics;
use rustform::metrics::{Counter, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Orders placed
    orders: Counter,
    /// Orders placed by partners
    #[metric(name = "orders")]
    partner_orders: Counter,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.partner_orders.inc();
}
