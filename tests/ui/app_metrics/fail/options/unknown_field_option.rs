use rustform::AppMetrics;
use rustform::metrics::{Histogram, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Order values
    #[metric(bucket = [10.0, 100.0])]
    order_values: Histogram,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.order_values.observe(12.0);
}
