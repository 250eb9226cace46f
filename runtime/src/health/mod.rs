//! Readiness, and (with the `endpoint` feature) health checks: the checks `rustform.yml` lists and those registered in code, run
//! concurrently, each within its timeout, into a [`Report`] that the endpoint serves as
//! `/health` and `/readyz`.
//!
//! ```yaml
//! observability:
//!   health:
//!     checks:
//!       - { type: "external_service", name: "auth_service", url: "http://auth/health", timeout: "3s" }
//!       - { type: "custom", name: "business_logic", handler: "check_business_health" }
//! ```
//!
//! - `external_service`: an HTTP GET of `url` (redirects are not followed) that passes on
//!   a 2xx answer.
//! - `custom` and `database`: the check [`register`]ed in code under `handler` (by
//!   default the check's name). A handler that nothing registered fails, with a message
//!   saying how to register it.
//! - Every check registered in code that the configuration does not list runs too, as a
//!   critical check with a 5 s timeout.
//!
//! A check whose `critical` is true (the default) decides readiness; a failing
//! non-critical check turns the overall status to [`Status::Warn`]. Readiness also
//! answers to a switch, [`set_ready`], which graceful shutdown turns off first so that
//! load balancers stop sending traffic before anything else stops.
//!
//! ```
//! # #[cfg(feature = "endpoint")] {
//! use rustform::config::Config;
//! use rustform::health::{self, Checks, Status};
//!
//! health::register("check_business_health", || async { Ok(()) });
//!
//! let yaml = "observability:\n  health:\n    checks:\n      \
//!             - {type: custom, name: business_logic, handler: check_business_health}\n";
//! let config = Config::parse(yaml, "rustform.yml", &|_| None)?;
//! let checks = Checks::from_config(&config.observability.health)?;
//!
//! let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
//! let report = runtime.block_on(checks.run());
//! assert_eq!(report.status, Status::Pass);
//! assert!(report.ready());
//! let body: serde_json::Value = serde_json::from_str(&report.to_json("1.0.0", Default::default())).unwrap();
//! assert_eq!(body["checks"][0]["name"], "business_logic");
//! # }
//! # Ok::<(), rustform::Error>(())
//! ```
//!
//! Messages never carry credentials: an external service's URL appears without its user
//! name, password and query string, and a panicking check's panic message goes to the
//! log (target `rustform::health`), not into the report.

#[cfg(feature = "endpoint")]
mod checks;
#[cfg(feature = "endpoint")]
mod external;
#[cfg(feature = "endpoint")]
mod registry;
#[cfg(feature = "endpoint")]
mod report;

use std::sync::atomic::{AtomicBool, Ordering};

#[cfg(feature = "endpoint")]
pub use checks::Checks;
#[cfg(feature = "endpoint")]
pub use report::{CheckReport, Report, Status};

/// Registers a check in code under `name`: a function returning a future that resolves
/// to `Ok(())` when the checked thing is healthy, or `Err(message)` saying what is wrong.
///
/// A check listed in `rustform.yml` as `type: custom` or `type: database` runs the check
/// registered under its `handler` (by default its `name`); a registered check that the
/// configuration does not list runs as a critical check with a 5 s timeout. Registering
/// the same name again replaces the check. Registration is thread-safe and may come
/// before or after `rustform::init()`: every run looks the checks up afresh.
///
/// The message is shown on `/health`, which is unauthenticated by default: keep
/// credentials and connection strings out of it.
///
/// ```
/// rustform::health::register("business_logic", || async { Ok(()) });
///
/// // A check that owns what it needs clones it into each run.
/// let queue = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(12));
/// rustform::health::register("queue_depth", move || {
///     let queue = queue.clone();
///     async move {
///         match queue.load(std::sync::atomic::Ordering::Relaxed) {
///             depth if depth < 1_000 => Ok(()),
///             depth => Err(format!("{depth} jobs are waiting")),
///         }
///     }
/// });
/// ```
#[cfg(feature = "endpoint")]
pub fn register<F, Fut>(name: &str, check: F)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    registry::global().insert(name, check);
}

/// The readiness switch: on unless [`set_ready`] turned it off.
static READY: AtomicBool = AtomicBool::new(true);

/// Turns readiness on or off for the whole process. Graceful shutdown calls
/// `set_ready(false)` first, so `/readyz` answers 503 and load balancers drain the
/// instance before anything else stops; the checks themselves are not consulted.
///
/// ```
/// rustform::health::set_ready(false);
/// assert!(!rustform::health::is_ready());
/// rustform::health::set_ready(true);
/// assert!(rustform::health::is_ready());
/// ```
pub fn set_ready(ready: bool) {
    READY.store(ready, Ordering::SeqCst);
}

/// Whether the readiness switch is on (it is until [`set_ready`]`(false)`).
///
/// ```
/// assert!(rustform::health::is_ready());
/// ```
pub fn is_ready() -> bool {
    READY.load(Ordering::SeqCst)
}
