use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Registry};

#[derive(AppMetrics)]
struct ShopMetrics(Counter, Gauge);

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.0.inc();
}
