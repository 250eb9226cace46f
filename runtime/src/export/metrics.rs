//! The registry over OTLP: at every interval, a snapshot of the
//! [default registry](crate::metrics::default_registry) — the values `/metrics` shows —
//! as OTLP metrics: counters as cumulative monotonic sums, gauges, histograms with
//! explicit bounds and their exemplars.
//!
//! Each push counts its data points as produced when it starts, and as exported or
//! dropped when it ends. A push still under way when a shutdown's time runs out is
//! counted as dropped (`shutdown`) by the thread shutting down, and nothing of it is
//! counted afterwards (see [`PushLedger`]).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Exemplar, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, exemplar, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use tokio::sync::{mpsc, watch};

use super::Command;
use super::otlp::OtlpClient;
use super::stats::PointStats;
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

/// The data points of `request`.
fn points(request: &ExportMetricsServiceRequest) -> u64 {
    let points = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| match &m.data {
            Some(metric::Data::Sum(sum)) => sum.data_points.len(),
            Some(metric::Data::Gauge(gauge)) => gauge.data_points.len(),
            Some(metric::Data::Histogram(histogram)) => histogram.data_points.len(),
            Some(metric::Data::ExponentialHistogram(histogram)) => histogram.data_points.len(),
            Some(metric::Data::Summary(summary)) => summary.data_points.len(),
            None => 0,
        })
        .sum::<usize>();
    points as u64
}

/// The points of the push under way, until they are counted: by the pusher when the
/// push ends, or by the thread shutting down ([`settle`](PushLedger::settle)) when the
/// time runs out first. Once settled, no push starts, so every point counted as
/// produced is counted once as exported or dropped.
#[derive(Debug)]
pub(crate) struct PushLedger {
    state: Mutex<PushState>,
    stats: PointStats,
}

#[derive(Debug, Default)]
struct PushState {
    settled: bool,
    in_flight: u64,
}

impl PushLedger {
    fn new(stats: PointStats) -> PushLedger {
        PushLedger {
            state: Mutex::new(PushState::default()),
            stats,
        }
    }

    fn lock(&self) -> MutexGuard<'_, PushState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a push of `points` as started; `false` (nothing counted) once settled.
    fn begin(&self, points: u64) -> bool {
        let mut state = self.lock();
        if state.settled {
            return false;
        }
        self.stats.produced.inc_by(points);
        state.in_flight = points;
        true
    }

    /// Ends the push under way: how many of its points the pusher is to count (none
    /// when the ledger was settled meanwhile, which counted them).
    fn end(&self) -> u64 {
        std::mem::take(&mut self.lock().in_flight)
    }

    /// Counts the points of a push still under way as dropped at shutdown; no push
    /// starts afterwards. Returns how many.
    fn settle(&self) -> u64 {
        let mut state = self.lock();
        state.settled = true;
        let left = std::mem::take(&mut state.in_flight);
        drop(state);
        self.stats.shutdown.inc_by(left);
        left
    }
}

/// One metrics exporter, as the application's flushes and its shutdown see it.
#[derive(Debug)]
pub(crate) struct MetricsPipeline {
    commands: mpsc::UnboundedSender<Command>,
    ledger: Arc<PushLedger>,
    stop: watch::Sender<Option<Instant>>,
}

impl MetricsPipeline {
    /// Asks for a push now, within `deadline`; the answer comes on the returned channel.
    pub(crate) fn flush(&self, deadline: Instant) -> Option<std::sync::mpsc::Receiver<()>> {
        let (done, answer) = std::sync::mpsc::channel();
        self.commands
            .send(Command::Flush { deadline, done })
            .ok()
            .map(|()| answer)
    }

    /// Begins the shutdown: a push under way is abandoned at `deadline`, then a last
    /// push is made if there is time left, and the answer comes on the returned channel.
    pub(crate) fn begin_shutdown(
        &self,
        deadline: Instant,
    ) -> Option<std::sync::mpsc::Receiver<()>> {
        self.stop.send_replace(Some(deadline));
        let (done, answer) = std::sync::mpsc::channel();
        self.commands
            .send(Command::Shutdown { deadline, done })
            .ok()
            .map(|()| answer)
    }

    /// Counts a push still under way as dropped at shutdown; no push starts afterwards.
    pub(crate) fn settle(&self) -> u64 {
        self.ledger.settle()
    }
}

/// The periodic push of the default registry.
pub(crate) struct MetricsPusher {
    sink: MetricsSink,
    interval: Duration,
    timeout: Duration,
    resource: Resource,
    start: SystemTime,
    ledger: Arc<PushLedger>,
    stopping: watch::Receiver<Option<Instant>>,
    /// Whether the last push failed, so failures are logged once per outage.
    failing: bool,
}

