use rustform::AppMetrics;
use rustform::metrics::Registry;

#[derive(AppMetrics)]
union ShopMetrics {
    orders: u64,
    revenue: f64,
}

fn main() {
    let _ = ShopMetrics::register(&Registry::new());
    let _ = ShopMetrics { orders: 1 };
}
