//! A service with the endpoint on its own server, for `tests/endpoint*.rs`:
//! `rustform::init()` serves `/metrics` and the health checks on `127.0.0.1:0`, as
//! `prometheus.listen` says. Reports go to stderr.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rustform::observed;

#[observed]
fn handle_request(id: u32) -> Result<u32, std::io::Error> {
    Ok(id)
}

const CONFIG: &str = "name: probe\n\
scaling:\n  instances:\n    drain_timeout: 5s\n    shutdown_timeout: 10s\n\
observability:\n  \
  logging:\n    level: warn\n    format: json\n  \
  health:\n    checks:\n      - {type: custom, name: slow, timeout: 10s}\n";

/// `PROBE_LISTEN`, else a free port on loopback.
fn listen() -> String {
    std::env::var("PROBE_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".to_owned())
}

/// Sends `request` and returns the status code of the answer (0 when none came), from
/// its first read.
fn status(address: SocketAddr, request: &[u8]) -> u16 {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(request).is_err() {
        return 0;
    }
    let mut response = [0u8; 128];
    let n = stream.read(&mut response).unwrap_or(0);
    String::from_utf8_lossy(&response[..n])
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends `request` (with `connection: close`) and returns the answer, up to the
/// server's closing the connection (empty when none came).
fn response(address: SocketAddr, request: &[u8]) -> String {
    let Ok(mut stream) = TcpStream::connect(address) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    if stream.write_all(request).is_err() {
        return String::new();
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// `GET path` with the `authorization` header when given, on a connection of its own:
/// the status and the `retry-after` header ("-" when none).
fn get(address: SocketAddr, path: &str, bearer: Option<&str>) -> String {
    let authorization = bearer
        .map(|token| format!("authorization: Bearer {token}\r\n"))
        .unwrap_or_default();
    let answer = response(
        address,
        format!("GET {path} HTTP/1.1\r\nhost: probe\r\n{authorization}connection: close\r\n\r\n")
            .as_bytes(),
    );
    let status = answer.split(' ').nth(1).unwrap_or("0").to_owned();
    let retry_after = answer
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("retry-after: ")
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "-".to_owned());
    format!("{status} retry-after {}", retry_after.trim())
}

/// The endpoint's own series from this process's registry, one `metric:` line each.
fn report_endpoint_metrics() {
    for line in rustform::metrics::default_registry().render().lines() {
        if line.starts_with("rustform_endpoint_") && !line.contains("_bucket") {
            eprintln!("metric: {line}");
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let slow = std::env::var("PROBE_SLOW_MILLIS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0u64);
    rustform::health::register("slow", move || async move {
        // Tests wait for this line to know a request is in flight.
        eprintln!("slow check: started");
        tokio::time::sleep(Duration::from_millis(slow)).await;
        Ok(())
    });
    // With PROBE_TOKEN_FILE, /metrics wants that bearer token, or the one in
    // PROBE_SECOND_TOKEN when set; the limits are out of reach unless PROBE_RATE_LIMIT
    // says otherwise.
    let config = match std::env::var("PROBE_TOKEN_FILE") {
        Ok(file) => format!(
            "{CONFIG}  prometheus:\n    listen: \"{listen}\"\n    authentication:\n      \
             enabled: true\n      method: bearer_token\n      token_file: \"{file}\"\n      \
             {second}rate_limit: {{{rate}}}\n",
            listen = listen(),
            second = if std::env::var_os("PROBE_SECOND_TOKEN").is_some() {
                "token_env: PROBE_SECOND_TOKEN\n      "
            } else {
                ""
            },
            rate = std::env::var("PROBE_RATE_LIMIT").unwrap_or_else(|_| {
                "requests_per_minute: 1000000, burst_size: 100000, failed_auth_per_minute: 1000"
                    .to_owned()
            }),
        ),
        Err(_) => format!(
            "{CONFIG}  prometheus:\n    listen: \"{}\"\n    authentication:\n      enabled: false\n",
            listen()
        ),
    };
    // With PROBE_SERVER, more keys of `prometheus`, as `key: value` pairs separated by
    // commas ("header_timeout: 1s, max_connections: 32").
    let config = match std::env::var("PROBE_SERVER") {
        Ok(keys) => keys.split(',').fold(config, |config, key| {
            format!("{config}    {}\n", key.trim())
        }),
        Err(_) => config,
    };
    // With PROBE_TLS_CERT and PROBE_TLS_KEY, over TLS.
    let config = match (
        std::env::var("PROBE_TLS_CERT"),
        std::env::var("PROBE_TLS_KEY"),
    ) {
        (Ok(cert), Ok(key)) => {
            format!("{config}    tls:\n      cert_file: \"{cert}\"\n      key_file: \"{key}\"\n")
        }
        _ => config,
    };
    let guard = rustform::Observability::builder()
        .config_yaml(config)
        .install()?;
    let address = guard.endpoint_address().ok_or("no endpoint address")?;
    eprintln!("listening: {address}");
    match scenario.as_str() {
        "huge-header" => {
            let mut request = b"GET /healthz HTTP/1.1\r\nhost: probe\r\nx-padding: ".to_vec();
            request.extend(std::iter::repeat_n(b'a', 64 * 1024));
            request.extend_from_slice(b"\r\n\r\n");
            eprintln!("huge header: {}", status(address, &request));
            eprintln!(
                "after it: {}",
                status(address, b"GET /healthz HTTP/1.1\r\nhost: probe\r\n\r\n")
            );
        }
        // Requests with a wrong token, the right one, and none: the audit events
        // go to the logs (stdout).
        "audit" => {
            let token = std::fs::read_to_string(std::env::var("PROBE_TOKEN_FILE")?)?;
            let get = |authorization: &str| {
                let request = format!(
                    "GET /metrics HTTP/1.1\r\nhost: probe\r\n{authorization}connection: close\r\n\r\n"
                );
                status(address, request.as_bytes())
            };
            eprintln!(
                "wrong: {}",
                get("authorization: Bearer not-the-token-5f1e\r\n")
            );
            eprintln!(
                "right: {}",
                get(&format!("authorization: Bearer {}\r\n", token.trim()))
            );
            eprintln!("none: {}", get(""));
            // The endpoint's own metrics count the refusals, by reason.
            let mut stream = TcpStream::connect(address)?;
            let request = format!(
                "GET /metrics HTTP/1.1\r\nhost: probe\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
                token.trim()
            );
            stream.write_all(request.as_bytes())?;
            let mut exposition = String::new();
            stream.read_to_string(&mut exposition)?;
            for line in exposition.lines() {
                if line.starts_with("rustform_endpoint_") && !line.contains("_bucket") {
                    eprintln!("metric: {line}");
                }
            }
        }
        // Wrong tokens up to the failed-authentication limit, then the right one.
        "failure-limit" => {
            let token = std::fs::read_to_string(std::env::var("PROBE_TOKEN_FILE")?)?;
            let guesses: Vec<String> = (0..3)
                .map(|i| {
                    get(
                        address,
                        "/metrics",
                        Some(&format!("guess-{i}-0123456789abcdef")),
                    )
                })
                .collect();
            eprintln!("guesses: {}", guesses.join(", "));
            eprintln!("right: {}", get(address, "/metrics", Some(token.trim())));
            eprintln!(
                "right catalog: {}",
                get(address, "/catalog", Some(token.trim()))
            );
            eprintln!(
                "wrong: {}",
                get(address, "/metrics", Some("guess-3-0123456789abcdef"))
            );
            eprintln!("healthz: {}", get(address, "/healthz", None));
            eprintln!("readyz: {}", get(address, "/readyz", None));
            report_endpoint_metrics();
        }
        // The token file's token through its burst, then the variable's.
        "two-static-tokens" => {
            let token = std::fs::read_to_string(std::env::var("PROBE_TOKEN_FILE")?)?;
            let second = std::env::var("PROBE_SECOND_TOKEN")?;
            let first: Vec<String> = (0..3)
                .map(|_| get(address, "/metrics", Some(token.trim())))
                .collect();
            eprintln!("file token: {}", first.join(", "));
            eprintln!(
                "variable token: {}",
                get(address, "/metrics", Some(&second))
            );
            report_endpoint_metrics();
        }
        // /health's version beside build_info's.
        "health-version" => {
            let answer = response(
                address,
                b"GET /health HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n",
            );
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
            eprintln!("health: {body}");
            for line in rustform::metrics::default_registry().render().lines() {
                if line.starts_with("build_info{") {
                    eprintln!("metric: {line}");
                }
            }
        }
        // Works until SIGTERM begins shutdown, as a worker with no server of its own;
        // then the guard drains the endpoint and main returns.
        "serve" => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let work = async {
                    for id in 0.. {
                        if handle_request(id).is_err() {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                };
                let mut shutdown = std::pin::pin!(guard.shutdown_signal());
                // Polled once, the signal handlers are in place: from here on the probe
                // needs no new descriptor, which tests that run it out of them wait for.
                tokio::select! {
                    biased;
                    () = &mut shutdown => {}
                    // Not eprintln!: a test that stopped reading must not end the probe.
                    () = std::future::ready(()) => {
                        let _ = writeln!(std::io::stderr(), "serving");
                    }
                }
                tokio::select! {
                    () = work => {}
                    () = shutdown => eprintln!("shutdown: begun"),
                }
            });
        }
        _ => return Err(format!("unknown scenario {scenario:?}").into()),
    }
    drop(guard);
    Ok(())
}
