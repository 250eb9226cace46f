//! `#[derive(AppMetrics)]` with every field type, written by name and by full path, and
//! no prefix: `register` exposes each field, in order, under its own name.

#![deny(warnings)]

use rustform::metrics::{
    Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, MetricType, Registry,
};
use rustform::{AppMetrics, LabelSet, LabelValue};

#[derive(Clone, Copy, LabelValue)]
enum Method {
    Get,
    Post,
}

#[derive(LabelSet)]
struct Request {
    method: Method,
}

#[derive(LabelSet)]
struct Route {
    route: &'static str,
}

#[derive(AppMetrics)]
struct ServiceMetrics {
    /// Jobs started
    jobs: Counter,
    /// Jobs waiting
    queued: Gauge,
    /// Job sizes
    #[metric(buckets = [1.0, 10.0])]
    sizes: Histogram,
    /// Requests by method
    requests: CounterVec<Request>,
    /// Connections by route
    connections: GaugeVec<Route>,
    /// Latency by method
    #[metric(buckets = [0.5])]
    latency: HistogramVec<Request>,
    /// Restarts
    restarts: rustform::metrics::Counter,
    /// Busy workers
    busy: ::rustform::metrics::Gauge,
    /// Payload sizes
    #[metric(buckets = [100.0])]
    payloads: rustform::metrics::Histogram,
    /// Retries by method
    retries: rustform::metrics::CounterVec<Request>,
    /// Sessions by route
    sessions: rustform::metrics::GaugeVec<Route>,
    /// Waits by method
    #[metric(buckets = [1.0])]
    waits: rustform::metrics::HistogramVec<Request>,
}

fn main() {
    let registry = Registry::new();
    let m = ServiceMetrics::register(&registry).unwrap();
    m.jobs.inc_by(2);
    m.queued.set(-3);
    m.sizes.observe(5.0);
    m.requests
        .with(&Request {
            method: Method::Post,
        })
        .inc();
    m.connections.with(&Route { route: "/cart" }).set(4);
    m.latency
        .with(&Request {
            method: Method::Get,
        })
        .observe(0.25);
    m.restarts.inc();
    m.busy.set(2);
    m.payloads.observe(50.0);
    m.retries
        .with(&Request {
            method: Method::Get,
        })
        .inc();
    m.sessions.with(&Route { route: "/" }).set(1);
    m.waits
        .with(&Request {
            method: Method::Post,
        })
        .observe(2.0);

    assert_eq!(
        registry.render(),
        r#"# HELP jobs_total Jobs started
# TYPE jobs_total counter
jobs_total 2
# HELP queued Jobs waiting
# TYPE queued gauge
queued -3
# HELP sizes Job sizes
# TYPE sizes histogram
sizes_bucket{le="1"} 0
sizes_bucket{le="10"} 1
sizes_bucket{le="+Inf"} 1
sizes_sum 5
sizes_count 1
# HELP requests_total Requests by method
# TYPE requests_total counter
requests_total{method="get"} 0
requests_total{method="post"} 1
# HELP connections Connections by route
# TYPE connections gauge
connections{route="/cart"} 4
# HELP latency Latency by method
# TYPE latency histogram
latency_bucket{method="get",le="0.5"} 1
latency_bucket{method="get",le="+Inf"} 1
latency_sum{method="get"} 0.25
latency_count{method="get"} 1
latency_bucket{method="post",le="0.5"} 0
latency_bucket{method="post",le="+Inf"} 0
latency_sum{method="post"} 0
latency_count{method="post"} 0
# HELP restarts_total Restarts
# TYPE restarts_total counter
restarts_total 1
# HELP busy Busy workers
# TYPE busy gauge
busy 2
# HELP payloads Payload sizes
# TYPE payloads histogram
payloads_bucket{le="100"} 1
payloads_bucket{le="+Inf"} 1
payloads_sum 50
payloads_count 1
# HELP retries_total Retries by method
# TYPE retries_total counter
retries_total{method="get"} 1
retries_total{method="post"} 0
# HELP sessions Sessions by route
# TYPE sessions gauge
sessions{route="/"} 1
# HELP waits Waits by method
# TYPE waits histogram
waits_bucket{method="get",le="1"} 0
waits_bucket{method="get",le="+Inf"} 0
waits_sum{method="get"} 0
waits_count{method="get"} 0
waits_bucket{method="post",le="1"} 0
waits_bucket{method="post",le="+Inf"} 1
waits_sum{method="post"} 2
waits_count{method="post"} 1
"#
    );

    let described: Vec<(&str, MetricType, &[&str])> = ServiceMetrics::describe()
        .iter()
        .map(|d| (d.name, d.metric_type, d.labels))
        .collect();
    let none: &[&str] = &[];
    assert_eq!(
        described,
        [
            ("jobs", MetricType::Counter, none),
            ("queued", MetricType::Gauge, none),
            ("sizes", MetricType::Histogram, none),
            ("requests", MetricType::Counter, &["method"][..]),
            ("connections", MetricType::Gauge, &["route"][..]),
            ("latency", MetricType::Histogram, &["method"][..]),
            ("restarts", MetricType::Counter, none),
            ("busy", MetricType::Gauge, none),
            ("payloads", MetricType::Histogram, none),
            ("retries", MetricType::Counter, &["method"][..]),
            ("sessions", MetricType::Gauge, &["route"][..]),
            ("waits", MetricType::Histogram, &["method"][..]),
        ]
    );
}
