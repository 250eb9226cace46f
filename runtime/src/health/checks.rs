//! The checks a service runs, and one run of them all.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use reqwest::Client;
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use super::external::{self, HttpCheck};
use super::registry::{self, CheckFn, CheckFuture, CheckRegistry};
use super::report::{CheckReport, Report, Status, human};
use crate::Error;
use crate::config::{Health, HealthCheckKind};

/// The timeout of a check registered in code that the configuration does not list.
const UNLISTED_TIMEOUT: Duration = Duration::from_secs(5);

/// What a run reports for a check that panicked; the panic's own message goes to the
/// log, since it may carry anything.
const PANICKED: &str = "the check panicked";

/// The checks of a service: those `observability.health` lists and those registered in
/// code with [`register`](super::register). Cheap to clone (one `Arc`), `Send + Sync`.
///
/// ```
/// use rustform::config::Config;
/// use rustform::health::{Checks, Status};
///
/// // A configured handler that nothing registered fails, saying how to register it.
/// let yaml = "observability:\n  health:\n    checks:\n      \
///             - {type: custom, name: ledger, handler: check_ledger, critical: false}\n";
/// let config = Config::parse(yaml, "rustform.yml", &|_| None)?;
/// let checks = Checks::from_config(&config.observability.health)?;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let report = runtime.block_on(checks.run());
/// let ledger = &report.checks[0];
/// assert_eq!(ledger.status, Status::Fail);
/// assert!(ledger.message.as_deref().unwrap().contains("rustform::health::register(\"check_ledger\""));
/// // It is not critical: the service is still ready, with a warning.
/// assert_eq!(report.status, Status::Warn);
/// assert!(report.ready());
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Clone)]
pub struct Checks {
    inner: Arc<Inner>,
}

struct Inner {
    configured: Vec<Configured>,
    /// Whether the checks registered in code that `configured` does not name run too.
    unlisted: bool,
    registry: CheckRegistry,
    /// Shared by every `http://` check; present when there is one.
    client: Option<Client>,
    in_flight: InFlight,
}

/// A check from `observability.health.checks`.
struct Configured {
    name: String,
    critical: bool,
    timeout: Duration,
    probe: Probe,
}

enum Probe {
    /// `external_service`.
    Http(HttpCheck),
    /// `custom` or `database`: the check registered under `handler`.
    Registered {
        handler: String,
        kind: HealthCheckKind,
    },
}

/// A check about to run.
struct Planned {
    name: String,
    critical: bool,
    timeout: Duration,
    job: Job,
}

enum Job {
    Http(HttpCheck, Client),
    Code(CheckFn),
    /// Fails at once with this message.
    Missing(String),
}

/// A check of a run: still running, or failed before it could start.
enum Pending {
    Task(JoinHandle<Outcome>),
    Done(Outcome),
}

/// Whether a call of [`Checks::run`] runs the checks or shares a run in flight.
enum Role {
    Lead(watch::Sender<Option<Report>>),
    Join(watch::Receiver<Option<Report>>),
}

/// The run in progress, which callers asking meanwhile share (`None` when none is).
type InFlight = Mutex<Option<watch::Receiver<Option<Report>>>>;

/// Ends the sharing of a run when it is over or dropped.
struct ClearInFlight<'a>(&'a InFlight);

impl Drop for ClearInFlight<'_> {
    fn drop(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }
}

/// How a check ended, timed where it ran.
struct Outcome {
    result: Result<(), String>,
    latency: Duration,
}

