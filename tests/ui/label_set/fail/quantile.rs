use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request {
    route: &'static str,
    quantile: &'static str,
}

fn main() {
    let requests = CounterVec::<Request>::new();
    requests
        .with(&Request {
            route: "/",
            quantile: "0.5",
        })
        .inc();
}