impl MetricsPusher {
    /// Starts pushing to `sink` on `runtime` every `interval`, each push within
    /// `timeout`; cumulative values count from `start`.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        sink: MetricsSink,
        interval: Duration,
        timeout: Duration,
        resource: Resource,
        start: SystemTime,
        stats: PointStats,
    ) -> MetricsPipeline {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (stop, stopping) = watch::channel(None);
        let ledger = Arc::new(PushLedger::new(stats));
        let pusher = MetricsPusher {
            sink,
            interval,
            timeout,
            resource,
            start,
            ledger: ledger.clone(),
            stopping,
            failing: false,
        };
        runtime.spawn(pusher.run(receiver));
        MetricsPipeline {
            commands,
            ledger,
            stop,
        }
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let interval = self.interval.max(Duration::from_millis(10));
        let mut next = tokio::time::Instant::now() + interval;
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        self.push(deadline).await;
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        self.push(deadline).await;
                        self.ledger.settle();
                        let _ = done.send(());
                        return;
                    }
                    None => {
                        self.ledger.settle();
                        return;
                    }
                },
                () = tokio::time::sleep_until(next) => {
                    self.push(Instant::now() + self.timeout).await;
                    next = tokio::time::Instant::now() + interval;
                }
            }
        }
    }

    /// Pushes a snapshot of the registry within `deadline`, and counts its points.
    async fn push(&mut self, deadline: Instant) {
        if Instant::now() >= deadline {
            return;
        }
        let registry = crate::metrics::default_registry();
        let stats = &self.ledger.stats;
        let client = match &self.sink {
            MetricsSink::Console => {
                use std::io::Write;
                let points = registry
                    .snapshot()
                    .families
                    .iter()
                    .map(|f| f.series.len() as u64)
                    .sum();
                if !self.ledger.begin(points) {
                    return;
                }
                let text = registry.render();
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
                stats.exported.inc_by(self.ledger.end());
                return;
            }
            MetricsSink::Otlp(client) => client,
        };
        let request = request(
            &registry.snapshot(),
            &self.resource,
            self.start,
            SystemTime::now(),
        );
        if !self.ledger.begin(points(&request)) {
            return;
        }
        let deadline = deadline.min(Instant::now() + client.timeout);
        let result = tokio::select! {
            biased;
            result = client.export(request, deadline) => Some(result),
            () = super::stopped(&mut self.stopping) => None,
        };
        // The points are this push's to count, unless the shutdown counted them first.
        let owned = self.ledger.end();
        match result {
            Some(Ok(accepted)) => {
                let rejected = accepted.rejected.min(owned);
                stats.exported.inc_by(owned - rejected);
                stats.rejected.inc_by(rejected);
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
                } else if self.failing {
                    super::report(|| {
                        tracing::info!(
                            target: "rustform::export",
                            endpoint = %client.endpoint,
                            "metric export recovered"
                        );
                    });
                }
                self.failing = false;
            }
            Some(Err(failure)) => {
                stats.export_failed.inc_by(owned);
                if !self.failing {
                    super::report(|| {
                        tracing::warn!(
                            target: "rustform::export",
                            endpoint = %client.endpoint,
                            reason = failure.reason(),
                            "metric export failed; its points are dropped and counted in \
                             rustform_exporter_metric_points_dropped_total"
                        );
                    });
                }
                self.failing = true;
            }
            // Abandoned: the shutdown's time ran out while it was being sent.
            None => stats.shutdown.inc_by(owned),
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
    fn a_push_is_counted_once_by_whoever_settles_it() {
        let stats = PointStats::new("test-ledger");
        let ledger = PushLedger::new(stats.clone());
        assert!(ledger.begin(4));
        assert_eq!(ledger.end(), 4);
        // A push under way when the shutdown's time runs out.
        assert!(ledger.begin(5));
        assert_eq!(ledger.settle(), 5);
        assert_eq!(ledger.end(), 0);
        // No push starts afterwards.
        assert!(!ledger.begin(6));
        assert_eq!(stats.produced.get(), 9);
        assert_eq!(stats.shutdown.get(), 5);
    }

    #[test]
    fn the_points_of_a_request_are_its_data_points() {
        let registry = Registry::new();
        let counter = Counter::default();
        registry.register("jobs", "Jobs done", counter).unwrap();
        let histogram = Histogram::new(Buckets::new(vec![1.0]).unwrap());
        registry
            .register("job_seconds", "Job time", histogram)
            .unwrap();
        let request = request(
            &registry.snapshot(),
            &Resource::default(),
            UNIX_EPOCH,
            UNIX_EPOCH,
        );
        assert_eq!(points(&request), 2);
    }

    #[test]
    fn hex_ids_decode() {
        assert_eq!(unhex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }
}
