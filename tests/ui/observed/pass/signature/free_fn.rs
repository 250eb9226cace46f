//! `#[observed]` on a free function: calls by result and error kind, the duration, and
//! the error on the span.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::fmt;

use rustform::{ErrorLabel, observed};

#[derive(Debug, ErrorLabel)]
enum LoadError {
    NotFound,
    #[label(rename = "db")]
    Database,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LoadError::NotFound => "no such user",
            LoadError::Database => "database down",
        })
    }
}

#[observed]
fn load(id: u32) -> Result<u32, LoadError> {
    match id {
        0 => Err(LoadError::NotFound),
        1 => Err(LoadError::Database),
        _ => Ok(id * 2),
    }
}

#[observed]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[observed]
fn nothing() {}

fn main() {
    assert_eq!(load(2).unwrap(), 4);
    assert_eq!(load(3).unwrap(), 6);
    let (result, spans) = support::capture(|| load(0));
    assert!(matches!(result, Err(LoadError::NotFound)));
    assert!(load(1).is_err());
    assert_eq!(add(1, 2), 3);
    nothing();

    assert_eq!(support::calls("load", "ok", &[]), 2);
    assert_eq!(
        support::calls("load", "error", &[("error", "not_found")]),
        1
    );
    assert_eq!(support::calls("load", "error", &[("error", "db")]), 1);
    // The unlabeled error series exists from the first call, at zero.
    assert_eq!(support::calls("load", "error", &[]), 0);
    assert_eq!(support::durations("load", &[]).count, 4);
    assert_eq!(support::calls("add", "ok", &[]), 1);
    assert_eq!(support::calls("nothing", "ok", &[]), 1);

    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, "load");
    assert_eq!(span.level, tracing::Level::INFO);
    assert_eq!(span.target, support::root());
    assert_eq!(span.field("code.function.name"), Some("load"));
    assert_eq!(span.field("code.namespace"), Some(support::root()));
    assert_eq!(span.field("otel.status_code"), Some("ERROR"));
    assert_eq!(span.field("exception.message"), Some("no such user"));

    let text = rustform::metrics::default_registry().render();
    let line = format!(
        "function_calls_total{{function=\"load\",module=\"{}\",service_name=\"{}\",result=\"error\",error=\"db\"}} 1",
        support::root(),
        env!("CARGO_PKG_NAME"),
    );
    assert!(text.lines().any(|l| l == line), "{line}\nnot in\n{text}");
}
