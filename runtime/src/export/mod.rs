//! OpenTelemetry export: spans through `tracing-opentelemetry` and the OpenTelemetry
//! SDK's tracer and sampler, the registry's metrics pushed on an interval, both over
//! rustform's own OTLP transport (gRPC or HTTP/protobuf), or as Zipkin v2 JSON, or on
//! standard error.
//!
//! Everything is sent from one background thread (`rustform-export`) with its own
//! single-threaded Tokio runtime, so instrumented code never waits for the network: a
//! span's end is a non-blocking push onto a bounded queue, and a full queue drops the
//! span and counts it (see [`stats`]). The export thread runs with tracing switched off,
//! so the HTTP and gRPC clients' own spans never feed back into the export.
//!
//! At shutdown every exporter stops at once. Its task has until a little before the
//! deadline ([`task_deadline`]) to send what is pending; a send still under way then is
//! abandoned. The thread shutting down then counts whatever is left — queued, batched,
//! or in a send the task has not finished — as dropped (`shutdown`) before it returns,
//! even when the task never answers, and the task counts nothing of it afterwards. So
//! once [`Guard::shutdown`](crate::Guard::shutdown) returns, or the guard is dropped,
//! `produced == exported + dropped` holds exactly for spans and for metric points.

mod console;
mod metrics;
mod otlp;
mod resource;
mod retry;
mod spans;
mod stats;
mod trace_request;
#[cfg(feature = "zipkin")]
mod zipkin;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::InstrumentationScope;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::trace::{Sampler as SdkSampler, SdkTracer, SdkTracerProvider};
use tokio::sync::watch;

use crate::Error;
use crate::config::{
    Config, MetricsExporterKind, Propagator, RootSampler, Sampler, TraceExporterKind,
};
use otlp::OtlpClient;
use retry::Failure;
use spans::{QueueProcessor, SpanPipeline, SpanSink};
use stats::{PointStats, Signal, SpanStats};

/// What the application asks of an export task (spans or metrics).
pub(crate) enum Command {
    /// Export what is pending, then say so.
    Flush {
        deadline: Instant,
        done: std::sync::mpsc::Sender<()>,
    },
    /// Export what is pending (dropping, and counting, what cannot be sent by
    /// `deadline`), then stop.
    Shutdown {
        deadline: Instant,
        done: std::sync::mpsc::Sender<()>,
    },
}

/// What was installed for export, until shutdown.
pub(crate) struct Export {
    runtime: ExportRuntime,
    provider: Option<SdkTracerProvider>,
    tracer: Option<SdkTracer>,
    /// The span pipelines, one per exporter, for their shutdown.
    spans: Vec<SpanPipeline>,
    metrics: Vec<metrics::MetricsPipeline>,
}

impl std::fmt::Debug for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Export")
            .field("span_exporters", &self.spans.len())
            .field("metric_exporters", &self.metrics.len())
            .finish_non_exhaustive()
    }
}

