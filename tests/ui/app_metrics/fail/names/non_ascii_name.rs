use rustform::AppMetrics;
use rustform::metrics::{Gauge, Registry};

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Size of the cart
    größe: Gauge,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.größe.set(1);
}
