//! `args(a, b)` records the named arguments on the span, and only them.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(args(user, attempts, tags, note))]
fn login(user: &str, attempts: u32, tags: Vec<&str>, note: String, password: String) -> bool {
    !password.is_empty() && attempts < 3 && !tags.is_empty() && !note.is_empty() && !user.is_empty()
}

fn main() {
    let (ok, spans) = support::capture(|| {
        login(
            "ann",
            1,
            vec!["admin"],
            "first".to_owned(),
            "hunter2".to_owned(),
        )
    });
    assert!(ok);
    let span = &spans[0];
    assert_eq!(span.field("user"), Some("ann"));
    assert_eq!(span.field("attempts"), Some("1"));
    assert_eq!(span.field("tags"), Some(r#"["admin"]"#));
    assert_eq!(span.field("note"), Some("first"));
    assert_eq!(span.field("password"), None);
}
