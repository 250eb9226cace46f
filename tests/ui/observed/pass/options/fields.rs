//! `fields(...)` adds span fields, written as in `tracing::span!`.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

struct User {
    id: u64,
    name: String,
}

#[observed(fields(user_id = %user.name, n = 3, id = user.id, kind = ?Some(1)))]
fn greet(user: &User) -> String {
    format!("hello {}", user.name)
}

fn main() {
    let user = User {
        id: 42,
        name: "ann".to_owned(),
    };
    let (greeting, spans) = support::capture(|| greet(&user));
    assert_eq!(greeting, "hello ann");
    let span = &spans[0];
    assert_eq!(span.field("user_id"), Some("ann"));
    assert_eq!(span.field("n"), Some("3"));
    assert_eq!(span.field("id"), Some("42"));
    assert_eq!(span.field("kind"), Some("Some(1)"));
    assert_eq!(span.field("code.function.name"), Some("greet"));
}
