//! Quickstart: a small service. `rustform::init()` serves `/metrics` and the health
//! checks on 127.0.0.1:9464 behind a bearer token, observed functions (sync and async,
//! some failing) run under load, and the program prints a freshly generated token with
//! the `curl` line that uses it.
//!
//! Run it with `cargo run --example quickstart`; it stops after `QUICKSTART_SECONDS`
//! (default 60) or on SIGTERM or Ctrl-C (`guard.shutdown_signal()`), shutting down
//! gracefully and returning from `main`. `QUICKSTART_LISTEN` changes the
//! address.

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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A token store for the demo, and a token for the scraper (in production:
    // `rustform metrics generate-token --scopes "metrics:read" --expires-in 30d`).
    let dir = std::env::temp_dir().join("rustform-quickstart");
    let store_path = dir.join("tokens.json");
    let store = rustform::auth::TokenStore::open(&store_path)?;
    let issued = store.create(&["metrics:read"], Some(Duration::from_secs(86_400)))?;
    let listen = std::env::var("QUICKSTART_LISTEN").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let config = format!(
        "name: quickstart\n\
         observability:\n  \
           logging:\n    level: warn\n  \
           prometheus:\n    \
             listen: \"{listen}\"\n    \
             authentication:\n      \
               enabled: true\n      \
               method: bearer_token\n      \
               token_store: \"{}\"\n      \
               required_scopes: [\"metrics:read\"]\n",
        store_path.display()
    );
    let guard = rustform::Observability::builder()
        .config_yaml(config)
        .install()?;
    let address = guard
        .endpoint_address()
        .ok_or("the endpoint is not served")?;
    println!("Serving /metrics, /healthz, /readyz and /health on http://{address}");
    println!(
        "A token for Prometheus (valid for a day, shown once):\n\n  {}\n",
        issued.token()
    );
    println!(
        "  curl -H \"Authorization: Bearer {}\" http://{address}/metrics\n",
        issued.token()
    );
    println!("Without the token the endpoint answers 401: curl -i http://{address}/metrics");

    let seconds = std::env::var("QUICKSTART_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    // The load runs until the time is up, or until SIGTERM or Ctrl-C: then readiness
    // turns off at once, the load stops, and the guard drops at the end of main.
    let load = async {
        let orders = Orders;
        let (mut placed, mut failed, mut user) = (0u64, 0u64, 0u32);
        let mut report = tokio::time::Instant::now() + Duration::from_secs(5);
        while tokio::time::Instant::now() < until {
            user = (user + 1) % 20;
            // Users 0 and 13 fail: counted with their error kind, nothing to log.
            match orders.place(user, 1_999).await {
                Ok(_) => placed += 1,
                Err(_) => failed += 1,
            }
            if user == 0 {
                // A caller that gives up: counted as result="cancelled".
                let _ = tokio::time::timeout(Duration::from_millis(5), orders.slow_report()).await;
            }
            if tokio::time::Instant::now() >= report {
                println!("{}: {placed} orders placed, {failed} failed", orders.name());
                report += Duration::from_secs(5);
            }
        }
    };
    tokio::select! {
        () = load => {}
        () = guard.shutdown_signal() => println!("Shutting down."),
    }
    // rustform's endpoint stops and the exporters flush, within shutdown_timeout; main
    // returns normally, with the program's own exit code.
    drop(guard);
    Ok(())
}
