//! `buckets = [...]`: the duration histogram's upper bounds, integers allowed.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(buckets = [0.005, 0.5, 5])]
fn work() {}

fn main() {
    work();
    let histogram = support::durations("work", &[]);
    let bounds: Vec<f64> = histogram.buckets.iter().map(|(le, _)| *le).collect();
    assert_eq!(bounds, [0.005, 0.5, 5.0, f64::INFINITY]);
    assert_eq!(histogram.count, 1);
}
