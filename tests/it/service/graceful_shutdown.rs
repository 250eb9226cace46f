//! Graceful shutdown of a whole service on SIGTERM, with the real
//! `examples/graceful_shutdown` binary: its own axum app (a slow route) beside rustform's
//! endpoint. A request in flight when the signal arrives completes with 200, `/readyz`
//! answers 503 meanwhile while `/metrics` still answers, `main` returns (its destructor
//! writes a marker) and the exit status is the program's own.

#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::http_get as get;

/// The address after `prefix` in the program's first lines.
fn address(lines: &mut impl Iterator<Item = String>, prefix: &str) -> SocketAddr {
    let line = lines
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("the program prints {prefix:?}"));
    line[prefix.len()..]
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

#[test]
fn sigterm_drains_the_service_then_main_returns_with_its_own_exit_code() {
    let marker = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    std::fs::remove_file(&marker).unwrap();
    let mut child = Command::new(testkit::example_binary("graceful_shutdown"))
        .env_clear()
        .env("SHUTDOWN_APP_LISTEN", "127.0.0.1:0")
        .env("SHUTDOWN_METRICS_LISTEN", "127.0.0.1:0")
        .env("SHUTDOWN_SLOW_MILLIS", "1500")
        .env("SHUTDOWN_MARKER", &marker)
        .env("SHUTDOWN_EXIT_CODE", "7")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok);
    let app = address(&mut lines, "app: ");
    let endpoint = address(&mut lines, "endpoint: ");
    let second = Duration::from_secs(1);
    assert_eq!(get(endpoint, "/readyz", second * 5).0, 200);

    // A request in flight: the slow route has started when /metrics counts it.
    let in_flight = std::thread::spawn(move || get(app, "/slow", Duration::from_secs(20)));
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = get(endpoint, "/metrics", second * 5);
        if metrics.lines().any(|l| {
            l.starts_with("http_server_active_requests{")
                && l.contains("/slow")
                && l.ends_with(" 1")
        }) {
            break;
        }
        assert!(Instant::now() < until, "the slow request never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    // While the request drains: /readyz answers 503, /metrics still answers.
    let until = Instant::now() + Duration::from_secs(5);
    let mut readiness = 0;
    while Instant::now() < until {
        readiness = get(endpoint, "/readyz", second).0;
        if readiness == 503 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(readiness, 503, "readiness turns off on SIGTERM");
    assert!(
        !in_flight.is_finished(),
        "the slow request is still running"
    );
    assert_eq!(get(endpoint, "/metrics", second * 5).0, 200);

    // The request in flight completes.
    let (status, response) = in_flight.join().unwrap();
    assert_eq!(status, 200, "{response}");
    assert!(response.ends_with("done\n"), "{response}");

    // main returns: the server said it drained, the destructor ran, the exit code is 7.
    let until = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < until, "the program did not exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        lines.any(|line| line == "server: drained"),
        "the app's server returned"
    );
    assert_eq!(exit.code(), Some(7), "the program's own exit code");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap(),
        "main returned\n",
        "main's destructors ran"
    );
    // And nothing listens any more.
    assert_eq!(get(endpoint, "/healthz", second).0, 0);
}
