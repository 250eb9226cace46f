//! The span pipeline of one exporter: a bounded queue filled by the application's
//! threads without blocking, and a task on the export runtime that sends it in batches,
//! one export at a time, counting every span as exported or dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry::trace::Status;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::mpsc;

use super::Command;
use super::retry::Failure;
use super::stats::SpanStats;
use crate::config::Batch;

/// Where a batch of spans goes.
pub(crate) trait SpanSink: Send + Sync + 'static {
    /// Sends `spans` before `deadline`; `Ok(n)` when the receiver took all but `n`.
    fn export(
        &self,
        spans: Vec<SpanData>,
        deadline: Instant,
    ) -> impl Future<Output = Result<u64, Failure>> + Send;

    /// The exporter's name and endpoint, for messages.
    fn describe(&self) -> String;
}

/// The OpenTelemetry SDK's view of the pipeline: spans in at `on_end`, never blocking.
#[derive(Debug)]
pub(crate) struct QueueProcessor {
    spans: mpsc::Sender<SpanData>,
    control: mpsc::UnboundedSender<Command>,
    stats: SpanStats,
    shut_down: AtomicBool,
    flush_timeout: Duration,
}

impl QueueProcessor {
    /// A processor whose export task runs on `runtime`, sending through `sink`.
    pub(crate) fn start<S: SpanSink>(
        runtime: &tokio::runtime::Handle,
        sink: S,
        batch: &Batch,
        export_timeout: Duration,
        stats: SpanStats,
    ) -> QueueProcessor {
        let (spans, queue) = mpsc::channel(batch.max_queue_size.max(1));
        let (control, commands) = mpsc::unbounded_channel();
        let worker = Worker {
            sink: Arc::new(sink),
            batch_size: batch
                .max_export_batch_size
                .clamp(1, batch.max_queue_size.max(1)),
            delay: batch.scheduled_delay.max(Duration::from_millis(1)),
            export_timeout: export_timeout.min(batch.export_timeout),
            stats: stats.clone(),
            failing: false,
        };
        runtime.spawn(worker.run(queue, commands));
        QueueProcessor {
            spans,
            control,
            stats,
            shut_down: AtomicBool::new(false),
            flush_timeout: batch.export_timeout,
        }
    }

    fn send(
        &self,
        make: impl FnOnce(std::sync::mpsc::Sender<()>) -> Command,
        deadline: Instant,
    ) -> OTelSdkResult {
        let (done, wait) = std::sync::mpsc::channel();
        if self.control.send(make(done)).is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // Blocking is allowed here: flushing and shutting down are the application's
        // explicit requests, and they are bounded by the deadline.
        match wait.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(()) => Ok(()),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(
                deadline.saturating_duration_since(Instant::now()),
            )),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(
                OTelSdkError::InternalFailure("the export task has stopped".into()),
            ),
        }
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.stats.produced.inc();
        if self.shut_down.load(Ordering::Relaxed) {
            self.stats.shutdown.inc();
            return;
        }
        describe_error(&mut span);
        match self.spans.try_send(span) {
            Ok(()) => self.stats.queued.inc(),
            Err(mpsc::error::TrySendError::Full(_)) => self.stats.queue_full.inc(),
            Err(mpsc::error::TrySendError::Closed(_)) => self.stats.shutdown.inc(),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let deadline = Instant::now() + self.flush_timeout;
        self.send(|done| Command::Flush { deadline, done }, deadline)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let deadline = Instant::now() + timeout;
        self.send(|done| Command::Shutdown { deadline, done }, deadline)
    }
}

/// An error status without a description takes the span's `exception.message`, as
/// `#[observed]` records it, so the trace view shows why.
fn describe_error(span: &mut SpanData) {
    if let Status::Error { description } = &span.status
        && description.is_empty()
        && let Some(message) = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "exception.message")
    {
        span.status = Status::error(message.value.as_str().into_owned());
    }
}

/// The export task.
struct Worker<S> {
    sink: Arc<S>,
    batch_size: usize,
    delay: Duration,
    export_timeout: Duration,
    stats: SpanStats,
    /// Whether the last export failed, so failures are logged once per outage.
    failing: bool,
}

impl<S: SpanSink> Worker<S> {
    async fn run(
        mut self,
        mut queue: mpsc::Receiver<SpanData>,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut next = tokio::time::Instant::now() + self.delay;
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        self.drain(&mut queue, &mut batch, deadline).await;
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        queue.close();
                        self.drain(&mut queue, &mut batch, deadline).await;
                        // What could not be sent in time is dropped, and counted.
                        let mut left = batch.len() as u64;
                        while queue.try_recv().is_ok() {
                            self.stats.queued.dec();
                            left += 1;
                        }
                        self.stats.shutdown.inc_by(left);
                        let _ = done.send(());
                        return;
                    }
                    // The processor is gone without a shutdown: send what is left.
                    None => {
                        let deadline = Instant::now() + self.export_timeout;
                        self.drain(&mut queue, &mut batch, deadline).await;
                        return;
                    }
                },
                span = queue.recv() => match span {
                    Some(span) => {
                        self.stats.queued.dec();
                        batch.push(span);
                        if batch.len() >= self.batch_size {
                            self.export(&mut batch, Instant::now() + self.export_timeout).await;
                            next = tokio::time::Instant::now() + self.delay;
                        }
                    }
                    None => {
                        let deadline = Instant::now() + self.export_timeout;
                        self.drain(&mut queue, &mut batch, deadline).await;
                        return;
                    }
                },
                () = tokio::time::sleep_until(next) => {
                    if !batch.is_empty() {
                        self.export(&mut batch, Instant::now() + self.export_timeout).await;
                    }
                    next = tokio::time::Instant::now() + self.delay;
                }
            }
        }
    }

    /// Exports everything queued, in batches, while there is time.
    async fn drain(
        &mut self,
        queue: &mut mpsc::Receiver<SpanData>,
        batch: &mut Vec<SpanData>,
        deadline: Instant,
    ) {
        loop {
            while batch.len() < self.batch_size {
                match queue.try_recv() {
                    Ok(span) => {
                        self.stats.queued.dec();
                        batch.push(span);
                    }
                    Err(_) => break,
                }
            }
            if batch.is_empty() || Instant::now() >= deadline {
                return;
            }
            let until = deadline.min(Instant::now() + self.export_timeout);
            self.export(batch, until).await;
        }
    }

    async fn export(&mut self, batch: &mut Vec<SpanData>, deadline: Instant) {
        let spans = std::mem::replace(batch, Vec::with_capacity(self.batch_size));
        let count = spans.len() as u64;
        match self.sink.export(spans, deadline).await {
            Ok(rejected) => {
                let rejected = rejected.min(count);
                self.stats.exported.inc_by(count - rejected);
                self.stats.rejected.inc_by(rejected);
                if self.failing {
                    self.failing = false;
                    super::report(|| {
                        tracing::info!(
                            target: "rustform::export",
                            exporter = %self.sink.describe(),
                            "span export recovered"
                        );
                    });
                }
            }
            Err(failure) => {
                self.stats.export_failed.inc_by(count);
                if !self.failing {
                    self.failing = true;
                    super::report(|| {
                        tracing::warn!(
                            target: "rustform::export",
                            exporter = %self.sink.describe(),
                            reason = failure.reason(),
                            spans = count,
                            "span export failed; spans are dropped and counted in \
                             rustform_exporter_spans_dropped_total until it recovers"
                        );
                    });
                }
            }
        }
    }
}
