//! `metrics = false`: a span only, for every shape of function.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::future::Future;

use async_trait::async_trait;
use rustform::observed;

#[observed(metrics = false)]
fn sync_fn(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("zero".to_owned());
    }
    Ok(n)
}

#[observed(metrics = false)]
async fn async_fn(n: u32) -> u32 {
    tokio::task::yield_now().await;
    n
}

#[observed(metrics = false)]
fn future_fn(n: u32) -> impl Future<Output = u32> {
    async move { n }
}

#[observed(metrics = false)]
fn never_fn() -> ! {
    panic!("stop")
}

#[async_trait]
trait Store {
    async fn get(&self) -> u32;
}

struct Memory;

#[async_trait]
#[observed(metrics = false)]
impl Store for Memory {
    async fn get(&self) -> u32 {
        5
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ((), spans) = support::capture(|| {
        assert_eq!(sync_fn(1), Ok(1));
        assert_eq!(runtime.block_on(async_fn(2)), 2);
        assert_eq!(runtime.block_on(future_fn(3)), 3);
        assert_eq!(runtime.block_on(Memory.get()), 5);
        std::panic::set_hook(Box::new(|_| {}));
        assert!(std::panic::catch_unwind(|| never_fn()).is_err());
        let _ = std::panic::take_hook();
    });
    let names: Vec<_> = spans.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "sync_fn",
            "async_fn",
            "future_fn",
            "Memory::get",
            "never_fn"
        ]
    );
    assert_eq!(spans[0].field("code.function.name"), Some("sync_fn"));
    for function in [
        "sync_fn",
        "async_fn",
        "future_fn",
        "Memory::get",
        "never_fn",
    ] {
        assert!(!support::has_series(function), "{function}");
    }
}
