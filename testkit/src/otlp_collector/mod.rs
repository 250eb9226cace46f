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

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::{self, Read};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};
use prost::Message;
use serde_json::Value as Json;
use tonic::codec::CompressionEncoding;

/// Largest request body accepted, compressed or decompressed (a guard against gzip bombs).
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How long [`Collector::come_back`] keeps retrying to re-bind a port.
const REBIND_DEADLINE: Duration = Duration::from_secs(10);

/// How long [`Collector::go_down`] waits for the listeners and connections to close.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);

/// The type URL of a `google.rpc.RetryInfo` packed in a `google.protobuf.Any`.
pub const RETRY_INFO_TYPE_URL: &str = "type.googleapis.com/google.rpc.RetryInfo";

const PROTOBUF: &str = "application/x-protobuf";

// ---------------------------------------------------------------------------------------
// Public model
// ---------------------------------------------------------------------------------------

/// What a request carried: OTLP traces, OTLP metrics, or Zipkin v2 spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// OTLP traces (`TraceService/Export` or `POST /v1/traces`).
    Traces,
    /// OTLP metrics (`MetricsService/Export` or `POST /v1/metrics`).
    Metrics,
    /// Zipkin v2 JSON spans (`POST /api/v2/spans`).
    Zipkin,
}

/// How a request arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC on [`Collector::grpc_endpoint`].
    Grpc,
    /// HTTP on [`Collector::http_endpoint`] (OTLP/HTTP protobuf or Zipkin JSON).
    Http,
}

/// A scripted answer, queued with [`Collector::fail_next`].
///
/// `Http` replies apply to the next HTTP request of the signal, `Grpc` replies to the next
/// gRPC request; `PartialSuccess` applies to the next OTLP request on either transport.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Answer with this HTTP status (and a `Retry-After` header when given). The body is a
    /// protobuf `google.rpc.Status`, as the OTLP/HTTP specification asks.
    Http {
        /// The HTTP status code, e.g. 503, 429 or 400.
        status: u16,
        /// The `Retry-After` header value, e.g. `"1"` (seconds) or an HTTP date.
        retry_after: Option<String>,
    },
    /// Answer with this gRPC status; a `retry_delay` is sent as a `google.rpc.RetryInfo`
    /// detail inside the `google.rpc.Status` carried in `grpc-status-details-bin`.
    Grpc {
        /// The gRPC status code, e.g. `tonic::Code::Unavailable`.
        code: tonic::Code,
        /// The delay the client is asked to wait before retrying.
        retry_delay: Option<Duration>,
    },
    /// Accept the data and answer success with a `partial_success` field (OTLP only).
    PartialSuccess {
        /// `rejected_spans` or `rejected_data_points`.
        rejected: i64,
        /// The `error_message` of the partial success.
        error_message: String,
    },
}

impl Reply {
    /// An HTTP failure without `Retry-After`.
    pub fn http(status: u16) -> Reply {
        Reply::Http {
            status,
            retry_after: None,
        }
    }

    /// An HTTP failure with a `Retry-After` header.
    pub fn http_retry_after(status: u16, retry_after: impl Into<String>) -> Reply {
        Reply::Http {
            status,
            retry_after: Some(retry_after.into()),
        }
    }

    /// A gRPC failure without retry information.
    pub fn grpc(code: tonic::Code) -> Reply {
        Reply::Grpc {
            code,
            retry_delay: None,
        }
    }

    /// A gRPC failure carrying a `google.rpc.RetryInfo` with this delay.
    pub fn grpc_retry(code: tonic::Code, retry_delay: Duration) -> Reply {
        Reply::Grpc {
            code,
            retry_delay: Some(retry_delay),
        }
    }

    /// A partial success rejecting `rejected` items with this message.
    pub fn partial_success(rejected: i64, error_message: impl Into<String>) -> Reply {
        Reply::PartialSuccess {
            rejected,
            error_message: error_message.into(),
        }
    }

    /// Whether this reply is a failure (its payload is not counted as received).
    pub fn is_failure(&self) -> bool {
        !matches!(self, Reply::PartialSuccess { .. })
    }

    fn applies_to(&self, signal: Signal, transport: Transport) -> bool {
        match self {
            Reply::Http { .. } => transport == Transport::Http,
            Reply::Grpc { .. } => transport == Transport::Grpc,
            Reply::PartialSuccess { .. } => signal != Signal::Zipkin,
        }
    }
}

