//! The span pipeline of one exporter: a bounded queue filled by the application's
//! threads without blocking, and a task on the export runtime that sends it in batches,
//! one export at a time, counting every span as exported or dropped.
//!
//! A span that entered the queue is, until it is counted, in exactly one place of
//! [`Pending`]: the queue, the batch being filled, or the export under way. Whoever takes
//! spans out of `Pending`, under its lock, counts them: the export task when an export
//! ends (exported, rejected or failed), or [`SpanPipeline::settle`] at shutdown, on the
//! thread shutting down, for everything the task has not sent by then (`shutdown`). So a
//! span is counted once, and an export that ends after the settlement counts nothing.
//! The application's threads never take that lock: a span's end is a `try_send`.
//!
//! The task is not woken for every span. It waits for a full batch, which the thread
//! whose span makes the queue hold `max_export_batch_size` spans announces (one atomic
//! increment per span, one wake-up per batch), for the scheduled delay, or for a command.
//! A task woken for each span, as a receiver waiting on the queue is, cost the export
//! thread a wake-up, a lock and a poll of every branch per span at moderate rates.

use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use opentelemetry::Context as OtelContext;
use opentelemetry::trace::Status;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use tokio::sync::{Notify, mpsc, watch};

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
    /// `None` once dropped, so the export task sees the queue closed when it is woken.
    spans: Option<mpsc::Sender<SpanData>>,
    stats: SpanStats,
    shared: Arc<Shared>,
    flush_timeout: Duration,
}

/// One exporter's span pipeline, as its shutdown sees it.
#[derive(Debug, Clone)]
pub(crate) struct SpanPipeline(Arc<Shared>);

/// What the processor, the export task and the shutdown share.
#[derive(Debug)]
struct Shared {
    /// Set when shutdown begins: spans ending from then on are dropped, and counted.
    shut_down: AtomicBool,
    pending: Mutex<Pending>,
    stats: SpanStats,
    control: mpsc::UnboundedSender<Command>,
    /// When shutdown begins, the time by which the export under way must end.
    stop: watch::Sender<Option<Instant>>,
    /// Spans in the queue (sent and not yet taken out); for a moment below zero when
    /// the task takes a span before its sender has counted it.
    waiting: AtomicIsize,
    /// The batch size: the queue holding this many spans wakes the export task.
    batch_size: usize,
    /// Wakes the export task: a full batch is waiting, or the processor is gone.
    ready: Notify,
}

/// Every span taken into the queue and not counted yet.
#[derive(Debug)]
struct Pending {
    /// The queue's receiving end; `None` once the pipeline is settled.
    queue: Option<mpsc::Receiver<SpanData>>,
    /// Spans taken from the queue for the next export.
    batch: Vec<SpanData>,
    /// Spans of the export under way.
    in_flight: u64,
}

/// What filling the batch from the queue gave.
enum Fill {
    /// The batch is full.
    Full,
    /// Some spans, not a full batch.
    Partial,
    /// The queue is gone: the processor was dropped, or the pipeline settled.
    Closed,
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
        let (stop, stopping) = watch::channel(None);
        let batch_size = batch
            .max_export_batch_size
            .clamp(1, batch.max_queue_size.max(1));
        let shared = Arc::new(Shared {
            shut_down: AtomicBool::new(false),
            pending: Mutex::new(Pending {
                queue: Some(queue),
                batch: Vec::with_capacity(batch_size),
                in_flight: 0,
            }),
            stats: stats.clone(),
            control,
            stop,
            waiting: AtomicIsize::new(0),
            batch_size,
            ready: Notify::new(),
        });
        let worker = Worker {
            sink: Arc::new(sink),
            shared: shared.clone(),
            stopping,
            batch_size,
            delay: batch.scheduled_delay.max(Duration::from_millis(1)),
            export_timeout: export_timeout.min(batch.export_timeout),
            failing: false,
        };
        runtime.spawn(worker.run(commands));
        QueueProcessor {
            spans: Some(spans),
            stats,
            shared,
            flush_timeout: batch.export_timeout,
        }
    }

    /// The pipeline, for a shutdown of every exporter at once.
    pub(crate) fn pipeline(&self) -> SpanPipeline {
        SpanPipeline(self.shared.clone())
    }
}