impl Checks {
    /// The checks `health` lists, and every check registered in code (now or later)
    /// that it does not name, as a critical check with a 5 s timeout:
    ///
    /// - `external_service`: an HTTP GET of `url` through a client shared by every check,
    ///   within the check's timeout, redirects not followed; a 2xx answer passes, another
    ///   status or a connection error fails with the status or the error;
    /// - `custom` and `database`: the check registered under `handler` (by default the
    ///   check's name), looked up at each run; when none is, the check fails with a
    ///   message naming the handler and the call that registers it.
    ///
    /// A check registered under the name of a configured check runs only as that check
    /// (names are unique in a report). With `enabled: false` there are no checks at all
    /// (as with [`Checks::empty`]).
    ///
    /// An `external_service` URL that is not an `http://` URL with a host is an
    /// [`Error::Install`] naming its YAML path, `observability.health.checks[i].url`
    /// (and never the credentials it may carry).
    ///
    /// ```
    /// use rustform::config::Config;
    /// use rustform::health::Checks;
    ///
    /// let yaml = "observability:\n  health:\n    checks:\n      \
    ///             - {type: external_service, name: auth, url: \"http://auth:8080/health\", timeout: 2s}\n";
    /// let config = Config::parse(yaml, "rustform.yml", &|_| None)?;
    /// let checks = Checks::from_config(&config.observability.health)?;
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub fn from_config(health: &Health) -> Result<Checks, Error> {
        Checks::with_registry(health, registry::global().clone())
    }

    /// [`Checks::from_config`] over another registry (the tests' own).
    pub(crate) fn with_registry(health: &Health, registry: CheckRegistry) -> Result<Checks, Error> {
        if !health.enabled {
            return Ok(Checks::empty());
        }
        let mut configured = Vec::with_capacity(health.checks.len());
        for (i, check) in health.checks.iter().enumerate() {
            let probe = match check.kind {
                HealthCheckKind::ExternalService => {
                    let path = format!("observability.health.checks[{i}].url");
                    let url = check.url.as_deref().ok_or_else(|| Error::Install {
                        what: "health checks",
                        reason: format!(
                            "{path}: missing: an external_service check needs the URL to call, \
                             like url: \"http://auth/health\""
                        ),
                    })?;
                    let tls_path = format!("observability.health.checks[{i}].tls");
                    Probe::Http(HttpCheck::new(url, &path, &check.tls, &tls_path)?)
                }
                kind @ (HealthCheckKind::Custom | HealthCheckKind::Database) => Probe::Registered {
                    handler: check.handler.clone().unwrap_or_else(|| check.name.clone()),
                    kind,
                },
            };
            configured.push(Configured {
                name: check.name.clone(),
                critical: check.critical,
                timeout: check.timeout,
                probe,
            });
        }
        let client = configured
            .iter()
            .any(|c| matches!(&c.probe, Probe::Http(http) if http.client.is_none()))
            .then(external::client)
            .transpose()?;
        Ok(Checks {
            inner: Arc::new(Inner {
                configured,
                unlisted: true,
                registry,
                client,
                in_flight: Mutex::default(),
            }),
        })
    }

    /// No checks at all, not even those registered in code: every run passes. For a
    /// service whose readiness is only the [`set_ready`](super::set_ready) switch.
    ///
    /// ```
    /// let checks = rustform::health::Checks::empty();
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let report = runtime.block_on(checks.run());
    /// assert!(report.checks.is_empty());
    /// assert!(report.ready());
    /// ```
    pub fn empty() -> Checks {
        Checks {
            inner: Arc::new(Inner {
                configured: Vec::new(),
                unlisted: false,
                registry: CheckRegistry::default(),
                client: None,
                in_flight: Mutex::default(),
            }),
        }
    }

