use rustform::metrics::{CounterVec, Registry};
use rustform::{AppMetrics, LabelSet};

#[derive(LabelSet)]
struct Region {
    region: &'static str,
}

#[derive(AppMetrics)]
struct ShopMetrics {
    /// Orders by region
    #[metric(cardinality_limit = 0)]
    orders: CounterVec<Region>,
}

fn main() {
    let metrics = ShopMetrics::register(&Registry::new()).unwrap();
    metrics.orders.with(&Region { region: "eu" }).inc();
}
