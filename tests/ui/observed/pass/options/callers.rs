//! `callers` labels calls with the observed function that made them.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(callers)]
fn query() -> u32 {
    1
}

#[observed]
fn handler() -> u32 {
    query() + 1
}

#[observed]
async fn handler_async() -> u32 {
    tokio::task::yield_now().await;
    query() + 2
}

fn main() {
    assert_eq!(query(), 1);
    assert_eq!(handler(), 2);
    assert_eq!(handler(), 2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(handler_async()), 3);

    let from = |caller| {
        [
            ("caller_function", caller),
            ("caller_module", support::root()),
        ]
    };
    assert_eq!(support::calls("query", "ok", &[]), 1);
    assert_eq!(support::calls("query", "ok", &from("handler")), 2);
    assert_eq!(support::calls("query", "ok", &from("handler_async")), 1);
    // The caller's own series carry no caller labels.
    assert_eq!(support::calls("handler", "ok", &[]), 2);
}
