//! Per-call overhead of `#[observed]`, against a plain function, the least that counting
//! and timing a call can cost with the `prometheus` crate, `#[autometrics]` and
//! `#[tracing::instrument]`. Every variant wraps the same one-line body and runs in one
//! criterion group, so the figures are comparable. BENCHMARKS.md explains each variant
//! and reports the results.
//!
//! Tracing set-up: the global default subscriber is `registry()` behind a `WARN` level
//! filter, so the `INFO` spans of `#[observed]` are filtered out, as in a service that
//! logs warnings only. The variants with an enabled span run under a scoped `registry()`
//! that records nothing (`tracing::subscriber::with_default`, see [`span_enabled`]).
//!
//! Run with `cargo bench --bench observed`.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Barrier, Once};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use rustform::observed;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Identity, SubscriberExt};

/// autometrics' default duration buckets (and `function_calls_duration_seconds`').
const AUTOMETRICS_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

// ---- The functions measured: one body, instrumented in each way. ----

#[inline(never)]
fn bare(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[inline(never)]
async fn bare_async(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[observed]
#[inline(never)]
fn observed_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// `observed_add` for the sixteen-thread variant, whose calls are counted and checked.
#[observed]
#[inline(never)]
fn crowded_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[observed]
#[inline(never)]
async fn observed_add_async(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[autometrics::autometrics]
#[inline(never)]
fn autometrics_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[tracing::instrument]
#[inline(never)]
fn instrumented_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Nested observed calls without caller tracking: the baseline of `observed_callers`.
#[observed]
#[inline(never)]
fn nested_outer(a: u64, b: u64) -> u64 {
    nested_inner(a, b)
}

#[observed]
#[inline(never)]
fn nested_inner(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Nested observed calls, the inner one labeled with its caller.
#[observed]
#[inline(never)]
fn callers_outer(a: u64, b: u64) -> u64 {
    callers_inner(a, b)
}

#[observed(callers)]
#[inline(never)]
fn callers_inner(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// The floor: what any instrumentation that counts and times a call must do at least,
/// on `prometheus` crate metrics whose label values were resolved once, up front.
struct Floor {
    calls: prometheus::IntCounter,
    duration: prometheus::Histogram,
}

impl Floor {
    fn new() -> Floor {
        let registry = prometheus::Registry::new();
        let calls = prometheus::IntCounterVec::new(
            prometheus::Opts::new("function_calls_total", "Calls"),
            &["function", "module", "service_name", "result"],
        )
        .expect("valid counter options");
        let durations = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new("function_calls_duration_seconds", "Durations")
                .buckets(AUTOMETRICS_BUCKETS.to_vec()),
            &["function", "module", "service_name"],
        )
        .expect("valid histogram options");
        registry
            .register(Box::new(calls.clone()))
            .expect("registered once");
        registry
            .register(Box::new(durations.clone()))
            .expect("registered once");
        let module = module_path!();
        Floor {
            calls: calls.with_label_values(&["floor_add", module, "bench", "ok"]),
            duration: durations.with_label_values(&["floor_add", module, "bench"]),
        }
    }

    /// One counted and timed call of `bare`: two clock reads, one increment, one
    /// observation.
    #[inline(never)]
    fn call(&self, a: u64, b: u64) -> u64 {
        let start = Instant::now();
        let sum = bare(a, b);
        self.calls.inc();
        self.duration.observe(start.elapsed().as_secs_f64());
        sum
    }
}

// ---- Harness helpers. ----

/// Installs the global default subscriber (`WARN` and above), once per process.
fn install_filtered_subscriber() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(LevelFilter::WARN);
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this benchmark");
    });
}

/// Makes the global `WARN` filter the only one in force again.
///
/// tracing caches, per call site, the interest of every live subscriber and the highest
/// level any of them enables. A scoped subscriber that was dropped stays in that cache
/// until it is rebuilt, so after an enabled-span variant the cache is rebuilt before
/// measuring a filtered one: `INFO` spans are then rejected by the one-load level check,
/// exactly as in a process with a single `WARN` subscriber.
fn only_filtered_subscriber() {
    tracing::callsite::rebuild_interest_cache();
    assert_eq!(
        LevelFilter::current(),
        LevelFilter::WARN,
        "a scoped subscriber is still alive"
    );
    assert!(!tracing::enabled!(tracing::Level::INFO));
}

/// Polls a future once; the futures measured here complete on their first poll.
#[inline]
fn poll_once<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the measured future completes on its first poll"),
    }
}

/// Runs `call` `iters` times on each of `threads` threads started together and returns
/// the wall time of the slowest thread: the time of `iters` calls under contention.
fn on_threads<F: Fn() + Sync>(threads: usize, iters: u64, call: F) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    // Touch the metrics once (the thread's metric slot, its thread
                    // locals) before the clock starts, like any thread that has run
                    // before.
                    call();
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        call();
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|thread| thread.join().expect("benchmark thread panicked"))
            .max()
            .unwrap_or_default()
    })
}

/// Checks that a variant records what it claims to, before it is timed.
fn assert_recorded(needle: &str) {
    let text = rustform::metrics::default_registry().render();
    assert!(
        text.contains(needle),
        "expected `{needle}` in the exposition:\n{text}"
    );
}

// ---- The benchmark group. ----

