//! An in-process OTLP collector and Zipkin v2 receiver that integration tests talk to over
//! loopback, the way an exporter talks to a real OpenTelemetry Collector.
//!
//! [`Collector::start`] binds three endpoints on `127.0.0.1`, each on an ephemeral port:
//!
//! - gRPC (HTTP/2): the official `TraceService` and `MetricsService` servers generated in
//!   `opentelemetry-proto`, accepting gzip-compressed messages;
//! - HTTP: `POST /v1/traces` and `POST /v1/metrics` with `application/x-protobuf` bodies
//!   (optionally `Content-Encoding: gzip`), answered with the protobuf-encoded
//!   `Export*ServiceResponse`; a JSON body gets `415 Unsupported Media Type`;
//! - Zipkin v2: `POST /api/v2/spans` (on the HTTP port), decoded with the third-party
//!   `zipkin-types` model and checked against the parts of the Zipkin v2 specification that
//!   model leaves open (see [`validate_zipkin_json`]); `202 Accepted` or `400 Bad Request`.
//!
//! Every request is recorded as an [`Attempt`] (transport, headers, gzip, arrival time,
//! outcome); accepted payloads are also kept for the views ([`Collector::spans`],
//! [`Collector::metrics`], [`Collector::zipkin_spans`], ...). Failures are scripted with
//! [`Collector::fail_next`] and consumed in order. [`Collector::go_down`] closes the
//! listeners and drops open connections; [`Collector::come_back`] re-binds the same ports.
//!
//! The servers run on the collector's own tokio runtime (one worker thread), so the
//! collector works from plain `#[test]` functions and from `#[tokio::test]` alike. In a
//! single-threaded `#[tokio::test]` whose exporter runs on the test's runtime, use the
//! `*_async` waiting helpers: the blocking ones would stall that runtime.

mod grpc;
mod http;
mod listen;
mod model;
mod records;
pub mod rpc;
mod zipkin;

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

pub use model::{
    Attempt, AttrValue, Outcome, Received, ReceivedMetric, ReceivedSpan, Reply, Signal, Transport,
    any_value, attribute_strings, attributes, find_attribute, hex,
};
pub use zipkin::{decode_zipkin, validate_zipkin_json};

use grpc::grpc_router;
use http::http_router;
use listen::{bind, bind_retrying, serve};
use records::{Records, Shared, flatten_metrics, flatten_spans, lock};

/// Largest request body accepted, compressed or decompressed (a guard against gzip bombs).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How long [`Collector::come_back`] keeps retrying to re-bind a port.
const REBIND_DEADLINE: Duration = Duration::from_secs(10);

/// How long [`Collector::go_down`] waits for the listeners and connections to close.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// The type URL of a `google.rpc.RetryInfo` packed in a `google.protobuf.Any`.
pub const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// An in-process OTLP/gRPC, OTLP/HTTP and Zipkin v2 receiver on loopback. See the module
/// documentation. Dropping it stops its servers and its runtime.
pub struct Collector {
    shared: Arc<Shared>,
    /// With TLS (`start_tls`): every connection's handshake first.
    tls: Option<tokio_rustls::TlsAcceptor>,
    runtime: Option<tokio::runtime::Runtime>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

/// The tasks of the two servers while they are up.
struct Running {
    grpc: tokio::task::JoinHandle<()>,
    http: tokio::task::JoinHandle<()>,
    /// Held by both accept loops and every connection task: when only this one is left,
    /// every listener and connection has been closed.
    alive: Arc<()>,
}

impl Collector {
    /// Starts a collector on ephemeral loopback ports. Panics when it cannot (no runtime,
    /// no port): tests cannot go on without it.
    pub fn start() -> Collector {
        Collector::try_start().expect("the test OTLP collector starts on 127.0.0.1")
    }

    /// Starts a collector on ephemeral loopback ports.
    pub fn try_start() -> io::Result<Collector> {
        Collector::start_with(None)
    }

    /// Starts a collector whose gRPC and HTTP ports speak TLS with `config` (HTTP/2 and
    /// HTTP/1.1 by ALPN); its endpoints are `https://`. Failed handshakes are counted
    /// ([`handshake_failures`](Collector::handshake_failures)).
    pub fn start_tls(mut config: rustls::ServerConfig) -> Collector {
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        Collector::start_with(Some(acceptor)).expect("the test OTLP collector starts on 127.0.0.1")
    }

    fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> io::Result<Collector> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-collector")
            .enable_all()
            .build()?;
        let grpc = bind(0)?;
        let http = bind(0)?;
        let collector = Collector {
            shared: Arc::new(Shared::default()),
            tls,
            grpc_addr: grpc.local_addr()?,
            http_addr: http.local_addr()?,
            runtime: Some(runtime),
            running: Mutex::new(None),
        };
        collector.spawn_servers(grpc, http);
        Ok(collector)
    }

