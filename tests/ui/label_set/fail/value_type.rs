use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request {
    route: &'static str,
    ratio: f64,
}

fn main() {
    let requests = CounterVec::<Request>::new();
    requests
        .with(&Request {
            route: "/",
            ratio: 0.5,
        })
        .inc();
}
