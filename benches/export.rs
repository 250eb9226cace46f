//! Export throughput: spans exported over OTLP/gRPC by rustform's exporter and by the
//! OpenTelemetry SDK's `BatchSpanProcessor` with `opentelemetry-otlp`, under the same
//! workload and the same batch settings, in one run.
//!
//! **Pipelines.** rustform's is built by `Observability::subscriber()` from a
//! configuration: logs at WARN (nothing is written), one OTLP/gRPC span exporter, the
//! sampler at 1.0. The SDK's is a `tracing_subscriber::Registry` with the same
//! `tracing-opentelemetry` layer (busy/idle times and thread names off, as rustform sets
//! it) over an `SdkTracerProvider` with a `BatchSpanProcessor` around
//! `opentelemetry_otlp::SpanExporter` (tonic). Both send to one in-process collector on
//! loopback (the test suite's, built from the official protobuf definitions), with the
//! same batch settings: a queue of [`QUEUE`] spans, batches of [`BATCH`], a scheduled
//! delay of [`DELAY`] (the OpenTelemetry defaults).
//!
//! **Workload.** One thread (`span-producer`) calls a `#[tracing::instrument]` function
//! with two fields (`work.id`, an integer, and `work.kind`, a string): each call is one
//! sampled root span, with the attributes `tracing-opentelemetry` adds (code location,
//! target). The thread either offers a fixed rate (spans are made in small bursts to keep
//! up with the clock, about one burst every 200 µs) or makes spans as fast as it can
//! (saturation). After the run, the pipeline is flushed, and the collector's count is
//! read once every span has been answered.
//!
//! **CPU time, separated.** The collector runs in this process, so process CPU time
//! (`getrusage`) would mix its decoding into the exporter's cost. Each thread's own CPU
//! clock is read instead: for every thread of the process (`/proc/self/task/<tid>`), the
//! clock Linux names `(!tid << 3) | 6` (the per-thread scheduler clock, what glibc's
//! `pthread_getcpuclockid` returns) through `clock_gettime`, in nanoseconds, before and
//! after a run. Threads are grouped by name: the exporter's threads are
//! `rustform-export` (rustform's export thread, which runs its own single-threaded Tokio
//! runtime, gRPC connection included) and, for the SDK, its `OpenTelemetry.Traces.Batch…`
//! thread (comm `OpenTelemetry.T`) plus the Tokio runtime its tonic channel runs on
//! (`sdk-otlp-rt`, one worker; the SDK's thread blocks on each export while the channel's
//! connection task runs there). The producer's CPU and the collector's
//! (`otlp-collector`) are reported apart.
//!
//! **Figures.** Export CPU per span is the exporter threads' CPU time over the spans the
//! collector received; spans per second per core is its inverse (what one core running
//! only the exporter could sustain). Producer CPU per span is the calling thread's cost
//! (creating, recording and ending the span, and the processor's `on_end`).
//! Produced, exported and dropped come from rustform's own counters
//! (`rustform_exporter_spans_*_total`) for rustform; for the SDK, which counts nothing it
//! exposes, produced is the spans made and dropped is produced minus what the collector
//! received. The fixed-rate run checks that the collector received exactly the produced
//! number.
//!
//! Run with `cargo bench --bench export` (about 1½ minutes). `EXPORT_BENCH_SECONDS`
//! sets the length of each run (default 5), `EXPORT_BENCH_ROUNDS` the rounds (default 3,
//! the order of the two pipelines alternating); the figures are the rounds' medians.
//! `cargo test --benches` runs it once, briefly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The batch settings of both pipelines (the OpenTelemetry defaults).
const QUEUE: usize = 2048;
const BATCH: usize = 512;
const DELAY: Duration = Duration::from_secs(5);

/// The fixed offered rate, spans per second.
const RATE: u64 = 50_000;

/// The span of the workload.
#[tracing::instrument(skip_all, fields(work.id = id, work.kind = "batch"))]
#[inline(never)]
fn work(id: u64) -> u64 {
    std::hint::black_box(id).wrapping_mul(3)
}

