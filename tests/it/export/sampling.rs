//! Sampling through `Observability::layer()` to the in-process collector: the
//! OpenTelemetry layer gets a span's attributes only once the span is sampled, and
//! nothing else may change for it. Sampled traces arrive whole (attributes given at
//! creation or recorded later, events, status, kind, parents, spans closed without ever
//! being entered); an unsampled span keeps its trace id in the logs, in
//! `OpenTelemetrySpanExt::context()` and in the `traceparent` sent on, flagged not
//! sampled; a remote parent set after the span was made still decides.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use testkit::log_capture::Capture;
use testkit::otlp_collector::{AttrValue, Collector, ReceivedSpan};
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

/// Hang detectors, not timings.
const WAIT: Duration = Duration::from_secs(10);

const REMOTE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const REMOTE_SPAN: &str = "00f067aa0ba902b7";

/// rustform's layer with logs at INFO in JSON and spans sampled at `rate`, exported to
/// `collector` when flushed; runs `f` under it, flushes, and returns `f`'s value and
/// the log lines.
fn traced<R>(collector: &Collector, rate: &str, f: impl FnOnce() -> R) -> (R, Capture) {
    let yaml = format!(
        "observability:\n  logging:\n    level: info\n    format: json\n  opentelemetry:\n    \
         service_name: sampling\n    tracing:\n      sample_rate: {rate}\n      batch:\n        \
         scheduled_delay: 60s\n      exporters:\n        - type: otlp\n          endpoint: {}\n          \
         protocol: grpc\n    metrics:\n      exporters: []\n",
        collector.grpc_endpoint()
    );
    let logs = Capture::default();
    let (layer, guard) = rustform::Observability::builder()
        .config_yaml(yaml)
        .log_writer(logs.clone())
        .build()
        .unwrap()
        .layer()
        .unwrap();
    let subscriber = tracing_subscriber::registry().with(layer);
    let value = tracing::subscriber::with_default(subscriber, f);
    assert!(guard.flush(WAIT));
    guard.shutdown(Duration::from_secs(5));
    (value, logs)
}

/// A context whose span is the remote parent `REMOTE_TRACE`/`REMOTE_SPAN`.
fn remote(sampled: bool) -> opentelemetry::Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from_hex(REMOTE_TRACE).unwrap(),
        SpanId::from_hex(REMOTE_SPAN).unwrap(),
        flags,
        true,
        TraceState::default(),
    ))
}

/// The `traceparent` the W3C propagator writes for `span`, as `rustform::http::inject`
/// and the client middleware send it.
fn traceparent(span: &tracing::Span) -> Option<String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut headers);
    headers.remove("traceparent")
}

fn text(value: &str) -> Option<AttrValue> {
    Some(AttrValue::Str(value.to_owned()))
}

fn only(spans: Vec<ReceivedSpan>) -> ReceivedSpan {
    assert_eq!(spans.len(), 1, "{spans:#?}");
    spans.into_iter().next().unwrap()
}

#[test]
fn a_sampled_trace_arrives_whole_with_every_attribute_event_status_and_parent() {
    let collector = Collector::start();
    let (_, logs) = traced(&collector, "1.0", || {
        let request = tracing::info_span!(
            "HTTP request",
            otel.name = "GET /orders/{id}",
            otel.kind = "server",
            http.route = "/orders/{id}",
            attempt = 2u64,
            ratio = 0.5,
            cached = false,
            http.response.status_code = Empty,
            otel.status_code = Empty,
        );
        // Recorded before the span starts, and after.
        request.record("attempt", 3u64);
        let _entered = request.enter();
        request.record("http.response.status_code", 503u64);
        request.record("otel.status_code", "ERROR");
        tracing::info!(order = 42, "order read");
        // A child made and closed without ever being entered.
        drop(tracing::info_span!(parent: &request, "audit", who = "ada"));
        let lookup = tracing::info_span!("lookup", table = "orders");
        lookup.in_scope(|| tracing::warn!("slow"));
    });

    let request = only(collector.spans_named("GET /orders/{id}"));
    assert_eq!(request.kind(), SpanKind::Server);
    assert_eq!(request.status_code(), StatusCode::Error);
    assert_eq!(request.parent_span_id(), None);
    assert_eq!(request.attribute("http.route"), text("/orders/{id}"));
    // tracing-opentelemetry writes a `u64` as its text, as it always has.
    assert_eq!(request.attribute("attempt"), text("3"));
    assert_eq!(request.attribute("ratio"), Some(AttrValue::Double(0.5)));
    assert_eq!(request.attribute("cached"), Some(AttrValue::Bool(false)));
    assert_eq!(request.attribute("http.response.status_code"), text("503"));
    // Each field once, and no `otel.*` field as an attribute.
    let keys: Vec<_> = request
        .span
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(keys.len(), unique.len(), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("otel.")), "{keys:?}");
    let events: Vec<_> = request
        .span
        .events
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(events, ["order read"]);

    for (name, key, value) in [("audit", "who", "ada"), ("lookup", "table", "orders")] {
        let child = only(collector.spans_named(name));
        assert_eq!(child.trace_id(), request.trace_id());
        assert_eq!(
            child.parent_span_id().as_deref(),
            Some(request.span_id().as_str())
        );
        assert_eq!(child.attribute(key), text(value), "{name}");
    }
    let lookup = only(collector.spans_named("lookup"));
    let events: Vec<_> = lookup.span.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["slow"]);

    // The logs name the exported ids.
    let read = logs.line("order read");
    assert_eq!(read["trace_id"], request.trace_id().as_str());
    assert_eq!(read["span_id"], request.span_id().as_str());
    assert_eq!(read["span"]["attempt"], 3);
    assert_eq!(read["span"]["http.response.status_code"], 503);
}