/// What the collector did with one request.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Decoded and recorded as received data.
    Accepted,
    /// Recorded as received data and answered with a partial success.
    PartialSuccess {
        /// The rejected count sent back.
        rejected: i64,
        /// The message sent back.
        error_message: String,
    },
    /// Answered with a scripted failure; the payload was not recorded as received.
    Failed(Reply),
    /// Could not be decoded or validated (answered 400 or 415); the reason is the
    /// decoder's or validator's message.
    Rejected(String),
}

/// One request that reached the collector, whatever its outcome.
#[derive(Clone, Debug)]
pub struct Attempt {
    /// The signal of the endpoint it was sent to.
    pub signal: Signal,
    /// How it arrived.
    pub transport: Transport,
    /// When it arrived (after its body was read).
    pub at: Instant,
    /// Its HTTP headers (for gRPC: the request metadata, including `grpc-encoding`).
    pub headers: HeaderMap,
    /// Whether its body was gzip-compressed.
    pub gzip: bool,
    /// What the collector answered.
    pub outcome: Outcome,
}

impl Attempt {
    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }

    /// Whether it was answered with a scripted failure.
    pub fn failed(&self) -> bool {
        matches!(self.outcome, Outcome::Failed(_))
    }

    /// The rejection message, if it was rejected as undecodable or invalid.
    pub fn rejection(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Rejected(message) => Some(message),
            _ => None,
        }
    }
}

/// An accepted request and its decoded payload.
#[derive(Clone, Debug)]
pub struct Received<T> {
    /// How it arrived.
    pub transport: Transport,
    /// Its HTTP headers (for gRPC: the request metadata).
    pub headers: HeaderMap,
    /// Whether its body was gzip-compressed.
    pub gzip: bool,
    /// When it arrived.
    pub at: Instant,
    /// The decoded payload.
    pub body: T,
}

impl<T> Received<T> {
    /// A header value as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_str(&self.headers, name)
    }
}

/// One OTLP span, with the resource and scope it was sent under.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    /// How it arrived.
    pub transport: Transport,
    /// The resource attributes.
    pub resource: BTreeMap<String, AttrValue>,
    /// The instrumentation scope name.
    pub scope_name: String,
    /// The instrumentation scope version.
    pub scope_version: String,
    /// The span as decoded.
    pub span: Span,
}

impl ReceivedSpan {
    /// The span name.
    pub fn name(&self) -> &str {
        &self.span.name
    }

    /// The span attributes.
    pub fn attributes(&self) -> BTreeMap<String, AttrValue> {
        attributes(&self.span.attributes)
    }

    /// One span attribute.
    pub fn attribute(&self, key: &str) -> Option<AttrValue> {
        find_attribute(&self.span.attributes, key)
    }

    /// The `service.name` resource attribute, as text.
    pub fn service_name(&self) -> Option<String> {
        self.resource.get("service.name").map(ToString::to_string)
    }

    /// The trace id in lower-case hex.
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id in lower-case hex.
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent span id in lower-case hex; `None` for a root span.
    pub fn parent_span_id(&self) -> Option<String> {
        (!self.span.parent_span_id.is_empty()).then(|| hex(&self.span.parent_span_id))
    }

    /// The span kind (`Unspecified` for an unknown value).
    pub fn kind(&self) -> span::SpanKind {
        span::SpanKind::try_from(self.span.kind).unwrap_or(span::SpanKind::Unspecified)
    }

    /// The status code (`Unset` when absent or unknown).
    pub fn status_code(&self) -> status::StatusCode {
        self.span
            .status
            .as_ref()
            .and_then(|s| status::StatusCode::try_from(s.code).ok())
            .unwrap_or(status::StatusCode::Unset)
    }

    /// The span duration, from its start and end timestamps.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(
            self.span
                .end_time_unix_nano
                .saturating_sub(self.span.start_time_unix_nano),
        )
    }
}

/// One OTLP metric, with the resource and scope it was sent under.
#[derive(Clone, Debug)]
pub struct ReceivedMetric {
    /// How it arrived.
    pub transport: Transport,
    /// The resource attributes.
    pub resource: BTreeMap<String, AttrValue>,
    /// The instrumentation scope name.
    pub scope_name: String,
    /// The instrumentation scope version.
    pub scope_version: String,
    /// The metric as decoded.
    pub metric: Metric,
}