/// Which pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Which {
    Rustform,
    Sdk,
}

impl Which {
    fn label(self) -> &'static str {
        match self {
            Which::Rustform => "rustform",
            Which::Sdk => "SDK BatchSpanProcessor",
        }
    }

    /// Whether the thread named `comm` does this pipeline's export work.
    fn is_export_thread(self, comm: &str) -> bool {
        match self {
            Which::Rustform => comm == "rustform-export",
            Which::Sdk => comm.starts_with("OpenTelemetry.T") || comm.starts_with("sdk-otlp-rt"),
        }
    }
}

/// A pipeline under test, until it is shut down.
struct Pipeline {
    which: Which,
    dispatch: tracing::Dispatch,
    flush: Box<dyn Fn()>,
    shutdown: Box<dyn FnOnce()>,
}

fn rustform_pipeline(endpoint: &str) -> Pipeline {
    let yaml = format!(
        "observability:\n  logging:\n    level: warn\n    format: json\n  opentelemetry:\n    \
         service_name: bench\n    tracing:\n      sample_rate: 1.0\n      batch:\n        \
         max_queue_size: {QUEUE}\n        max_export_batch_size: {BATCH}\n        \
         scheduled_delay: {}ms\n      exporters:\n        - type: otlp\n          \
         endpoint: {endpoint}\n          protocol: grpc\n    metrics:\n      exporters: []\n",
        DELAY.as_millis()
    );
    let (subscriber, guard) = rustform::Observability::builder()
        .config_yaml(yaml)
        .build()
        .expect("a valid configuration")
        .subscriber()
        .expect("the pipeline");
    let guard = std::sync::Arc::new(guard);
    let flushed = guard.clone();
    Pipeline {
        which: Which::Rustform,
        dispatch: tracing::Dispatch::new(subscriber),
        flush: Box::new(move || assert!(flushed.flush(Duration::from_secs(30)))),
        shutdown: Box::new(move || {
            guard.shutdown(Duration::from_secs(10));
        }),
    }
}

fn sdk_pipeline(endpoint: &str) -> Pipeline {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("sdk-otlp-rt")
        .enable_all()
        .build()
        .expect("a runtime for the SDK's gRPC channel");
    let exporter = {
        let _inside = runtime.enter();
        opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .expect("the SDK's OTLP exporter")
    };
    let config = opentelemetry_sdk::trace::BatchConfigBuilder::default()
        .with_max_queue_size(QUEUE)
        .with_max_export_batch_size(BATCH)
        .with_scheduled_delay(DELAY)
        .build();
    let processor = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("bench")
                .build(),
        )
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("bench");
    let layer = tracing_opentelemetry::OpenTelemetryLayer::new(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false);
    let subscriber = tracing_subscriber::registry().with(layer);
    let flushed = provider.clone();
    Pipeline {
        which: Which::Sdk,
        dispatch: tracing::Dispatch::new(subscriber),
        flush: Box::new(move || flushed.force_flush().expect("the SDK flushes")),
        shutdown: Box::new(move || {
            let _ = provider.shutdown();
            runtime.shutdown_timeout(Duration::from_secs(1));
        }),
    }
}

/// The CPU time of every thread of this process, by thread id: (name, nanoseconds).
fn thread_cpu() -> HashMap<u32, (String, u64)> {
    let mut threads = HashMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        let comm = std::fs::read_to_string(task.path().join("comm"))
            .unwrap_or_default()
            .trim_end()
            .to_owned();
        if let Some(ns) = cpu_of_thread(tid) {
            threads.insert(tid, (comm, ns));
        }
    }
    threads
}

/// The CPU time of the thread `tid` of this process, in nanoseconds: its per-thread
/// scheduler clock, `(!tid << 3) | 6` (`CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED`, as
/// glibc's `pthread_getcpuclockid` builds it). `None` once the thread has ended.
fn cpu_of_thread(tid: u32) -> Option<u64> {
    let clock = ((!(tid as libc::clockid_t)) << 3) | 6;
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; an invalid clock id is reported by the
    // return value, not by undefined behaviour.
    let status = unsafe { libc::clock_gettime(clock, &mut now) };
    (status == 0).then(|| now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64)
}

