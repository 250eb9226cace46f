//! `buckets = linear(start, width, count)`.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(buckets = linear(0.1, 0.1, 5))]
fn work() {}

fn main() {
    work();
    let histogram = support::durations("work", &[]);
    let bounds: Vec<f64> = histogram.buckets.iter().map(|(le, _)| *le).collect();
    let expected = [0.1, 0.2, 0.3, 0.4, 0.5];
    assert_eq!(bounds.len(), expected.len() + 1);
    for (bound, want) in bounds.iter().zip(expected) {
        assert!((bound - want).abs() < 1e-9, "{bounds:?}");
    }
    assert_eq!(bounds[5], f64::INFINITY);
}