impl ReceivedMetric {
    /// The metric name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }
}

/// An OTLP `AnyValue`, in a form that is easy to compare in assertions.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    /// `string_value`.
    Str(String),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(Vec<u8>),
    /// `array_value`.
    Array(Vec<AttrValue>),
    /// `kvlist_value`.
    Map(BTreeMap<String, AttrValue>),
    /// An absent value.
    Empty,
}

impl AttrValue {
    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The number, if this is a double or an integer value.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            AttrValue::Double(d) => Some(*d),
            AttrValue::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            AttrValue::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Double(d) => write!(f, "{d}"),
            AttrValue::Bytes(b) => f.write_str(&hex(b)),
            AttrValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            AttrValue::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            AttrValue::Empty => Ok(()),
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Str(s.to_owned())
    }
}

impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Str(s)
    }
}

impl From<i64> for AttrValue {
    fn from(i: i64) -> Self {
        AttrValue::Int(i)
    }
}

impl From<f64> for AttrValue {
    fn from(d: f64) -> Self {
        AttrValue::Double(d)
    }
}

impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Bool(b)
    }
}

impl PartialEq<&str> for AttrValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// Converts an OTLP attribute list into a sorted map (a repeated key keeps its last value).
pub fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, AttrValue> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref())))
        .collect()
}

/// Renders an OTLP attribute list as sorted `key → text` pairs.
pub fn attribute_strings(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), any_value(kv.value.as_ref()).to_string()))
        .collect()
}

/// Finds one attribute by key (the last one, if repeated).
pub fn find_attribute(kvs: &[KeyValue], key: &str) -> Option<AttrValue> {
    kvs.iter()
        .rev()
        .find(|kv| kv.key == key)
        .map(|kv| any_value(kv.value.as_ref()))
}

/// Converts an OTLP `AnyValue`.
pub fn any_value(value: Option<&AnyValue>) -> AttrValue {
    let Some(value) = value.and_then(|v| v.value.as_ref()) else {
        return AttrValue::Empty;
    };
    match value {
        any_value::Value::StringValue(s) => AttrValue::Str(s.clone()),
        any_value::Value::BoolValue(b) => AttrValue::Bool(*b),
        any_value::Value::IntValue(i) => AttrValue::Int(*i),
        any_value::Value::DoubleValue(d) => AttrValue::Double(*d),
        any_value::Value::BytesValue(b) => AttrValue::Bytes(b.clone()),
        any_value::Value::ArrayValue(a) => {
            AttrValue::Array(a.values.iter().map(|v| any_value(Some(v))).collect())
        }
        any_value::Value::KvlistValue(kv) => AttrValue::Map(attributes(&kv.values)),
        // A string-table index (profiles only); there is no table to look it up in here.
        any_value::Value::StringValueStrindex(i) => AttrValue::Int(i64::from(*i)),
    }
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// The `google.rpc.Status`, `google.rpc.RetryInfo`, `google.protobuf.Any` and
/// `google.protobuf.Duration` messages, written by hand (field numbers from the
/// googleapis and protobuf definitions).
pub mod rpc {
    /// `google.rpc.Status`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Status {
        /// The `google.rpc.Code` value.
        #[prost(int32, tag = "1")]
        pub code: i32,
        /// A developer-facing message.
        #[prost(string, tag = "2")]
        pub message: String,
        /// Typed details.
        #[prost(message, repeated, tag = "3")]
        pub details: Vec<Any>,
    }

    /// `google.protobuf.Any`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        /// `type.googleapis.com/<full message name>`.
        #[prost(string, tag = "1")]
        pub type_url: String,
        /// The encoded message.
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    /// `google.rpc.RetryInfo`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RetryInfo {
        /// How long the client should wait before retrying.
        #[prost(message, optional, tag = "1")]
        pub retry_delay: Option<Duration>,
    }

    /// `google.protobuf.Duration`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Duration {
        /// Whole seconds.
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        /// Nanoseconds within the second.
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }
}