/// Waits for the export task's answer until `deadline`.
fn wait(answer: &std::sync::mpsc::Receiver<()>, deadline: Instant) -> OTelSdkResult {
    // Blocking is allowed here: flushing and shutting down are the application's
    // explicit requests, and they are bounded by the deadline.
    match answer.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(()) => Ok(()),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(
            deadline.saturating_duration_since(Instant::now()),
        )),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(OTelSdkError::InternalFailure(
            "the export task has stopped".into(),
        )),
    }
}

impl SpanProcessor for QueueProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &OtelContext) {}

    fn on_end(&self, mut span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.stats.produced.inc();
        if self.shared.shut_down.load(Ordering::Relaxed) {
            self.stats.shutdown.inc();
            return;
        }
        describe_error(&mut span);
        let Some(spans) = &self.spans else {
            return self.stats.shutdown.inc();
        };
        match spans.try_send(span) {
            Ok(()) => {
                self.stats.queued.inc();
                self.shared.sent();
            }
            Err(mpsc::error::TrySendError::Full(_)) => self.stats.queue_full.inc(),
            Err(mpsc::error::TrySendError::Closed(_)) => self.stats.shutdown.inc(),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        let deadline = Instant::now() + self.flush_timeout;
        let (done, answer) = std::sync::mpsc::channel();
        if self
            .shared
            .control
            .send(Command::Flush { deadline, done })
            .is_err()
        {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        wait(&answer, deadline)
    }

    /// The shutdown of this exporter alone (rustform's own shutdown stops every
    /// exporter at once, and this then finds it done).
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.shared.shut_down.load(Ordering::Acquire) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        let now = Instant::now();
        let deadline = now + timeout;
        let pipeline = self.pipeline();
        let result = match pipeline.begin_shutdown(super::task_deadline(now, deadline)) {
            Some(answer) => wait(&answer, deadline),
            None => Err(OTelSdkError::InternalFailure(
                "the export task has stopped".into(),
            )),
        };
        pipeline.settle();
        result
    }
}

impl Drop for QueueProcessor {
    fn drop(&mut self) {
        // The queue's only sender goes first: the task, woken, finds the queue closed
        // once it is empty, sends what is left and stops.
        self.spans = None;
        self.shared.ready.notify_one();
    }
}

impl SpanPipeline {
    /// Begins the shutdown: spans ending from now on are dropped (and counted), and the
    /// export task sends what is pending until `deadline`, then counts the rest and
    /// answers on the returned channel. `None` when the task is gone.
    pub(crate) fn begin_shutdown(
        &self,
        deadline: Instant,
    ) -> Option<std::sync::mpsc::Receiver<()>> {
        let shared = &self.0;
        shared.shut_down.store(true, Ordering::Release);
        shared.stop.send_replace(Some(deadline));
        let (done, answer) = std::sync::mpsc::channel();
        shared
            .control
            .send(Command::Shutdown { deadline, done })
            .ok()
            .map(|()| answer)
    }

    /// Counts as dropped at shutdown every span still queued, batched or being sent,
    /// and closes the queue: from now on the export task counts nothing, and a span
    /// that ends is dropped at once. Returns how many spans it counted.
    pub(crate) fn settle(&self) -> u64 {
        self.0.settle()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts a span sent to the queue; the one that fills a batch wakes the task.
    fn sent(&self) {
        // The count rises one at a time, so each rise to a full batch is seen by exactly
        // one sender; the task takes spans out by whole batches or less.
        if self.waiting.fetch_add(1, Ordering::AcqRel) + 1 == self.batch_size as isize {
            self.ready.notify_one();
        }
    }

    /// Counts `n` spans taken out of the queue.
    fn taken(&self, n: usize) {
        if n > 0 {
            self.stats.queued.sub(n as i64);
            self.waiting.fetch_sub(n as isize, Ordering::AcqRel);
        }
    }

    /// Whether the queue holds a full batch.
    fn batch_waiting(&self) -> bool {
        self.waiting.load(Ordering::Acquire) >= self.batch_size as isize
    }

    /// Moves spans from the queue into the batch, up to `size`.
    fn fill(&self, size: usize) -> Fill {
        let mut pending = self.lock();
        let Pending { queue, batch, .. } = &mut *pending;
        let Some(queue) = queue else {
            return Fill::Closed;
        };
        let before = batch.len();
        let mut closed = false;
        while batch.len() < size {
            match queue.try_recv() {
                Ok(span) => batch.push(span),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    closed = true;
                    break;
                }
            }
        }
        self.taken(batch.len() - before);
        if closed {
            Fill::Closed
        } else if batch.len() >= size {
            Fill::Full
        } else {
            Fill::Partial
        }
    }

