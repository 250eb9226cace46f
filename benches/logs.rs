//! One JSON log line written inside two spans, by rustform's log pipeline (with the
//! trace and span ids tracing-subscriber's JSON format does not have) against
//! tracing-subscriber's own JSON format, in one run; and the cost of an event that the
//! level filter or sampling drops.
//!
//! `cargo bench --bench logs`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use rustform::config::{Config, Logging};

fn logging(yaml: &str) -> Logging {
    Config::parse(yaml, "rustform.yml", &|_| None)
        .expect("a valid configuration")
        .observability
        .logging
}

/// Writes one event with two fields inside a request span and a handler span.
fn event_in_spans() {
    let request = tracing::info_span!("request", method = "GET", route = "/users/{id}");
    let _request = request.enter();
    let handler = tracing::info_span!("get_user", user_id = 42u64);
    let _handler = handler.enter();
    tracing::info!(rows = 1u64, cached = false, "user loaded");
}

fn json_line(c: &mut Criterion) {
    let mut group = c.benchmark_group("json_line_in_two_spans");
    let rustform = rustform::trace::subscriber_with_writer(
        &logging("observability:\n  logging:\n    format: json\n"),
        std::io::sink,
    )
    .expect("a valid logging section");
    tracing::subscriber::with_default(rustform, || {
        group.bench_function("rustform", |b| b.iter(event_in_spans));
    });
    let peer = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::with_default(peer, || {
        group.bench_function("tracing_subscriber_json", |b| b.iter(event_in_spans));
    });
    group.finish();
}

fn dropped_event(c: &mut Criterion) {
    let mut group = c.benchmark_group("dropped_event");
    let filtered = rustform::trace::subscriber_with_writer(
        &logging("observability:\n  logging:\n    format: json\n    level: warn\n"),
        std::io::sink,
    )
    .expect("a valid logging section");
    tracing::subscriber::with_default(filtered, || {
        group.bench_function("below_the_level", |b| {
            b.iter(|| tracing::info!(rows = black_box(1u64), "user loaded"))
        });
    });
    let sampled = rustform::trace::subscriber_with_writer(
        &logging(
            "observability:\n  logging:\n    format: json\n    sampling:\n      enabled: true\n      rate: 0.0\n",
        ),
        std::io::sink,
    )
    .expect("a valid logging section");
    tracing::subscriber::with_default(sampled, || {
        group.bench_function("sampled_out", |b| {
            b.iter(|| tracing::info!(rows = black_box(1u64), "user loaded"))
        });
    });
    group.finish();
}

criterion_group!(benches, json_line, dropped_event);
criterion_main!(benches);
