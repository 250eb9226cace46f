//! rustform's own export metrics, in the default registry: what was produced, exported
//! and dropped, so every span and every pushed metric point can be accounted for, and
//! every failed or retried export is visible.
//!
//! - `rustform_exporter_spans_produced_total{exporter}`: ended, sampled spans offered to
//!   an exporter's queue;
//! - `rustform_exporter_spans_exported_total{exporter}`: spans the receiver accepted;
//! - `rustform_exporter_spans_dropped_total{exporter, reason}`: `queue_full`,
//!   `export_failed`, `rejected` (by the receiver, in a partial success) or `shutdown`
//!   (queued, batched or still being sent when the shutdown's time ran out);
//! - `rustform_exporter_queue_spans{exporter}`: spans waiting in the queue;
//! - `rustform_exporter_metric_points_produced_total{exporter}`: data points in the
//!   metrics pushes an exporter started;
//! - `rustform_exporter_metric_points_exported_total{exporter}`: points the receiver
//!   accepted;
//! - `rustform_exporter_metric_points_dropped_total{exporter, reason}`: `export_failed`,
//!   `rejected` or `shutdown` (a push still being sent when the shutdown's time ran out);
//! - `rustform_exporter_exports_total{signal, exporter, outcome}`: `success`, `partial`
//!   (some items rejected) or `failure`;
//! - `rustform_exporter_retries_total{signal, exporter}`: attempts repeated after a
//!   retryable failure.
//!
//! Once [`Guard::shutdown`](crate::Guard::shutdown) returns (or the guard is dropped),
//! `produced == exported + dropped` (all reasons) holds exactly, for spans and for metric
//! points, and stays so: each span or push is counted once, by whoever settles it (the
//! export task, or the shutting-down thread for what the task could not finish in time).
//! While export runs, the difference is what is queued or being sent.

use std::sync::LazyLock;

use crate::metrics::{Counter, CounterVec, Gauge, GaugeVec, LabelSet, default_registry};

/// The telemetry an export carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Spans.
    Traces,
    /// Metric points.
    Metrics,
}

impl Signal {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The path of the signal on an OTLP/HTTP receiver.
    pub(crate) const fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// Labels made of names known when the exporter is built (`otlp`, `zipkin`, …).
macro_rules! label_set {
    ($name:ident { $($field:ident),+ }) => {
        struct $name {
            $($field: &'static str),+
        }

        impl LabelSet for $name {
            const NAMES: &'static [&'static str] = &[$(stringify!($field)),+];

            fn visit_values(&self, f: &mut dyn FnMut(&str)) {
                $(f(self.$field);)+
            }
        }
    };
}

label_set!(ExporterLabels { exporter });
label_set!(DroppedLabels { exporter, reason });
label_set!(ExportLabels {
    signal,
    exporter,
    outcome
});
label_set!(RetryLabels { signal, exporter });

/// Registers `metric` in the default registry, logging (never failing) on a clash.
fn registered<M: crate::metrics::Metric + Clone>(name: &str, help: &str, metric: M) -> M {
    if let Err(error) = default_registry().register(name, help, metric.clone()) {
        tracing::error!(target: "rustform::export", %error, "an export metric is counted but not exposed");
    }
    metric
}

static PRODUCED: LazyLock<CounterVec<ExporterLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_spans_produced",
        "Ended, sampled spans offered to an exporter's queue",
        CounterVec::new(),
    )
});
static EXPORTED: LazyLock<CounterVec<ExporterLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_spans_exported",
        "Spans accepted by the exporter's receiver",
        CounterVec::new(),
    )
});
static DROPPED: LazyLock<CounterVec<DroppedLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_spans_dropped",
        "Spans that were not exported, by reason: queue_full, export_failed, rejected, shutdown",
        CounterVec::new(),
    )
});
static QUEUE: LazyLock<GaugeVec<ExporterLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_queue_spans",
        "Spans waiting in the exporter's queue",
        GaugeVec::new(),
    )
});
static POINTS_PRODUCED: LazyLock<CounterVec<ExporterLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_metric_points_produced",
        "Metric data points in the pushes an exporter started",
        CounterVec::new(),
    )
});
static POINTS_EXPORTED: LazyLock<CounterVec<ExporterLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_metric_points_exported",
        "Metric data points accepted by the exporter's receiver",
        CounterVec::new(),
    )
});
static POINTS_DROPPED: LazyLock<CounterVec<DroppedLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_metric_points_dropped",
        "Metric data points that were not exported, by reason: export_failed, rejected, shutdown",
        CounterVec::new(),
    )
});
static EXPORTS: LazyLock<CounterVec<ExportLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_exports",
        "Exports by signal, exporter and outcome: success, partial (some items rejected) or failure",
        CounterVec::new(),
    )
});
static RETRIES: LazyLock<CounterVec<RetryLabels>> = LazyLock::new(|| {
    registered(
        "rustform_exporter_retries",
        "Export attempts repeated after a retryable failure",
        CounterVec::new(),
    )
});

/// The span counters of one exporter, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct SpanStats {
    pub(crate) produced: Counter,
    pub(crate) exported: Counter,
    pub(crate) queue_full: Counter,
    pub(crate) export_failed: Counter,
    pub(crate) rejected: Counter,
    pub(crate) shutdown: Counter,
    pub(crate) queued: Gauge,
}

impl SpanStats {
    pub(crate) fn new(exporter: &'static str) -> SpanStats {
        let dropped = |reason| DROPPED.with(&DroppedLabels { exporter, reason }).clone();
        SpanStats {
            produced: PRODUCED.with(&ExporterLabels { exporter }).clone(),
            exported: EXPORTED.with(&ExporterLabels { exporter }).clone(),
            queue_full: dropped("queue_full"),
            export_failed: dropped("export_failed"),
            rejected: dropped("rejected"),
            shutdown: dropped("shutdown"),
            queued: QUEUE.with(&ExporterLabels { exporter }).clone(),
        }
    }
}

/// The metric point counters of one exporter, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct PointStats {
    pub(crate) produced: Counter,
    pub(crate) exported: Counter,
    pub(crate) export_failed: Counter,
    pub(crate) rejected: Counter,
    pub(crate) shutdown: Counter,
}

impl PointStats {
    pub(crate) fn new(exporter: &'static str) -> PointStats {
        let dropped = |reason| {
            POINTS_DROPPED
                .with(&DroppedLabels { exporter, reason })
                .clone()
        };
        PointStats {
            produced: POINTS_PRODUCED.with(&ExporterLabels { exporter }).clone(),
            exported: POINTS_EXPORTED.with(&ExporterLabels { exporter }).clone(),
            export_failed: dropped("export_failed"),
            rejected: dropped("rejected"),
            shutdown: dropped("shutdown"),
        }
    }
}

/// The export counters of one exporter of one signal, resolved once.
#[derive(Debug, Clone)]
pub(crate) struct ExportStats {
    pub(crate) success: Counter,
    pub(crate) partial: Counter,
    pub(crate) failure: Counter,
    pub(crate) retries: Counter,
}

impl ExportStats {
    pub(crate) fn new(signal: Signal, exporter: &'static str) -> ExportStats {
        let signal = signal.as_str();
        let outcome = |outcome| {
            EXPORTS
                .with(&ExportLabels {
                    signal,
                    exporter,
                    outcome,
                })
                .clone()
        };
        ExportStats {
            success: outcome("success"),
            partial: outcome("partial"),
            failure: outcome("failure"),
            retries: RETRIES.with(&RetryLabels { signal, exporter }).clone(),
        }
    }
}
