//! Per-call cost of `#[observed]` with OpenTelemetry export on, against
//! `#[tracing::instrument]` under the same `tracing-opentelemetry` pipeline, in one run.
//!
//! Both pipelines are rustform's own, built by `Observability::subscriber()` from one
//! configuration: logs at WARN (nothing is written), an OTLP/gRPC span exporter to an
//! in-process collector on loopback (the test suite's, built from the official protobuf
//! definitions), and the sampler at 1.0 or 0.0. The calling thread's cost is what is
//! measured: a span's end is a non-blocking push onto the exporter's queue, and the
//! export itself runs on rustform's export thread (at millions of spans a second the
//! queue is full most of the time, and the spans that do not fit are dropped and
//! counted, as in a service under overload).
//!
//! The metrics-only call (`#[observed(span = false)]`) is the floor.
//!
//! Run with `cargo bench --bench otel`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rustform::observed;

#[observed(span = false)]
#[inline(never)]
fn metrics_only(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[observed]
#[inline(never)]
fn observed_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[tracing::instrument(skip_all)]
#[inline(never)]
fn instrumented_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// A pipeline exporting to `endpoint` with the sampler at `ratio`.
fn pipeline(
    endpoint: &str,
    ratio: f64,
) -> (Box<dyn tracing::Subscriber + Send + Sync>, rustform::Guard) {
    let yaml = format!(
        "observability:\n  logging:\n    level: warn\n    format: json\n  opentelemetry:\n    \
         service_name: bench\n    tracing:\n      sample_rate: {ratio}\n      exporters:\n        \
         - type: otlp\n          endpoint: {endpoint}\n          protocol: grpc\n    \
         metrics:\n      exporters: []\n"
    );
    rustform::Observability::builder()
        .config_yaml(yaml)
        .build()
        .expect("a valid configuration")
        .subscriber()
        .expect("the pipeline")
}

fn otel(c: &mut Criterion) {
    let collector = testkit::otlp_collector::Collector::start();
    let endpoint = collector.grpc_endpoint();
    let mut group = c.benchmark_group("otel");
    group
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));

    group.bench_function("metrics only: #[observed(span = false)]", |b| {
        b.iter(|| metrics_only(black_box(1), black_box(2)))
    });
    for (ratio, label) in [(1.0, "sampled, exported"), (0.0, "sampling ratio 0")] {
        let (subscriber, guard) = pipeline(&endpoint, ratio);
        let dispatch = tracing::Dispatch::new(subscriber);
        tracing::dispatcher::with_default(&dispatch, || {
            group.bench_function(format!("#[observed], {label}"), |b| {
                b.iter(|| observed_add(black_box(1), black_box(2)))
            });
            group.bench_function(format!("#[instrument], {label}"), |b| {
                b.iter(|| instrumented_add(black_box(1), black_box(2)))
            });
        });
        guard.shutdown(Duration::from_secs(5));
    }
    group.finish();
    assert!(collector.span_count() > 0, "spans reached the collector");
}

criterion_group!(benches, otel);
criterion_main!(benches);
