//! Graceful shutdown in a service of its own: an axum app with a slow route, served
//! beside rustform's endpoint, drains on SIGTERM before `main` returns.
//!
//! 1. SIGTERM (or Ctrl-C): `guard.shutdown_signal()` resolves, and `/readyz` on
//!    rustform's endpoint answers 503 from then on, while `/metrics` still answers;
//! 2. the app's own server stops accepting and finishes its in-flight requests (at most
//!    `scaling.instances.drain_timeout`, with `guard.drain`);
//! 3. the guard drops: rustform's endpoint, which served the last scrapes, stops, then
//!    the exporters flush;
//! 4. `main` returns: the program's destructors run, and the exit code is its own.
//!
//! Run it with `cargo run --example graceful_shutdown`, then
//! `curl http://127.0.0.1:3000/slow` and `kill -TERM <pid>` while the request runs.
//! `SHUTDOWN_APP_LISTEN` (default 127.0.0.1:3000) and `SHUTDOWN_METRICS_LISTEN` (default
//! 127.0.0.1:9464) change the addresses, `SHUTDOWN_SLOW_MILLIS` (default 2000) the time
//! `/slow` takes, `SHUTDOWN_MARKER` names a file written after the server returned, and
//! `SHUTDOWN_EXIT_CODE` (default 0) is the exit code `main` returns.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use rustform::observed;

/// A handler that takes its time, so a request can be in flight at the signal.
#[observed]
async fn slow() -> &'static str {
    let millis = std::env::var("SHUTDOWN_SLOW_MILLIS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    tokio::time::sleep(Duration::from_millis(millis)).await;
    "done\n"
}

/// Written when dropped: the program's own clean-up, which runs because `main` returns.
struct Marker(Option<String>);

impl Drop for Marker {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::write(path, "main returned\n");
        }
    }
}

#[tokio::main]
async fn main() -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let marker = Marker(std::env::var("SHUTDOWN_MARKER").ok());
    let metrics_listen =
        std::env::var("SHUTDOWN_METRICS_LISTEN").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let guard = rustform::Observability::builder()
        .config_yaml(format!(
            "name: shutdown-demo\n\
             observability:\n  \
               logging:\n    level: info\n    format: json\n    output: stderr\n  \
               prometheus:\n    listen: \"{metrics_listen}\"\n    \
                 authentication:\n      enabled: false\n\
             scaling:\n  instances:\n    drain_timeout: 10s\n    shutdown_timeout: 20s\n"
        ))
        .install()?;
    let app = Router::new()
        .route("/slow", get(slow))
        .layer(rustform::http::ObserveLayer::new());
    let listen = std::env::var("SHUTDOWN_APP_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("app: http://{}", listener.local_addr()?);
    if let Some(endpoint) = guard.endpoint_address() {
        println!("endpoint: http://{endpoint}");
    }

    // The pattern: the app's server stops on rustform's shutdown signal, and drains
    // within drain_timeout.
    let server = axum::serve(listener, app).with_graceful_shutdown(guard.shutdown_signal());
    match guard.drain(server).await {
        Some(served) => served?,
        None => eprintln!("the drain ran out of time"),
    }
    println!("server: drained");

    // rustform's endpoint stops and the exporters flush; then the marker is written.
    drop(guard);
    drop(marker);
    // The program's own exit code (`SHUTDOWN_EXIT_CODE`, default 0), not a signal's.
    let code = std::env::var("SHUTDOWN_EXIT_CODE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0u8);
    Ok(std::process::ExitCode::from(code))
}
