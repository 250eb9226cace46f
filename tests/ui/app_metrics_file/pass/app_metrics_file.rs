//! `app_metrics!("file.yml")`: a `pub struct CustomMetrics` with one typed field per
//! declared metric; its `global()` shares storage with `rustform::metrics::custom()` and
//! registers each metric once in the default registry. The file is found next to this
//! source file (the crate's manifest directory does not have it). The struct, its fields
//! and its functions are documented, so a crate denying missing docs accepts them.

#![deny(warnings, missing_docs)]

use rustform::metrics::{Counter, LabeledCounter, LabeledGauge, LabeledHistogram, custom};

rustform::app_metrics!("app_metrics_file.yml");

fn main() {
    let m = CustomMetrics::global();
    assert!(std::ptr::eq(m, CustomMetrics::global()));

    // The field types follow the kinds and the number of labels.
    let _: &LabeledCounter<2> = &m.orders_total;
    let _: &Counter = &m.signups;
    let _: &LabeledGauge<1> = &m.active_users;
    let _: &LabeledHistogram<1> = &m.request_duration_seconds;
    let _: &rustform::metrics::Histogram = &m.payload_bytes;

    m.orders_total.with(["completed", "card"]).inc();
    m.signups.inc();
    m.active_users.with(["web"]).set(3);
    m.request_duration_seconds.with(["GET"]).observe(0.2);
    m.payload_bytes.observe(512.0);

    // The same series by name.
    custom()
        .counter("orders_total")
        .unwrap()
        .with(&["completed", "card"])
        .unwrap()
        .inc();
    custom()
        .counter("signups")
        .unwrap()
        .with(&[])
        .unwrap()
        .inc();
    assert_eq!(m.orders_total.with(["completed", "card"]).get(), 2);
    assert_eq!(m.signups.get(), 2);

    let text = rustform::metrics::default_registry().render();
    for expected in [
        "# HELP orders_total Total number of orders processed\n\
         # TYPE orders_total counter\n\
         orders_total{status=\"completed\",payment_method=\"card\"} 2\n",
        "# HELP signups_total Sign-ups\n# TYPE signups_total counter\nsignups_total 2\n",
        "active_users{session_type=\"web\"} 3\n",
        "request_duration_seconds_bucket{method=\"GET\",le=\"0.5\"} 1\n",
        "payload_bytes_bucket{le=\"10\"} 0\n",
        "payload_bytes_count 1\n",
    ] {
        assert!(text.contains(expected), "{expected}\nnot in\n{text}");
    }
    assert_eq!(text.matches("# TYPE orders_total counter").count(), 1);
    assert!(
        rustform::metrics::default_registry()
            .render_openmetrics()
            .contains("# UNIT request_duration_seconds seconds\n")
    );

    let described = CustomMetrics::describe();
    assert_eq!(described.len(), 5);
    assert_eq!(
        described[4].buckets,
        Some(rustform::metrics::DEFAULT_BUCKETS)
    );
}