/// The calling thread's CPU time, in nanoseconds.
fn own_cpu() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: as in `cpu_of_thread`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// CPU time spent between two readings by the threads `matching` names; threads
/// started in between count from zero.
fn cpu_between(
    before: &HashMap<u32, (String, u64)>,
    after: &HashMap<u32, (String, u64)>,
    matching: impl Fn(&str) -> bool,
) -> u64 {
    after
        .iter()
        .filter(|(_, (comm, _))| matching(comm))
        .map(|(tid, (_, ns))| ns.saturating_sub(before.get(tid).map_or(0, |(_, b)| *b)))
        .sum()
}

/// rustform's span counters, summed over their label sets: (produced, exported, dropped).
fn rustform_counts() -> (u64, u64, u64) {
    let text = rustform::metrics::default_registry().render();
    let sum = |family: &str| -> u64 {
        text.lines()
            .filter(|line| line.starts_with(family) && line[family.len()..].starts_with('{'))
            .filter(|line| line.contains("exporter=\"otlp\""))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    };
    (
        sum("rustform_exporter_spans_produced_total"),
        sum("rustform_exporter_spans_exported_total"),
        sum("rustform_exporter_spans_dropped_total"),
    )
}

/// What one run measured.
#[derive(Debug, Clone, Copy)]
struct Run {
    produced: u64,
    exported: u64,
    dropped: u64,
    received: u64,
    wall: Duration,
    producer_ns: u64,
    export_ns: u64,
    collector_ns: u64,
}

impl Run {
    fn export_ns_per_span(&self) -> f64 {
        self.export_ns as f64 / self.received.max(1) as f64
    }
    fn producer_ns_per_span(&self) -> f64 {
        self.producer_ns as f64 / self.produced.max(1) as f64
    }
    fn collector_ns_per_span(&self) -> f64 {
        self.collector_ns as f64 / self.received.max(1) as f64
    }
    fn per_core(&self) -> f64 {
        1e9 / self.export_ns_per_span()
    }
    fn received_per_second(&self) -> f64 {
        self.received as f64 / self.wall.as_secs_f64()
    }
}

