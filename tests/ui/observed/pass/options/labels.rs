//! `labels(...)` adds constant labels to every series of the function.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(labels(tier = "gold", region = "eu-west"))]
fn checkout() {}

fn main() {
    checkout();
    let labels = [("tier", "gold"), ("region", "eu-west")];
    assert_eq!(support::calls("checkout", "ok", &labels), 1);
    assert_eq!(support::calls("checkout", "ok", &[]), 0);
    assert_eq!(support::durations("checkout", &labels).count, 1);
    let text = rustform::metrics::default_registry().render();
    let line = format!(
        "function_calls_total{{function=\"checkout\",module=\"{}\",service_name=\"{}\",result=\"ok\",tier=\"gold\",region=\"eu-west\"}} 1",
        support::root(),
        env!("CARGO_PKG_NAME"),
    );
    assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
}