fn per_call(c: &mut Criterion) {
    install_filtered_subscriber();
    let floor = Floor::new();

    let mut group = c.benchmark_group("per_call");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(100);

    single_thread_filtered(&mut group, &floor);
    span_enabled(&mut group);
    two_threads(&mut group, &floor);

    group.finish();
}

/// Variants with every `INFO` span filtered out by the global subscriber.
fn single_thread_filtered(group: &mut BenchmarkGroup<'_, WallTime>, floor: &Floor) {
    only_filtered_subscriber();

    group.bench_function("bare", |b| {
        b.iter(|| bare(black_box(1), black_box(2)));
    });
    group.bench_function("bare_async", |b| {
        b.iter(|| poll_once(bare_async(black_box(1), black_box(2))));
    });
    group.bench_function("two_clock_reads", |b| {
        b.iter(|| {
            let start = Instant::now();
            black_box(start.elapsed())
        });
    });
    // The clock rustform times calls with: the time-stamp counter through a
    // `quanta::Clock`, where it is invariant.
    let tsc = quanta::Clock::new();
    group.bench_function("two_tsc_clock_reads", |b| {
        b.iter(|| {
            let start = tsc.now();
            black_box(tsc.now().saturating_duration_since(start))
        });
    });
    group.bench_function("floor", |b| {
        b.iter(|| floor.call(black_box(1), black_box(2)));
    });

    observed_add(1, 2);
    assert_recorded(r#"function_calls_total{function="observed_add""#);
    group.bench_function("observed_sync_span_filtered", |b| {
        b.iter(|| observed_add(black_box(1), black_box(2)));
    });

    poll_once(observed_add_async(1, 2));
    assert_recorded(r#"function_calls_total{function="observed_add_async""#);
    group.bench_function("observed_async", |b| {
        b.iter(|| poll_once(observed_add_async(black_box(1), black_box(2))));
    });

    group.bench_function("observed_nested", |b| {
        b.iter(|| nested_outer(black_box(1), black_box(2)));
    });

    callers_outer(1, 2);
    assert_recorded(r#"caller_function="callers_outer""#);
    group.bench_function("observed_callers", |b| {
        b.iter(|| callers_outer(black_box(1), black_box(2)));
    });

    group.bench_function("autometrics", |b| {
        b.iter(|| autometrics_add(black_box(1), black_box(2)));
    });
}

/// Variants whose span is enabled, under `registry()` with only the no-op layer.
///
/// A `Registry` with no layer at all never frees a closed span (tokio-rs/tracing#900):
/// every call would leak its span data, memory would grow by about 100 bytes per call,
/// and the slab's growth would stall single samples for hundreds of milliseconds. The
/// no-op `Identity` layer makes the registry free closed spans, as in any set-up with at
/// least one layer, and records nothing.
fn span_enabled(group: &mut BenchmarkGroup<'_, WallTime>) {
    let subscriber = tracing_subscriber::registry().with(Identity::new());
    tracing::subscriber::with_default(subscriber, || {
        assert!(tracing::enabled!(tracing::Level::INFO));
        group.bench_function("observed_span_enabled", |b| {
            b.iter(|| observed_add(black_box(1), black_box(2)));
        });
        group.bench_function("instrument", |b| {
            b.iter(|| instrumented_add(black_box(1), black_box(2)));
        });
    });
}

/// The same calls from two threads at once (spans filtered out): per-call cost under
/// contention.
fn two_threads(group: &mut BenchmarkGroup<'_, WallTime>, floor: &Floor) {
    only_filtered_subscriber();

    group.bench_function("two_threads/observed", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, || {
                black_box(observed_add(black_box(1), black_box(2)));
            })
        });
    });
    // Two threads sharing no data: what running two threads at once costs by itself on
    // the machine (shared core resources, clock frequency), the baseline for the others.
    group.bench_function("two_threads/two_clock_reads", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, || {
                black_box(Instant::now().elapsed());
            })
        });
    });
    group.bench_function("two_threads/floor", |b| {
        b.iter_custom(|iters| {
            on_threads(2, iters, || {
                black_box(floor.call(black_box(1), black_box(2)));
            })
        });
    });
    // Sixteen threads on one function, more than the cores: the time for each thread's
    // `iters` calls, with the threads taking turns on the cores. Divided by 16 / cores,
    // it is the cost of one call.
    let calls = std::sync::atomic::AtomicU64::new(0);
    group.bench_function("sixteen_threads/observed", |b| {
        b.iter_custom(|iters| {
            // Each thread makes one untimed call, then `iters` timed ones.
            calls.fetch_add(16 * (iters + 1), std::sync::atomic::Ordering::Relaxed);
            on_threads(16, iters, || {
                black_box(crowded_add(black_box(1), black_box(2)));
            })
        });
    });
    // Every call counted, however the threads interleaved.
    let expected = calls.load(std::sync::atomic::Ordering::Relaxed);
    let text = rustform::metrics::default_registry().render();
    let counted = text
        .lines()
        .find(|l| {
            l.starts_with("function_calls_total{function=\"crowded_add\"")
                && l.contains("result=\"ok\"")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok());
    assert_eq!(counted, Some(expected), "sixteen threads lost calls");
    group.bench_function("sixteen_threads/floor", |b| {
        b.iter_custom(|iters| {
            on_threads(16, iters, || {
                black_box(floor.call(black_box(1), black_box(2)));
            })
        });
    });
}

criterion_group!(benches, per_call);
criterion_main!(benches);
