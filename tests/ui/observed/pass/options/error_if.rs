//! `error_if = path`: a predicate on `&ReturnType` decides which calls are errors.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(error_if = Vec::is_empty)]
fn search(query: &str) -> Vec<usize> {
    query.match_indices('a').map(|(i, _)| i).collect()
}

fn main() {
    assert_eq!(search("banana"), [1, 3, 5]);
    assert!(search("xyz").is_empty());
    assert!(search("").is_empty());
    assert_eq!(support::calls("search", "ok", &[]), 1);
    assert_eq!(support::calls("search", "error", &[]), 2);
}
