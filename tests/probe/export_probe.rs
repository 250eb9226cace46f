//! A service that exports its telemetry, for `tests/it/export/otlp.rs`: it calls
//! `rustform::init()` with the configuration in `RUSTFORM_CONFIG` (exporters pointed at
//! the test's in-process collector), runs one scenario, drops the guard (which flushes
//! and stops the exporters), or calls `guard.shutdown(PROBE_SHUTDOWN_MILLIS)` when
//! `PROBE_END=shutdown`, and reports on stderr, one `key: value` line per fact: once as
//! shutdown returns, and again, prefixed `later `, `PROBE_LATER_MILLIS` after.

use std::time::{Duration, Instant};

use rustform::metrics::{MetricValue, default_registry};
use rustform::{ErrorLabel, observed};

#[derive(Debug, ErrorLabel)]
enum ShopError {
    Declined,
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for ShopError {}

#[observed]
fn checkout(order: u32) -> Result<u32, ShopError> {
    reserve_stock(order)?;
    let receipt = charge_card(order)?;
    tracing::info!(order, "checked out");
    Ok(receipt)
}

/// Whether `reserve_stock` reports its ids (in the `nested` scenario).
static PRINT_IDS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[observed]
fn reserve_stock(order: u32) -> Result<(), ShopError> {
    if PRINT_IDS.load(std::sync::atomic::Ordering::Relaxed)
        && let Some(ids) = rustform::trace::current()
    {
        eprintln!(
            "reserve_stock ids: {}/{}",
            hex(&ids.trace_id),
            hex(&ids.span_id)
        );
    }
    let _ = order;
    Ok(())
}

#[observed]
fn charge_card(order: u32) -> Result<u32, ShopError> {
    if order % 2 == 1 {
        Err(ShopError::Declined)
    } else {
        Ok(order * 10)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The sum of a counter family's series whose labels include `labels`.
fn total(name: &str, labels: &[(&str, &str)]) -> u64 {
    let snapshot = default_registry().snapshot();
    let Some(family) = snapshot.family(name) else {
        return 0;
    };
    family
        .series
        .iter()
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|s| match s.value {
            MetricValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    let guard = rustform::init()?;
    let started = Instant::now();
    match scenario.as_str() {
        // Two checkouts, one declined: nested spans with an error, and the metrics of
        // the moment, for comparison with what arrives over OTLP.
        "nested" => {
            PRINT_IDS.store(true, std::sync::atomic::Ordering::Relaxed);
            checkout(2)?;
            let _ = checkout(3);
            eprintln!("metrics:");
            eprint!("{}", default_registry().render());
            eprintln!("end of metrics");
        }
        // Checkouts for PROBE_MILLIS, one every PROBE_PAUSE_MICROS, while the test takes
        // the collector down and brings it back; the slowest call is reported.
        "load" => {
            let until = Duration::from_millis(env_number("PROBE_MILLIS", 2000));
            let pause = Duration::from_micros(env_number("PROBE_PAUSE_MICROS", 500));
            let mut calls = 0u64;
            let mut slowest = Duration::ZERO;
            while started.elapsed() < until {
                let call = Instant::now();
                let _ = checkout(2);
                slowest = slowest.max(call.elapsed());
                calls += 1;
                std::thread::sleep(pause);
            }
            eprintln!("calls: {calls}");
            eprintln!("slowest call micros: {}", slowest.as_micros());
        }
        // As many checkouts as PROBE_CALLS says, as fast as possible.
        "burst" => {
            for order in 0..env_number("PROBE_CALLS", 10_000) {
                let _ = checkout(order as u32 * 2);
            }
        }
        // PROBE_SPANS spans, one per call, as fast as possible.
        "spans" => {
            for order in 0..env_number("PROBE_SPANS", 10_000) {
                let _ = reserve_stock(order as u32);
            }
        }
        _ => return Err(format!("unknown scenario {scenario:?}").into()),
    }
    let shutdown = Instant::now();
    if std::env::var("PROBE_END").as_deref() == Ok("shutdown") {
        let timeout = Duration::from_millis(env_number("PROBE_SHUTDOWN_MILLIS", 2000));
        eprintln!("shut down: {}", guard.shutdown(timeout));
    } else {
        drop(guard);
    }
    eprintln!("shutdown millis: {}", shutdown.elapsed().as_millis());
    report("");
    // Nothing is counted after shutdown returns: what an abandoned export does later
    // must not change the counts.
    std::thread::sleep(Duration::from_millis(env_number("PROBE_LATER_MILLIS", 0)));
    report("later ");
    Ok(())
}

/// The export counters, each line prefixed with `prefix`.
fn report(prefix: &str) {
    for exporter in ["otlp", "zipkin", "jaeger", "console"] {
        let produced = total(
            "rustform_exporter_spans_produced_total",
            &[("exporter", exporter)],
        );
        if produced == 0 {
            continue;
        }
        let labels = [("exporter", exporter)];
        eprintln!("{prefix}{exporter} produced: {produced}");
        eprintln!(
            "{prefix}{exporter} exported: {}",
            total("rustform_exporter_spans_exported_total", &labels)
        );
        for reason in ["queue_full", "export_failed", "rejected", "shutdown"] {
            eprintln!(
                "{prefix}{exporter} dropped {reason}: {}",
                total(
                    "rustform_exporter_spans_dropped_total",
                    &[("exporter", exporter), ("reason", reason)]
                )
            );
        }
    }
    for exporter in ["otlp", "console"] {
        let labels = [("exporter", exporter)];
        let produced = total("rustform_exporter_metric_points_produced_total", &labels);
        if produced == 0 {
            continue;
        }
        eprintln!("{prefix}metric points {exporter} produced: {produced}");
        eprintln!(
            "{prefix}metric points {exporter} exported: {}",
            total("rustform_exporter_metric_points_exported_total", &labels)
        );
        for reason in ["export_failed", "rejected", "shutdown"] {
            eprintln!(
                "{prefix}metric points {exporter} dropped {reason}: {}",
                total(
                    "rustform_exporter_metric_points_dropped_total",
                    &[("exporter", exporter), ("reason", reason)]
                )
            );
        }
    }
    for signal in ["traces", "metrics"] {
        for outcome in ["success", "partial", "failure"] {
            eprintln!(
                "{prefix}exports {signal} {outcome}: {}",
                total(
                    "rustform_exporter_exports_total",
                    &[("signal", signal), ("outcome", outcome)]
                )
            );
        }
        eprintln!(
            "{prefix}retries {signal}: {}",
            total("rustform_exporter_retries_total", &[("signal", signal)])
        );
    }
}
