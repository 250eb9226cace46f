//! The secured endpoint over real HTTP on loopback: a real Prometheus server scraping it
//! with a `credentials_file`, every authentication outcome with its exact status, exact
//! rate limits, content negotiation, health checks, and concurrent scrapes.

use std::io::Read;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::blocking::Client;
use rustform::auth::TokenStore;
use rustform::config::Config;
use rustform::endpoint::Endpoint;
use testkit::prometheus_server::{Job, PrometheusServer};

/// An endpoint served on 127.0.0.1 by axum on a thread of its own.
struct Served {
    base: String,
    address: SocketAddr,
}

fn serve(yaml: &str) -> Served {
    let config = Config::parse(yaml, "rustform.yml", &|_| None).expect("a valid configuration");
    let router = Endpoint::from_config(&config)
        .expect("the endpoint")
        .router();
    let address = testkit::serve_axum(router, 2);
    Served {
        base: format!("http://{address}"),
        address,
    }
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A configuration with bearer tokens from `token_file` and the store at `store`.
fn bearer(token_file: &Path, store: &Path, extra: &str) -> String {
    format!(
        "name: shop\nobservability:\n  prometheus:\n    authentication:\n      enabled: true\n      \
         method: bearer_token\n      token_file: {}\n      token_store: {}\n      \
         required_scopes: [\"metrics:read\"]\n      rate_limit:\n        \
         requests_per_minute: 6000\n        burst_size: 1000\n        failed_auth_per_minute: 1000\n{extra}",
        token_file.display(),
        store.display()
    )
}

#[rustform::observed]
fn place_order(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

#[rustform::observed]
fn ship_order(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

struct Secrets {
    _dir: tempfile::TempDir,
    token_file: std::path::PathBuf,
    store: std::path::PathBuf,
    static_token: String,
}

fn secrets() -> Secrets {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("metrics-token");
    let static_token = "static-9f8e7d6c5b4a39281706f5e4d3c2b1a0".to_owned();
    std::fs::write(&token_file, format!("{static_token}\n")).unwrap();
    let store = dir.path().join("tokens.json");
    Secrets {
        token_file,
        store,
        static_token,
        _dir: dir,
    }
}

#[test]
fn prometheus_scrapes_with_its_credentials_file_and_is_refused_without_the_right_token() {
    for id in 0..3 {
        ship_order(id).unwrap();
    }
    let secrets = secrets();
    let served = serve(&bearer(&secrets.token_file, &secrets.store, ""));
    let issued = TokenStore::open(&secrets.store)
        .unwrap()
        .create(&["metrics:read"], Some(Duration::from_secs(3600)))
        .unwrap();
    let credentials = secrets.token_file.with_file_name("prometheus-credentials");
    std::fs::write(&credentials, issued.token()).unwrap();
    let wrong = secrets.token_file.with_file_name("wrong-credentials");
    std::fs::write(&wrong, "rf_aaaaaaaaaa_not-the-secret").unwrap();
    let authorized = format!(
        "    authorization:\n      credentials_file: {}\n",
        credentials.display()
    );
    let refused = format!(
        "    authorization:\n      credentials_file: {}\n",
        wrong.display()
    );
    let prometheus = PrometheusServer::start(
        &[
            Job {
                name: "shop",
                target: served.address.to_string(),
                extra: &authorized,
            },
            Job {
                name: "intruder",
                target: served.address.to_string(),
                extra: &refused,
            },
        ],
        &[],
    );
    prometheus.wait_until_up("shop");
    let result =
        prometheus.query(r#"function_calls_total{job="shop",function="ship_order",result="ok"}"#);
    assert_eq!(result.len(), 1, "{result:?}");
    assert_eq!(result[0]["value"][1], "3");

    let mut last_error = String::new();
    prometheus.wait(
        "the intruder's scrape to fail",
        Duration::from_secs(30),
        || {
            prometheus.targets().into_iter().any(|t| {
                let down = t["labels"]["job"] == "intruder" && t["health"] == "down";
                if down {
                    last_error = t["lastError"].as_str().unwrap_or_default().to_owned();
                }
                down && !last_error.is_empty()
            })
        },
    );
    assert!(last_error.contains("401"), "{last_error}");
}

#[test]
fn every_authentication_outcome_has_its_status() {
    let secrets = secrets();
    let served = serve(&bearer(&secrets.token_file, &secrets.store, ""));
    let store = TokenStore::open(&secrets.store).unwrap();
    let good = store.create(&["metrics:read"], None).unwrap();
    let unscoped = store.create(&["other:read"], None).unwrap();
    let revoked = store.create(&["metrics:read"], None).unwrap();
    store.revoke(revoked.id()).unwrap();
    let rotated = store.create(&["metrics:read"], None).unwrap();
    store.rotate(rotated.id(), Duration::ZERO).unwrap();
    // Let the running service see the changes on disk (it looks at most once a second).
    std::thread::sleep(Duration::from_millis(1100));

    let http = client();
    let metrics = format!("{}/metrics", served.base);
    let get = |authorization: Option<&str>| {
        let mut request = http.get(&metrics);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send().unwrap()
    };
    let cases: Vec<(&str, Option<String>, StatusCode)> = vec![
        ("no header", None, StatusCode::UNAUTHORIZED),
        (
            "wrong scheme",
            Some(format!("Basic {}", secrets.static_token)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "empty token",
            Some("Bearer ".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong token",
            Some("Bearer rf_aaaaaaaaaa_0000".into()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "revoked",
            Some(format!("Bearer {}", revoked.token())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "rotated out after its grace period",
            Some(format!("Bearer {}", rotated.token())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "missing scope",
            Some(format!("Bearer {}", unscoped.token())),
            StatusCode::FORBIDDEN,
        ),
        (
            "store token",
            Some(format!("Bearer {}", good.token())),
            StatusCode::OK,
        ),
        (
            "static token",
            Some(format!("bearer {}", secrets.static_token)),
            StatusCode::OK,
        ),
    ];
    for (case, header, status) in cases {
        let response = get(header.as_deref());
        assert_eq!(response.status(), status, "{case}");
        let challenge = response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = response.text().unwrap();
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                challenge.unwrap_or_default().starts_with("Bearer"),
                "{case}"
            );
        }
        // No presented credential ever comes back.
        if let Some(header) = &header
            && let Some(token) = header.split(' ').nth(1).filter(|t| t.len() > 4)
        {
            assert!(!body.contains(token), "{case}: the body echoes the token");
        }
    }
    // Health endpoints need no credential (their status depends on the checks that
    // other tests here register).
    assert_eq!(get_status(&http, &format!("{}/healthz", served.base)), 200);
    assert_ne!(get_status(&http, &format!("{}/readyz", served.base)), 401);
    assert_ne!(get_status(&http, &format!("{}/health", served.base)), 401);
}

fn get_status(http: &Client, url: &str) -> u16 {
    http.get(url).send().unwrap().status().as_u16()
}

#[test]
fn ten_thousand_random_tokens_are_all_refused() {
    let secrets = secrets();
    let served = serve(&bearer(&secrets.token_file, &secrets.store, "").replace(
        "failed_auth_per_minute: 1000",
        "failed_auth_per_minute: 100000",
    ));
    let _ = TokenStore::open(&secrets.store)
        .unwrap()
        .create(&["metrics:read"], None)
        .unwrap();
    let http = client();
    let metrics = format!("{}/metrics", served.base);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..10_000 {
        let token = match i % 4 {
            0 => format!("rf_{:010x}_{:064x}", next() % (1 << 40), u128::from(next())),
            1 => format!("{:x}{:x}", next(), next()),
            2 => format!(
                "static-{:032x}",
                u128::from(next()) << 64 | u128::from(next())
            ),
            _ => format!("ey{:x}.{:x}.{:x}", next(), next(), next()),
        };
        let status = http
            .get(&metrics)
            .header("authorization", format!("Bearer {token}"))
            .send()
            .unwrap()
            .status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "token {i} was not refused"
        );
    }
}

#[test]
fn the_rate_limit_allows_the_burst_then_answers_429_until_the_period_passes() {
    let secrets = secrets();
    let yaml = bearer(&secrets.token_file, &secrets.store, "").replace(
        "requests_per_minute: 6000\n        burst_size: 1000",
        "requests_per_minute: 60\n        burst_size: 3",
    );
    let served = serve(&yaml);
    let http = client();
    let metrics = format!("{}/metrics", served.base);
    let scrape = || {
        http.get(&metrics)
            .bearer_auth(&secrets.static_token)
            .send()
            .unwrap()
    };
    for i in 0..3 {
        assert_eq!(
            scrape().status(),
            StatusCode::OK,
            "request {i} of the burst"
        );
    }
    let limited = scrape();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, 1);
    // Liveness stays up while /metrics is limited.
    assert_eq!(get_status(&http, &format!("{}/healthz", served.base)), 200);
    // One request a second comes back.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(scrape().status(), StatusCode::OK);
    assert_eq!(scrape().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[test]
fn failed_authentications_are_limited_per_address() {
    let secrets = secrets();
    let yaml = bearer(&secrets.token_file, &secrets.store, "")
        .replace("failed_auth_per_minute: 1000", "failed_auth_per_minute: 5");
    let served = serve(&yaml);
    let http = client();
    let metrics = format!("{}/metrics", served.base);
    let statuses: Vec<u16> = (0..8)
        .map(|_| {
            http.get(&metrics)
                .bearer_auth("guess")
                .send()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429]);
}

#[test]
fn the_format_follows_accept_and_gzip_follows_accept_encoding() {
    let served = serve(
        "name: shop\nobservability:\n  prometheus:\n    authentication:\n      enabled: false\n",
    );
    place_order(1).unwrap();
    let http = Client::builder().build().unwrap();
    let metrics = format!("{}/metrics", served.base);
    let text = http.get(&metrics).send().unwrap();
    assert_eq!(
        text.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(
        text.text()
            .unwrap()
            .contains("# TYPE function_calls_total counter")
    );

    let open = http
        .get(&metrics)
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
        )
        .send()
        .unwrap();
    assert!(
        open.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text; version=1.0.0")
    );
    assert!(open.text().unwrap().ends_with("# EOF\n"));

    let zipped = http
        .get(&metrics)
        .header("accept-encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().unwrap();
    let mut plain = String::new();
    flate2::read::GzDecoder::new(bytes.as_ref())
        .read_to_string(&mut plain)
        .unwrap();
    assert!(plain.contains("function_calls_total"));
}

#[test]
fn readiness_names_the_failing_critical_check() {
    rustform::health::register("inventory_db", || async {
        Err("connection refused".to_owned())
    });
    rustform::health::register("cache", || async { Ok(()) });
    let served = serve(
        "name: shop\nobservability:\n  health:\n    checks:\n      \
         - {type: custom, name: inventory_db}\n      \
         - {type: custom, name: cache, critical: false}\n",
    );
    let http = client();
    let ready = http.get(format!("{}/readyz", served.base)).send().unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = ready.json().unwrap();
    assert_eq!(body["failing"], serde_json::json!(["inventory_db"]));
    let health = http.get(format!("{}/health", served.base)).send().unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = health.json().unwrap();
    assert_eq!(body["status"], "fail");
    let checks = body["checks"].as_array().unwrap();
    let db = checks.iter().find(|c| c["name"] == "inventory_db").unwrap();
    assert_eq!(db["status"], "fail");
    assert_eq!(db["message"], "connection refused");
    assert!(db["latency_ms"].is_number());
    // Liveness does not depend on checks.
    assert_eq!(get_status(&http, &format!("{}/healthz", served.base)), 200);
}

#[test]
fn an_oversized_request_head_is_refused_without_tying_up_the_server() {
    // The endpoint's own server (what `init()` starts) limits request heads.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
        .arg("huge-header")
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("huge header: 431"), "{stderr}");
    assert!(stderr.contains("after it: 200"), "{stderr}");
}

#[test]
fn sixty_four_concurrent_scrapers_for_ten_seconds_get_no_server_error() {
    let secrets = secrets();
    let served = serve(&bearer(&secrets.token_file, &secrets.store, "").replace(
        "requests_per_minute: 6000\n        burst_size: 1000",
        "requests_per_minute: 1000000\n        burst_size: 100000",
    ));
    let metrics = format!("{}/metrics", served.base);
    let until = Instant::now() + Duration::from_secs(10);
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let metrics = metrics.clone();
            let token = secrets.static_token.clone();
            std::thread::spawn(move || {
                let http = client();
                let (mut ok, mut other) = (0u64, Vec::new());
                while Instant::now() < until {
                    match http.get(&metrics).bearer_auth(&token).send() {
                        Ok(r) if r.status() == StatusCode::OK => {
                            let _ = r.bytes();
                            ok += 1;
                        }
                        Ok(r) => other.push(r.status().as_u16()),
                        Err(e) => other.push(if e.is_timeout() { 1 } else { 0 }),
                    }
                }
                (ok, other)
            })
        })
        .collect();
    let mut total = 0;
    for worker in workers {
        let (ok, other) = worker.join().unwrap();
        assert!(other.is_empty(), "non-200 answers: {other:?}");
        total += ok;
    }
    assert!(total >= 64, "{total} scrapes");
}

#[test]
fn audit_events_record_every_decision_and_never_the_credential() {
    let secrets = secrets();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
        .arg("audit")
        .env_clear()
        .env("RUST_LOG", "info")
        .env("PROBE_TOKEN_FILE", &secrets.token_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("wrong: 401")
            && stderr.contains("right: 200")
            && stderr.contains("none: 401"),
        "{stderr}"
    );
    let audit: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "rustform::audit")
        .collect();
    let outcomes: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| {
            (
                l["fields"]["outcome"].as_str().unwrap_or_default(),
                l["fields"]["reason"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("denied", "invalid"),
            ("allowed", ""),
            ("denied", "missing"),
            ("allowed", ""),
        ],
        "{stdout}"
    );
    for line in &audit {
        assert_eq!(line["fields"]["path"], "/metrics");
        assert_eq!(line["fields"]["address"], "127.0.0.1");
    }
    // The refusals are counted by reason, and the scrapes timed.
    for metric in [
        r#"metric: rustform_endpoint_auth_failures_total{reason="invalid"} 1"#,
        r#"metric: rustform_endpoint_auth_failures_total{reason="missing"} 1"#,
        "metric: rustform_endpoint_rate_limited_total 0",
        "metric: rustform_endpoint_scrape_duration_seconds_count 1",
    ] {
        assert!(stderr.contains(metric), "{metric} in\n{stderr}");
    }
    // Neither the wrong token nor the right one appears anywhere.
    for secret in ["not-the-token-5f1e", secrets.static_token.as_str()] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} leaked"
        );
    }
}

#[test]
fn the_catalog_is_served_behind_the_same_authentication() {
    let secrets = secrets();
    let served = serve(&bearer(&secrets.token_file, &secrets.store, ""));
    let http = client();
    let url = format!("{}/catalog", served.base);
    let refused = http.get(&url).send().unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(&url)
        .bearer_auth("not-the-token-at-all")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let response = http
        .get(&url)
        .bearer_auth(&secrets.static_token)
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let catalog: rustform::catalog::Catalog = response.json().unwrap();
    assert_eq!(catalog, rustform::catalog());
    assert!(
        catalog
            .functions
            .iter()
            .any(|f| f.function == "place_order")
    );
}

/// Runs the endpoint probe's `scenario` with the token file of `secrets`, logs at info
/// as JSON on stdout, `env` on top; returns stdout and stderr.
fn probe(scenario: &str, secrets: &Secrets, env: &[(&str, &str)]) -> (String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
        .arg(scenario)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("PROBE_TOKEN_FILE", &secrets.token_file)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    (stdout, stderr)
}

/// The audit events in `stdout`: outcome, reason and client of each.
fn audit_events(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["target"] == "rustform::audit")
        .map(|l| {
            let field = |name: &str| l["fields"][name].as_str().unwrap_or_default().to_owned();
            (field("outcome"), field("reason"), field("client"))
        })
        .collect()
}

/// A static token's client id: `static:` and the first eight hex digits of its SHA-256.
fn static_id(token: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("static:{}", &hex[..8])
}

#[test]
fn past_the_failure_limit_the_right_token_is_refused_like_any_other() {
    let secrets = secrets();
    let (stdout, stderr) = probe(
        "failure-limit",
        &secrets,
        &[(
            "PROBE_RATE_LIMIT",
            "requests_per_minute: 1000, burst_size: 1000, failed_auth_per_minute: 3",
        )],
    );
    // Three failures a minute: the fourth request, whatever it carries, waits for the
    // first failure's 20 s to pass.
    for line in [
        "guesses: 401 retry-after -, 401 retry-after -, 401 retry-after -",
        "right: 429 retry-after 20",
        "right catalog: 429 retry-after 20",
        "wrong: 429 retry-after 20",
        "healthz: 200 retry-after -",
        "readyz: 200 retry-after -",
        "metric: rustform_endpoint_rate_limited_total 3",
        r#"metric: rustform_endpoint_auth_failures_total{reason="invalid"} 3"#,
    ] {
        assert!(stderr.contains(line), "{line:?} in\n{stderr}");
    }
    let denied = ("denied".to_owned(), "invalid".to_owned(), String::new());
    let limited = (
        "rate_limited".to_owned(),
        "failed_authentications".to_owned(),
        String::new(),
    );
    assert_eq!(
        audit_events(&stdout),
        [
            denied.clone(),
            denied.clone(),
            denied,
            limited.clone(),
            limited.clone(),
            limited
        ],
        "{stdout}"
    );
    assert!(!stdout.contains(secrets.static_token.as_str()));
}

#[test]
fn each_static_token_has_its_own_client_id_and_bucket() {
    let secrets = secrets();
    let second = "variable-token-5d4c3b2a19080706f5e4";
    let (stdout, stderr) = probe(
        "two-static-tokens",
        &secrets,
        &[
            ("PROBE_SECOND_TOKEN", second),
            ("PROBE_RATE_LIMIT", "requests_per_minute: 60, burst_size: 2"),
        ],
    );
    for line in [
        "file token: 200 retry-after -, 200 retry-after -, 429 retry-after 1",
        "variable token: 200 retry-after -",
        "metric: rustform_endpoint_rate_limited_total 1",
    ] {
        assert!(stderr.contains(line), "{line:?} in\n{stderr}");
    }
    let file = static_id(&secrets.static_token);
    let variable = static_id(second);
    assert_ne!(file, variable);
    let clients: Vec<(String, String)> = audit_events(&stdout)
        .into_iter()
        .map(|(outcome, _, client)| (outcome, client))
        .collect();
    let pair = |outcome: &str, client: &str| (outcome.to_owned(), client.to_owned());
    assert_eq!(
        clients,
        [
            pair("allowed", &file),
            pair("allowed", &file),
            pair("rate_limited", &file),
            pair("allowed", &variable),
        ],
        "{stdout}"
    );
}

#[test]
fn health_reports_the_version_build_info_reports() {
    let secrets = secrets();
    let (_, stderr) = probe("health-version", &secrets, &[]);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        stderr.contains(&format!("\"version\":\"{version}\"")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(r#"build_info{{version="{version}","#)),
        "{stderr}"
    );
}

#[test]
fn ipv6_clients_are_limited_per_64_not_per_address() {
    let secrets = secrets();
    // Loopback is the trusted proxy, so the addresses in X-Forwarded-For are the
    // clients'.
    let yaml = bearer(&secrets.token_file, &secrets.store, "")
        .replace("failed_auth_per_minute: 1000", "failed_auth_per_minute: 3")
        .replace(
            "failed_auth_per_minute: 3",
            "failed_auth_per_minute: 3\n        trusted_proxies: [\"127.0.0.1\"]",
        );
    let served = serve(&yaml);
    let http = client();
    let metrics = format!("{}/metrics", served.base);
    let from = |client: &str| {
        http.get(&metrics)
            .bearer_auth("guess-0123456789abcdef")
            .header("x-forwarded-for", client)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    // One host moving through its /64: a new address for every guess.
    let rotating: Vec<u16> = (1..=5)
        .map(|i| from(&format!("2001:db8:7:1::{i:x}")))
        .collect();
    assert_eq!(rotating, [401, 401, 401, 429, 429]);
    // Another /64 has its own allowance, and IPv4 clients one per address.
    assert_eq!(from("2001:db8:7:2::1"), 401);
    assert_eq!(from("203.0.113.7"), 401);
    assert_eq!(from("203.0.113.8"), 401);
}

#[test]
fn without_an_authentication_section_metrics_answers_503_and_open_must_be_written() {
    let http = client();
    let unset = serve("name: shop\n");
    for path in ["/metrics", "/catalog"] {
        assert_eq!(
            get_status(&http, &format!("{}{path}", unset.base)),
            503,
            "{path}"
        );
    }
    assert_eq!(get_status(&http, &format!("{}/healthz", unset.base)), 200);
    let open = serve(
        "name: shop\nobservability:\n  prometheus:\n    authentication:\n      enabled: false\n",
    );
    assert_eq!(get_status(&http, &format!("{}/metrics", open.base)), 200);
    let none = serve(
        "name: shop\nobservability:\n  prometheus:\n    authentication:\n      \
         enabled: true\n      method: none\n",
    );
    assert_eq!(get_status(&http, &format!("{}/metrics", none.base)), 200);
}

#[test]
fn served_without_connect_info_the_endpoint_answers_503_not_one_shared_bucket() {
    let secrets = secrets();
    let config = Config::parse(
        &bearer(&secrets.token_file, &secrets.store, ""),
        "rustform.yml",
        &|_| None,
    )
    .unwrap();
    let router = Endpoint::from_config(&config).unwrap().router();
    // Served the plain way: no peer addresses in the requests.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    let http = client();
    let metrics = format!("http://{address}/metrics");
    for token in [secrets.static_token.as_str(), "guess-0123456789abcdef"] {
        let response = http.get(&metrics).bearer_auth(token).send().unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.text().unwrap(),
            "the endpoint cannot see the client's address\n"
        );
    }
    assert_eq!(get_status(&http, &format!("http://{address}/healthz")), 200);
}
