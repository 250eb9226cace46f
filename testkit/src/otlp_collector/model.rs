//! The collector's public model: what a request carried ([`Signal`]) and how it arrived
//! ([`Transport`]), the scripted answers ([`Reply`]), what became of each request
//! ([`Attempt`], [`Outcome`]), the accepted payloads ([`Received`], [`ReceivedSpan`],
//! [`ReceivedMetric`]) and OTLP attribute values in a form assertions compare easily
//! ([`AttrValue`]).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::{Span, span, status};

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
    /// OTLP/gRPC on [`Collector::grpc_endpoint`](super::Collector::grpc_endpoint).
    Grpc,
    /// HTTP on [`Collector::http_endpoint`](super::Collector::http_endpoint) (OTLP/HTTP protobuf or Zipkin JSON).
    Http,
}

/// A scripted answer, queued with [`Collector::fail_next`](super::Collector::fail_next).
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

    pub(super) fn applies_to(&self, signal: Signal, transport: Transport) -> bool {
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

/// A header value as text, if present and visible ASCII.
pub(super) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