/// Sets up the exporters `config` names, or `None` when OpenTelemetry is off or no
/// exporter is configured. Nothing global is touched until [`Export::activate`].
pub(crate) fn install(config: &Config, service_name: &str) -> Result<Option<Export>, Error> {
    let otel = &config.observability.opentelemetry;
    if !otel.enabled {
        return Ok(None);
    }
    let development = development(config);
    let traces: Vec<(usize, _)> = if otel.tracing.enabled {
        otel.tracing
            .exporters
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.enabled
                    && (e.kind != TraceExporterKind::Console || !e.enabled_in_dev || development)
            })
            .collect()
    } else {
        Vec::new()
    };
    let pushed: Vec<(usize, _)> = if otel.metrics.enabled {
        otel.metrics
            .exporters
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                e.enabled
                    && matches!(
                        e.kind,
                        MetricsExporterKind::Otlp | MetricsExporterKind::Console
                    )
            })
            .collect()
    } else {
        Vec::new()
    };
    if traces.is_empty() && pushed.is_empty() {
        return Ok(None);
    }

    let runtime = ExportRuntime::start()?;
    let _inside = runtime.handle.enter();
    let attributes = resource::attributes(config, service_name);
    let sdk_resource = resource::sdk(&attributes);

    let mut provider = None;
    let mut tracer = None;
    let mut spans = Vec::new();
    if !traces.is_empty() {
        let tracing = &otel.tracing;
        let mut builder = SdkTracerProvider::builder()
            .with_resource(sdk_resource.clone())
            .with_sampler(sampler(tracing.sampler))
            .with_max_events_per_span(tracing.max_events_per_span)
            .with_max_attributes_per_span(tracing.max_attributes_per_span);
        for (index, exporter) in traces {
            let what = format!("observability.opentelemetry.tracing.exporters[{index}]");
            let transport = &exporter.transport;
            let timeout = transport.timeout;
            let processor = match exporter.kind {
                TraceExporterKind::Otlp | TraceExporterKind::Jaeger => {
                    let (name, default_grpc) = match exporter.kind {
                        TraceExporterKind::Jaeger => ("jaeger", Some("http://localhost:4317")),
                        _ => ("otlp", None),
                    };
                    let client =
                        OtlpClient::new(&what, transport, Signal::Traces, name, default_grpc)?;
                    let sink = OtlpSpans {
                        client,
                        request: std::sync::Mutex::new(trace_request::TraceRequestEncoder::new(
                            &ResourceAttributesWithSchema::from(&sdk_resource),
                        )),
                    };
                    QueueProcessor::start(
                        &runtime.handle,
                        sink,
                        &tracing.batch,
                        timeout,
                        SpanStats::new(name),
                    )
                }
                #[cfg(not(feature = "zipkin"))]
                TraceExporterKind::Zipkin => {
                    return Err(Error::missing_feature(&what, "a Zipkin exporter", "zipkin"));
                }
                #[cfg(feature = "zipkin")]
                TraceExporterKind::Zipkin => {
                    let sink = zipkin::ZipkinSink::new(&what, transport, service_name)?;
                    QueueProcessor::start(
                        &runtime.handle,
                        sink,
                        &tracing.batch,
                        timeout,
                        SpanStats::new("zipkin"),
                    )
                }
                TraceExporterKind::Console => QueueProcessor::start(
                    &runtime.handle,
                    console::ConsoleSink,
                    &tracing.batch,
                    timeout,
                    SpanStats::new("console"),
                ),
            };
            spans.push(processor.pipeline());
            builder = builder.with_span_processor(processor);
        }
        let built = builder.build();
        // `#[observed]` calls that would not be sampled, at levels the logs do not
        // write, skip their span.
        crate::trace::unseen_spans::skip_unseen(
            tracing.sampler,
            crate::trace::log_level_hint(&config.observability.logging.level),
        );
        tracer = Some(
            built.tracer_with_scope(
                InstrumentationScope::builder("rustform")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
            ),
        );
        provider = Some(built);
    }

    let mut metrics = Vec::new();
    if !pushed.is_empty() {
        let proto_resource = resource::proto(&attributes);
        let start = crate::metrics::process::process_start_time()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map_or_else(SystemTime::now, |s| UNIX_EPOCH + Duration::from_secs_f64(s));
        for (index, exporter) in pushed {
            let what = format!("observability.opentelemetry.metrics.exporters[{index}]");
            let (sink, name) = match exporter.kind {
                MetricsExporterKind::Otlp => (
                    metrics::MetricsSink::Otlp(OtlpClient::new(
                        &what,
                        &exporter.transport,
                        Signal::Metrics,
                        "otlp",
                        None,
                    )?),
                    "otlp",
                ),
                _ => (metrics::MetricsSink::Console, "console"),
            };
            metrics.push(metrics::MetricsPusher::start(
                &runtime.handle,
                sink,
                otel.metrics.export_interval,
                otel.metrics.export_timeout.min(exporter.transport.timeout),
                proto_resource.clone(),
                start,
                PointStats::new(name),
            ));
        }
    }
    drop(_inside);
    Ok(Some(Export {
        runtime,
        provider,
        tracer,
        spans,
        metrics,
    }))
}

