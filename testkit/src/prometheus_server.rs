//! A real Prometheus server on loopback, started by a test and stopped when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `prometheus`, scraping the given targets every second.
pub struct PrometheusServer {
    child: Child,
    base: String,
    http: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

/// One scrape job.
pub struct Job<'a> {
    pub name: &'a str,
    pub target: String,
    /// Extra YAML lines for the job (indented by four spaces), e.g. an `authorization:`
    /// block.
    pub extra: &'a str,
}

impl PrometheusServer {
    /// Starts Prometheus with one job per entry and `--enable-feature` for each feature,
    /// and waits (at most 30 s) until it is ready.
    pub fn start(jobs: &[Job<'_>], features: &[&str]) -> PrometheusServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config =
            String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
        for job in jobs {
            config.push_str(&format!(
                "  - job_name: {}\n    static_configs:\n      - targets: ['{}']\n{}",
                job.name, job.target, job.extra
            ));
        }
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let port = free_port();
        // Prometheus runs under a shell that stops it, and removes its data, when this
        // process's end of the shell's standard input closes: when the server is dropped,
        // and also when the test process exits without dropping it (a server kept in a
        // `static` for the tests of one binary), which would otherwise leave it running.
        let mut command = Command::new("/bin/sh");
        command
            .arg("-c")
            .arg(
                r#""$@" & server=$!; read -r _; kill -9 "$server"; wait "$server"; rm -rf "$DATA""#,
            )
            .arg("sh")
            .arg(super::prometheus())
            .env("DATA", dir.path())
            .stdin(Stdio::piped())
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for feature in features {
            command.arg(format!("--enable-feature={feature}"));
        }
        let child = command
            .spawn()
            .expect("the shell running prometheus starts");
        let server = PrometheusServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
            _dir: dir,
        };
        server.wait("Prometheus to be ready", Duration::from_secs(30), || {
            server
                .http
                .get(format!("{}/-/ready", server.base))
                .send()
                .is_ok_and(|r| r.status().is_success())
        });
        server
    }

    /// Polls `done` every 100 ms until it holds; panics after `limit`.
    pub fn wait(&self, what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET /api/v1/<path>` with query parameters; the `data` field of a successful
    /// answer.
    pub fn api(&self, path: &str, params: &[(&str, &str)]) -> Value {
        let response: Value = self
            .http
            .get(format!("{}/api/v1/{path}", self.base))
            .query(params)
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("Prometheus API {path}: {e}"));
        assert_eq!(
            response["status"], "success",
            "Prometheus API {path}: {response}"
        );
        response["data"].clone()
    }

    /// The targets' state (`/api/v1/targets`, active targets).
    pub fn targets(&self) -> Vec<Value> {
        self.api("targets", &[])["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until the job's target was scraped successfully and that scrape's samples
    /// can be queried, and returns the target.
    ///
    /// Prometheus marks a target up before it commits the scrape's samples, so a
    /// healthy target alone does not mean a query sees them yet. The scrape's own `up`
    /// sample is committed with the rest, so once `up == 1` answers, they all do.
    pub fn wait_until_up(&self, job: &str) -> Value {
        let mut found = Value::Null;
        let up = format!("up{{job=\"{job}\"}} == 1");
        self.wait(
            &format!("job {job} to be scraped"),
            Duration::from_secs(30),
            || {
                found = self
                    .targets()
                    .into_iter()
                    .find(|t| t["labels"]["job"] == job && t["health"] == "up")
                    .unwrap_or(Value::Null);
                !found.is_null() && !self.query(&up).is_empty()
            },
        );
        found
    }

    /// The result vector of an instant query.
    pub fn query(&self, promql: &str) -> Vec<Value> {
        self.api("query", &[("query", promql)])["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        // Closing the shell's input stops Prometheus (see `start`).
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PrometheusServer {
    /// An instant query; the result vector, or why Prometheus refused it (its `error`
    /// field, or the transport error), so a test can report every bad query at once.
    pub fn try_query(&self, promql: &str) -> Result<Vec<Value>, String> {
        let response: Value = self
            .http
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", promql)])
            .send()
            .and_then(|r| r.json())
            .map_err(|e| e.to_string())?;
        if response["status"] != "success" {
            return Err(format!(
                "{}: {}",
                response["errorType"].as_str().unwrap_or("error"),
                response["error"].as_str().unwrap_or("no message")
            ));
        }
        Ok(response["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}
