//! Spans as Zipkin v2 JSON (`POST /api/v2/spans`), written directly: the format is
//! small, and the upstream exporter crate is deprecated.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value as Json, json};

use super::retry::{self, Failure};
use super::spans::SpanSink;
use super::stats::{ExportStats, Signal};
use crate::Error;
use crate::config::Transport;

/// The default Zipkin collector.
const DEFAULT_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";

/// Sends spans to a Zipkin collector.
pub(crate) struct ZipkinSink {
    client: reqwest::Client,
    url: reqwest::Url,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    service_name: String,
    stats: ExportStats,
}

impl ZipkinSink {
    pub(crate) fn new(
        what: &str,
        transport: &Transport,
        service_name: &str,
    ) -> Result<ZipkinSink, Error> {
        let error = |reason: String| Error::Install {
            what: "OpenTelemetry export",
            reason: format!("{what}: {reason}"),
        };
        let endpoint = transport.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT);
        let url = reqwest::Url::parse(endpoint)
            .map_err(|e| error(format!("endpoint {endpoint:?} is not a URL ({e})")))?;
        let client = super::otlp::http_client(
            what,
            &url,
            transport,
            concat!("rustform/", env!("CARGO_PKG_VERSION")),
        )?;
        let headers = transport
            .headers
            .iter()
            .map(|(name, value)| {
                let name = http::HeaderName::from_bytes(name.trim().as_bytes())
                    .map_err(|_| error(format!("the header name {name:?} is not valid")))?;
                let mut value = http::HeaderValue::from_str(value.trim())
                    .map_err(|_| error(format!("the value of header {name:?} is not valid")))?;
                value.set_sensitive(true);
                Ok((name, value))
            })
            .collect::<Result<_, Error>>()?;
        Ok(ZipkinSink {
            client,
            url,
            headers,
            service_name: service_name.to_owned(),
            stats: ExportStats::new(Signal::Traces, "zipkin"),
        })
    }

    async fn post(&self, body: &[u8]) -> Result<(), Failure> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        let response =
            request
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| Failure::Retryable {
                    after: None,
                    reason: e.to_string(),
                })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
        let reason = format!("HTTP {status}");
        if retry::http_status_is_retryable(status.as_u16()) {
            Err(Failure::Retryable { after, reason })
        } else {
            Err(Failure::Permanent { reason })
        }
    }
}

impl SpanSink for ZipkinSink {
    async fn export(&self, spans: Vec<SpanData>, deadline: Instant) -> Result<u64, Failure> {
        let body = encode(&spans, &self.service_name);
        let retries = &self.stats.retries;
        let result = retry::with_retries(deadline, || retries.inc(), || self.post(&body)).await;
        match result {
            Ok(()) => {
                self.stats.success.inc();
                Ok(0)
            }
            Err(failure) => {
                self.stats.failure.inc();
                Err(failure)
            }
        }
    }

    fn describe(&self) -> String {
        format!("zipkin {}", self.url)
    }
}

/// The Zipkin v2 JSON array of `spans`.
pub(crate) fn encode(spans: &[SpanData], service_name: &str) -> Vec<u8> {
    let list: Vec<Json> = spans.iter().map(|s| span(s, service_name)).collect();
    serde_json::to_vec(&list).unwrap_or_else(|_| b"[]".to_vec())
}

fn span(span: &SpanData, service_name: &str) -> Json {
    let mut object = Map::new();
    let context = &span.span_context;
    object.insert("traceId".into(), json!(context.trace_id().to_string()));
    object.insert("id".into(), json!(context.span_id().to_string()));
    if span.parent_span_id != SpanId::INVALID {
        object.insert("parentId".into(), json!(span.parent_span_id.to_string()));
    }
    object.insert("name".into(), json!(span.name));
    if let Some(kind) = kind(&span.span_kind) {
        object.insert("kind".into(), json!(kind));
    }
    let start = micros(span.start_time);
    object.insert("timestamp".into(), json!(start));
    // Zipkin reads a missing or zero duration as "unknown": round up to 1 µs.
    let duration = micros(span.end_time).saturating_sub(start).max(1);
    object.insert("duration".into(), json!(duration));
    object.insert(
        "localEndpoint".into(),
        json!({ "serviceName": service_name }),
    );
    let annotations: Vec<Json> = span
        .events
        .iter()
        .map(|event| json!({ "timestamp": micros(event.timestamp), "value": event.name }))
        .collect();
    if !annotations.is_empty() {
        object.insert("annotations".into(), Json::Array(annotations));
    }
    let mut tags = Map::new();
    for KeyValue { key, value, .. } in &span.attributes {
        tags.insert(key.as_str().to_owned(), json!(tag(value)));
    }
    match &span.status {
        Status::Error { description } => {
            tags.insert("otel.status_code".into(), json!("ERROR"));
            // Zipkin marks a failed span with an `error` tag holding the message.
            tags.insert("error".into(), json!(description.as_ref()));
        }
        Status::Ok => {
            tags.insert("otel.status_code".into(), json!("OK"));
        }
        Status::Unset => {}
    }
    let scope = &span.instrumentation_scope;
    tags.insert("otel.scope.name".into(), json!(scope.name()));
    if let Some(version) = scope.version() {
        tags.insert("otel.scope.version".into(), json!(version));
    }
    object.insert("tags".into(), Json::Object(tags));
    Json::Object(object)
}

/// Zipkin's kinds; an internal span has none.
fn kind(kind: &SpanKind) -> Option<&'static str> {
    match kind {
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Server => Some("SERVER"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
        SpanKind::Internal => None,
    }
}

/// A tag value: Zipkin tags are strings; arrays become JSON text, as the OpenTelemetry
/// specification's Zipkin mapping says.
fn tag(value: &Value) -> String {
    match value {
        Value::Array(array) => {
            let mut out = String::from("[");
            let items: Vec<String> = match array {
                opentelemetry::Array::Bool(v) => v.iter().map(ToString::to_string).collect(),
                opentelemetry::Array::I64(v) => v.iter().map(ToString::to_string).collect(),
                opentelemetry::Array::F64(v) => v.iter().map(ToString::to_string).collect(),
                opentelemetry::Array::String(v) => v
                    .iter()
                    .map(|s| Json::String(s.to_string()).to_string())
                    .collect(),
                _ => Vec::new(),
            };
            let _ = write!(out, "{}]", items.join(","));
            out
        }
        other => other.as_str().into_owned(),
    }
}

fn micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as u64
}
