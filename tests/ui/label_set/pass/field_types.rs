//! `#[derive(LabelSet)]` with fields of every kind of label value: an enum deriving
//! `LabelValue`, `bool`, `u16`, `i64`, `&'static str` and `String`; field names are label
//! names unless `#[label(rename = "...")]` gives another.

#![deny(warnings)]

use rustform::metrics::{CounterVec, LabelSet, Registry};
use rustform::{AppMetrics, LabelSet, LabelValue};

#[derive(Clone, Copy, LabelValue)]
enum Method {
    Get,
    #[label(rename = "POST")]
    Post,
}

#[derive(LabelSet)]
struct Request {
    method: Method,
    cached: bool,
    status: u16,
    shard: i64,
    #[label(rename = "route")]
    path: &'static str,
    r#type: String,
}

#[derive(LabelSet)]
struct Unlabeled {}

#[derive(AppMetrics)]
struct HttpMetrics {
    /// Requests served
    requests: CounterVec<Request>,
    /// Pings
    pings: CounterVec<Unlabeled>,
}

fn main() {
    assert_eq!(
        Request::NAMES,
        ["method", "cached", "status", "shard", "route", "type"]
    );
    assert_eq!(Request::CARDINALITY, None);
    assert_eq!(Unlabeled::NAMES, [""; 0]);
    assert_eq!(Unlabeled::CARDINALITY, Some(1));

    let registry = Registry::new();
    let m = HttpMetrics::register(&registry).unwrap();
    m.requests
        .with(&Request {
            method: Method::Post,
            cached: true,
            status: 404,
            shard: -2,
            path: "/cart/\"items\"",
            r#type: "json".to_owned(),
        })
        .inc();
    m.requests
        .with(&Request {
            method: Method::Get,
            cached: false,
            status: 200,
            shard: 7,
            path: "/",
            r#type: String::new(),
        })
        .inc_by(2);
    m.pings.with(&Unlabeled {}).inc();
    assert_eq!(
        registry.render(),
        r#"# HELP requests_total Requests served
# TYPE requests_total counter
requests_total{method="POST",cached="true",status="404",shard="-2",route="/cart/\"items\"",type="json"} 1
requests_total{method="get",cached="false",status="200",shard="7",route="/",type=""} 2
# HELP pings_total Pings
# TYPE pings_total counter
pings_total 1
"#
    );
}
