use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Requests served
    requests: Counter,
    /// Requests in the queue
    requests_total: Gauge,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.requests_total.set(3);
}
