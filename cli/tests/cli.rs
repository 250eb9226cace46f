//! The `rustform` binary on a temporary token store: what an operator types, what the
//! store then holds, and the exit codes.

use std::path::Path;
use std::process::{Command, Output};

use rustform::auth::{FailureReason, TokenStore};
use serde_json::Value;

fn rustform(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rustform"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the rustform binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn generate_list_rotate_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("tokens.json");
    let store_arg = store_path.to_str().unwrap();

    // Generate, as text: the token once, and how to give it to Prometheus.
    let text = ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read",
            "--expires-in",
            "30d",
            "--store",
            store_arg,
        ],
    ));
    let token = text
        .split_whitespace()
        .find(|w| w.starts_with("rf_"))
        .unwrap_or_else(|| panic!("no token in {text}"))
        .to_owned();
    assert!(text.contains("credentials_file"), "{text}");
    assert!(text.contains("only time"), "{text}");
    let store = TokenStore::open(&store_path).unwrap();
    let info = store.verify(&token).unwrap();
    assert_eq!(info.scopes, ["metrics:read"]);
    let lifetime = info.expires.unwrap().duration_since(info.created).unwrap();
    assert_eq!(lifetime.as_secs(), 30 * 86_400);

    // Generate, as JSON.
    let second = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read,health:read",
            "--expires-in",
            "never",
            "--json",
            "--store",
            store_arg,
        ],
    )));
    let second_token = second["token"].as_str().unwrap().to_owned();
    assert_eq!(second["expires"], Value::Null);
    assert_eq!(
        second["scopes"],
        serde_json::json!(["metrics:read", "health:read"])
    );

    // List: both, with no secret anywhere.
    let listed = ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--json", "--store", store_arg],
    ));
    let secret = token.rsplit('_').next().unwrap();
    assert!(!listed.contains(secret), "{listed}");
    assert!(!listed.contains(&second_token), "{listed}");
    let list = json(&listed);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let first = list.iter().find(|t| t["id"] == info.id.as_str()).unwrap();
    assert_eq!(first["status"], "active");
    assert_eq!(first["scopes"], serde_json::json!(["metrics:read"]));
    assert!(first["created"].as_str().unwrap().ends_with('Z'));
    assert!(first.get("token").is_none() && first.get("hash").is_none());
    let table = ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--store", store_arg],
    ));
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(&info.id) && !table.contains(secret),
        "{table}"
    );

    // Rotate: a new secret, the old one still valid during the grace period.
    let rotated = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--grace",
            "1h",
            "--json",
            "--store",
            store_arg,
        ],
    )));
    let new_token = rotated["token"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(rotated["status"], "rotating");
    // A running service sees the change within a second; this one looks now.
    store.reload().unwrap();
    assert!(store.verify(new_token).is_ok());
    assert!(store.verify(&token).is_ok());

    // Rotate without grace: the previous secret (the first rotation's) stops at once.
    ok(rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--grace",
            "0s",
            "--store",
            store_arg,
        ],
    ));
    store.reload().unwrap();
    assert_eq!(store.verify(new_token), Err(FailureReason::Invalid));

    // Revoke.
    let revoked = ok(rustform(
        dir.path(),
        &[
            "metrics",
            "revoke-token",
            "--token-id",
            &info.id,
            "--store",
            store_arg,
        ],
    ));
    assert!(revoked.contains("Revoked"), "{revoked}");
    store.reload().unwrap();
    let list = json(&ok(rustform(
        dir.path(),
        &["metrics", "list-tokens", "--json", "--store", store_arg],
    )));
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == info.id.as_str())
        .unwrap();
    assert_eq!(first["status"], "revoked");
    assert!(store.verify(&second_token).is_ok());

    // An unknown id and a revoked token are the user's mistakes.
    let unknown = rustform(
        dir.path(),
        &[
            "metrics",
            "revoke-token",
            "--token-id",
            "nosuchid00",
            "--store",
            store_arg,
        ],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("list-tokens"),
        "{}",
        stderr(&unknown)
    );
    let again = rustform(
        dir.path(),
        &[
            "metrics",
            "rotate-token",
            "--token-id",
            &info.id,
            "--store",
            store_arg,
        ],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("revoked"), "{}", stderr(&again));
}