// ---------------------------------------------------------------------------------------
// The collector
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Shared {
    records: Mutex<Records>,
    changed: Condvar,
    handshake_failures: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct Records {
    /// Bumped on every change, for the waiting helpers.
    generation: u64,
    traces: Vec<Received<ExportTraceServiceRequest>>,
    metrics: Vec<Received<ExportMetricsServiceRequest>>,
    zipkin: Vec<Received<Vec<zipkin_types::Span>>>,
    attempts: Vec<Attempt>,
    script: VecDeque<(Signal, Reply)>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Records> {
        lock(&self.records)
    }

    /// Records a request whose body could not be decoded or validated.
    fn reject(&self, meta: RequestMeta, signal: Signal, message: String) {
        self.record(|state| {
            state
                .attempts
                .push(meta.attempt(signal, Outcome::Rejected(message)));
        });
    }

    /// Consumes the next scripted reply for this request, records the attempt, and stores
    /// the payload unless the reply is a failure. Returns the reply used, if any.
    fn accept<T: Payload>(&self, meta: RequestMeta, payload: T) -> Option<Reply> {
        let signal = T::SIGNAL;
        let mut reply = None;
        self.record(|state| {
            if let Some(i) = state
                .script
                .iter()
                .position(|(s, r)| *s == signal && r.applies_to(signal, meta.transport))
            {
                reply = state.script.remove(i).map(|(_, r)| r);
            }
            let outcome = match &reply {
                Some(r) if r.is_failure() => Outcome::Failed(r.clone()),
                Some(Reply::PartialSuccess {
                    rejected,
                    error_message,
                }) => Outcome::PartialSuccess {
                    rejected: *rejected,
                    error_message: error_message.clone(),
                },
                _ => Outcome::Accepted,
            };
            let failed = matches!(outcome, Outcome::Failed(_));
            state.attempts.push(meta.clone().attempt(signal, outcome));
            if !failed {
                T::store(state, meta.received(payload));
            }
        });
        reply
    }

    fn record(&self, change: impl FnOnce(&mut Records)) {
        let mut state = self.lock();
        change(&mut state);
        state.generation += 1;
        drop(state);
        self.changed.notify_all();
    }
}

/// Locks a mutex, recovering it if a panicking thread poisoned it (the records stay
/// usable; the server tasks never panic while holding it).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// What is known of a request besides its payload.
#[derive(Clone)]
struct RequestMeta {
    transport: Transport,
    headers: HeaderMap,
    gzip: bool,
    at: Instant,
}

impl RequestMeta {
    fn new(transport: Transport, headers: HeaderMap, gzip: bool) -> RequestMeta {
        RequestMeta {
            transport,
            headers,
            gzip,
            at: Instant::now(),
        }
    }

    fn attempt(self, signal: Signal, outcome: Outcome) -> Attempt {
        Attempt {
            signal,
            transport: self.transport,
            at: self.at,
            headers: self.headers,
            gzip: self.gzip,
            outcome,
        }
    }

    fn received<T>(self, body: T) -> Received<T> {
        Received {
            transport: self.transport,
            headers: self.headers,
            gzip: self.gzip,
            at: self.at,
            body,
        }
    }
}

/// A decoded request body: which signal it is and where accepted ones are kept.
trait Payload: Sized {
    const SIGNAL: Signal;
    fn store(state: &mut Records, received: Received<Self>);
}

/// An OTLP export request type and its response type.
trait OtlpPayload: Payload + Message + Default {
    type Response: Message + Default;
    fn response(partial: Option<(i64, String)>) -> Self::Response;
}

impl Payload for ExportTraceServiceRequest {
    const SIGNAL: Signal = Signal::Traces;

    fn store(state: &mut Records, received: Received<Self>) {
        state.traces.push(received);
    }
}

impl OtlpPayload for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;

    fn response(partial: Option<(i64, String)>) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: partial.map(|(rejected_spans, error_message)| {
                ExportTracePartialSuccess {
                    rejected_spans,
                    error_message,
                }
            }),
        }
    }
}

impl Payload for ExportMetricsServiceRequest {
    const SIGNAL: Signal = Signal::Metrics;

    fn store(state: &mut Records, received: Received<Self>) {
        state.metrics.push(received);
    }
}

