use rustform::AppMetrics;

#[derive(AppMetrics)]
struct Metrics {
    /// Requests served
    requests: prometheus::IntCounter,
}

fn main() {
    let _ = Metrics::describe();
}
