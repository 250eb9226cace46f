//! `target = "..."` sets the span's target; by default it is the module path.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(target = "audit")]
fn audited() {}

#[observed]
fn plain() {}

fn main() {
    let ((), spans) = support::capture(|| {
        audited();
        plain();
    });
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[0].target, "audit");
    assert_eq!(spans[1].target, support::root());
    assert_eq!(support::calls("audited", "ok", &[]), 1);
}