impl OtlpPayload for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;

    fn response(partial: Option<(i64, String)>) -> ExportMetricsServiceResponse {
        ExportMetricsServiceResponse {
            partial_success: partial.map(|(rejected_data_points, error_message)| {
                ExportMetricsPartialSuccess {
                    rejected_data_points,
                    error_message,
                }
            }),
        }
    }
}

impl Payload for Vec<zipkin_types::Span> {
    const SIGNAL: Signal = Signal::Zipkin;

    fn store(state: &mut Records, received: Received<Self>) {
        state.zipkin.push(received);
    }
}

fn partial_of(reply: Option<&Reply>) -> Option<(i64, String)> {
    match reply {
        Some(Reply::PartialSuccess {
            rejected,
            error_message,
        }) => Some((*rejected, error_message.clone())),
        _ => None,
    }
}

fn flatten_spans(requests: &[Received<ExportTraceServiceRequest>]) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for request in requests {
        for rs in &request.body.resource_spans {
            let resource = resource_attributes(rs.resource.as_ref());
            for ss in &rs.scope_spans {
                let (scope_name, scope_version) = scope(ss.scope.as_ref());
                out.extend(ss.spans.iter().map(|span| ReceivedSpan {
                    transport: request.transport,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    span: span.clone(),
                }));
            }
        }
    }
    out
}

fn flatten_metrics(requests: &[Received<ExportMetricsServiceRequest>]) -> Vec<ReceivedMetric> {
    let mut out = Vec::new();
    for request in requests {
        for rm in &request.body.resource_metrics {
            let resource = resource_attributes(rm.resource.as_ref());
            for sm in &rm.scope_metrics {
                let (scope_name, scope_version) = scope(sm.scope.as_ref());
                out.extend(sm.metrics.iter().map(|metric| ReceivedMetric {
                    transport: request.transport,
                    resource: resource.clone(),
                    scope_name: scope_name.clone(),
                    scope_version: scope_version.clone(),
                    metric: metric.clone(),
                }));
            }
        }
    }
    out
}

fn resource_attributes(resource: Option<&Resource>) -> BTreeMap<String, AttrValue> {
    resource
        .map(|r| attributes(&r.attributes))
        .unwrap_or_default()
}