/// Offers spans to `pipeline` for `length`, at `rate` spans per second or as fast as one
/// thread can (`None`), then flushes and measures.
fn run(
    collector: &testkit::otlp_collector::Collector,
    pipeline: &Pipeline,
    rate: Option<u64>,
    length: Duration,
) -> Run {
    collector.clear();
    let counts_before = rustform_counts();
    let cpu_before = thread_cpu();
    let started = Instant::now();
    let dispatch = pipeline.dispatch.clone();
    let (produced, producer_ns) = std::thread::Builder::new()
        .name("span-producer".into())
        .spawn(move || {
            tracing::dispatcher::with_default(&dispatch, || {
                let cpu = own_cpu();
                let start = Instant::now();
                let mut made = 0u64;
                loop {
                    let elapsed = start.elapsed();
                    if elapsed >= length {
                        break;
                    }
                    let due = match rate {
                        Some(rate) => (elapsed.as_nanos() as u64 * rate / 1_000_000_000) + 1,
                        None => made + 64,
                    };
                    while made < due {
                        std::hint::black_box(work(made));
                        made += 1;
                    }
                    if rate.is_some() {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                }
                (made, own_cpu() - cpu)
            })
        })
        .expect("the producer thread")
        .join()
        .expect("the producer finished");
    (pipeline.flush)();
    let wall = started.elapsed();
    let received = collector.span_count() as u64;
    let cpu_after = thread_cpu();
    let (produced_counted, exported, dropped) = match pipeline.which {
        Which::Rustform => {
            let after = rustform_counts();
            (
                after.0 - counts_before.0,
                after.1 - counts_before.1,
                after.2 - counts_before.2,
            )
        }
        Which::Sdk => (produced, received, produced.saturating_sub(received)),
    };
    assert_eq!(
        produced_counted,
        produced,
        "{}: every span made is counted as produced",
        pipeline.which.label()
    );
    Run {
        produced,
        exported,
        dropped,
        received,
        wall,
        producer_ns,
        export_ns: cpu_between(&cpu_before, &cpu_after, |comm| {
            pipeline.which.is_export_thread(comm)
        }),
        collector_ns: cpu_between(&cpu_before, &cpu_after, |comm| {
            comm.starts_with("otlp-collector")
        }),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` passes `--test` (and no `--bench`): run once, briefly.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let (seconds, rounds) = if smoke {
        (1, 1)
    } else {
        (
            env_number("EXPORT_BENCH_SECONDS", 5),
            env_number("EXPORT_BENCH_ROUNDS", 3),
        )
    };
    let length = Duration::from_secs(seconds);
    let collector = testkit::otlp_collector::Collector::start();
    let endpoint = collector.grpc_endpoint();

    let modes: [(&str, Option<u64>); 2] = [("50k spans/s", Some(RATE)), ("saturation", None)];
    let mut results: HashMap<(&str, Which), Vec<Run>> = HashMap::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Which::Rustform, Which::Sdk]
        } else {
            [Which::Sdk, Which::Rustform]
        };
        for (mode, rate) in modes {
            for which in order {
                let pipeline = match which {
                    Which::Rustform => rustform_pipeline(&endpoint),
                    Which::Sdk => sdk_pipeline(&endpoint),
                };
                let measured = run(&collector, &pipeline, rate, length);
                (pipeline.shutdown)();
                println!(
                    "round {round} {mode:<12} {:<23} produced {:>8} exported {:>8} dropped {:>8} \
                     received {:>8}  export {:>7.0} ns/span ({:>9.0} spans/s/core)  producer \
                     {:>6.0} ns/span  collector {:>6.0} ns/span  {:>9.0} spans/s received",
                    which.label(),
                    measured.produced,
                    measured.exported,
                    measured.dropped,
                    measured.received,
                    measured.export_ns_per_span(),
                    measured.per_core(),
                    measured.producer_ns_per_span(),
                    measured.collector_ns_per_span(),
                    measured.received_per_second(),
                );
                if which == Which::Rustform {
                    // rustform's accounting: what it counts as exported is what arrived,
                    // and every span produced is exported or counted as dropped.
                    assert_eq!(measured.received, measured.exported);
                    assert_eq!(measured.produced, measured.exported + measured.dropped);
                }
                if rate.is_some() {
                    println!(
                        "    every span produced received: {}",
                        if measured.received == measured.produced {
                            "yes"
                        } else {
                            "NO"
                        }
                    );
                }
                results.entry((mode, which)).or_default().push(measured);
            }
        }
    }

    println!();
    println!(
        "| run | pipeline | produced | exported | dropped | received | export CPU per span | spans/s per core | producer CPU per span | collector CPU per span |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (mode, _) in modes {
        for which in [Which::Rustform, Which::Sdk] {
            let runs = &results[&(mode, which)];
            let total = |f: fn(&Run) -> u64| runs.iter().map(f).sum::<u64>();
            println!(
                "| {mode} | {} | {} | {} | {} | {} | {:.0} ns | {:.0} | {:.0} ns | {:.0} ns |",
                which.label(),
                total(|r| r.produced),
                total(|r| r.exported),
                total(|r| r.dropped),
                total(|r| r.received),
                median(runs.iter().map(Run::export_ns_per_span).collect()),
                median(runs.iter().map(Run::per_core).collect()),
                median(runs.iter().map(Run::producer_ns_per_span).collect()),
                median(runs.iter().map(Run::collector_ns_per_span).collect()),
            );
        }
        let per_core = |which| median(results[&(mode, which)].iter().map(Run::per_core).collect());
        println!(
            "{mode}: rustform / SDK spans per second per core = {:.2}x",
            per_core(Which::Rustform) / per_core(Which::Sdk)
        );
    }
}
