//! `ok_if = path`: a predicate on `&ReturnType` decides which calls are ok.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

fn is_success(status: &u16) -> bool {
    *status < 500
}

#[observed(ok_if = is_success)]
fn respond(status: u16) -> u16 {
    status
}

#[observed(ok_if = Option::is_some)]
fn find(id: u32) -> Option<u32> {
    (id > 0).then_some(id)
}

fn main() {
    assert_eq!(respond(200), 200);
    assert_eq!(respond(404), 404);
    assert_eq!(respond(503), 503);
    assert_eq!(find(1), Some(1));
    assert_eq!(find(0), None);
    assert_eq!(support::calls("respond", "ok", &[]), 2);
    assert_eq!(support::calls("respond", "error", &[]), 1);
    assert_eq!(support::calls("find", "ok", &[]), 1);
    assert_eq!(support::calls("find", "error", &[]), 1);
}
