use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request {
    route: &'static str,
    le: &'static str,
}

fn main() {
    let requests = CounterVec::<Request>::new();
    requests
        .with(&Request {
            route: "/",
            le: "1",
        })
        .inc();
}
