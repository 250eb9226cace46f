//! A function returning `impl Future`: the returned future is the call, so it is counted
//! when it completes; `+ Send` futures stay `Send`.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::future::Future;
use std::io;

use rustform::observed;

#[observed]
fn fetch(id: u32) -> impl Future<Output = Result<u32, io::Error>> {
    let doubled = id * 2;
    async move {
        tokio::task::yield_now().await;
        if id == 0 {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "zero"))
        } else {
            Ok(doubled)
        }
    }
}

#[observed]
fn fetch_send(id: u32) -> impl Future<Output = u32> + Send {
    async move {
        tokio::task::yield_now().await;
        id + 1
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    runtime.block_on(async {
        let pending = fetch(2);
        assert_eq!(support::calls("fetch", "ok", &[]), 0);
        assert_eq!(pending.await.unwrap(), 4);
        assert!(fetch(0).await.is_err());
        let spawned = tokio::spawn(assert_send(fetch_send(1)));
        assert_eq!(spawned.await.unwrap(), 2);
    });

    assert_eq!(support::calls("fetch", "ok", &[]), 1);
    assert_eq!(
        support::calls("fetch", "error", &[("error", "invalid_input")]),
        1
    );
    assert_eq!(support::calls("fetch_send", "ok", &[]), 1);
}
