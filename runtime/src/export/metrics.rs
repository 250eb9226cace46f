//! The registry over OTLP: at every interval, a snapshot of the
//! [default registry](crate::metrics::default_registry) — the values `/metrics` shows —
//! as OTLP metrics: counters as cumulative monotonic sums, gauges, histograms with
//! explicit bounds and their exemplars.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::mpsc;

use super::Command;
use super::otlp::OtlpClient;
use crate::metrics::{MetricType, MetricValue, Snapshot};

/// The export request for `snapshot`, taken at `now`; cumulative values count from
/// `start`.
pub(crate) fn request(
    snapshot: &Snapshot,
    resource: &Resource,
    start: SystemTime,
    now: SystemTime,
) -> ExportMetricsServiceRequest {
    let start = nanos(start);
    let now = nanos(now);
    let metrics = snapshot
        .families
        .iter()
        .filter(|family| !family.series.is_empty())
        .map(|family| {
            let data = match family.metric_type {
                MetricType::Counter => metric::Data::Sum(Sum {
                    data_points: family
                        .series
                        .iter()
                        .map(|s| number(&s.labels, &s.value, start, now))
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                    is_monotonic: true,
                }),
                MetricType::Gauge => metric::Data::Gauge(Gauge {
                    data_points: family
                        .series
                        .iter()
                        .map(|s| number(&s.labels, &s.value, 0, now))
                        .collect(),
                }),
                MetricType::Histogram => metric::Data::Histogram(Histogram {
                    data_points: family
                        .series
                        .iter()
                        .filter_map(|s| histogram(&s.labels, &s.value, start, now))
                        .collect(),
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            };
            Metric {
                name: family.name.clone(),
                description: family.help.clone(),
                unit: unit(family.unit.as_deref(), &family.name).to_owned(),
                metadata: Vec::new(),
                data: Some(data),
            }
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource.clone()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "rustform".to_owned(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// The family's unit in UCUM form: the declared one, else the base unit its name ends
/// with, as the Prometheus naming practice puts it there.
fn unit<'a>(declared: Option<&'a str>, name: &str) -> &'a str {
    match declared {
        Some(unit) => ucum(unit),
        None if name.ends_with("_seconds") => "s",
        None if name.ends_with("_bytes") => "By",
        None if name.ends_with("_ratio") => "1",
        None => "",
    }
}

/// The UCUM form of a Prometheus unit, as OpenTelemetry writes units.
fn ucum(unit: &str) -> &str {
    match unit {
        "seconds" => "s",
        "milliseconds" => "ms",
        "bytes" => "By",
        "ratio" => "1",
        other => other,
    }
}

fn attributes(labels: &[(String, String)]) -> Vec<KeyValue> {
    string_attributes(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// OTLP attributes with string values.
pub(crate) fn string_attributes<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<KeyValue> {
    pairs
        .into_iter()
        .map(|(key, value)| KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..Default::default()
        })
        .collect()
}

fn number(
    labels: &[(String, String)],
    value: &MetricValue,
    start: u64,
    now: u64,
) -> NumberDataPoint {
    let value = match value {
        MetricValue::Counter(n) => {
            number_data_point::Value::AsInt(i64::try_from(*n).unwrap_or(i64::MAX))
        }
        MetricValue::Gauge(n) => number_data_point::Value::AsInt(*n),
        other => number_data_point::Value::AsDouble(other.as_f64().unwrap_or(f64::NAN)),
    };
    NumberDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        exemplars: Vec::new(),
        flags: 0,
        value: Some(value),
    }
}

fn histogram(
    labels: &[(String, String)],
    value: &MetricValue,
    start: u64,
    now: u64,
) -> Option<HistogramDataPoint> {
    let MetricValue::Histogram(histogram) = value else {
        return None;
    };
    // OTLP buckets are counts per bucket, not cumulative; the bounds leave out +Inf.
    let mut previous = 0u64;
    let bucket_counts = histogram
        .buckets
        .iter()
        .map(|&(_, cumulative)| {
            let count = cumulative.saturating_sub(previous);
            previous = cumulative;
            count
        })
        .collect();
    let explicit_bounds = histogram
        .buckets
        .iter()
        .map(|&(bound, _)| bound)
        .filter(|bound| bound.is_finite())
        .collect();
    let exemplars = histogram
        .exemplars
        .iter()
        .filter_map(|(_, e)| {
            Some(Exemplar {
                filtered_attributes: Vec::new(),
                time_unix_nano: u64::try_from(e.timestamp.as_nanos()).ok()?,
                span_id: unhex(&e.span_id)?,
                trace_id: unhex(&e.trace_id)?,
                value: Some(exemplar::Value::AsDouble(e.value)),
            })
        })
        .collect();
    Some(HistogramDataPoint {
        attributes: attributes(labels),
        start_time_unix_nano: start,
        time_unix_nano: now,
        count: histogram.count,
        sum: Some(histogram.sum),
        bucket_counts,
        explicit_bounds,
        exemplars,
        flags: 0,
        min: None,
        max: None,
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Where pushed metrics go.
pub(crate) enum MetricsSink {
    /// An OTLP receiver.
    Otlp(OtlpClient),
    /// Standard error, in the Prometheus text format.
    Console,
}

/// The periodic push of the default registry.
pub(crate) struct MetricsPusher {
    pub(crate) sink: Arc<MetricsSink>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
    pub(crate) resource: Resource,
    pub(crate) start: SystemTime,
}

impl MetricsPusher {
    pub(crate) async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut failing = false;
        let interval = self.interval.max(Duration::from_millis(10));
        let mut next = tokio::time::Instant::now() + interval;
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        self.push(deadline, &mut failing).await;
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        self.push(deadline, &mut failing).await;
                        let _ = done.send(());
                        return;
                    }
                    None => return,
                },
                () = tokio::time::sleep_until(next) => {
                    self.push(Instant::now() + self.timeout, &mut failing).await;
                    next = tokio::time::Instant::now() + interval;
                }
            }
        }
    }

    async fn push(&self, deadline: Instant, failing: &mut bool) {
        let registry = crate::metrics::default_registry();
        match &*self.sink {
            MetricsSink::Console => {
                use std::io::Write;
                let text = registry.render();
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            MetricsSink::Otlp(client) => {
                let request = request(
                    &registry.snapshot(),
                    &self.resource,
                    self.start,
                    SystemTime::now(),
                );
                let deadline = deadline.min(Instant::now() + client.timeout);
                match client.export(request, deadline).await {
                    Ok(accepted) => {
                        if accepted.rejected > 0 {
                            super::report(|| {
                                tracing::warn!(
                                    target: "rustform::export",
                                    endpoint = %client.endpoint,
                                    rejected_points = accepted.rejected,
                                    message = %accepted.message,
                                    "the receiver rejected some metric points"
                                );
                            });
                        } else if *failing {
                            super::report(|| {
                                tracing::info!(
                                    target: "rustform::export",
                                    endpoint = %client.endpoint,
                                    "metric export recovered"
                                );
                            });
                        }
                        *failing = false;
                    }
                    Err(failure) => {
                        if !*failing {
                            super::report(|| {
                                tracing::warn!(
                                    target: "rustform::export",
                                    endpoint = %client.endpoint,
                                    reason = failure.reason(),
                                    "metric export failed; counted in \
                                     rustform_exporter_exports_total{{signal=\"metrics\",outcome=\"failure\"}}"
                                );
                            });
                        }
                        *failing = true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Buckets, Counter, Gauge, Histogram, Registry};

    #[test]
    fn the_request_carries_what_the_registry_holds() {
        let registry = Registry::new();
        let counter = Counter::default();
        counter.inc_by(7);
        registry.register("jobs", "Jobs done", counter).unwrap();
        let gauge = Gauge::default();
        gauge.set(-3);
        registry
            .register("queue_depth", "Jobs waiting", gauge)
            .unwrap();
        let histogram = Histogram::new(Buckets::new(vec![0.1, 1.0]).unwrap());
        for v in [0.05, 0.5, 0.7, 3.0] {
            histogram.observe(v);
        }
        registry
            .register_with_unit("job_duration_seconds", "Job time", "seconds", histogram)
            .unwrap();

        let start = UNIX_EPOCH + Duration::from_secs(100);
        let now = UNIX_EPOCH + Duration::from_secs(160);
        let request = request(&registry.snapshot(), &Resource::default(), start, now);
        let metrics = &request.resource_metrics[0].scope_metrics[0].metrics;
        assert_eq!(metrics.len(), 3);

        let Some(metric::Data::Sum(sum)) = &metrics[0].data else {
            panic!("a sum: {:?}", metrics[0]);
        };
        assert_eq!(metrics[0].name, "jobs");
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        assert_eq!(
            sum.data_points[0].value,
            Some(number_data_point::Value::AsInt(7))
        );
        assert_eq!(sum.data_points[0].start_time_unix_nano, 100_000_000_000);
        assert_eq!(sum.data_points[0].time_unix_nano, 160_000_000_000);

        let Some(metric::Data::Gauge(g)) = &metrics[1].data else {
            panic!("a gauge");
        };
        assert_eq!(
            g.data_points[0].value,
            Some(number_data_point::Value::AsInt(-3))
        );

        let Some(metric::Data::Histogram(h)) = &metrics[2].data else {
            panic!("a histogram");
        };
        assert_eq!(metrics[2].unit, "s");
        let point = &h.data_points[0];
        assert_eq!(point.explicit_bounds, vec![0.1, 1.0]);
        assert_eq!(point.bucket_counts, vec![1, 2, 1]);
        assert_eq!(point.count, 4);
        assert_eq!(point.sum, Some(4.25));
    }

    #[test]
    fn hex_ids_decode() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
