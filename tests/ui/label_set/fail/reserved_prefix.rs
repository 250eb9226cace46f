use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request {
    route: &'static str,
    #[label(rename = "__x")]
    extra: &'static str,
}

fn main() {
    let requests = CounterVec::<Request>::new();
    requests
        .with(&Request {
            route: "/",
            extra: "y",
        })
        .inc();
}
