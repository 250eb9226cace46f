use rustform::AppMetrics;
use rustform::metrics::Registry;

#[derive(AppMetrics)]
struct ShopMetrics;

fn main() {
    let _ = ShopMetrics::register(&Registry::new());
}