impl Export {
    /// The layer that sends `tracing` spans to the exporters, if any span exporter is
    /// configured: the `tracing-opentelemetry` layer, for a stack on any subscriber `S`.
    pub(crate) fn layer<S>(&self) -> Option<tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let tracer = self.tracer.clone()?;
        Some(
            tracing_opentelemetry::OpenTelemetryLayer::new(tracer)
                // Busy and idle times, and the thread's name (an allocation per span),
                // are not worth their cost on every span; nor the source file, module
                // and line and the `tracing` target on every span and event: a span's
                // code is named by its own attributes (`code.function.name`,
                // `code.namespace` for `#[observed]`, the route for a server span).
                .with_tracked_inactivity(false)
                .with_threads(false)
                .with_location(false)
                .with_target(false),
        )
    }

    /// Makes the tracer provider and the propagators global, so code using the
    /// OpenTelemetry API directly reaches the same pipeline.
    pub(crate) fn activate(&self, propagators: &[Propagator]) {
        if let Some(provider) = &self.provider {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
        crate::trace::install_propagators(propagators);
    }

    /// Exports everything pending and stops, within `deadline`. Spans and metric points
    /// that cannot be sent by then are dropped, and counted before this returns.
    pub(crate) fn shutdown(mut self, deadline: Instant) {
        self.stop(deadline);
    }

    /// Stops every exporter at once. Their tasks have until a little before `deadline`
    /// (see [`task_deadline`]) to send what is pending and count it; then this thread
    /// counts what they have not (still queued, or being sent) as dropped at shutdown,
    /// so `produced == exported + dropped` holds when it returns, and stays so.
    fn stop(&mut self, deadline: Instant) {
        let spans = std::mem::take(&mut self.spans);
        let metrics = std::mem::take(&mut self.metrics);
        let tasks = task_deadline(Instant::now(), deadline);
        let answers: Vec<_> = spans
            .iter()
            .filter_map(|pipeline| pipeline.begin_shutdown(tasks))
            .chain(
                metrics
                    .iter()
                    .filter_map(|pipeline| pipeline.begin_shutdown(tasks)),
            )
            .collect();
        for answer in answers {
            let _ = answer.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
        for pipeline in &spans {
            pipeline.settle();
        }
        for pipeline in &metrics {
            pipeline.settle();
        }
        if let Some(provider) = self.provider.take() {
            // Its processors are shut down already; this marks the provider so.
            let _ = provider.shutdown_with_timeout(Duration::ZERO);
        }
        self.runtime.stop(deadline);
    }

    /// Exports everything pending now, within `deadline`, and keeps running.
    pub(crate) fn flush(&self, deadline: Instant) {
        let answers: Vec<_> = self
            .metrics
            .iter()
            .filter_map(|pipeline| pipeline.flush(deadline))
            .collect();
        if let Some(provider) = &self.provider {
            let _ = provider.force_flush();
        }
        for answer in answers {
            let _ = answer.recv_timeout(deadline.saturating_duration_since(Instant::now()));
        }
    }
}

impl Drop for Export {
    fn drop(&mut self) {
        // Dropped without a shutdown (an installation that failed later): stop now,
        // briefly, still counting everything.
        self.stop(Instant::now() + Duration::from_millis(200));
        if self.tracer.is_some() {
            crate::trace::unseen_spans::create_every_span();
        }
    }
}

/// The most a shutdown keeps back from its export tasks, for itself.
const SETTLE_MARGIN: Duration = Duration::from_millis(250);

/// The time by which the export tasks must end their sends at a shutdown due at
/// `deadline`: a tenth of the time earlier (at most [`SETTLE_MARGIN`]), so that they
/// count the outcomes of their sends themselves and the shutting-down thread still has
/// time to take their answer and count what is left.
fn task_deadline(now: Instant, deadline: Instant) -> Instant {
    let margin = (deadline.saturating_duration_since(now) / 10).min(SETTLE_MARGIN);
    deadline.checked_sub(margin).unwrap_or(deadline)
}

/// Resolves once shutdown has begun (`stopping` holds the time its tasks were given)
/// and that time has come: an export still under way is abandoned then.
async fn stopped(stopping: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let at = *stopping.borrow_and_update();
        match at {
            Some(at) => return tokio::time::sleep_until(at.into()).await,
            None => {
                if stopping.changed().await.is_err() {
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// The SDK sampler of the configuration's.
fn sampler(sampler: Sampler) -> SdkSampler {
    let root = match sampler.root {
        RootSampler::AlwaysOn => SdkSampler::AlwaysOn,
        RootSampler::AlwaysOff => SdkSampler::AlwaysOff,
        RootSampler::TraceIdRatio(ratio) => SdkSampler::TraceIdRatioBased(ratio),
    };
    if sampler.parent_based {
        SdkSampler::ParentBased(Box::new(root))
    } else {
        root
    }
}

/// Whether this is a development run, for exporters with `enabled_in_dev`: the
/// `deployment.environment(.name)` resource attribute says `development`, `dev` or
/// `local`; without one, a debug build is.
fn development(config: &Config) -> bool {
    let attributes = &config.observability.opentelemetry.resource.attributes;
    match attributes
        .get("deployment.environment.name")
        .or_else(|| attributes.get("deployment.environment"))
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
    {
        Some(environment) => matches!(environment.as_str(), "development" | "dev" | "local"),
        None => cfg!(debug_assertions),
    }
}

/// Spans over OTLP.
struct OtlpSpans {
    client: OtlpClient,
    /// Writes each batch's request into a buffer it keeps (one export at a time takes it).
    request: std::sync::Mutex<trace_request::TraceRequestEncoder>,
}

impl SpanSink for OtlpSpans {
    async fn export(&self, spans: Vec<SpanData>, deadline: Instant) -> Result<u64, Failure> {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        let body = self
            .request
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .encode(&spans);
        drop(spans);
        let accepted = self
            .client
            .send::<ExportTraceServiceRequest>(body, deadline)
            .await?;
        if accepted.rejected > 0 {
            report(|| {
                tracing::warn!(
                    target: "rustform::export",
                    endpoint = %self.client.endpoint,
                    rejected_spans = accepted.rejected,
                    message = %accepted.message,
                    "the receiver rejected some spans"
                );
            });
        }
        Ok(accepted.rejected)
    }

    fn describe(&self) -> String {
        format!("otlp {}", self.client.endpoint)
    }
}

/// Where the export thread's own messages go: the application's logs, once installed.
static LOGS: std::sync::Mutex<Option<tracing::Dispatch>> = std::sync::Mutex::new(None);

/// Sends the export thread's messages to `dispatch` (the installed subscriber); a later
/// call replaces it.
pub(crate) fn set_logs(dispatch: &tracing::Dispatch) {
    *LOGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(dispatch.clone());
}

/// Writes a message of the export thread (where tracing is otherwise off) to the logs.
fn report(message: impl FnOnce()) {
    let dispatch = LOGS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if let Some(dispatch) = dispatch {
        tracing::dispatcher::with_default(&dispatch, message);
    }
}

/// The export thread and its runtime.
struct ExportRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExportRuntime {
    fn start() -> Result<ExportRuntime, Error> {
        let (ready, handle) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rustform-export".into())
            .spawn(move || {
                // The clients' own spans and events must not be exported in turn.
                let _quiet =
                    tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let _ = ready.send(Err(error.to_string()));
                        return;
                    }
                };
                let _ = ready.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| start_error(e.to_string()))?;
        let handle = handle
            .recv()
            .map_err(|e| start_error(e.to_string()))?
            .map_err(start_error)?;
        Ok(ExportRuntime {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the runtime; waits for its thread until `deadline` at most.
    fn stop(&mut self, deadline: Instant) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        self.stop(Instant::now() + Duration::from_millis(200));
    }
}

fn start_error(reason: String) -> Error {
    Error::Install {
        what: "OpenTelemetry export",
        reason: format!("cannot start the export thread: {reason}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_tasks_end_a_tenth_early_at_most_a_quarter_second() {
        let now = Instant::now();
        let at = |ms| now + Duration::from_millis(ms);
        assert_eq!(task_deadline(now, at(2000)), at(1800));
        assert_eq!(task_deadline(now, at(10_000)), at(9750));
        assert_eq!(task_deadline(now, now), now);
        // A deadline already past stays as it is.
        assert_eq!(task_deadline(at(10), now), now);
    }
}
