use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request {
    #[label(renam = "route")]
    path: &'static str,
}

fn main() {
    let requests = CounterVec::<Request>::new();
    requests.with(&Request { path: "/" }).inc();
}
