//! The metric core against the `prometheus` and `prometheus-client` crates, in one run:
//! a labeled counter increment with a two-label fixed set, and rendering 10,000 series
//! (half counters, half histograms with 11 buckets), with allocations per series counted.
//!
//! `cargo bench --bench metrics`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use rustform::metrics::{Buckets, CounterVec, DEFAULT_BUCKETS, HistogramVec, Registry};
use rustform::{LabelSet, LabelValue};

/// Counts allocations, so the rendering benchmark can report allocations per series.
struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwards the caller's layout to the system allocator unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

// The two-label fixed set, in each library's idiom.

#[derive(Clone, Copy, LabelValue, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum Method {
    Get,
    Post,
    Put,
    Delete,
}

#[derive(Clone, Copy, LabelValue, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
enum Status {
    Ok,
    NotFound,
    Error,
}

#[derive(Clone, LabelSet)]
struct Request {
    method: Method,
    status: Status,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientRequest {
    method: Method,
    status: Status,
}

fn labeled_increment(c: &mut Criterion) {
    let mut group = c.benchmark_group("labeled_increment");

    let rustform = CounterVec::<Request>::new();
    group.bench_function("rustform CounterVec::with", |b| {
        b.iter(|| {
            rustform
                .with(black_box(&Request {
                    method: Method::Post,
                    status: Status::NotFound,
                }))
                .inc()
        })
    });

    let prometheus = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests"),
        &["method", "status"],
    )
    .unwrap();
    group.bench_function("prometheus CounterVec::with_label_values", |b| {
        b.iter(|| {
            prometheus
                .with_label_values(black_box(&["post", "not_found"]))
                .inc()
        })
    });

    let client = prometheus_client::metrics::family::Family::<
        ClientRequest,
        prometheus_client::metrics::counter::Counter,
    >::default();
    group.bench_function("prometheus-client Family::get_or_create", |b| {
        b.iter(|| {
            client
                .get_or_create(black_box(&ClientRequest {
                    method: Method::Post,
                    status: Status::NotFound,
                }))
                .inc()
        })
    });
    group.finish();
}

const SERIES: usize = 10_000;

#[derive(Clone, LabelSet)]
struct Id {
    id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClientId {
    id: String,
}

fn rustform_registry() -> Registry {
    let registry = Registry::new();
    let counters = CounterVec::<Id>::with_cardinality_limit(SERIES);
    let histograms = HistogramVec::<Id>::with_cardinality_limit(Buckets::default(), SERIES);
    registry
        .register("requests", "Requests by id", counters.clone())
        .unwrap();
    registry
        .register(
            "request_duration_seconds",
            "Durations by id",
            histograms.clone(),
        )
        .unwrap();
    for i in 0..SERIES / 2 {
        let id = Id {
            id: format!("{i:05}"),
        };
        counters.with(&id).inc_by(i as u64);
        histograms.with(&id).observe(i as f64 / 1000.0);
    }
    registry
}

fn prometheus_registry() -> prometheus::Registry {
    let registry = prometheus::Registry::new();
    let counters = prometheus::IntCounterVec::new(
        prometheus::Opts::new("requests_total", "Requests by id"),
        &["id"],
    )
    .unwrap();
    let histograms = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("request_duration_seconds", "Durations by id")
            .buckets(DEFAULT_BUCKETS.to_vec()),
        &["id"],
    )
    .unwrap();
    registry.register(Box::new(counters.clone())).unwrap();
    registry.register(Box::new(histograms.clone())).unwrap();
    for i in 0..SERIES / 2 {
        let id = format!("{i:05}");
        counters.with_label_values(&[&id]).inc_by(i as u64);
        histograms
            .with_label_values(&[&id])
            .observe(i as f64 / 1000.0);
    }
    registry
}

fn client_registry() -> prometheus_client::registry::Registry {
    use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};
    let mut registry = prometheus_client::registry::Registry::default();
    let counters = Family::<ClientId, Counter>::default();
    let histograms = Family::<ClientId, Histogram>::new_with_constructor(|| {
        Histogram::new(DEFAULT_BUCKETS.iter().copied())
    });
    registry.register("requests", "Requests by id", counters.clone());
    registry.register(
        "request_duration_seconds",
        "Durations by id",
        histograms.clone(),
    );
    for i in 0..SERIES / 2 {
        let id = ClientId {
            id: format!("{i:05}"),
        };
        counters.get_or_create(&id).inc_by(i as u64);
        histograms.get_or_create(&id).observe(i as f64 / 1000.0);
    }
    registry
}

fn render(c: &mut Criterion) {
    let rustform = rustform_registry();
    let prometheus = prometheus_registry();
    let client = client_registry();

    let encoder = prometheus::TextEncoder::new();
    // One warm-up each: rustform sizes its buffer from the previous exposition.
    let _ = rustform.render();
    let counts = [
        (
            "rustform Registry::render",
            allocations_during(|| drop(black_box(rustform.render()))),
        ),
        (
            "prometheus TextEncoder",
            allocations_during(|| {
                drop(black_box(
                    encoder.encode_to_string(&prometheus.gather()).unwrap(),
                ))
            }),
        ),
        (
            "prometheus-client text::encode",
            allocations_during(|| {
                let mut out = String::new();
                prometheus_client::encoding::text::encode(&mut out, &client).unwrap();
                drop(black_box(out));
            }),
        ),
    ];
    for (name, allocations) in counts {
        println!(
            "render/{name}: {allocations} allocations for {SERIES} series ({:.3} per series)",
            allocations as f64 / SERIES as f64
        );
    }

    let mut group = c.benchmark_group("render_10000_series");
    group.sample_size(30);
    group.bench_function("rustform Registry::render", |b| {
        b.iter(|| black_box(rustform.render()))
    });
    group.bench_function("prometheus TextEncoder", |b| {
        b.iter(|| black_box(encoder.encode_to_string(&prometheus.gather()).unwrap()))
    });
    group.bench_function("prometheus-client text::encode", |b| {
        b.iter(|| {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, &client).unwrap();
            black_box(out)
        })
    });
    group.finish();
}

criterion_group!(benches, labeled_increment, render);
criterion_main!(benches);