fn scope(scope: Option<&InstrumentationScope>) -> (String, String) {
    scope
        .map(|s| (s.name.clone(), s.version.clone()))
        .unwrap_or_default()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

// ---------------------------------------------------------------------------------------
// Listeners and the accept loop
// ---------------------------------------------------------------------------------------

/// Binds `127.0.0.1:port` with `SO_REUSEADDR`, non-blocking, ready for tokio.
fn bind(port: u16) -> io::Result<StdTcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// [`bind`], retried for at most [`REBIND_DEADLINE`].
fn bind_retrying(port: u16) -> io::Result<StdTcpListener> {
    let deadline = Instant::now() + REBIND_DEADLINE;
    loop {
        match bind(port) {
            Ok(listener) => return Ok(listener),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Accepts connections and serves each with `app` (HTTP/1.1 or HTTP/2, detected). The
/// connection tasks live in a `JoinSet` owned by this future, so aborting the task closes
/// the listener and every connection at once.
async fn serve(
    listener: StdTcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    alive: Arc<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(app.clone());
                    let alive = alive.clone();
                    let tls = tls.clone();
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let _alive = alive;
                        let builder = auto::Builder::new(TokioExecutor::new());
                        // A client that goes away mid-request is not the collector's error.
                        match tls {
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => {
                                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                                }
                                Err(_) => {
                                    shared
                                        .handshake_failures
                                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            },
                        }
                    });
                }
                // E.g. too many open files: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// gRPC
// ---------------------------------------------------------------------------------------

fn grpc_router(shared: &Arc<Shared>) -> Router {
    let traces = TraceServiceServer::new(GrpcTraces(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    let metrics = MetricsServiceServer::new(GrpcMetrics(shared.clone()))
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(MAX_BODY_BYTES);
    tonic::service::Routes::new(traces)
        .add_service(metrics)
        .into_axum_router()
}

struct GrpcTraces(Arc<Shared>);
struct GrpcMetrics(Arc<Shared>);

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        grpc_export(&self.0, request)
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        grpc_export(&self.0, request)
    }
}

fn grpc_export<T: OtlpPayload>(
    shared: &Shared,
    request: tonic::Request<T>,
) -> Result<tonic::Response<T::Response>, tonic::Status> {
    let headers = request.metadata().clone().into_headers();
    let gzip = header_str(&headers, "grpc-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    let meta = RequestMeta::new(Transport::Grpc, headers, gzip);
    match shared.accept(meta, request.into_inner()) {
        Some(Reply::Grpc { code, retry_delay }) => Err(grpc_status(code, retry_delay)),
        reply => Ok(tonic::Response::new(T::response(partial_of(
            reply.as_ref(),
        )))),
    }
}

/// A gRPC status; with a delay, its details are a `google.rpc.Status` holding a
/// `google.rpc.RetryInfo`.
fn grpc_status(code: tonic::Code, retry_delay: Option<Duration>) -> tonic::Status {
    let message = "scripted failure from the test collector";
    let Some(delay) = retry_delay else {
        return tonic::Status::new(code, message);
    };
    let info = rpc::RetryInfo {
        retry_delay: Some(rpc::Duration {
            seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
            nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
        }),
    };
    let status = rpc::Status {
        code: code as i32,
        message: message.to_owned(),
        details: vec![rpc::Any {
            type_url: RETRY_INFO_TYPE_URL.to_owned(),
            value: info.encode_to_vec(),
        }],
    };
    tonic::Status::with_details(code, message, status.encode_to_vec().into())
}

// ---------------------------------------------------------------------------------------
// HTTP: OTLP/HTTP protobuf and Zipkin v2 JSON
// ---------------------------------------------------------------------------------------

fn http_router(shared: &Arc<Shared>) -> Router {
    Router::new()
        .route("/v1/traces", post(otlp_http::<ExportTraceServiceRequest>))
        .route(
            "/v1/metrics",
            post(otlp_http::<ExportMetricsServiceRequest>),
        )
        .route("/api/v2/spans", post(zipkin_http))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared.clone())
}

async fn otlp_http<T: OtlpPayload>(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signal = T::SIGNAL;
    let meta = http_meta(headers);
    let body = match read_body(&meta.headers, &body, &[PROTOBUF]) {
        Ok(body) => body,
        Err((status, message)) => {
            shared.reject(meta, signal, message.clone());
            return rpc_status_response(status, None, &message);
        }
    };
    let payload = match T::decode(body.as_slice()) {
        Ok(payload) => payload,
        Err(e) => {
            let message = format!("invalid protobuf {}: {e}", std::any::type_name::<T>());
            shared.reject(meta, signal, message.clone());
            return rpc_status_response(StatusCode::BAD_REQUEST, None, &message);
        }
    };
    match shared.accept(meta, payload) {
        Some(Reply::Http {
            status,
            retry_after,
        }) => scripted_http_failure(status, retry_after.as_deref()),
        reply => {
            let response = T::response(partial_of(reply.as_ref()));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
                response.encode_to_vec(),
            )
                .into_response()
        }
    }
}

async fn zipkin_http(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let meta = http_meta(headers);
    let body = match read_body(&meta.headers, &body, &["application/json"]) {
        Ok(body) => body,
        Err((status, message)) => {
            shared.reject(meta, Signal::Zipkin, message.clone());
            return (status, message).into_response();
        }
    };
    let spans = match decode_zipkin(&body) {
        Ok(spans) => spans,
        Err(message) => {
            shared.reject(meta, Signal::Zipkin, message.clone());
            return (StatusCode::BAD_REQUEST, message).into_response();
        }
    };
    match shared.accept(meta, spans) {
        Some(Reply::Http {
            status,
            retry_after,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, "scripted failure from the test collector").into_response();
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        _ => StatusCode::ACCEPTED.into_response(),
    }
}

/// The metadata of an HTTP request (`gzip` from `Content-Encoding`).
fn http_meta(headers: HeaderMap) -> RequestMeta {
    let gzip = header_str(&headers, "content-encoding")
        .is_some_and(|e| e.trim().eq_ignore_ascii_case("gzip"));
    RequestMeta::new(Transport::Http, headers, gzip)
}

/// Checks the content type, and gunzips the body when `Content-Encoding: gzip`. On error:
/// the status to answer and the message to record.
fn read_body(
    headers: &HeaderMap,
    body: &[u8],
    content_types: &[&str],
) -> Result<Vec<u8>, (StatusCode, String)> {
    let content_type = header_str(headers, "content-type")
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !content_types.contains(&content_type.as_str()) {
        let message = format!(
            "unsupported content-type {content_type:?}; this endpoint accepts {}",
            content_types.join(", ")
        );
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message));
    }
    let encoding = header_str(headers, "content-encoding")
        .map(|e| e.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" => gunzip(body).map_err(|message| (StatusCode::BAD_REQUEST, message)),
        other => Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content-encoding {other:?}; accepted: gzip"),
        )),
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(MAX_BODY_BYTES as u64 + 1)
        .read_to_end(&mut plain)
        .map_err(|e| format!("invalid gzip body: {e}"))?;
    if plain.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the decompressed body exceeds {MAX_BODY_BYTES} bytes"
        ));
    }
    Ok(plain)
}

