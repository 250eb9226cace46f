//! Health checks against real peers: HTTP services on loopback that answer 200 or 503,
//! hang, or are not there at all, and checks registered in code that pass, fail, panic or
//! take their time.
//!
//! A test binary of its own: the registry of checks is process-wide and every `Checks`
//! runs the registered checks the configuration does not list, so a failing check that a
//! test elsewhere registers would show in these reports. Within this file each test holds
//! [`scope`] while it runs: the tests run one at a time, and the checks a test registered
//! pass once it is over.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use rustform::config::{Config, Health};
use rustform::health::{self, CheckReport, Checks, Report, Status};
use serde_json::Value;
use tokio::net::TcpListener;

/// Far more than any run below may take: a run still going after this is hung.
const HANG: Duration = Duration::from_secs(20);

/// What a peer answers to every request.
#[derive(Clone, Copy)]
enum Answer {
    Status(u16),
    /// 200, after this long.
    After(Duration),
}

/// An HTTP service on loopback, serving until the test's runtime ends.
struct Peer {
    addr: SocketAddr,
    /// `https` when it speaks TLS.
    scheme: &'static str,
    /// The path and query of every request received.
    seen: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    async fn start(answer: Answer) -> Peer {
        Peer::serve(answer, None).await
    }

    /// The same peer over TLS, with the certificate of `config`.
    async fn start_tls(answer: Answer, config: rustls::ServerConfig) -> Peer {
        Peer::serve(
            answer,
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
        )
        .await
    }

    async fn serve(answer: Answer, tls: Option<tokio_rustls::TlsAcceptor>) -> Peer {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = log.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        log.lock().unwrap().push(request.uri().to_string());
                        async move {
                            let status = match answer {
                                Answer::Status(status) => status,
                                Answer::After(delay) => {
                                    tokio::time::sleep(delay).await;
                                    200
                                }
                            };
                            let response = Response::builder()
                                .status(status)
                                .body(String::from("{\"status\":\"whatever\"}"))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                    match tls {
                        None => {
                            let _ = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                let _ = http1::Builder::new()
                                    .serve_connection(TokioIo::new(stream), service)
                                    .await;
                            }
                        }
                    }
                });
            }
        });
        Peer { addr, scheme, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }
}