    /// Runs every check concurrently, each as its own Tokio task bounded by its timeout,
    /// and returns when all have finished or timed out: a slow check never holds the
    /// caller beyond the largest timeout, nor delays the others. A check that times out
    /// fails with "timed out after 3s" (its task is aborted); one that panics fails with
    /// "the check panicked", and its panic message is logged on target
    /// `rustform::health`. Dropping the returned future aborts the checks still running.
    ///
    /// A call made while another run of the same checks (or a clone of them) is in
    /// progress shares that run's report, so a burst of probes costs one run: an
    /// unauthenticated `/health` cannot be used to flood the services it checks.
    ///
    /// Must be awaited inside a Tokio runtime with timers enabled (as `#[tokio::main]`
    /// builds). On a multi-threaded runtime even a check that blocks its thread cannot
    /// hold the run past its timeout.
    ///
    /// ```
    /// use rustform::health::{Checks, Status};
    ///
    /// rustform::health::register("disk_space", || async { Err("3% free".to_owned()) });
    /// let checks = Checks::from_config(&rustform::config::Health::default())?;
    ///
    /// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let report = runtime.block_on(checks.run());
    /// assert_eq!(report.status, Status::Fail);
    /// assert_eq!(report.failing(), ["disk_space"]);
    /// assert_eq!(report.checks[0].message.as_deref(), Some("3% free"));
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub async fn run(&self) -> Report {
        let role = {
            let mut in_flight = self
                .inner
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match in_flight.as_ref() {
                Some(report) => Role::Join(report.clone()),
                None => {
                    let (sender, receiver) = watch::channel(None);
                    *in_flight = Some(receiver);
                    Role::Lead(sender)
                }
            }
        };
        match role {
            Role::Lead(sender) => {
                let _clear = ClearInFlight(&self.inner.in_flight);
                let report = self.run_now().await;
                sender.send_replace(Some(report.clone()));
                report
            }
            Role::Join(mut receiver) => {
                if let Ok(shared) = receiver.wait_for(Option::is_some).await
                    && let Some(report) = shared.as_ref()
                {
                    return report.clone();
                }
                // The run we joined was dropped before it finished: run them ourselves.
                self.run_now().await
            }
        }
    }

    /// One run of every check, not shared.
    async fn run_now(&self) -> Report {
        let start = Instant::now();
        let mut running = Running::default();
        let mut pending = Vec::new();
        for check in self.plan() {
            let state = match check.job {
                Job::Missing(message) => Pending::Done(Outcome {
                    result: Err(message),
                    latency: Duration::ZERO,
                }),
                job => {
                    let deadline = start + check.timeout;
                    let task =
                        tokio::spawn(attempt(check.name.clone(), job, deadline, check.timeout));
                    running.0.push(task.abort_handle());
                    Pending::Task(task)
                }
            };
            pending.push((check.name, check.critical, check.timeout, state));
        }

        let mut checks = Vec::with_capacity(pending.len());
        for (name, critical, timeout, state) in pending {
            let outcome = match state {
                Pending::Done(outcome) => outcome,
                Pending::Task(mut task) => {
                    match tokio::time::timeout_at(start + timeout, &mut task).await {
                        Ok(Ok(outcome)) => outcome,
                        Ok(Err(error)) => Outcome {
                            result: Err(if error.is_panic() {
                                PANICKED.to_owned()
                            } else {
                                "the check was cancelled".to_owned()
                            }),
                            latency: start.elapsed(),
                        },
                        // Blocked past its own timer: give up on it.
                        Err(_) => {
                            task.abort();
                            timed_out(timeout)
                        }
                    }
                }
            };
            checks.push(CheckReport {
                name,
                status: if outcome.result.is_ok() {
                    Status::Pass
                } else {
                    Status::Fail
                },
                critical,
                latency: outcome.latency,
                message: outcome.result.err(),
            });
        }
        Report::from_checks(checks)
    }