    /// Takes the batch, topped up from the queue, for an export: its spans are in
    /// flight until [`end_export`](Shared::end_export). `None` when there is nothing to
    /// send.
    fn take_batch(&self, size: usize) -> Option<Vec<SpanData>> {
        let mut pending = self.lock();
        let Pending {
            queue,
            batch,
            in_flight,
        } = &mut *pending;
        if let Some(queue) = queue {
            let before = batch.len();
            while batch.len() < size {
                match queue.try_recv() {
                    Ok(span) => batch.push(span),
                    Err(_) => break,
                }
            }
            self.taken(batch.len() - before);
        }
        if batch.is_empty() {
            return None;
        }
        let spans = std::mem::replace(batch, Vec::with_capacity(size));
        *in_flight = spans.len() as u64;
        Some(spans)
    }

    /// Ends the export under way: how many of its spans the task is to count (none
    /// when the pipeline was settled meanwhile, which counted them).
    fn end_export(&self) -> u64 {
        std::mem::take(&mut self.lock().in_flight)
    }

    /// Closes the queue: spans that end from now on are dropped, and counted.
    fn close_queue(&self) {
        if let Some(queue) = self.lock().queue.as_mut() {
            queue.close();
        }
    }

    fn settle(&self) -> u64 {
        let mut pending = self.lock();
        let mut left = std::mem::take(&mut pending.in_flight) + pending.batch.len() as u64;
        pending.batch = Vec::new();
        if let Some(mut queue) = pending.queue.take() {
            queue.close();
            left += drain_closed(&mut queue, self);
        }
        drop(pending);
        self.stats.shutdown.inc_by(left);
        left
    }
}

