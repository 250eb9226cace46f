//! `Observability::layer()` in a registry the program builds: beside a layer of the
//! program's own and `tracing-error`'s `ErrorLayer`, every layer receives every event,
//! spans reach the in-process OTLP collector, and the JSON logs carry the exported
//! trace ids.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustform::observed;
use testkit::log_capture::Capture;
use testkit::otlp_collector::Collector;
use tracing::Subscriber;
use tracing_error::{ErrorLayer, SpanTrace, SpanTraceStatus};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The program's own layer: the message of every event it sees.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S: Subscriber> Layer<S> for Seen {
    fn on_event(&self, event: &tracing::Event<'_>, _cx: Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
}

#[observed]
fn reserve(items: u32) -> u32 {
    tracing::info!(items, "reserved");
    items
}

#[test]
fn rustform_joins_a_registry_the_program_builds() {
    let collector = Collector::start();
    let yaml = format!(
        "observability:\n  logging:\n    level: info\n    format: json\n  opentelemetry:\n    \
         service_name: composed\n    tracing:\n      batch:\n        scheduled_delay: 60s\n      \
         exporters:\n        - type: otlp\n          endpoint: {}\n          protocol: grpc\n    \
         metrics:\n      exporters: []\n",
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
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry()
        .with(layer)
        .with(ErrorLayer::default())
        .with(seen.clone());

    let captured = tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!("checkout_request", order = 42);
        let _entered = request.enter();
        tracing::info!("order received");
        assert_eq!(reserve(3), 3);
        // A span trace holds its spans open: it is read and dropped here.
        let trace = SpanTrace::capture();
        tracing::warn!("order slow");
        (trace.status(), trace.to_string())
    });
    assert!(guard.flush(Duration::from_secs(10)));

    // tracing-error's layer sees the spans.
    assert_eq!(captured.0, SpanTraceStatus::CAPTURED);
    assert!(captured.1.contains("checkout_request"), "{}", captured.1);

    // The program's own layer receives every event, rustform's logs too.
    let messages = seen.0.lock().unwrap().clone();
    assert_eq!(messages, ["order received", "reserved", "order slow"]);
    let lines = logs.lines();
    let written: Vec<_> = lines
        .iter()
        .map(|line| line["fields"]["message"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(written, ["order received", "reserved", "order slow"]);

    // The spans reach the collector, and the logs carry their trace ids.
    let requests = collector.spans_named("checkout_request");
    assert_eq!(requests.len(), 1, "{:?}", collector.spans());
    let trace_id = requests[0].trace_id();
    let reserves = collector.spans_named("reserve");
    assert_eq!(reserves.len(), 1);
    assert_eq!(reserves[0].trace_id(), trace_id);
    assert_eq!(
        reserves[0].parent_span_id().as_deref(),
        Some(requests[0].span_id().as_str())
    );
    for line in &lines {
        assert_eq!(line["trace_id"], trace_id.as_str(), "{line}");
    }
    let reserved = lines
        .iter()
        .find(|line| line["fields"]["message"] == "reserved")
        .unwrap();
    assert_eq!(
        reserved["span_id"],
        reserves[0].span_id().as_str(),
        "{reserved}"
    );
    guard.shutdown(Duration::from_secs(5));
}
