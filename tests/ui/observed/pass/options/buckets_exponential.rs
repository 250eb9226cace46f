//! `buckets = exponential(start, factor, count)`.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(buckets = exponential(0.001, 2.0, 10))]
fn work() {}

fn main() {
    work();
    let histogram = support::durations("work", &[]);
    let bounds: Vec<f64> = histogram.buckets.iter().map(|(le, _)| *le).collect();
    assert_eq!(bounds.len(), 11);
    for (i, bound) in bounds[..10].iter().enumerate() {
        let want = 0.001 * 2f64.powi(i as i32);
        assert!((bound - want).abs() < 1e-12, "{bounds:?}");
    }
    assert_eq!(bounds[10], f64::INFINITY);
}
