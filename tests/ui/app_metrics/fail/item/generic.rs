use rustform::AppMetrics;
use rustform::metrics::{CounterVec, LabelSet, Registry};

#[derive(AppMetrics)]
struct ShopMetrics<L: LabelSet> {
    /// Orders placed
    orders: CounterVec<L>,
}

#[derive(rustform::LabelSet)]
struct Region {
    region: &'static str,
}

fn main() {
    let metrics = ShopMetrics::<Region>::register(&Registry::new()).unwrap();
    metrics.orders.with(&Region { region: "eu" }).inc();
}