    /// `http`, or `https` with TLS.
    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// The gRPC endpoint, `http://127.0.0.1:PORT` (`https://` with TLS).
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.grpc_addr)
    }

    /// The OTLP/HTTP base endpoint, `http://127.0.0.1:PORT` (signals at `/v1/traces` and
    /// `/v1/metrics`).
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.http_addr)
    }

    /// The full OTLP/HTTP traces URL.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.http_endpoint())
    }

    /// The full OTLP/HTTP metrics URL.
    pub fn metrics_url(&self) -> String {
        format!("{}/v1/metrics", self.http_endpoint())
    }

    /// The full Zipkin v2 URL, `http://127.0.0.1:PORT/api/v2/spans`.
    pub fn zipkin_endpoint(&self) -> String {
        format!("{}/api/v2/spans", self.http_endpoint())
    }

    /// How many TLS handshakes failed (a client that does not trust the certificate, or
    /// presents none when one is required).
    pub fn handshake_failures(&self) -> usize {
        self.shared
            .handshake_failures
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The gRPC listening address.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The HTTP listening address (OTLP/HTTP and Zipkin).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    // --- scripting -----------------------------------------------------------------------

    /// Queues `n` copies of `reply` for the next requests of `signal` on the transport the
    /// reply is for (see [`Reply`]). Queued replies are consumed in order; once the queue is
    /// empty, requests succeed again.
    pub fn fail_next(&self, signal: Signal, n: usize, reply: Reply) {
        let mut state = self.shared.lock();
        state.script.extend(std::iter::repeat_n((signal, reply), n));
    }

    /// How many scripted replies are still queued.
    pub fn pending_replies(&self) -> usize {
        self.shared.lock().script.len()
    }

    /// Forgets every record and every queued reply.
    pub fn clear(&self) {
        self.shared.record(|state| {
            *state = Records {
                generation: state.generation,
                ..Records::default()
            };
        });
    }

    // --- views ---------------------------------------------------------------------------

    /// Every request that reached the collector, in arrival order.
    pub fn all_attempts(&self) -> Vec<Attempt> {
        self.shared.lock().attempts.clone()
    }

    /// Every request of one signal, in arrival order, whatever its outcome.
    pub fn attempts(&self, signal: Signal) -> Vec<Attempt> {
        self.filter_attempts(|a| a.signal == signal)
    }

    /// The arrival times of every request of one signal (to check a retry's delay).
    pub fn attempt_times(&self, signal: Signal) -> Vec<Instant> {
        self.attempts(signal).into_iter().map(|a| a.at).collect()
    }

    /// The requests of one signal answered with a scripted failure.
    pub fn failed_attempts(&self, signal: Signal) -> Vec<Attempt> {
        self.filter_attempts(|a| a.signal == signal && a.failed())
    }

    /// The requests of one signal rejected as undecodable or invalid.
    pub fn rejected(&self, signal: Signal) -> Vec<Attempt> {
        self.filter_attempts(|a| a.signal == signal && a.rejection().is_some())
    }

    /// The messages of every rejected request, whatever its signal (empty when all were
    /// well-formed).
    pub fn rejections(&self) -> Vec<String> {
        self.shared
            .lock()
            .attempts
            .iter()
            .filter_map(|a| a.rejection().map(str::to_owned))
            .collect()
    }

    /// The accepted trace export requests.
    pub fn trace_requests(&self) -> Vec<Received<ExportTraceServiceRequest>> {
        self.shared.lock().traces.clone()
    }

    /// The accepted metrics export requests.
    pub fn metric_requests(&self) -> Vec<Received<ExportMetricsServiceRequest>> {
        self.shared.lock().metrics.clone()
    }

    /// The accepted Zipkin requests.
    pub fn zipkin_requests(&self) -> Vec<Received<Vec<zipkin_types::Span>>> {
        self.shared.lock().zipkin.clone()
    }

    /// Every accepted OTLP span, flattened resource → scope → span, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        flatten_spans(&self.shared.lock().traces)
    }

    /// The accepted OTLP spans with this name.
    pub fn spans_named(&self, name: &str) -> Vec<ReceivedSpan> {
        self.spans()
            .into_iter()
            .filter(|s| s.span.name == name)
            .collect()
    }

    /// Every accepted OTLP metric, flattened resource → scope → metric, in arrival order.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        flatten_metrics(&self.shared.lock().metrics)
    }

    /// The accepted OTLP metrics with this name.
    pub fn metrics_named(&self, name: &str) -> Vec<ReceivedMetric> {
        self.metrics()
            .into_iter()
            .filter(|m| m.metric.name == name)
            .collect()
    }

    /// Every accepted Zipkin span, in arrival order.
    pub fn zipkin_spans(&self) -> Vec<zipkin_types::Span> {
        self.shared
            .lock()
            .zipkin
            .iter()
            .flat_map(|r| r.body.iter().cloned())
            .collect()
    }

    // --- waiting -------------------------------------------------------------------------

    /// Waits until `done` holds or `timeout` passes; returns whether it held. Blocks the
    /// calling thread (see the module documentation for `#[tokio::test]`).
    pub fn wait_for(&self, mut done: impl FnMut(&Collector) -> bool, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let seen = self.shared.lock().generation;
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let slice = (deadline - now).min(Duration::from_millis(50));
            let state = self.shared.lock();
            if state.generation == seen {
                // Woken by a new record, or by the slice running out; either way the loop
                // re-checks, and the deadline bounds it.
                let _ = self
                    .shared
                    .changed
                    .wait_timeout(state, slice)
                    .map_err(|e| e.into_inner());
            }
        }
    }

    /// Like [`wait_for`](Self::wait_for), without blocking the caller's async runtime.
    pub async fn wait_for_async(
        &self,
        mut done: impl FnMut(&Collector) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            tokio::time::sleep((deadline - now).min(Duration::from_millis(10))).await;
        }
    }

    /// Waits until at least `n` OTLP spans were accepted or `timeout` passes; returns the
    /// spans there are then.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.wait_for(|c| c.span_count() >= n, timeout);
        self.spans()
    }

    /// [`wait_for_spans`](Self::wait_for_spans) for async tests.
    pub async fn wait_for_spans_async(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        self.wait_for_async(|c| c.span_count() >= n, timeout).await;
        self.spans()
    }

    /// Waits until a metric with this name was accepted or `timeout` passes; returns the
    /// metrics with that name there are then.
    pub fn wait_for_metric(&self, name: &str, timeout: Duration) -> Vec<ReceivedMetric> {
        self.wait_for(|c| !c.metrics_named(name).is_empty(), timeout);
        self.metrics_named(name)
    }

    /// [`wait_for_metric`](Self::wait_for_metric) for async tests.
    pub async fn wait_for_metric_async(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Vec<ReceivedMetric> {
        self.wait_for_async(|c| !c.metrics_named(name).is_empty(), timeout)
            .await;
        self.metrics_named(name)
    }

    /// Waits until at least `n` metrics export requests were accepted or `timeout` passes.
    pub fn wait_for_metric_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Vec<Received<ExportMetricsServiceRequest>> {
        self.wait_for(|c| c.shared.lock().metrics.len() >= n, timeout);
        self.metric_requests()
    }

    /// Waits until at least `n` Zipkin spans were accepted or `timeout` passes.
    pub fn wait_for_zipkin_spans(&self, n: usize, timeout: Duration) -> Vec<zipkin_types::Span> {
        self.wait_for(|c| c.zipkin_spans().len() >= n, timeout);
        self.zipkin_spans()
    }

    /// Waits until at least `n` requests of `signal` arrived (whatever their outcome) or
    /// `timeout` passes.
    pub fn wait_for_attempts(&self, signal: Signal, n: usize, timeout: Duration) -> Vec<Attempt> {
        self.wait_for(|c| c.attempts(signal).len() >= n, timeout);
        self.attempts(signal)
    }

    /// The number of accepted OTLP spans.
    pub fn span_count(&self) -> usize {
        self.shared
            .lock()
            .traces
            .iter()
            .flat_map(|r| &r.body.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum()
    }

    // --- down and back up ----------------------------------------------------------------

    /// Whether the servers are listening.
    pub fn is_up(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Stops both servers: closes the listeners (new connections are refused) and drops
    /// every open connection. Returns once they are closed (or after a bounded wait).
    pub fn go_down(&self) {
        let Some(running) = lock(&self.running).take() else {
            return;
        };
        running.grpc.abort();
        running.http.abort();
        let deadline = Instant::now() + CLOSE_DEADLINE;
        while Arc::strong_count(&running.alive) > 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Restarts both servers on the same ports as before (retrying the bind for a bounded
    /// time). Does nothing when they are up. Panics when a port cannot be re-bound.
    pub fn come_back(&self) {
        if self.is_up() {
            return;
        }
        let grpc = bind_retrying(self.grpc_addr.port())
            .unwrap_or_else(|e| panic!("re-binding the gRPC port {}: {e}", self.grpc_addr));
        let http = bind_retrying(self.http_addr.port())
            .unwrap_or_else(|e| panic!("re-binding the HTTP port {}: {e}", self.http_addr));
        self.spawn_servers(grpc, http);
    }

    fn spawn_servers(&self, grpc: StdTcpListener, http: StdTcpListener) {
        let Some(runtime) = self.runtime.as_ref() else {
            return;
        };
        let alive = Arc::new(());
        let running = Running {
            grpc: runtime.spawn(serve(
                grpc,
                grpc_router(&self.shared),
                self.tls.clone(),
                self.shared.clone(),
                alive.clone(),
            )),
            http: runtime.spawn(serve(
                http,
                http_router(&self.shared),
                self.tls.clone(),
                self.shared.clone(),
                alive.clone(),
            )),
            alive,
        };
        *lock(&self.running) = Some(running);
    }

    fn filter_attempts(&self, keep: impl Fn(&Attempt) -> bool) -> Vec<Attempt> {
        self.shared
            .lock()
            .attempts
            .iter()
            .filter(|a| keep(a))
            .cloned()
            .collect()
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.go_down();
        if let Some(runtime) = self.runtime.take() {
            // Allowed inside an async context, unlike dropping the runtime.
            runtime.shutdown_background();
        }
    }
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("grpc", &self.grpc_addr)
            .field("http", &self.http_addr)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}