    /// What this run will do: the configured checks, their handlers looked up now, then
    /// the unlisted registered checks by name.
    fn plan(&self) -> Vec<Planned> {
        let inner = &*self.inner;
        let registered = inner.registry.snapshot();
        let mut plan = Vec::with_capacity(inner.configured.len() + registered.len());
        for check in &inner.configured {
            let job = match &check.probe {
                Probe::Http(http) => match http.client.as_ref().or(inner.client.as_ref()) {
                    Some(client) => Job::Http(http.clone(), client.clone()),
                    None => Job::Missing("no HTTP client".to_owned()),
                },
                Probe::Registered { handler, kind } => match registered.get(handler) {
                    Some(run) => Job::Code(run.clone()),
                    None => Job::Missing(not_registered(handler, *kind)),
                },
            };
            plan.push(Planned {
                name: check.name.clone(),
                critical: check.critical,
                timeout: check.timeout,
                job,
            });
        }
        if inner.unlisted {
            for (name, run) in registered {
                let listed = inner.configured.iter().any(|c| {
                    c.name == name
                        || matches!(&c.probe, Probe::Registered { handler, .. } if *handler == name)
                });
                if !listed {
                    plan.push(Planned {
                        name,
                        critical: true,
                        timeout: UNLISTED_TIMEOUT,
                        job: Job::Code(run),
                    });
                }
            }
        }
        plan
    }
}

impl fmt::Debug for Checks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for check in &self.inner.configured {
            list.entry(&check.name);
        }
        if self.inner.unlisted {
            list.entry(&format_args!("..registered in code"));
        }
        list.finish()
    }
}

/// Why a configured `custom` or `database` check cannot run.
fn not_registered(handler: &str, kind: HealthCheckKind) -> String {
    let what = match kind {
        HealthCheckKind::Database => "database check",
        _ => "check",
    };
    format!(
        "no {what} is registered under {handler:?}: register it at start-up with \
         rustform::health::register({handler:?}, || async {{ Ok(()) }})"
    )
}

fn timed_out(timeout: Duration) -> Outcome {
    Outcome {
        result: Err(format!("timed out after {}", human(timeout))),
        latency: timeout,
    }
}

/// One check, in its own task: bounded by `deadline`, its panics caught.
async fn attempt(name: String, job: Job, deadline: Instant, timeout: Duration) -> Outcome {
    let started = Instant::now();
    let future: CheckFuture = match job {
        Job::Http(http, client) => Box::pin(async move { http.run(&client, timeout).await }),
        Job::Code(run) => match catch_unwind(AssertUnwindSafe(|| run())) {
            Ok(future) => future,
            Err(panic) => return panicked(&name, panic, started),
        },
        Job::Missing(message) => return failed(message, started),
    };
    match tokio::time::timeout_at(deadline, CatchUnwind { inner: future }).await {
        // A check that blocked its thread past the deadline did not finish in time,
        // whatever it returned.
        Ok(_) if Instant::now() > deadline => timed_out(timeout),
        Ok(Ok(result)) => Outcome {
            result,
            latency: started.elapsed(),
        },
        Ok(Err(panic)) => panicked(&name, panic, started),
        Err(_) => timed_out(timeout),
    }
}

fn failed(message: String, started: Instant) -> Outcome {
    Outcome {
        result: Err(message),
        latency: started.elapsed(),
    }
}

fn panicked(name: &str, panic: Box<dyn Any + Send>, started: Instant) -> Outcome {
    let payload = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a non-string payload");
    tracing::error!(target: "rustform::health", check = name, panic = payload, "a health check panicked");
    failed(PANICKED.to_owned(), started)
}

/// A check's future whose panics end it with `Err(payload)` instead of unwinding.
struct CatchUnwind {
    inner: CheckFuture,
}

impl Future for CatchUnwind {
    type Output = Result<Result<(), String>, Box<dyn Any + Send>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Unwind safety: after a panic the future is never polled again, and nothing of
        // rustform's is borrowed by it.
        let inner = &mut self.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// The tasks of a run, aborted if the run is dropped before they finish.
#[derive(Default)]
struct Running(Vec<AbortHandle>);

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn health(yaml: &str) -> Health {
        Config::parse(yaml, "rustform.yml", &|_| None)
            .unwrap()
            .observability
            .health
    }

