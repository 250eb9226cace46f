//! `span = false`: metrics only, no span.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed(span = false)]
fn hot(n: u32) -> Result<u32, String> {
    if n == 0 {
        Err("zero".to_owned())
    } else {
        Ok(n)
    }
}

#[observed(span = false)]
async fn hot_async(n: u32) -> u32 {
    n
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ((), spans) = support::capture(|| {
        assert_eq!(hot(1), Ok(1));
        assert!(hot(0).is_err());
        assert_eq!(runtime.block_on(hot_async(2)), 2);
    });
    assert!(spans.is_empty(), "{spans:?}");
    assert_eq!(support::calls("hot", "ok", &[]), 1);
    assert_eq!(support::calls("hot", "error", &[]), 1);
    assert_eq!(support::calls("hot_async", "ok", &[]), 1);
}