#[test]
fn a_bad_duration_is_a_usage_error_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("tokens.json");
    for bad in ["30 days", "soon", "10"] {
        let output = rustform(
            dir.path(),
            &[
                "metrics",
                "generate-token",
                "--scopes",
                "metrics:read",
                "--expires-in",
                bad,
                "--store",
                store.to_str().unwrap(),
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let message = stderr(&output);
        assert!(message.contains("--expires-in"), "{message}");
        assert!(message.contains("\"30d\""), "{message}");
        assert!(stdout(&output).is_empty());
    }
    assert!(!store.exists(), "a failed command created the store");
}

#[test]
fn the_store_comes_from_the_configuration_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rustform.yml"),
        "observability:\n  prometheus:\n    authentication:\n      token_store: secrets/tokens.json\n",
    )
    .unwrap();
    let out = json(&ok(rustform(
        dir.path(),
        &[
            "metrics",
            "generate-token",
            "--scopes",
            "metrics:read",
            "--json",
        ],
    )));
    let store = TokenStore::open(dir.path().join("secrets/tokens.json")).unwrap();
    assert!(store.verify(out["token"].as_str().unwrap()).is_ok());

    // Without a file and without --store: exit 2, saying both ways to fix it.
    let empty = tempfile::tempdir().unwrap();
    let output = rustform(empty.path(), &["metrics", "list-tokens"]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("--store") && message.contains("token_store"),
        "{message}"
    );

    // A broken configuration file: exit 2 with its own message.
    std::fs::write(
        empty.path().join("rustform.yml"),
        "observability:\n  prometheus:\n    authentication:\n      tokn_store: x\n",
    )
    .unwrap();
    let output = rustform(empty.path(), &["metrics", "list-tokens"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("did you mean \"token_store\""),
        "{}",
        stderr(&output)
    );
}

const CATALOG: &str = r#"{
    "service": "shop",
    "functions": [
        {"function": "checkout", "module": "shop::orders",
         "objective": {"name": "api", "success_rate": 99.9,
                       "latency": {"threshold_seconds": 0.25, "percentile": 99.0}}},
        {"function": "refund", "module": "shop::orders"}
    ],
    "metric_groups": [
        {"name": "ShopMetrics", "module": "shop",
         "metrics": [{"name": "shop_orders", "help": "Orders", "type": "counter", "labels": ["channel"]}]}
    ]
}"#;

const CONFIG: &str = "name: shop\nobservability:\n  prometheus:\n    listen: \"0.0.0.0:9464\"\n\
alerts:\n  - name: high_error_rate\n    condition: \"sum(rate(x[5m])) > 1\"\n    duration: 5m\n    severity: warning\n";

#[test]
fn generate_writes_every_file_from_the_configuration_and_a_catalog_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rustform.yml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("catalog.json"), CATALOG).unwrap();
    let out = ok(rustform(
        dir.path(),
        &[
            "generate",
            "all",
            "--catalog",
            "catalog.json",
            "--out",
            "deploy",
        ],
    ));
    let written: Vec<&str> = out.lines().collect();
    for expected in [
        "rules/shop.rules.yml",
        "prometheus/scrape-config.yml",
        "alertmanager/alertmanager.yml",
        "compose/docker-compose.yml",
    ] {
        assert!(
            written.iter().any(|p| p.ends_with(expected)),
            "{expected} not in {written:?}"
        );
        assert!(dir.path().join("deploy").join(expected).is_file());
    }
    assert!(written.iter().any(|p| p.contains("k8s/")));
    assert!(
        written
            .iter()
            .any(|p| p.contains("dashboards/") && p.ends_with(".json"))
    );
    let rules = std::fs::read_to_string(dir.path().join("deploy/rules/shop.rules.yml")).unwrap();
    assert!(
        rules.contains("objective_name=\\\"api\\\"") || rules.contains(r#"objective_name="api""#)
    );
    assert!(rules.contains("high_error_rate"));

    // Without a catalog: what the configuration alone defines, the alerts among it.
    let out = ok(rustform(
        dir.path(),
        &["generate", "alerts", "--out", "bare"],
    ));
    let rules = std::fs::read_to_string(dir.path().join(out.trim())).unwrap();
    assert!(rules.contains("high_error_rate"));
    assert!(!rules.contains("objective_name"));
}

#[test]
fn generate_refuses_unknown_outputs_and_bad_catalogs_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rustform.yml"), "name: shop\n").unwrap();
    let unknown = rustform(dir.path(), &["generate", "rules", "--out", "x"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        stderr(&unknown).contains("use one of alerts, dashboards"),
        "{}",
        stderr(&unknown)
    );

    std::fs::write(dir.path().join("bad.json"), "{\"functions\": 3}").unwrap();
    let bad = rustform(
        dir.path(),
        &["generate", "alerts", "--catalog", "bad.json", "--out", "x"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("is not a rustform catalog"),
        "{}",
        stderr(&bad)
    );

    let threshold = CATALOG.replace("0.25", "0.3");
    std::fs::write(dir.path().join("off.json"), threshold).unwrap();
    let off = rustform(
        dir.path(),
        &["generate", "alerts", "--catalog", "off.json", "--out", "x"],
    );
    assert_eq!(off.status.code(), Some(2));
    assert!(
        stderr(&off).contains("is not a bucket bound"),
        "{}",
        stderr(&off)
    );
    let negative = rustform(
        dir.path(),
        &["generate", "k8s", "--requests-per-second=-1", "--out", "x"],
    );
    assert_eq!(negative.status.code(), Some(2));
    assert!(
        stderr(&negative).contains("--requests-per-second -1"),
        "{}",
        stderr(&negative)
    );
    assert!(
        !dir.path().join("x").exists(),
        "nothing written on an error"
    );
}

#[test]
fn generate_scales_on_the_request_rate_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let config = "name: shop
observability:
  prometheus:
    listen: \"0.0.0.0:9464\"\n\
                  scaling:\n  instances:\n    min_instances: 2\n    max_instances: 6\n";
    std::fs::write(dir.path().join("rustform.yml"), config).unwrap();
    let out = ok(rustform(
        dir.path(),
        &[
            "generate",
            "k8s",
            "--requests-per-second",
            "2.5",
            "--out",
            "a",
        ],
    ));
    assert!(out.contains("prometheus-adapter/values.yaml"), "{out}");
    let hpa = std::fs::read_to_string(dir.path().join("a/k8s/hpa.yaml")).unwrap();
    assert!(hpa.contains("averageValue: 2500m"), "{hpa}");

    let out = ok(rustform(
        dir.path(),
        &[
            "generate",
            "k8s",
            "--requests-per-second",
            "0",
            "--out",
            "b",
        ],
    ));
    assert!(!out.contains("prometheus-adapter"), "{out}");
    let hpa = std::fs::read_to_string(dir.path().join("b/k8s/hpa.yaml")).unwrap();
    assert!(!hpa.contains("http_server_requests_per_second"), "{hpa}");
}

