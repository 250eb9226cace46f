use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request<T> {
    route: T,
}

fn main() {
    let requests = CounterVec::<Request<&'static str>>::new();
    requests.with(&Request { route: "/" }).inc();
}
