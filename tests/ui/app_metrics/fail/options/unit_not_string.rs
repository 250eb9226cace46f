use rustform::AppMetrics;
use rustform::metrics::{Histogram, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Order values
    #[metric(unit = dollars)]
    order_values: Histogram,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.order_values.observe(1.0);
}