fn scripted_http_failure(status: u16, retry_after: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    rpc_status_response(
        status,
        retry_after,
        "scripted failure from the test collector",
    )
}

/// An HTTP error answer whose body is a protobuf `google.rpc.Status`.
fn rpc_status_response(status: StatusCode, retry_after: Option<&str>, message: &str) -> Response {
    let code = match status.as_u16() {
        400 => tonic::Code::InvalidArgument,
        415 => tonic::Code::InvalidArgument,
        429 => tonic::Code::ResourceExhausted,
        502..=504 => tonic::Code::Unavailable,
        _ => tonic::Code::Unknown,
    };
    let body = rpc::Status {
        code: code as i32,
        message: message.to_owned(),
        details: Vec::new(),
    }
    .encode_to_vec();
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(PROTOBUF))],
        body,
    )
        .into_response();
    if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(v).ok()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

// ---------------------------------------------------------------------------------------
// Zipkin v2
// ---------------------------------------------------------------------------------------

/// Decodes a Zipkin v2 JSON body: first with the `zipkin-types` model (serde), then with
/// [`validate_zipkin_json`] for what that model accepts but the specification does not.
///
/// `zipkin-types` 1.1 declares `timestamp` and `duration` as `Option` fields with a serde
/// `with` module and no `default`, so it reports them as missing when a span omits them,
/// although the specification makes both optional. They are filled in as `null` (which
/// that model reads as absent) before decoding; a `null` in the body itself is still
/// rejected by the validation.
pub fn decode_zipkin(body: &[u8]) -> Result<Vec<zipkin_types::Span>, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut filled = json.clone();
    if let Some(spans) = filled.as_array_mut() {
        for span in spans.iter_mut().filter_map(Json::as_object_mut) {
            for optional in ["timestamp", "duration"] {
                span.entry(optional).or_insert(Json::Null);
            }
        }
    }
    let spans: Vec<zipkin_types::Span> =
        serde_json::from_value(filled).map_err(|e| format!("zipkin-types: {e}"))?;
    validate_zipkin_json(&json)?;
    Ok(spans)
}

/// Checks a Zipkin v2 JSON body against the specification (zipkin2-api.yaml), strictly:
///
/// - the body is an array of span objects, with no field outside the v2 model and no
///   `null` values (omit a field instead);
/// - `traceId` is 16 or 32 lower-case hex digits, not all zero; `id` and `parentId` are 16
///   lower-case hex digits, not all zero; `traceId` and `id` are required;
/// - `kind` is one of `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`;
/// - `timestamp` is an integer number of epoch microseconds and `duration` an integer number
///   of microseconds of at least 1;
/// - `tags` is an object whose values are all strings;
/// - `annotations` are `{timestamp, value}` objects with integer microseconds and a string;
/// - `localEndpoint` / `remoteEndpoint` have only `serviceName` (string), `ipv4` and `ipv6`
///   (addresses of that family) and `port` (integer 0..=65535);
/// - `name` is a string, `debug` and `shared` are booleans.
pub fn validate_zipkin_json(body: &Json) -> Result<(), String> {
    let spans = body
        .as_array()
        .ok_or("the body must be a JSON array of spans")?;
    for (i, span) in spans.iter().enumerate() {
        validate_zipkin_span(span).map_err(|e| format!("spans[{i}]: {e}"))?;
    }
    Ok(())
}