/// The lines of a request's head, up to the blank line (empty when the client went away).
fn read_head(reader: &mut impl std::io::BufRead) -> Vec<String> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push(line),
        }
    }
    head
}

/// A JSON answer with `status`, and the connection closed after it.
fn answer(stream: &mut impl std::io::Write, status: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

#[test]
fn generate_reads_the_catalog_of_a_running_service_with_its_token() {
    use std::io::BufReader;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // A service answering two requests: one without the token, one with it.
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let authorization = read_head(&mut reader).iter().find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("authorization: ")
                    .map(|value| value.trim().to_owned())
            });
            let (status, body) =
                if authorization.as_deref() == Some("bearer secret-token-0123456789") {
                    ("200 OK", CATALOG)
                } else {
                    ("401 Unauthorized", "")
                };
            answer(&mut { stream }, status, body);
            seen.push(authorization);
        }
        seen
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rustform.yml"), "name: shop\n").unwrap();
    std::fs::write(dir.path().join("token"), "secret-token-0123456789\n").unwrap();
    let url = format!("http://{address}/catalog");
    let refused = rustform(
        dir.path(),
        &["generate", "alerts", "--catalog", &url, "--out", "x"],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains("--token-file"),
        "{}",
        stderr(&refused)
    );
    let out = ok(rustform(
        dir.path(),
        &[
            "generate",
            "alerts",
            "--catalog",
            &url,
            "--token-file",
            "token",
            "--out",
            "x",
        ],
    ));
    let rules = std::fs::read_to_string(dir.path().join(out.trim())).unwrap();
    assert!(rules.contains("api"));
    let seen = server.join().unwrap();
    assert_eq!(seen[0], None);
    assert!(!stderr(&refused).contains("secret-token"));
}

/// A certificate for 127.0.0.1 issued by a CA of the test's own: (CA PEM, server config).
fn tls_server() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap(),
        )
        .unwrap();
    (ca.pem(), config)
}

#[test]
fn generate_reads_the_catalog_over_https_with_a_ca_file() {
    use std::io::{BufReader, Write};
    let (ca, config) = tls_server();
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    // Two connections: the first from a client that does not trust the CA (its handshake
    // fails), the second from one given the CA.
    let server = std::thread::spawn(move || {
        let mut served = 0;
        for _ in 0..2 {
            let (socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .unwrap();
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut stream = rustls::StreamOwned::new(connection, socket);
            if read_head(&mut BufReader::new(&mut stream)).is_empty() {
                continue;
            }
            served += 1;
            answer(&mut stream, "200 OK", CATALOG);
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
        served
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rustform.yml"), "name: shop\n").unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca).unwrap();
    let url = format!("https://{address}/catalog");

    // The system's roots do not know the test's CA: a clear failure, exit 1.
    let untrusted = rustform(
        dir.path(),
        &["generate", "alerts", "--catalog", &url, "--out", "x"],
    );
    assert_eq!(untrusted.status.code(), Some(1), "{}", stderr(&untrusted));
    assert!(
        stderr(&untrusted).contains("invalid peer certificate"),
        "{}",
        stderr(&untrusted)
    );

    let out = ok(rustform(
        dir.path(),
        &[
            "generate",
            "alerts",
            "--catalog",
            &url,
            "--ca-file",
            "ca.pem",
            "--out",
            "x",
        ],
    ));
    let rules = std::fs::read_to_string(dir.path().join(out.trim())).unwrap();
    assert!(rules.contains("api"));
    assert_eq!(server.join().unwrap(), 1, "one request got through");

    // A CA file that cannot be read is a usage error naming it.
    let missing = rustform(
        dir.path(),
        &[
            "generate",
            "alerts",
            "--catalog",
            &url,
            "--ca-file",
            "nope.pem",
            "--out",
            "x",
        ],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read nope.pem"),
        "{}",
        stderr(&missing)
    );
}
