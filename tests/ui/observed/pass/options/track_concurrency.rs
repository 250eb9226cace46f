//! `track_concurrency` keeps `function_calls_concurrent`: 1 during a call, 0 after.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(track_concurrency)]
fn work() -> Option<i64> {
    support::in_flight("work")
}

#[observed(track_concurrency)]
async fn work_async() -> Option<i64> {
    tokio::task::yield_now().await;
    support::in_flight("work_async")
}

#[observed]
fn untracked() {}

fn main() {
    assert_eq!(work(), Some(1));
    assert_eq!(support::in_flight("work"), Some(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(work_async()), Some(1));
    assert_eq!(support::in_flight("work_async"), Some(0));
    untracked();
    assert_eq!(support::in_flight("untracked"), None);
}
