//! `#[async_trait]` above `#[observed]`: `#[observed]` sees the methods as
//! `#[async_trait]` rewrote them (`Box::pin(async move { .. })`) and observes the boxed
//! future.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use async_trait::async_trait;
use rustform::{ErrorLabel, observed};

#[derive(Debug, ErrorLabel)]
enum StoreError {
    Empty,
}

#[async_trait]
trait Store {
    async fn put(&self, key: &str) -> Result<usize, StoreError>;
}

struct Memory;

#[async_trait]
#[observed]
impl Store for Memory {
    async fn put(&self, key: &str) -> Result<usize, StoreError> {
        tokio::task::yield_now().await;
        if key.is_empty() {
            return Err(StoreError::Empty);
        }
        Ok(key.len())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store: &dyn Store = &Memory;
        assert_eq!(store.put("abc").await.unwrap(), 3);
        assert!(store.put("").await.is_err());
    });
    assert_eq!(support::calls("Memory::put", "ok", &[]), 1);
    assert_eq!(
        support::calls("Memory::put", "error", &[("error", "empty")]),
        1
    );
}