/// One test at a time; the checks registered through it pass once the test is over.
struct Scope {
    registered: Vec<String>,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

async fn scope() -> Scope {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    Scope {
        registered: Vec::new(),
        _serial: SERIAL.lock().await,
    }
}

impl Scope {
    fn register<F, Fut>(&mut self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.registered.push(name.to_owned());
        health::register(name, check);
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        for name in &self.registered {
            health::register(name, || async { Ok(()) });
        }
    }
}

/// `observability.health` with these `checks` lines.
fn health(checks: &[String]) -> Health {
    let mut yaml = String::from("observability:\n  health:\n    checks:\n");
    for check in checks {
        yaml.push_str("      - ");
        yaml.push_str(check);
        yaml.push('\n');
    }
    Config::parse(&yaml, "rustform.yml", &|_| None)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"))
        .observability
        .health
}

/// An `external_service` check, with a 2 s timeout unless `extra` sets one.
fn external(name: &str, url: &str, extra: &str) -> String {
    let timeout = if extra.contains("timeout:") {
        ""
    } else {
        ", timeout: 2s"
    };
    format!("{{type: external_service, name: {name}, url: \"{url}\"{timeout}{extra}}}")
}

/// Runs the checks, failing the test if the run hangs.
async fn run(checks: &Checks) -> Report {
    tokio::time::timeout(HANG, checks.run())
        .await
        .expect("the run of the health checks hung")
}

fn check<'r>(report: &'r Report, name: &str) -> &'r CheckReport {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {report:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_service_answering_200_passes() {
    let _scope = scope().await;
    let peer = Peer::start(Answer::Status(200)).await;
    let checks =
        Checks::from_config(&health(&[external("auth", &peer.url("/health"), "")])).unwrap();
    let report = run(&checks).await;
    let auth = check(&report, "auth");
    assert_eq!((auth.status, auth.message.as_deref()), (Status::Pass, None));
    assert!(auth.critical);
    assert!(auth.latency < Duration::from_secs(2));
    assert_eq!(report.status, Status::Pass);
    assert!(report.ready());
    assert_eq!(*peer.seen.lock().unwrap(), ["/health"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_service_is_checked_with_the_ca_of_its_tls_setting() {
    let _scope = scope().await;
    let pki = testkit::pki::Pki::new();
    let peer = Peer::start_tls(Answer::Status(200), pki.server_config(false)).await;
    let ca = pki.path("ca.pem");
    let checks = Checks::from_config(&health(&[
        external(
            "trusted",
            &peer.url("/health"),
            &format!(", tls: {{ca_file: \"{ca}\"}}"),
        ),
        // The system's roots do not know the test's CA.
        external("system_roots", &peer.url("/health"), ""),
    ]))
    .unwrap();
    let report = run(&checks).await;
    let trusted = check(&report, "trusted");
    assert_eq!(trusted.status, Status::Pass, "{trusted:?}");
    let untrusted = check(&report, "system_roots");
    assert_eq!(untrusted.status, Status::Fail);
    let message = untrusted.message.as_deref().unwrap_or_default();
    assert!(message.contains("invalid peer certificate"), "{message}");
    assert_eq!(
        peer.seen.lock().unwrap().len(),
        1,
        "only the trusted check got through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_service_answering_503_fails_naming_the_status() {
    let _scope = scope().await;
    let peer = Peer::start(Answer::Status(503)).await;
    let checks =
        Checks::from_config(&health(&[external("auth", &peer.url("/health"), "")])).unwrap();
    let report = run(&checks).await;
    let auth = check(&report, "auth");
    assert_eq!(auth.status, Status::Fail);
    let message = auth.message.as_deref().unwrap();
    assert!(message.contains("503 Service Unavailable"), "{message}");
    assert!(message.contains(&peer.url("/health")), "{message}");
    assert_eq!(report.status, Status::Fail);
    assert!(!report.ready());
    assert_eq!(report.failing(), ["auth"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let _scope = scope().await;
    let peer = Peer::start(Answer::Status(302)).await;
    let checks =
        Checks::from_config(&health(&[external("auth", &peer.url("/health"), "")])).unwrap();
    let report = run(&checks).await;
    let message = check(&report, "auth").message.clone().unwrap();
    assert!(
        message.contains("302 Found") && message.contains("redirects are not followed"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_show_no_credentials_or_query() {
    let _scope = scope().await;
    let peer = Peer::start(Answer::Status(500)).await;
    let url = format!("http://probe:hunter2@{}/health?token=s3cret", peer.addr);
    let checks = Checks::from_config(&health(&[external("auth", &url, "")])).unwrap();
    let report = run(&checks).await;
    // The service got the query; the message does not show it.
    assert_eq!(*peer.seen.lock().unwrap(), ["/health?token=s3cret"]);
    let message = check(&report, "auth").message.clone().unwrap();
    assert!(message.contains("500 Internal Server Error"), "{message}");
    for secret in ["probe", "hunter2", "token", "s3cret"] {
        assert!(!message.contains(secret), "{secret} in {message}");
    }
    for body in [
        report.to_json("1.0.0", Duration::ZERO),
        report.readiness_json(),
    ] {
        assert!(
            !body.contains("hunter2") && !body.contains("s3cret"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_service_that_hangs_times_out() {
    let _scope = scope().await;
    let peer = Peer::start(Answer::After(Duration::from_secs(60))).await;
    let checks = Checks::from_config(&health(&[external(
        "auth",
        &peer.url("/health"),
        ", timeout: 300ms",
    )]))
    .unwrap();
    let report = run(&checks).await;
    let auth = check(&report, "auth");
    assert_eq!(auth.status, Status::Fail);
    assert_eq!(auth.message.as_deref(), Some("timed out after 300ms"));
    assert_eq!(auth.latency, Duration::from_millis(300));
    assert!(!report.ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_service_that_is_not_there_fails_with_the_connection_error() {
    let _scope = scope().await;
    // A port that was just free and is now closed.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{addr}/health");
    let checks = Checks::from_config(&health(&[external("auth", &url, "")])).unwrap();
    let report = run(&checks).await;
    let auth = check(&report, "auth");
    assert_eq!(auth.status, Status::Fail);
    let message = auth.message.as_deref().unwrap();
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(message.contains(&url), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_checks_registered_in_code_pass_or_fail_with_their_message() {
    let mut scope = scope().await;
    scope.register("it_custom_ok", || async { Ok(()) });
    scope.register("it_custom_bad", || async {
        Err("ledger is 3 batches behind".to_owned())
    });
    let checks = Checks::from_config(&health(&[
        "{type: custom, name: ledger_ok, handler: it_custom_ok}".to_owned(),
        "{type: custom, name: it_custom_bad}".to_owned(),
    ]))
    .unwrap();
    let report = run(&checks).await;
    assert_eq!(check(&report, "ledger_ok").status, Status::Pass);
    let bad = check(&report, "it_custom_bad");
    assert_eq!(bad.status, Status::Fail);
    assert_eq!(bad.message.as_deref(), Some("ledger is 3 batches behind"));
    // Listed by handler or by name, each ran once.
    assert_eq!(
        report
            .checks
            .iter()
            .filter(|c| c.name == "it_custom_ok")
            .count(),
        0
    );
    assert_eq!(
        report
            .checks
            .iter()
            .filter(|c| c.name == "it_custom_bad")
            .count(),
        1
    );
    assert_eq!(report.failing(), ["it_custom_bad"]);

    // Registering again replaces the check, for checks built before.
    scope.register("it_custom_bad", || async { Ok(()) });
    assert_eq!(
        check(&run(&checks).await, "it_custom_bad").status,
        Status::Pass
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_handler_nobody_registered_says_how_to_register_it() {
    let _scope = scope().await;
    let checks = Checks::from_config(&health(&[
        "{type: custom, name: business_logic, handler: it_never_registered}".to_owned(),
    ]))
    .unwrap();
    let report = run(&checks).await;
    let business = check(&report, "business_logic");
    assert_eq!(business.status, Status::Fail);
    let message = business.message.as_deref().unwrap();
    assert!(message.contains("\"it_never_registered\""), "{message}");
    assert!(
        message
            .contains("rustform::health::register(\"it_never_registered\", || async { Ok(()) })"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_check_fails_and_poisons_nothing() {
    let mut scope = scope().await;
    scope.register("it_panics", || async {
        if std::hint::black_box(true) {
            panic!("connection string postgres://app:pw@db failed");
        }
        Ok(())
    });
    scope.register("it_bystander", || async { Ok(()) });
    let checks = Checks::from_config(&health(&[
        "{type: custom, name: it_panics}".to_owned(),
        "{type: custom, name: it_bystander}".to_owned(),
    ]))
    .unwrap();
    for _ in 0..2 {
        let report = run(&checks).await;
        let panicked = check(&report, "it_panics");
        assert_eq!(panicked.status, Status::Fail);
        assert_eq!(panicked.message.as_deref(), Some("the check panicked"));
        assert_eq!(check(&report, "it_bystander").status, Status::Pass);
    }
    // The registry still takes registrations, and the next run sees them.
    scope.register("it_panics", || async { Ok(()) });
    let report = run(&checks).await;
    assert_eq!(check(&report, "it_panics").status, Status::Pass);
    assert!(report.ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_run_concurrently_and_a_slow_one_delays_no_other() {
    let mut scope = scope().await;
    for name in ["it_second_a", "it_second_b", "it_second_c"] {
        scope.register(name, || async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        });
    }
    scope.register("it_stuck", || async {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
        Ok(())
    });
    let peer = Peer::start(Answer::Status(200)).await;
    let checks = Checks::from_config(&health(&[
        "{type: custom, name: it_stuck, timeout: 2s, critical: false}".to_owned(),
        external("quick", &peer.url("/health"), ""),
    ]))
    .unwrap();
    let started = Instant::now();
    let report = run(&checks).await;
    let elapsed = started.elapsed();
    // One second each, three of them, a stuck one bounded at 2 s: concurrent, not 5 s.
    assert!(elapsed < Duration::from_millis(2_500), "took {elapsed:?}");
    for name in ["it_second_a", "it_second_b", "it_second_c"] {
        assert_eq!(check(&report, name).status, Status::Pass);
    }
    let quick = check(&report, "quick");
    assert_eq!(quick.status, Status::Pass);
    assert!(quick.latency < Duration::from_secs(1), "{quick:?}");
    assert_eq!(
        check(&report, "it_stuck").message.as_deref(),
        Some("timed out after 2s")
    );
    assert_eq!(report.status, Status::Warn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_that_blocks_its_thread_cannot_hold_the_run() {
    let mut scope = scope().await;
    scope.register("it_blocks", || async {
        std::thread::sleep(Duration::from_secs(2));
        Ok(())
    });
    let checks = Checks::from_config(&health(&[
        "{type: custom, name: it_blocks, timeout: 200ms}".to_owned(),
    ]))
    .unwrap();
    let started = Instant::now();
    let report = run(&checks).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        check(&report, "it_blocks").message.as_deref(),
        Some("timed out after 200ms")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_depends_on_critical_checks_only() {
    let _scope = scope().await;
    let up = Peer::start(Answer::Status(200)).await;
    let down = Peer::start(Answer::Status(503)).await;
    let cases = [
        // (critical check up?, non-critical check up?) -> status, ready
        (true, true, Status::Pass, true),
        (true, false, Status::Warn, true),
        (false, true, Status::Fail, false),
        (false, false, Status::Fail, false),
    ];
    for (critical_up, optional_up, status, ready) in cases {
        let url = |healthy: bool| {
            if healthy {
                up.url("/health")
            } else {
                down.url("/health")
            }
        };
        let checks = Checks::from_config(&health(&[
            external("primary", &url(critical_up), ""),
            external("optional", &url(optional_up), ", critical: false"),
        ]))
        .unwrap();
        let report = run(&checks).await;
        assert_eq!(report.status, status, "{report:#?}");
        assert_eq!(report.ready(), ready, "{report:#?}");
        let failing: &[&str] = if critical_up { &[] } else { &["primary"] };
        assert_eq!(report.failing(), failing);
        assert!(!check(&report, "optional").critical);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_bodies_parse_and_carry_every_field() {
    let mut scope = scope().await;
    scope.register("it_json_bad", || async {
        Err("queue \"orders\" is full".to_owned())
    });
    let peer = Peer::start(Answer::Status(200)).await;
    let checks = Checks::from_config(&health(&[
        external("auth", &peer.url("/health"), ""),
        "{type: custom, name: it_json_bad, critical: false}".to_owned(),
    ]))
    .unwrap();
    let report = run(&checks).await;

    let body: Value =
        serde_json::from_str(&report.to_json("3.1.4", Duration::from_secs(125))).unwrap();
    assert_eq!(body["status"], "warn");
    assert_eq!(body["version"], "3.1.4");
    assert_eq!(body["uptime_seconds"], 125);
    let checks = body["checks"].as_array().unwrap();
    let auth = checks.iter().find(|c| c["name"] == "auth").unwrap();
    assert_eq!(auth["status"], "pass");
    assert_eq!(auth["critical"], true);
    assert!(auth["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(auth["message"].is_null());
    let bad = checks.iter().find(|c| c["name"] == "it_json_bad").unwrap();
    assert_eq!(bad["status"], "fail");
    assert_eq!(bad["critical"], false);
    assert_eq!(bad["message"], "queue \"orders\" is full");

    let body: Value = serde_json::from_str(&report.readiness_json()).unwrap();
    assert_eq!(body["status"], "warn");
    assert_eq!(body["ready"], true);
    assert_eq!(body["failing"], serde_json::json!([]));
    assert!(
        body["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "auth")
    );

    scope.register("it_json_bad", || async { Err("down".to_owned()) });
    let checks =
        Checks::from_config(&health(&["{type: custom, name: it_json_bad}".to_owned()])).unwrap();
    let body: Value = serde_json::from_str(&run(&checks).await.readiness_json()).unwrap();
    assert_eq!(body["status"], "fail");
    assert_eq!(body["ready"], false);
    assert_eq!(body["failing"], serde_json::json!(["it_json_bad"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_ready_flips_readiness() {
    let _scope = scope().await;
    assert!(health::is_ready());
    health::set_ready(false);
    assert!(!health::is_ready());
    let report = run(&Checks::empty()).await;
    // The checks pass; the switch still makes the instance unready.
    assert!(report.ready());
    let body: Value = serde_json::from_str(&report.readiness_json()).unwrap();
    health::set_ready(true);
    assert_eq!(body["ready"], false);
    assert_eq!(body["shutting_down"], true);
    assert_eq!(body["status"], "fail");
    assert!(health::is_ready());
}

#[test]
fn a_bad_url_is_an_install_error_naming_its_yaml_path() {
    let mut health = health(&[
        "{type: custom, name: first}".to_owned(),
        external("auth", "http://auth/health", ""),
    ]);
    health.checks[1].url = Some("http://user:hunter2@auth:port/health".to_owned());
    let error = Checks::from_config(&health).unwrap_err();
    assert!(
        matches!(error, rustform::Error::Install { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("observability.health.checks[1].url"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}
