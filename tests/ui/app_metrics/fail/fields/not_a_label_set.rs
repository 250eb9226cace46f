use rustform::AppMetrics;
use rustform::metrics::CounterVec;

struct Plain {
    method: String,
}

#[derive(AppMetrics)]
struct Metrics {
    /// Requests by method
    requests: CounterVec<Plain>,
}

fn main() {
    let _ = Metrics::describe();
    let _ = Plain { method: String::new() }.method;
}
