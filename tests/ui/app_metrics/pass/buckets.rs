//! `#[metric(buckets = ...)]` as a list, `linear(start, width, count)` and
//! `exponential(start, factor, count)`, on histograms with and without labels; a histogram
//! without `buckets` gets the default ones.

#![deny(warnings)]

use rustform::metrics::{DEFAULT_BUCKETS, Histogram, HistogramVec, Registry};
use rustform::{AppMetrics, LabelSet};

#[derive(LabelSet)]
struct Queue {
    queue: &'static str,
}

#[derive(AppMetrics)]
struct JobMetrics {
    /// Job sizes
    #[metric(buckets = [1, 2.5, 10])]
    sizes: Histogram,
    /// Items per batch
    #[metric(buckets = linear(10, 10, 3))]
    batch_items: Histogram,
    /// Time spent waiting
    #[metric(buckets = exponential(0.001, 2.0, 4), unit = "seconds")]
    wait: HistogramVec<Queue>,
    /// Time spent running
    running_seconds: Histogram,
}

fn main() {
    let d = JobMetrics::describe();
    assert_eq!(d[0].buckets, Some(&[1.0, 2.5, 10.0][..]));
    assert_eq!(d[1].buckets, Some(&[10.0, 20.0, 30.0][..]));
    assert_eq!(d[2].buckets, Some(&[0.001, 0.002, 0.004, 0.008][..]));
    assert_eq!(d[3].buckets, Some(DEFAULT_BUCKETS));

    let registry = Registry::new();
    let m = JobMetrics::register(&registry).unwrap();
    m.sizes.observe(2.0);
    m.batch_items.observe(25.0);
    m.wait.with(&Queue { queue: "mail" }).observe(0.003);
    m.running_seconds.observe(0.2);
    assert_eq!(m.running_seconds.bounds(), DEFAULT_BUCKETS);

    let text = registry.render();
    let expected = r#"# HELP sizes Job sizes
# TYPE sizes histogram
sizes_bucket{le="1"} 0
sizes_bucket{le="2.5"} 1
sizes_bucket{le="10"} 1
sizes_bucket{le="+Inf"} 1
sizes_sum 2
sizes_count 1
# HELP batch_items Items per batch
# TYPE batch_items histogram
batch_items_bucket{le="10"} 0
batch_items_bucket{le="20"} 0
batch_items_bucket{le="30"} 1
batch_items_bucket{le="+Inf"} 1
batch_items_sum 25
batch_items_count 1
# HELP wait_seconds Time spent waiting
# TYPE wait_seconds histogram
wait_seconds_bucket{queue="mail",le="0.001"} 0
wait_seconds_bucket{queue="mail",le="0.002"} 0
wait_seconds_bucket{queue="mail",le="0.004"} 1
wait_seconds_bucket{queue="mail",le="0.008"} 1
wait_seconds_bucket{queue="mail",le="+Inf"} 1
wait_seconds_sum{queue="mail"} 0.003
wait_seconds_count{queue="mail"} 1
# HELP running_seconds Time spent running
# TYPE running_seconds histogram
running_seconds_bucket{le="0.005"} 0
"#;
    assert!(text.starts_with(expected), "{text}");
    assert!(
        text.ends_with(
            "running_seconds_bucket{le=\"0.25\"} 1\n\
             running_seconds_bucket{le=\"0.5\"} 1\n\
             running_seconds_bucket{le=\"1\"} 1\n\
             running_seconds_bucket{le=\"2.5\"} 1\n\
             running_seconds_bucket{le=\"5\"} 1\n\
             running_seconds_bucket{le=\"10\"} 1\n\
             running_seconds_bucket{le=\"+Inf\"} 1\n\
             running_seconds_sum 0.2\n\
             running_seconds_count 1\n"
        ),
        "{text}"
    );
}