#[test]
fn an_unsampled_span_keeps_its_trace_id_in_logs_context_and_traceparent() {
    let collector = Collector::start();
    let ((outer, inner), logs) = traced(&collector, "0.0", || {
        let request = tracing::info_span!("request", user = "ada");
        // A remote parent not sampled, set after the span was made, as a server does.
        request.set_parent(remote(false)).unwrap();
        let _entered = request.enter();
        tracing::info!("inside");
        let outer = (request.context(), traceparent(&request));
        let call = tracing::info_span!("call");
        let _call = call.enter();
        tracing::info!("calling");
        let inner = (call.context(), traceparent(&call));
        (outer, inner)
    });

    for ((context, header), message) in [(&outer, "inside"), (&inner, "calling")] {
        let span = context.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && !sc.is_sampled(), "{sc:?}");
        assert_eq!(sc.trace_id().to_string(), REMOTE_TRACE);
        let span_id = sc.span_id().to_string();
        assert_ne!(span_id, REMOTE_SPAN);
        // Sent on with the same trace id, flagged not sampled.
        assert_eq!(
            header.as_deref(),
            Some(format!("00-{REMOTE_TRACE}-{span_id}-00").as_str())
        );
        // The log lines carry the same ids.
        let line = logs.line(message);
        assert_eq!(line["trace_id"], REMOTE_TRACE);
        assert_eq!(line["span_id"], span_id.as_str());
    }
    assert_ne!(
        outer.0.span().span_context().span_id(),
        inner.0.span().span_context().span_id()
    );
    assert_eq!(logs.line("inside")["span"]["user"], "ada");
    assert_eq!(collector.span_count(), 0);
}

#[test]
fn a_sampled_remote_parent_set_after_creation_samples_the_span_whole() {
    let collector = Collector::start();
    let (header, _) = traced(&collector, "0.0", || {
        let request = tracing::info_span!("request", user = "ada", status = Empty);
        request.set_parent(remote(true)).unwrap();
        request.record("status", 200u64);
        let _entered = request.enter();
        tracing::info!("inside");
        let child = tracing::info_span!("child", step = 1u64);
        child.in_scope(|| traceparent(&child))
    });
    let spans = collector.wait_for_spans(2, WAIT);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let request = only(collector.spans_named("request"));
    assert_eq!(request.trace_id(), REMOTE_TRACE);
    assert_eq!(request.parent_span_id().as_deref(), Some(REMOTE_SPAN));
    assert_eq!(request.attribute("user"), text("ada"));
    assert_eq!(request.attribute("status"), text("200"));
    assert_eq!(request.span.events.len(), 1);
    let child = only(collector.spans_named("child"));
    assert_eq!(child.attribute("step"), text("1"));
    assert_eq!(
        header.as_deref(),
        Some(format!("00-{REMOTE_TRACE}-{}-01", child.span_id()).as_str())
    );
}

#[test]
fn at_a_ratio_each_trace_is_exported_whole_or_not_at_all() {
    let collector = Collector::start();
    let traces = 200;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (_, logs) = traced(&collector, "0.5", || {
        for i in 0..traces {
            let root = tracing::info_span!("root", i);
            let _root = root.enter();
            let child = tracing::info_span!("child", i);
            let _child = child.enter();
            tracing::info!(i, "work");
            seen.lock()
                .unwrap()
                .push(child.context().span().span_context().is_sampled());
        }
    });
    let sampled = seen.lock().unwrap().iter().filter(|s| **s).count();
    // Binomial(200, 0.5): outside 50..=150 once in about 10^12 runs.
    assert!((50..=150).contains(&sampled), "{sampled}");
    let spans = collector.wait_for_spans(2 * sampled, WAIT);
    assert_eq!(spans.len(), 2 * sampled);
    let roots = collector.spans_named("root");
    assert_eq!(roots.len(), sampled);
    for root in &roots {
        let i = root.attribute("i");
        let child = collector
            .spans_named("child")
            .into_iter()
            .find(|c| c.attribute("i") == i)
            .unwrap_or_else(|| panic!("the child of {i:?}"));
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(child.span.events.len(), 1);
    }
    // Every request logged, sampled or not, with the ids of its span.
    let work: Vec<_> = logs
        .lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "work")
        .collect();
    assert_eq!(work.len(), traces);
    assert!(work.iter().all(|l| l["trace_id"].is_string()));
}
