//! `level` as a string, as an identifier, and as a `Level` constant.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;
use tracing::Level;

#[observed]
fn default_level() {}

#[observed(level = "debug")]
fn as_string() {}

#[observed(level = debug)]
fn as_ident() {}

#[observed(level = Level::WARN)]
fn as_constant() {}

#[observed(level = tracing::Level::ERROR)]
fn as_path() {}

#[observed(level = "TRACE")]
fn upper_case() {}

fn main() {
    let ((), spans) = support::capture(|| {
        default_level();
        as_string();
        as_ident();
        as_constant();
        as_path();
        upper_case();
    });
    let levels: Vec<_> = spans.iter().map(|s| (s.name, s.level)).collect();
    assert_eq!(
        levels,
        [
            ("default_level", Level::INFO),
            ("as_string", Level::DEBUG),
            ("as_ident", Level::DEBUG),
            ("as_constant", Level::WARN),
            ("as_path", Level::ERROR),
            ("upper_case", Level::TRACE),
        ]
    );
}
