use rustform::AppMetrics;
use rustform::metrics::{Counter, Registry};

#[derive(AppMetrics)]
enum ShopMetrics {
    Orders(Counter),
}

fn main() {
    let _ = ShopMetrics::register(&Registry::new());
    let _ = ShopMetrics::Orders(Counter::new());
}
