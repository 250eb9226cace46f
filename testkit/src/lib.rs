//! What rustform's own tests run against, shared by the integration tests and the
//! benchmarks: the real Prometheus tools (`promtool`, the server), an in-process OTLP and
//! Zipkin collector, certificates made on the spot, log capture and an exposition parser.
//! Unpublished: it exists for this workspace's tests.

pub mod log_capture;
pub mod metrics_server;
pub mod openmetrics;
pub mod otlp_collector;
pub mod pki;
pub mod prometheus_server;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The `promtool` binary. Panics with the install command when it is missing: these
/// tests check against the real tool and must never pass silently without it.
pub fn promtool() -> PathBuf {
    find("promtool")
}

/// The `prometheus` server binary, with the same rule as [`promtool`].
pub fn prometheus() -> PathBuf {
    find("prometheus")
}

fn find(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` was not found on PATH. These tests run against the real Prometheus \
                 tools: install the Debian package with `apt-get install prometheus` (or run \
                 ./scripts/test as root, which installs it)"
            )
        })
}

/// The binary of the example `name`, which `./scripts/test` builds (`cargo test` builds
/// examples only as test harnesses). Panics saying how to build it when it is missing.
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(std::path::Path::parent)
        .expect("the test runs from <target>/<profile>/deps");
    let binary = profile
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build --example {name}` (./scripts/test does)",
        binary.display()
    );
    binary
}

/// `GET path` over a plain connection that is closed after the answer: the status (0
/// when nothing answered within `timeout`) and the whole response.
pub fn http_get(
    address: std::net::SocketAddr,
    path: &str,
    timeout: std::time::Duration,
) -> (u16, String) {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, timeout) else {
        return (0, String::new());
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// Runs `command` to its end; returns whether it succeeded and its stdout and stderr.
pub fn run(command: &mut Command) -> (bool, String) {
    let out = command.output().expect("the command starts");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs one test of the running test binary again, alone, in a process of its own, for
/// what is decided once per process (a variable read once, a thread's teardown, a failure
/// that may abort): `module` is the caller's `module_path!()`, `test` the test's name in
/// it, `env` the variables to set (`None`: to remove), `args` more arguments for the
/// harness. Returns whether exactly that test ran and passed, and the child's stdout and
/// stderr.
pub fn rerun_test(
    module: &str,
    test: &str,
    env: &[(&str, Option<&str>)],
    args: &[&str],
) -> (bool, String) {
    // The test's name as the harness knows it: its module path without the crate.
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    let name = if module.is_empty() {
        test.to_owned()
    } else {
        format!("{module}::{test}")
    };
    let mut command = Command::new(std::env::current_exe().expect("the test binary's path"));
    command.args(["--exact", &name]).args(args);
    for (key, value) in env {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let out = command.output().expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let passed = out.status.success() && stdout.contains("1 passed");
    let text = format!(
        "{} ({}):\n{stdout}{}",
        name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (passed, text)
}

/// Runs `promtool check metrics` on an exposition; returns its exit code and its output
/// (promtool prints lint problems on stdout and stderr).
pub fn promtool_check_metrics(exposition: &str) -> (i32, String) {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("promtool finishes");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// Asserts that `promtool check metrics` accepts the exposition with no lint output.
pub fn assert_promtool_accepts(exposition: &str) {
    let (code, output) = promtool_check_metrics(exposition);
    assert!(
        code == 0 && output.trim().is_empty(),
        "promtool check metrics exited {code}:\n{output}\n--- exposition ---\n{exposition}"
    );
}

/// Compares `actual` with `tests/golden/<name>`. With `RUSTFORM_BLESS=1` in the
/// environment the file is written instead (review the diff before committing it).
pub fn assert_golden(name: &str, actual: &str) {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/golden")).join(name);
    if std::env::var_os("RUSTFORM_BLESS").is_some() {
        std::fs::write(&path, actual).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with RUSTFORM_BLESS=1", path.display()));
    assert!(
        expected == actual,
        "{} differs from the output; if the change is intended, rerun with RUSTFORM_BLESS=1 and review the diff\n--- expected ---\n{expected}\n--- actual ---\n{actual}",
        path.display()
    );
}

/// The process metric families every Prometheus client exposes, as rustform names them.
pub const PROCESS_FAMILIES: [&str; 7] = [
    "process_cpu_seconds_total",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_threads",
    "process_start_time_seconds",
];

/// Serves an axum app on 127.0.0.1 (with the clients' addresses) from a thread of its
/// own with `workers` runtime threads; returns the address. It serves until the test
/// process ends.
pub fn serve_axum(app: axum::Router, workers: usize) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
    });
    address
}
