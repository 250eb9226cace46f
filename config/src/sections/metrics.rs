//! `opentelemetry.metrics`: which built-in metrics are recorded, and where metrics are
//! exported (pulled by Prometheus or pushed over OTLP).

use std::time::Duration;

use super::{Authentication, MS, Transport, choice, duration, list, nested, some};
use crate::decode::Decoder;
use crate::node::Node;

section! {
    /// `observability.opentelemetry.metrics`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Metrics {
        /// `enabled` (default true).
        pub enabled: bool = true => Decoder::bool,
        /// `export_interval` (default 60 s; `OTEL_METRIC_EXPORT_INTERVAL`) for pushed metrics.
        pub export_interval: Duration = Duration::from_secs(60) => duration(MS),
        /// `export_timeout` (default 30 s; `OTEL_METRIC_EXPORT_TIMEOUT`).
        pub export_timeout: Duration = Duration::from_secs(30) => duration(MS),
        /// `http_metrics` (default true).
        pub http_metrics: bool = true => Decoder::bool,
        /// `database_metrics` (default false).
        pub database_metrics: bool = false => Decoder::bool,
        /// `system_metrics` (default true): the `process_*` metrics and `build_info`.
        pub system_metrics: bool = true => Decoder::bool,
        /// `custom_metrics` (default true): register the top-level `custom_metrics` section.
        pub custom_metrics: bool = true => Decoder::bool,
        /// `exporters`.
        pub exporters: Vec<MetricsExporter> = Vec::new() => list(MetricsExporter::decode),
    }
}

/// `metrics.exporters[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsExporter {
    /// `type`: prometheus, otlp or console.
    pub kind: MetricsExporterKind,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint` (the path for prometheus, a URL for otlp), `protocol`, `headers`,
    /// `compression`, `timeout`.
    pub transport: Transport,
    /// `authentication` (prometheus): overrides `prometheus.authentication`.
    pub authentication: Option<Authentication>,
}

impl MetricsExporter {
    /// An exporter of `kind` with every setting at its default.
    pub fn new(kind: MetricsExporterKind) -> MetricsExporter {
        MetricsExporter {
            kind,
            enabled: true,
            transport: Transport::default(),
            authentication: None,
        }
    }

    /// An item of `exporters`; `None` without a valid `type`.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<MetricsExporter> {
        let mut fields = d.map(node, path);
        let kind = fields.required(
            d,
            "type",
            "prometheus, otlp or console",
            choice(METRICS_EXPORTERS),
        );
        let mut out = MetricsExporter::new(kind.unwrap_or(MetricsExporterKind::Otlp));
        fields.set(d, "enabled", &mut out.enabled, Decoder::bool);
        let url = kind != Some(MetricsExporterKind::Prometheus);
        out.transport = Transport::read(d, &mut fields, url);
        fields.set(d, "authentication", &mut out.authentication, some(nested));
        fields.finish(d);
        kind.map(|_| out)
    }
}

/// `metrics.exporters[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporterKind {
    /// The pull endpoint.
    Prometheus,
    /// OTLP push.
    Otlp,
    /// Printed to stderr.
    Console,
}

const METRICS_EXPORTERS: &[(&str, MetricsExporterKind)] = &[
    ("prometheus", MetricsExporterKind::Prometheus),
    ("otlp", MetricsExporterKind::Otlp),
    ("console", MetricsExporterKind::Console),
];