    fn checks(yaml: &str, registry: &CheckRegistry) -> Checks {
        Checks::with_registry(&health(yaml), registry.clone()).unwrap()
    }

    fn by_name<'r>(report: &'r Report, name: &str) -> &'r CheckReport {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name:?} in {report:?}"))
    }

    #[tokio::test]
    async fn a_registered_check_runs_by_handler_or_name() {
        let registry = CheckRegistry::default();
        registry.insert("check_business_health", || async { Ok(()) });
        registry.insert("database", || async { Err("pool exhausted".to_owned()) });
        let checks = checks(
            "observability:\n  health:\n    checks:\n      \
             - {type: custom, name: business_logic, handler: check_business_health}\n      \
             - {type: database}\n",
            &registry,
        );
        let report = checks.run().await;
        assert_eq!(report.checks.len(), 2, "{report:?}");
        assert_eq!(by_name(&report, "business_logic").status, Status::Pass);
        let database = by_name(&report, "database");
        assert_eq!(database.status, Status::Fail);
        assert_eq!(database.message.as_deref(), Some("pool exhausted"));
        assert_eq!(report.failing(), ["database"]);
    }

    #[tokio::test]
    async fn a_missing_handler_says_how_to_register_it() {
        let registry = CheckRegistry::default();
        let checks = checks(
            "observability:\n  health:\n    checks:\n      \
             - {type: database, name: orders_db}\n",
            &registry,
        );
        let report = checks.run().await;
        let message = by_name(&report, "orders_db").message.clone().unwrap();
        assert_eq!(
            message,
            "no database check is registered under \"orders_db\": register it at start-up \
             with rustform::health::register(\"orders_db\", || async { Ok(()) })"
        );
        assert!(!report.ready());

        // Registered after the checks were built: the next run finds it.
        registry.insert("orders_db", || async { Ok(()) });
        let report = checks.run().await;
        assert_eq!(by_name(&report, "orders_db").status, Status::Pass);
        assert!(report.ready());
    }

    #[tokio::test]
    async fn unlisted_registered_checks_are_critical_and_listed_ones_run_once() {
        let registry = CheckRegistry::default();
        registry.insert("zeta", || async { Ok(()) });
        registry.insert("alpha", || async { Err("down".to_owned()) });
        registry.insert("check_cache", || async { Err("cold".to_owned()) });
        let checks = checks(
            "observability:\n  health:\n    checks:\n      \
             - {type: custom, name: cache, handler: check_cache, critical: false}\n",
            &registry,
        );
        let report = checks.run().await;
        let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["cache", "alpha", "zeta"]);
        assert!(!by_name(&report, "cache").critical);
        assert!(by_name(&report, "alpha").critical);
        assert_eq!(report.failing(), ["alpha"]);
        assert_eq!(report.status, Status::Fail);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_check_times_out_and_does_not_hold_the_others() {
        let registry = CheckRegistry::default();
        registry.insert("slow", || async {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            Ok(())
        });
        registry.insert("quick", || async { Ok(()) });
        let checks = checks(
            "observability:\n  health:\n    checks:\n      \
             - {type: custom, name: slow, timeout: 3s}\n      \
             - {type: custom, name: quick, timeout: 1s}\n",
            &registry,
        );
        let start = Instant::now();
        let report = checks.run().await;
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        let slow = by_name(&report, "slow");
        assert_eq!(slow.message.as_deref(), Some("timed out after 3s"));
        assert_eq!(slow.latency, Duration::from_secs(3));
        let quick = by_name(&report, "quick");
        assert_eq!(quick.status, Status::Pass);
        assert!(quick.latency < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn checks_run_concurrently() {
        let registry = CheckRegistry::default();
        for name in ["a", "b", "c"] {
            registry.insert(name, || async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(())
            });
        }
        let checks = checks("{}\n", &registry);
        let start = Instant::now();
        let report = checks.run().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        assert_eq!(report.status, Status::Pass);
    }

    /// A registry with one check, "slow", that counts its runs and takes a second.
    fn counted_slow_check() -> (CheckRegistry, Arc<AtomicUsize>) {
        let registry = CheckRegistry::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        registry.insert("slow", move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(())
            }
        });
        (registry, calls)
    }

    #[tokio::test(start_paused = true)]
    async fn callers_meanwhile_share_a_run() {
        let (registry, calls) = counted_slow_check();
        let checks = checks("{}\n", &registry);
        let clone = checks.clone();
        let (first, second) = tokio::join!(checks.run(), clone.run());
        assert_eq!(first, second);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Once over, the next call is a new run.
        checks.run().await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_whose_shared_run_is_dropped_runs_the_checks_itself() {
        let (registry, calls) = counted_slow_check();
        let checks = checks("{}\n", &registry);
        let mut first = Box::pin(checks.run());
        tokio::time::timeout(Duration::from_millis(10), &mut first)
            .await
            .unwrap_err();
        let second = tokio::spawn({
            let checks = checks.clone();
            async move { checks.run().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(first);
        let report = second.await.unwrap();
        assert_eq!(report.status, Status::Pass);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_check_fails_and_the_next_run_is_unaffected() {
        let registry = CheckRegistry::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        registry.insert("flaky", move || {
            let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
            async move {
                if first {
                    panic!("password=hunter2 in a panic message");
                }
                Ok(())
            }
        });
        registry.insert("eager", || -> std::future::Ready<Result<(), String>> {
            panic!("panicked before returning a future")
        });
        let checks = checks("{}\n", &registry);
        let report = checks.run().await;
        for name in ["flaky", "eager"] {
            assert_eq!(by_name(&report, name).message.as_deref(), Some(PANICKED));
        }
        let report = checks.run().await;
        assert_eq!(by_name(&report, "flaky").status, Status::Pass);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        registry.insert("eager", || async { Ok(()) });
        assert!(checks.run().await.ready());
    }

    #[tokio::test]
    async fn disabled_and_empty_have_no_checks() {
        let registry = CheckRegistry::default();
        registry.insert("anything", || async { Err("down".to_owned()) });
        let disabled = checks("observability:\n  health:\n    enabled: false\n", &registry);
        assert!(disabled.run().await.checks.is_empty());
        let report = Checks::empty().run().await;
        assert!(report.checks.is_empty() && report.ready());
        assert_eq!(report.status, Status::Pass);
    }

    #[test]
    fn a_bad_url_is_an_install_error_naming_its_path() {
        let mut health = health(
            "observability:\n  health:\n    checks:\n      \
             - {type: custom, name: a}\n      \
             - {type: external_service, name: b, url: \"http://b/health\"}\n",
        );
        health.checks[1].url = Some("http://user:pw@exa mple/?token=t".to_owned());
        let error = Checks::with_registry(&health, CheckRegistry::default()).unwrap_err();
        let text = error.to_string();
        assert!(matches!(error, Error::Install { .. }), "{error:?}");
        assert!(
            text.contains("observability.health.checks[1].url"),
            "{text}"
        );
        assert!(!text.contains("pw") && !text.contains("token"), "{text}");

        health.checks[1].url = None;
        let text = Checks::with_registry(&health, CheckRegistry::default())
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("observability.health.checks[1].url: missing"),
            "{text}"
        );
    }

    #[test]
    fn clones_share_and_cross_threads() {
        fn send_sync<T: Send + Sync + Clone>() {}
        send_sync::<Checks>();
        let checks = Checks::empty();
        assert!(Arc::ptr_eq(&checks.inner, &checks.clone().inner));
        // An axum handler may await a run.
        fn send<T: Send + 'static>(_: T) {}
        send(async move { checks.run().await });
        let checks = Checks::empty();
        assert_eq!(format!("{checks:?}"), "[]");
    }
}
