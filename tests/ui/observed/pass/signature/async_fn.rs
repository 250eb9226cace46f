//! `#[observed]` on an `async fn`: the call is counted when the future completes, and a
//! future dropped before it completes is counted as cancelled.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Waker};

use rustform::observed;

#[observed]
async fn fetch(id: u32) -> Result<String, io::Error> {
    tokio::task::yield_now().await;
    if id == 0 {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such id"));
    }
    Ok(format!("item {id}"))
}

#[observed]
async fn stuck() {
    std::future::pending::<()>().await
}

#[observed]
async fn borrowing<'a>(items: &'a [u32], index: usize) -> Option<&'a u32> {
    tokio::task::yield_now().await;
    items.get(index)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pending = fetch(7);
        // Nothing is counted before the future runs.
        assert_eq!(support::calls("fetch", "ok", &[]), 0);
        assert_eq!(pending.await.unwrap(), "item 7");
        assert_eq!(fetch(0).await.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(borrowing(&[1, 2], 1).await, Some(&2));
    });
    assert_eq!(support::calls("fetch", "ok", &[]), 1);
    assert_eq!(
        support::calls("fetch", "error", &[("error", "not_found")]),
        1
    );
    assert_eq!(support::durations("fetch", &[]).count, 2);
    assert_eq!(support::calls("borrowing", "ok", &[]), 1);

    {
        let mut future = pin!(stuck());
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(support::calls("stuck", "cancelled", &[]), 1);
    assert_eq!(support::calls("stuck", "ok", &[]), 0);
}
