//! `name = "..."` names the span; the metrics keep the function's name.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(name = "load user")]
fn load(id: u32) -> u32 {
    id
}

fn main() {
    let (id, spans) = support::capture(|| load(7));
    assert_eq!(id, 7);
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "load user");
    assert_eq!(spans[0].field("code.function.name"), Some("load"));
    assert_eq!(support::calls("load", "ok", &[]), 1);
}