fn validate_zipkin_span(span: &Json) -> Result<(), String> {
    let fields = span.as_object().ok_or("a span must be a JSON object")?;
    for required in ["traceId", "id"] {
        if !fields.contains_key(required) {
            return Err(format!("missing required field `{required}`"));
        }
    }
    for (key, value) in fields {
        let checked = match key.as_str() {
            "traceId" => lower_hex_id(value, &[16, 32]),
            "id" | "parentId" => lower_hex_id(value, &[16]),
            "name" => string(value).map(drop),
            "kind" => match string(value)? {
                "CLIENT" | "SERVER" | "PRODUCER" | "CONSUMER" => Ok(()),
                other => Err(format!(
                    "{other:?} is not one of CLIENT, SERVER, PRODUCER, CONSUMER"
                )),
            },
            "timestamp" => micros(value, 0),
            "duration" => micros(value, 1),
            "debug" | "shared" => value
                .as_bool()
                .map(drop)
                .ok_or_else(|| format!("expected a boolean, found {value}")),
            "localEndpoint" | "remoteEndpoint" => endpoint(value),
            "annotations" => annotations(value),
            "tags" => tags(value),
            _ => Err("not a field of the Zipkin v2 span model".to_owned()),
        };
        checked.map_err(|e| format!("`{key}`: {e}"))?;
    }
    Ok(())
}

fn string(value: &Json) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, found {value}"))
}

fn lower_hex_id(value: &Json, lengths: &[usize]) -> Result<(), String> {
    let id = string(value)?;
    if !lengths.contains(&id.len()) {
        return Err(format!(
            "{id:?} has {} characters; expected {lengths:?} lower-case hex digits",
            id.len()
        ));
    }
    if !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(format!("{id:?} is not lower-case hex"));
    }
    if id.bytes().all(|b| b == b'0') {
        return Err(format!("{id:?} is all zeros"));
    }
    Ok(())
}

fn micros(value: &Json, minimum: u64) -> Result<(), String> {
    match value.as_u64() {
        Some(v) if v >= minimum => Ok(()),
        Some(v) => Err(format!("{v} is below the minimum {minimum}")),
        None => Err(format!(
            "expected an integer number of microseconds, found {value}"
        )),
    }
}

fn endpoint(value: &Json) -> Result<(), String> {
    let fields = value
        .as_object()
        .ok_or("an endpoint must be a JSON object")?;
    for (key, value) in fields {
        let checked = match key.as_str() {
            "serviceName" => string(value).map(drop),
            "ipv4" => string(value)?
                .parse::<Ipv4Addr>()
                .map(drop)
                .map_err(|e| format!("{value}: {e}")),
            "ipv6" => string(value)?
                .parse::<Ipv6Addr>()
                .map(drop)
                .map_err(|e| format!("{value}: {e}")),
            "port" => match value.as_u64() {
                Some(p) if p <= 65535 => Ok(()),
                _ => Err(format!("expected a port number, found {value}")),
            },
            _ => Err("not a field of the Zipkin v2 endpoint model".to_owned()),
        };
        checked.map_err(|e| format!("`{key}`: {e}"))?;
    }
    Ok(())
}

fn annotations(value: &Json) -> Result<(), String> {
    let items = value.as_array().ok_or("expected an array of annotations")?;
    for (i, item) in items.iter().enumerate() {
        let fields = item
            .as_object()
            .ok_or_else(|| format!("[{i}]: an annotation must be a JSON object"))?;
        let timestamp = fields
            .get("timestamp")
            .ok_or_else(|| format!("[{i}]: missing `timestamp`"))?;
        micros(timestamp, 0).map_err(|e| format!("[{i}].timestamp: {e}"))?;
        let text = fields
            .get("value")
            .ok_or_else(|| format!("[{i}]: missing `value`"))?;
        string(text).map_err(|e| format!("[{i}].value: {e}"))?;
        if let Some(other) = fields.keys().find(|k| *k != "timestamp" && *k != "value") {
            return Err(format!("[{i}]: `{other}` is not a field of an annotation"));
        }
    }
    Ok(())
}

fn tags(value: &Json) -> Result<(), String> {
    let fields = value
        .as_object()
        .ok_or("expected an object of string tags")?;
    for (key, value) in fields {
        if !value.is_string() {
            return Err(format!(
                "tag {key:?} is {value}; tag values must be strings"
            ));
        }
    }
    Ok(())
}