/// Empties a closed queue and says how many spans it held. A sender that took its
/// place in the queue before the close completes its send first (within `try_send`,
/// without waiting), so the wait for it is short and bounded.
fn drain_closed(queue: &mut mpsc::Receiver<SpanData>, shared: &Shared) -> u64 {
    let mut count = 0;
    let mut waits = 0u32;
    loop {
        match queue.try_recv() {
            Ok(_) => {
                shared.taken(1);
                count += 1;
            }
            Err(mpsc::error::TryRecvError::Disconnected) => return count,
            Err(mpsc::error::TryRecvError::Empty) => {
                waits += 1;
                if waits > 10_000 {
                    return count;
                }
                std::thread::yield_now();
            }
        }
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
    shared: Arc<Shared>,
    /// When shutdown begins, the time by which an export under way is abandoned.
    stopping: watch::Receiver<Option<Instant>>,
    batch_size: usize,
    delay: Duration,
    export_timeout: Duration,
    /// Whether the last export failed, so failures are logged once per outage.
    failing: bool,
}

impl<S: SpanSink> Worker<S> {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let shared = self.shared.clone();
        let mut next = tokio::time::Instant::now() + self.delay;
        loop {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Flush { deadline, done }) => {
                        self.drain(deadline).await;
                        let _ = done.send(());
                    }
                    Some(Command::Shutdown { deadline, done }) => {
                        shared.close_queue();
                        self.drain(deadline).await;
                        // What could not be sent in time is dropped, and counted.
                        shared.settle();
                        let _ = done.send(());
                        return;
                    }
                    // The processor is gone without a shutdown: send what is left.
                    None => return self.finish().await,
                },
                () = shared.ready.notified() => {
                    match shared.fill(self.batch_size) {
                        Fill::Full => {
                            self.export(Instant::now() + self.export_timeout).await;
                            next = tokio::time::Instant::now() + self.delay;
                            // Spans that came meanwhile may make a batch already.
                            if shared.batch_waiting() {
                                shared.ready.notify_one();
                            }
                        }
                        Fill::Partial => {}
                        Fill::Closed => return self.finish().await,
                    }
                }
                () = tokio::time::sleep_until(next) => {
                    self.export(Instant::now() + self.export_timeout).await;
                    next = tokio::time::Instant::now() + self.delay;
                }
            }
        }
    }

    /// Sends what is left within the export timeout, and counts the rest.
    async fn finish(&mut self) {
        self.drain(Instant::now() + self.export_timeout).await;
        self.shared.settle();
    }

    /// Exports everything queued, in batches, while there is time.
    async fn drain(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            if !self.export(deadline).await {
                return;
            }
        }
    }

    /// Exports the batch (topped up from the queue) within `deadline` and the export
    /// timeout, and counts its spans; `false` when there was nothing to send.
    async fn export(&mut self, deadline: Instant) -> bool {
        let Some(spans) = self.shared.take_batch(self.batch_size) else {
            return false;
        };
        let count = spans.len() as u64;
        let deadline = deadline.min(Instant::now() + self.export_timeout);
        let result = tokio::select! {
            biased;
            result = self.sink.export(spans, deadline) => Some(result),
            () = super::stopped(&mut self.stopping) => None,
        };
        // The spans are this task's to count, unless the shutdown counted them first.
        let owned = self.shared.end_export();
        let stats = &self.shared.stats;
        match result {
            Some(Ok(rejected)) => {
                let rejected = rejected.min(owned);
                stats.exported.inc_by(owned - rejected);
                stats.rejected.inc_by(rejected);
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
            Some(Err(failure)) => {
                stats.export_failed.inc_by(owned);
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
            // Abandoned: the shutdown's time ran out while it was being sent.
            None => stats.shutdown.inc_by(owned),
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, TraceFlags, TraceId, TraceState};
    use std::sync::mpsc as std_mpsc;

    fn span(n: u64) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(n) + 1),
                SpanId::from(n + 1),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "work".into(),
            start_time: std::time::SystemTime::now(),
            end_time: std::time::SystemTime::now(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    /// A receiver that holds the export thread: its export blocks until the test lets
    /// it go, then succeeds.
    struct Stuck {
        started: Mutex<std_mpsc::Sender<()>>,
        release: Mutex<std_mpsc::Receiver<()>>,
    }

    impl SpanSink for Stuck {
        async fn export(&self, _spans: Vec<SpanData>, _deadline: Instant) -> Result<u64, Failure> {
            let _ = self.started.lock().unwrap().send(());
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(30));
            Ok(0)
        }

        fn describe(&self) -> String {
            "stuck".to_owned()
        }
    }

    #[test]
    fn the_shutting_down_thread_counts_what_a_stuck_export_task_holds_once() {
        let mut runtime = super::super::ExportRuntime::start().unwrap();
        let (started, on_start) = std_mpsc::channel();
        let (let_go, release) = std_mpsc::channel();
        let sink = Stuck {
            started: Mutex::new(started),
            release: Mutex::new(release),
        };
        let mut batch = Batch::default();
        batch.max_queue_size = 100;
        batch.max_export_batch_size = 10;
        batch.scheduled_delay = Duration::from_secs(3600);
        let stats = SpanStats::new("test-stuck");
        let processor = QueueProcessor::start(
            &runtime.handle,
            sink,
            &batch,
            Duration::from_secs(30),
            stats.clone(),
        );
        for n in 0..25 {
            processor.on_end(span(n));
        }
        // A full batch is being sent, and the export thread is held.
        on_start.recv_timeout(Duration::from_secs(30)).unwrap();

        let pipeline = processor.pipeline();
        let deadline = Instant::now() + Duration::from_millis(100);
        let answer = pipeline.begin_shutdown(super::super::task_deadline(Instant::now(), deadline));
        assert!(answer.is_some());
        // The task cannot answer: this thread counts everything itself.
        assert_eq!(pipeline.settle(), 25);
        processor.on_end(span(99));
        let counted = |stats: &SpanStats| {
            (
                stats.produced.get(),
                stats.exported.get(),
                stats.shutdown.get(),
            )
        };
        assert_eq!(counted(&stats), (26, 0, 26));

        // The export succeeds after all, and the task ends: nothing is counted twice.
        let_go.send(()).unwrap();
        runtime.stop(Instant::now() + Duration::from_secs(30));
        assert_eq!(counted(&stats), (26, 0, 26));
        assert_eq!(stats.export_failed.get() + stats.rejected.get(), 0);
        assert_eq!(pipeline.settle(), 0);
    }

    /// A receiver that counts what it is sent.
    struct Counting(std_mpsc::Sender<usize>);

    impl SpanSink for Counting {
        async fn export(&self, spans: Vec<SpanData>, _deadline: Instant) -> Result<u64, Failure> {
            let _ = self.0.send(spans.len());
            Ok(0)
        }

        fn describe(&self) -> String {
            "counting".to_owned()
        }
    }

    #[test]
    fn a_full_batch_is_sent_at_once_and_the_rest_at_a_flush() {
        let mut runtime = super::super::ExportRuntime::start().unwrap();
        let (sent, exports) = std_mpsc::channel();
        let mut batch = Batch::default();
        batch.max_queue_size = 100;
        batch.max_export_batch_size = 10;
        batch.scheduled_delay = Duration::from_secs(3600);
        let stats = SpanStats::new("test-batches");
        let processor = QueueProcessor::start(
            &runtime.handle,
            Counting(sent),
            &batch,
            Duration::from_secs(30),
            stats.clone(),
        );
        for n in 0..25 {
            processor.on_end(span(n));
        }
        // Two full batches go without waiting for the scheduled delay.
        let timeout = Duration::from_secs(30);
        assert_eq!(exports.recv_timeout(timeout), Ok(10));
        assert_eq!(exports.recv_timeout(timeout), Ok(10));
        assert!(exports.try_recv().is_err());
        processor.force_flush().unwrap();
        assert_eq!(exports.recv_timeout(timeout), Ok(5));
        assert_eq!(stats.exported.get(), 25);
        assert_eq!(stats.queued.get(), 0);

        // A processor dropped without a shutdown: its task sends what is left and stops.
        for n in 0..3 {
            processor.on_end(span(n));
        }
        drop(processor);
        assert_eq!(exports.recv_timeout(timeout), Ok(3));
        let counted = Instant::now() + timeout;
        while stats.exported.get() < 28 && Instant::now() < counted {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stats.exported.get(), 28);
        runtime.stop(Instant::now() + Duration::from_secs(30));
    }

    #[test]
    fn a_settled_pipeline_counts_the_queue_the_batch_and_the_export_under_way() {
        let (spans, queue) = mpsc::channel(16);
        let (control, _commands) = mpsc::unbounded_channel();
        let stats = SpanStats::new("test-settle");
        let shared = Shared {
            shut_down: AtomicBool::new(false),
            pending: Mutex::new(Pending {
                queue: Some(queue),
                batch: Vec::new(),
                in_flight: 0,
            }),
            stats: stats.clone(),
            control,
            stop: watch::channel(None).0,
            waiting: AtomicIsize::new(0),
            batch_size: 2,
            ready: Notify::new(),
        };
        for n in 0..7 {
            spans.try_send(span(n)).unwrap();
            shared.sent();
        }
        assert_eq!(shared.take_batch(3).map(|b| b.len()), Some(3));
        assert!(matches!(shared.fill(2), Fill::Full));
        // 3 in flight, 2 in the batch, 2 in the queue.
        assert_eq!(shared.settle(), 7);
        assert_eq!(stats.shutdown.get(), 7);
        // The export under way ends: already counted.
        assert_eq!(shared.end_export(), 0);
        assert!(matches!(
            spans.try_send(span(8)),
            Err(mpsc::error::TrySendError::Closed(_))
        ));
        assert!(matches!(shared.fill(2), Fill::Closed));
        assert_eq!(shared.settle(), 0);
        assert_eq!(stats.shutdown.get(), 7);
    }
}
