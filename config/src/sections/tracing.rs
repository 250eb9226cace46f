//! `opentelemetry.tracing`: which traces are recorded, how spans are queued and batched,
//! where they are exported, and how context crosses process boundaries.

use std::time::Duration;

use super::{MS, Transport, choice, duration, list, nested, whole};
use crate::decode::{Decoder, Fields};
use crate::node::Node;

section! {
    /// `observability.opentelemetry.tracing`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Tracing {
        /// `enabled` (default true).
        pub enabled: bool = true => Decoder::bool,
        /// The sampler: `parentbased(traceidratio(sample_rate))` from the file, or
        /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
        pub sampler @ "sample_rate": Sampler = Sampler::default() => sample_rate,
        /// `max_events_per_span` (default 128; `OTEL_SPAN_EVENT_COUNT_LIMIT`).
        pub max_events_per_span: u32 = 128 => whole(0, 65_536),
        /// `max_attributes_per_span` (default 128; `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
        pub max_attributes_per_span: u32 = 128 => whole(0, 65_536),
        /// `exporters`.
        pub exporters: Vec<TraceExporter> = Vec::new() => list(TraceExporter::decode),
        /// `batch`: the span queue.
        pub batch: Batch = Batch::default() => nested,
        /// `propagators` (default `[tracecontext, baggage]`; `OTEL_PROPAGATORS`).
        pub propagators: Vec<Propagator> = vec![Propagator::TraceContext, Propagator::Baggage]
            => list(choice(PROPAGATORS)),
    }
}

/// `sample_rate`: the ratio of root spans recorded.
fn sample_rate(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Sampler> {
    d.number(node, path, 0.0, 1.0).map(Sampler::ratio)
}

/// Which traces are recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Sampler {
    /// Whether a span with a parent follows its parent's decision (`parentbased_*`).
    pub parent_based: bool,
    /// The decision for a root span.
    pub root: RootSampler,
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler {
            parent_based: true,
            root: RootSampler::AlwaysOn,
        }
    }
}

impl Sampler {
    /// `parentbased(traceidratio(ratio))`, or always on at 1.0.
    pub fn ratio(ratio: f64) -> Sampler {
        Sampler {
            parent_based: true,
            root: if ratio >= 1.0 {
                RootSampler::AlwaysOn
            } else {
                RootSampler::TraceIdRatio(ratio)
            },
        }
    }
}

/// A root span's sampling decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Record every trace.
    AlwaysOn,
    /// Record no trace.
    AlwaysOff,
    /// Record this fraction of traces, chosen by trace id.
    TraceIdRatio(f64),
}

/// A context propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

/// The words of `propagators` and `OTEL_PROPAGATORS`.
pub(crate) const PROPAGATORS: &[(&str, Propagator)] = &[
    ("tracecontext", Propagator::TraceContext),
    ("baggage", Propagator::Baggage),
];

section! {
    /// `tracing.batch`: the bounded span queue (the OpenTelemetry batch span processor's
    /// settings, `OTEL_BSP_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct Batch {
        /// `max_queue_size` (default 2048): spans beyond it are dropped and counted.
        pub max_queue_size: usize = 2048 => whole(1, 1 << 20),
        /// `max_export_batch_size` (default 512).
        pub max_export_batch_size: usize = 512 => whole(1, 1 << 20),
        /// `scheduled_delay` (default 5 s).
        pub scheduled_delay: Duration = Duration::from_secs(5) => duration(MS),
        /// `export_timeout` (default 30 s).
        pub export_timeout: Duration = Duration::from_secs(30) => duration(MS),
    }

    /// A batch must fit in the queue.
    fn complete(&mut self, d: &mut Decoder<'_>, fields: &mut Fields<'_>) {
        if self.max_export_batch_size > self.max_queue_size {
            let (path, at) = fields.place("max_export_batch_size");
            d.error(
                &path,
                at,
                format!(
                    "a batch of {} cannot be larger than the queue ({}); lower it or raise max_queue_size",
                    self.max_export_batch_size, self.max_queue_size
                ),
            );
        }
    }
}

/// Where spans go: `tracing.exporters[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TraceExporter {
    /// `type`: otlp, console, zipkin or jaeger.
    pub kind: TraceExporterKind,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint`, `protocol`, `headers`, `compression`, `timeout`.
    pub transport: Transport,
    /// `enabled_in_dev` (console): print spans only in development.
    pub enabled_in_dev: bool,
}

impl TraceExporter {
    /// An exporter of `kind` with every setting at its default.
    pub fn new(kind: TraceExporterKind) -> TraceExporter {
        TraceExporter {
            kind,
            enabled: true,
            transport: Transport::default(),
            enabled_in_dev: false,
        }
    }

    /// An item of `exporters`; `None` without a valid `type`.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<TraceExporter> {
        let mut fields = d.map(node, path);
        let kind = fields.required(
            d,
            "type",
            "otlp, console, zipkin or jaeger",
            choice(TRACE_EXPORTERS),
        );
        let mut out = TraceExporter::new(kind.unwrap_or(TraceExporterKind::Otlp));
        fields.set(d, "enabled", &mut out.enabled, Decoder::bool);
        fields.set(d, "enabled_in_dev", &mut out.enabled_in_dev, Decoder::bool);
        out.transport = Transport::read(d, &mut fields, true);
        fields.finish(d);
        kind.map(|_| out)
    }
}

/// `tracing.exporters[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceExporterKind {
    /// OTLP to a collector.
    Otlp,
    /// Human-readable spans on stderr.
    Console,
    /// Zipkin v2 JSON over HTTP.
    Zipkin,
    /// OTLP to Jaeger's OTLP port.
    Jaeger,
}

const TRACE_EXPORTERS: &[(&str, TraceExporterKind)] = &[
    ("otlp", TraceExporterKind::Otlp),
    ("console", TraceExporterKind::Console),
    ("zipkin", TraceExporterKind::Zipkin),
    ("jaeger", TraceExporterKind::Jaeger),
];
