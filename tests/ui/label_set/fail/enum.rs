use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
enum Method {
    Get,
    Post,
}

fn main() {
    let requests = CounterVec::<Method>::new();
    requests.with(&Method::Get).inc();
    let _ = Method::Post;
}
