//! Quickstart: `rustform::init()` (reading `rustform.yml` if there is one, else the
//! defaults: pretty logs at info and the built-in process metrics), observed functions,
//! sync and async, some failing; then the metrics they produced, in the Prometheus text
//! format.
//!
//! Run it with `cargo run --example quickstart`.

use std::time::Duration;

use rustform::{ErrorLabel, observed};

/// Why loading a user failed. Each variant becomes the `error` label of
/// `function_calls_total`.
#[derive(Debug, ErrorLabel)]
enum LoadError {
    NotFound,
    #[label(rename = "database_unavailable")]
    Database,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::NotFound => f.write_str("no such user"),
            LoadError::Database => f.write_str("the database did not answer"),
        }
    }
}

/// A synchronous lookup that fails for some ids.
#[observed(buckets = [0.001, 0.01, 0.1])]
fn load_user(id: u32) -> Result<String, LoadError> {
    match id {
        0 => Err(LoadError::NotFound),
        13 => Err(LoadError::Database),
        id => Ok(format!("user-{id}")),
    }
}

struct Orders;

/// Every method of the block is observed and named `Orders::…`.
#[observed(track_concurrency)]
impl Orders {
    async fn place(&self, user: u32, amount_cents: u64) -> Result<u64, LoadError> {
        load_user(user)?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(amount_cents)
    }

    async fn slow_report(&self) -> usize {
        tokio::time::sleep(Duration::from_secs(5)).await;
        0
    }

    #[observed(skip)]
    fn name(&self) -> &'static str {
        "orders"
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), rustform::Error> {
    let _guard = rustform::init()?;
    let orders = Orders;
    for user in [1, 2, 0, 3, 13, 4] {
        match orders.place(user, 1_999).await {
            Ok(amount) => println!("{}: user {user} ordered {amount} cents", orders.name()),
            Err(e) => tracing::warn!(user, error = %e, "{}: could not order", orders.name()),
        }
    }
    // A caller that gives up: the call is counted as result="cancelled".
    let report = tokio::time::timeout(Duration::from_millis(10), orders.slow_report()).await;
    println!("report: {report:?}");

    println!(
        "\n--- /metrics ---\n{}",
        rustform::metrics::default_registry().render()
    );
    Ok(())
}
