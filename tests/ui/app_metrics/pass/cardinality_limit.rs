//! `#[metric(cardinality_limit = n)]`: past `n` label sets, new ones share the overflow
//! series; a metric without the option keeps the default limit.

#![deny(warnings)]

use rustform::metrics::{CounterVec, HistogramVec, Registry};
use rustform::{AppMetrics, LabelSet};

#[derive(LabelSet)]
struct Tenant {
    tenant: String,
}

#[derive(AppMetrics)]
struct TenantMetrics {
    /// Requests by tenant
    #[metric(cardinality_limit = 2)]
    requests: CounterVec<Tenant>,
    /// Upload sizes by tenant
    #[metric(cardinality_limit = 1, buckets = [100.0])]
    uploads: HistogramVec<Tenant>,
    /// Logins by tenant
    logins: CounterVec<Tenant>,
}

fn tenant(name: &str) -> Tenant {
    Tenant {
        tenant: name.to_owned(),
    }
}

fn main() {
    let registry = Registry::new();
    let m = TenantMetrics::register(&registry).unwrap();
    for name in ["a", "b", "c", "d"] {
        m.requests.with(&tenant(name)).inc();
        m.uploads.with(&tenant(name)).observe(10.0);
        m.logins.with(&tenant(name)).inc();
    }
    assert_eq!(
        registry.render(),
        r#"# HELP requests_total Requests by tenant
# TYPE requests_total counter
requests_total{tenant="a"} 1
requests_total{tenant="b"} 1
requests_total{otel_metric_overflow="true"} 2
# HELP uploads Upload sizes by tenant
# TYPE uploads histogram
uploads_bucket{tenant="a",le="100"} 1
uploads_bucket{tenant="a",le="+Inf"} 1
uploads_sum{tenant="a"} 10
uploads_count{tenant="a"} 1
uploads_bucket{otel_metric_overflow="true",le="100"} 3
uploads_bucket{otel_metric_overflow="true",le="+Inf"} 3
uploads_sum{otel_metric_overflow="true"} 30
uploads_count{otel_metric_overflow="true"} 3
# HELP logins_total Logins by tenant
# TYPE logins_total counter
logins_total{tenant="a"} 1
logins_total{tenant="b"} 1
logins_total{tenant="c"} 1
logins_total{tenant="d"} 1
"#
    );
}
