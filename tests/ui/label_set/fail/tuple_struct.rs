use rustform::LabelSet;
use rustform::metrics::CounterVec;

#[derive(LabelSet)]
struct Request(&'static str, u16);

fn main() {
    let requests = CounterVec::<Request>::new();
    requests.with(&Request("/", 200)).inc();
}
