//! What the pass cases read back: the function metrics of the default registry, and the
//! spans a call opened. Each case includes it with `#[path]` relative to its own folder,
//! such as `#[path = "../../../support.rs"] mod support;` in `observed/pass/options/`.

#![allow(dead_code)]

use std::fmt;
use std::sync::{Arc, Mutex};

use rustform::metrics::{HistogramValue, MetricValue, default_registry};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The module of an item declared at the root of the case: the case's crate name.
pub fn root() -> &'static str {
    module_path!().split("::").next().unwrap_or_default()
}

/// The labels every series of `function`, declared in `module`, carries.
pub fn identity<'a>(module: &'a str, function: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("function", function),
        ("module", module),
        ("service_name", env!("CARGO_PKG_NAME")),
    ]
}

/// The value of the `function_calls_total` series of `function` (declared at the crate
/// root) with `result` and exactly the `extra` labels besides; 0 if there is none.
pub fn calls(function: &str, result: &str, extra: &[(&str, &str)]) -> u64 {
    calls_in(root(), function, result, extra)
}

/// [`calls`] for a function declared in `module`.
pub fn calls_in(module: &str, function: &str, result: &str, extra: &[(&str, &str)]) -> u64 {
    let mut labels = identity(module, function);
    labels.push(("result", result));
    labels.extend_from_slice(extra);
    match default_registry()
        .snapshot()
        .get("function_calls_total", &labels)
    {
        Some(MetricValue::Counter(n)) => *n,
        Some(other) => panic!("function_calls_total is not a counter: {other:?}"),
        None => 0,
    }
}

/// The `function_calls_duration_seconds` histogram of `function` (declared at the crate
/// root) with exactly the `extra` labels besides. Panics with the exposition if there is
/// none.
pub fn durations(function: &str, extra: &[(&str, &str)]) -> HistogramValue {
    let mut labels = identity(root(), function);
    labels.extend_from_slice(extra);
    match default_registry()
        .snapshot()
        .get("function_calls_duration_seconds", &labels)
    {
        Some(MetricValue::Histogram(h)) => h.clone(),
        other => panic!(
            "no duration histogram for {labels:?} ({other:?}) in:\n{}",
            default_registry().render()
        ),
    }
}

/// The `function_calls_concurrent` gauge of `function`, if it has one.
pub fn in_flight(function: &str) -> Option<i64> {
    match default_registry()
        .snapshot()
        .get("function_calls_concurrent", &identity(root(), function))
    {
        Some(MetricValue::Gauge(n)) => Some(*n),
        Some(other) => panic!("function_calls_concurrent is not a gauge: {other:?}"),
        None => None,
    }
}

/// Whether any series of the function families is labeled `function = name`.
pub fn has_series(function: &str) -> bool {
    default_registry()
        .snapshot()
        .families
        .iter()
        .filter(|f| f.name.starts_with("function_calls"))
        .flat_map(|f| &f.series)
        .any(|s| {
            s.labels
                .iter()
                .any(|(n, v)| n == "function" && v == function)
        })
}

/// A span as it was opened, with the fields recorded on it since.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub name: &'static str,
    pub target: String,
    pub level: tracing::Level,
    pub fields: Vec<(String, String)>,
}

impl SpanRecord {
    /// The value of field `name`: strings as written, other values with `Debug`.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Runs `f` with a subscriber that keeps every span opened on this thread.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<SpanRecord>) {
    let spans = Arc::new(Mutex::new(Vec::new()));
    let subscriber = Capture {
        spans: spans.clone(),
    };
    let ret = tracing::subscriber::with_default(subscriber, f);
    let spans = spans.lock().unwrap().clone();
    (ret, spans)
}

struct Capture {
    spans: Arc<Mutex<Vec<SpanRecord>>>,
}

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let meta = span.metadata();
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(SpanRecord {
            name: meta.name(),
            target: meta.target().to_owned(),
            level: *meta.level(),
            fields,
        });
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans.lock().unwrap();
        let index = span.into_u64() as usize - 1;
        values.record(&mut Fields(&mut spans[index].fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, _: &Event<'_>) {}

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}
