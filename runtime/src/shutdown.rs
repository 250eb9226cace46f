//! Graceful shutdown, handed to the program as a future: rustform never ends the process
//! and never takes a signal the program did not ask it to watch.
//!
//! The order is the one load balancers and Kubernetes expect:
//!
//! 1. shutdown begins (SIGTERM or SIGINT on unix, Ctrl-C elsewhere, or
//!    [`Guard::begin_shutdown`](crate::Guard::begin_shutdown)): readiness turns off, so
//!    `/readyz` answers 503 while every other route keeps answering;
//! 2. the program's own server drains, because the future from
//!    [`Guard::shutdown_signal`](crate::Guard::shutdown_signal) is its
//!    `with_graceful_shutdown` signal (bounded by `drain_timeout` with
//!    [`Guard::drain`](crate::Guard::drain));
//! 3. `main` drops the [`Guard`](crate::Guard): rustform's own endpoint, which served the
//!    last scrapes with the final counts, stops, and the exporters flush, all within
//!    `shutdown_timeout` of the start;
//! 4. `main` returns, the program's destructors run, and the exit code is the program's.
//!
//! ```no_run
//! # #[cfg(feature = "endpoint")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = rustform::init()?;
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! let server = axum::serve(listener, app).with_graceful_shutdown(guard.shutdown_signal());
//! guard.drain(server).await.transpose()?;
//! // The guard drops here: rustform's endpoint stops, the exporters flush.
//! # Ok(()) }
//! ```

use std::sync::OnceLock;
use std::time::Instant;

/// When shutdown began, shared by a [`Guard`](crate::Guard) and every future it handed
/// out.
#[derive(Debug, Default)]
pub(crate) struct Begun {
    at: OnceLock<Instant>,
    #[cfg(feature = "signal")]
    notify: tokio::sync::Notify,
}

impl Begun {
    /// Begins shutdown, once: readiness off, then every waiting future resolves.
    /// Returns `false` when it had begun already.
    pub(crate) fn begin(&self, cause: &'static str) -> bool {
        let mut first = false;
        self.at.get_or_init(|| {
            first = true;
            Instant::now()
        });
        if first {
            crate::health::set_ready(false);
            tracing::info!(target: "rustform", cause, "shutting down: readiness off, draining");
            #[cfg(feature = "signal")]
            self.notify.notify_waiters();
        }
        first
    }

    /// When shutdown began, if it has.
    pub(crate) fn at(&self) -> Option<Instant> {
        self.at.get().copied()
    }

    /// Resolves once shutdown has begun.
    #[cfg(feature = "signal")]
    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a `begin` in between is not missed.
            notified.as_mut().enable();
            if self.at.get().is_some() {
                return;
            }
            notified.await;
        }
    }
}

/// Resolves on the first termination request the operating system sends: SIGTERM or
/// SIGINT on unix, Ctrl-C (console close included) elsewhere. Returns the signal's name.
/// Never resolves when no handler can be registered (the failure is logged).
#[cfg(feature = "signal")]
pub(crate) async fn termination() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                }
            }
            (Err(error), _) | (_, Err(error)) => never(error).await,
        }
    }
    #[cfg(not(unix))]
    {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            Err(error) => never(error).await,
        }
    }
}

/// Logs why signals cannot be watched, then waits for ever.
#[cfg(feature = "signal")]
async fn never(error: std::io::Error) -> &'static str {
    tracing::error!(
        target: "rustform",
        %error,
        "cannot watch for termination signals; shutdown begins only with Guard::begin_shutdown"
    );
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_begins_once() {
        let begun = Begun::default();
        assert_eq!(begun.at(), None);
        assert!(begun.begin("test"));
        let at = begun.at().expect("begun");
        assert!(!begun.begin("test"));
        assert_eq!(begun.at(), Some(at));
        assert!(!crate::health::is_ready());
        crate::health::set_ready(true);
    }

    #[cfg(feature = "signal")]
    #[test]
    fn waiting_futures_resolve_when_shutdown_begins() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let begun = std::sync::Arc::new(Begun::default());
        runtime.block_on(async {
            let waiting = tokio::spawn({
                let begun = begun.clone();
                async move { begun.wait().await }
            });
            tokio::task::yield_now().await;
            assert!(!waiting.is_finished());
            begun.begin("test");
            waiting.await.unwrap();
            // Once begun, a new wait resolves at once.
            begun.wait().await;
        });
        crate::health::set_ready(true);
    }
}
