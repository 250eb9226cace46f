//! `#[observed]` metrics, counted exactly: `function_calls_total` by result and kind,
//! `function_calls_duration_seconds`, `function_calls_concurrent`, caller labels,
//! per-function buckets and constant labels, read back through the default registry.
//!
//! Tests in this file run in parallel threads and share the default registry, so each
//! test calls observed functions of its own and no other test touches them.

use std::future::Future;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::str::FromStr;
use std::sync::Barrier;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use rustform::metrics::{FUNCTION_BUCKETS, HistogramValue, MetricValue, default_registry};
use rustform::{ErrorLabel, observed};

/// The `module` label of the functions defined at the top of this file.
const MODULE: &str = module_path!();

/// The `service_name` label: `OTEL_SERVICE_NAME` when the environment sets it, else the
/// name of this package.
fn service() -> String {
    std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_owned())
}

/// Labels of a series of `function` in `module`: the identifying three, then `extra`.
fn full_labels<'a>(
    function: &'a str,
    module: &'a str,
    service: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut labels = vec![
        ("function", function),
        ("module", module),
        ("service_name", service),
    ];
    labels.extend_from_slice(extra);
    labels
}

/// Every `function_calls_total` series of `function` in `module`: its labels besides
/// `function`, `module` and `service_name`, and its count.
fn series_in(module: &str, function: &str) -> Vec<(Vec<(String, String)>, u64)> {
    let service = service();
    let snapshot = default_registry().snapshot();
    let Some(family) = snapshot.family("function_calls_total") else {
        return Vec::new();
    };
    family
        .series
        .iter()
        .filter(|s| {
            let has = |n: &str, v: &str| s.labels.iter().any(|(sn, sv)| sn == n && sv == v);
            has("function", function) && has("module", module) && has("service_name", &service)
        })
        .map(|s| {
            let rest = s
                .labels
                .iter()
                .filter(|(n, _)| !["function", "module", "service_name"].contains(&n.as_str()))
                .cloned()
                .collect();
            match s.value {
                MetricValue::Counter(n) => (rest, n),
                ref other => panic!("function_calls_total holds a {other:?}"),
            }
        })
        .collect()
}

/// The value of `metric`'s series of `function` with exactly these extra labels.
fn value_of(
    metric: &str,
    module: &str,
    function: &str,
    extra: &[(&str, &str)],
) -> Option<MetricValue> {
    let service = service();
    let labels = full_labels(function, module, &service, extra);
    default_registry().snapshot().get(metric, &labels).cloned()
}

/// The count of the `function_calls_total` series with exactly these labels.
fn calls_in(module: &str, function: &str, extra: &[(&str, &str)]) -> u64 {
    let service = service();
    let labels = full_labels(function, module, &service, extra);
    match value_of("function_calls_total", module, function, extra) {
        Some(MetricValue::Counter(n)) => n,
        other => panic!(
            "no function_calls_total series {labels:?} (found {other:?}); the series of \
             {function} are {:?}",
            series_in(module, function)
        ),
    }
}

/// Asserts the complete set of `function_calls_total` series of `function`: each
/// expected label set is looked up exactly, and there is no other series.
fn assert_calls_in(module: &str, function: &str, expected: &[(&[(&str, &str)], u64)]) {
    for (extra, count) in expected {
        assert_eq!(
            calls_in(module, function, extra),
            *count,
            "function_calls_total of {function} with {extra:?}"
        );
    }
    let actual = series_in(module, function);
    assert_eq!(
        actual.len(),
        expected.len(),
        "{function} has other series than expected: {actual:?}"
    );
}

fn assert_calls(function: &str, expected: &[(&[(&str, &str)], u64)]) {
    assert_calls_in(MODULE, function, expected);
}

/// Whether a `function_calls_total` series with exactly these labels exists.
fn has_calls_series(function: &str, extra: &[(&str, &str)]) -> bool {
    value_of("function_calls_total", MODULE, function, extra).is_some()
}

/// The `function_calls_duration_seconds` series of `function` with these extra labels.
fn duration_in(module: &str, function: &str, extra: &[(&str, &str)]) -> HistogramValue {
    match value_of("function_calls_duration_seconds", module, function, extra) {
        Some(MetricValue::Histogram(h)) => h,
        other => panic!(
            "no function_calls_duration_seconds series of {function} with {extra:?}: {other:?}"
        ),
    }
}

fn duration(function: &str, extra: &[(&str, &str)]) -> HistogramValue {
    duration_in(MODULE, function, extra)
}

/// The `function_calls_concurrent` value of `function`, if it has the series.
fn concurrent_with(function: &str, extra: &[(&str, &str)]) -> Option<i64> {
    let service = service();
    let labels = full_labels(function, MODULE, &service, extra);
    match default_registry()
        .snapshot()
        .get("function_calls_concurrent", &labels)
    {
        Some(MetricValue::Gauge(n)) => Some(*n),
        None => None,
        other => panic!("function_calls_concurrent holds {other:?}"),
    }
}

fn concurrent(function: &str) -> i64 {
    concurrent_with(function, &[])
        .unwrap_or_else(|| panic!("{function} has no function_calls_concurrent series"))
}

/// Asserts that the histogram of `function` counted exactly as many calls as its
/// `function_calls_total` series together, with cumulative buckets ending at `+Inf`.
fn assert_histogram_counts_every_call(function: &str, extra: &[(&str, &str)]) {
    let total: u64 = series_in(MODULE, function).iter().map(|(_, n)| n).sum();
    let h = duration(function, extra);
    assert_eq!(h.count, total, "histogram count of {function}");
    let (last_bound, last_count) = *h.buckets.last().unwrap();
    assert_eq!(last_bound, f64::INFINITY);
    assert_eq!(last_count, h.count);
    assert!(
        h.buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative buckets of {function} decrease: {:?}",
        h.buckets
    );
}

/// Polls a future once, with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Returns `Pending` once (waking itself at once), then `Ready`.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

/// The panic message of a payload caught by `catch_unwind`.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .expect("a string panic payload")
}

const OK: &[(&str, &str)] = &[("result", "ok")];
const ERROR: &[(&str, &str)] = &[("result", "error")];
const PANIC: &[(&str, &str)] = &[("result", "error"), ("error", "panic")];
const CANCELLED: &[(&str, &str)] = &[("result", "cancelled")];

// ---------------------------------------------------------------------------------------
// Results and kinds
// ---------------------------------------------------------------------------------------

#[observed]
fn double(x: u32) -> u32 {
    x * 2
}

#[observed]
fn checked_half(x: u32) -> Result<u32, String> {
    if x.is_multiple_of(2) {
        Ok(x / 2)
    } else {
        Err(format!("{x} is odd"))
    }
}

#[test]
fn ok_calls_are_counted() {
    for x in 0..3 {
        assert_eq!(double(x), x * 2);
    }
    assert_calls("double", &[(OK, 3), (ERROR, 0)]);
    assert_histogram_counts_every_call("double", &[]);

    assert_eq!(checked_half(4), Ok(2));
    assert_eq!(checked_half(8), Ok(4));
    assert_calls("checked_half", &[(OK, 2), (ERROR, 0)]);
    assert_histogram_counts_every_call("checked_half", &[]);
}

#[derive(Debug, PartialEq, ErrorLabel)]
enum FetchError {
    NotFound,
    Timeout,
    #[label(rename = "db_down")]
    Database(String),
    InvalidInput {
        field: &'static str,
    },
}

#[observed]
fn fetch_record(id: u32) -> Result<u32, FetchError> {
    match id {
        0 => Err(FetchError::NotFound),
        1 => Err(FetchError::Timeout),
        2 => Err(FetchError::Database("connection reset".into())),
        3 => Err(FetchError::InvalidInput { field: "id" }),
        _ => Ok(id * 10),
    }
}

#[test]
fn each_error_label_variant_is_counted_under_its_kind() {
    for id in [5, 0, 0, 1, 2, 0, 2, 3, 6] {
        let _ = fetch_record(id);
    }
    assert_eq!(
        fetch_record(3),
        Err(FetchError::InvalidInput { field: "id" })
    );
    assert_calls(
        "fetch_record",
        &[
            (OK, 2),
            (ERROR, 0),
            (&[("result", "error"), ("error", "not_found")], 3),
            (&[("result", "error"), ("error", "timeout")], 1),
            (&[("result", "error"), ("error", "db_down")], 2),
            (&[("result", "error"), ("error", "invalid_input")], 2),
        ],
    );
    // The renamed variant is not counted under its own name.
    assert!(!has_calls_series(
        "fetch_record",
        &[("result", "error"), ("error", "database")]
    ));
    assert_histogram_counts_every_call("fetch_record", &[]);
}

/// An error type without `ErrorLabel`.
#[derive(Debug)]
struct Unlabeled;

#[observed]
fn unlabeled_errors(fail: bool) -> Result<(), Unlabeled> {
    if fail { Err(Unlabeled) } else { Ok(()) }
}

#[observed]
fn boxed_errors(fail: bool) -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
    if fail { Err("boxed".into()) } else { Ok(1) }
}

#[test]
fn errors_without_error_label_count_as_plain_errors() {
    for fail in [true, false, true, true] {
        let _ = unlabeled_errors(fail);
        let _ = boxed_errors(fail);
    }
    for function in ["unlabeled_errors", "boxed_errors"] {
        assert_calls(function, &[(OK, 1), (ERROR, 3)]);
        assert_histogram_counts_every_call(function, &[]);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, ErrorLabel)]
enum Freshness {
    Cached,
    #[label(rename = "from_origin")]
    Fresh,
}

#[observed]
fn cached_lookup(key: u32) -> Result<Freshness, String> {
    match key {
        0 => Err("no such key".into()),
        k if k % 2 == 0 => Ok(Freshness::Cached),
        _ => Ok(Freshness::Fresh),
    }
}

#[observed]
fn freshness(key: u32) -> Freshness {
    if key == 0 {
        Freshness::Fresh
    } else {
        Freshness::Cached
    }
}

#[test]
fn ok_values_with_error_label_get_the_ok_label() {
    for key in [2, 4, 1, 0, 6] {
        let _ = cached_lookup(key);
    }
    assert_calls(
        "cached_lookup",
        &[
            (OK, 0),
            (ERROR, 1),
            (&[("result", "ok"), ("ok", "cached")], 3),
            (&[("result", "ok"), ("ok", "from_origin")], 1),
        ],
    );
    assert_histogram_counts_every_call("cached_lookup", &[]);

    for key in [0, 1, 2] {
        freshness(key);
    }
    assert_calls(
        "freshness",
        &[
            (OK, 0),
            (ERROR, 0),
            (&[("result", "ok"), ("ok", "cached")], 2),
            (&[("result", "ok"), ("ok", "from_origin")], 1),
        ],
    );
}

#[observed]
fn read_config(kind: Option<io::ErrorKind>) -> io::Result<String> {
    match kind {
        None => Ok("port = 80".into()),
        Some(io::ErrorKind::Other) => Err(io::Error::other("custom")),
        Some(kind) => Err(io::Error::new(kind, "failed")),
    }
}

#[test]
fn io_errors_are_labeled_by_kind() {
    for kind in [
        Some(io::ErrorKind::NotFound),
        None,
        Some(io::ErrorKind::PermissionDenied),
        Some(io::ErrorKind::NotFound),
        Some(io::ErrorKind::TimedOut),
        Some(io::ErrorKind::Other),
        Some(io::ErrorKind::UnexpectedEof),
    ] {
        let _ = read_config(kind);
    }
    assert_calls(
        "read_config",
        &[
            (OK, 1),
            (ERROR, 0),
            (&[("result", "error"), ("error", "not_found")], 2),
            (&[("result", "error"), ("error", "permission_denied")], 1),
            (&[("result", "error"), ("error", "timed_out")], 1),
            (&[("result", "error"), ("error", "other")], 1),
            (&[("result", "error"), ("error", "unexpected_eof")], 1),
        ],
    );
    assert_histogram_counts_every_call("read_config", &[]);
}

#[derive(Debug, Clone, Copy, ErrorLabel)]
enum ManyKinds {
    K0,
    K1,
    K2,
    K3,
    K4,
    K5,
    K6,
    K7,
    K8,
    K9,
}

const ALL_KINDS: [ManyKinds; 10] = [
    ManyKinds::K0,
    ManyKinds::K1,
    ManyKinds::K2,
    ManyKinds::K3,
    ManyKinds::K4,
    ManyKinds::K5,
    ManyKinds::K6,
    ManyKinds::K7,
    ManyKinds::K8,
    ManyKinds::K9,
];

#[observed]
fn many_kinds(kind: ManyKinds) -> Result<(), ManyKinds> {
    Err(kind)
}

#[test]
fn more_error_kinds_than_cached_slots_are_all_counted() {
    // Kind `k{i}` is returned `i + 1` times, interleaved.
    for round in 0..10 {
        for (i, kind) in ALL_KINDS.into_iter().enumerate() {
            if round <= i {
                let _ = many_kinds(kind);
            }
        }
    }
    let labels: Vec<String> = (0..10).map(|i| format!("k{i}")).collect();
    let mut expected: Vec<(Vec<(&str, &str)>, u64)> = vec![(OK.to_vec(), 0), (ERROR.to_vec(), 0)];
    for (i, label) in labels.iter().enumerate() {
        expected.push((vec![("result", "error"), ("error", label)], i as u64 + 1));
    }
    let expected: Vec<(&[(&str, &str)], u64)> =
        expected.iter().map(|(l, n)| (l.as_slice(), *n)).collect();
    assert_calls("many_kinds", &expected);
    assert_histogram_counts_every_call("many_kinds", &[]);
}

// ---------------------------------------------------------------------------------------
// Panics and cancellation
// ---------------------------------------------------------------------------------------

#[observed]
fn explode(fail: bool) -> Result<u8, FetchError> {
    if fail {
        panic!("boom");
    }
    Ok(1)
}

#[test]
fn a_panic_is_counted_as_an_error_and_keeps_unwinding() {
    assert_eq!(explode(false), Ok(1));
    for _ in 0..2 {
        let payload = catch_unwind(|| explode(true)).expect_err("the panic reaches the caller");
        assert_eq!(panic_message(&*payload), "boom");
    }
    assert_calls("explode", &[(OK, 1), (ERROR, 0), (PANIC, 2)]);
    assert_histogram_counts_every_call("explode", &[]);
}

#[observed(track_concurrency)]
async fn explode_async() -> u8 {
    yield_once().await;
    panic!("async boom")
}

#[test]
fn a_panic_in_an_async_fn_is_counted_once_and_not_as_a_cancellation() {
    {
        let mut future = pin!(explode_async());
        // The first poll yields; the second panics.
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(concurrent("explode_async"), 1);
        let payload = catch_unwind(AssertUnwindSafe(|| poll_once(future.as_mut())))
            .expect_err("the panic reaches the poller");
        assert_eq!(panic_message(&*payload), "async boom");
        // Dropping the panicked future must not count it again.
    }
    assert_calls("explode_async", &[(OK, 0), (ERROR, 0), (PANIC, 1)]);
    assert!(!has_calls_series("explode_async", CANCELLED));
    assert_eq!(concurrent("explode_async"), 0);
    assert_histogram_counts_every_call("explode_async", &[]);
}

#[observed]
async fn never_finishes() -> Result<(), FetchError> {
    std::future::pending::<()>().await;
    Ok(())
}

#[tokio::test]
async fn an_async_fn_cancelled_by_a_timeout_is_counted_as_cancelled() {
    for _ in 0..2 {
        let timed_out = tokio::time::timeout(Duration::from_millis(1), never_finishes()).await;
        assert!(timed_out.is_err());
    }
    // A future dropped before its first poll never started: it is not a call.
    drop(never_finishes());
    assert_calls("never_finishes", &[(OK, 0), (ERROR, 0), (CANCELLED, 2)]);
    assert_histogram_counts_every_call("never_finishes", &[]);
}

#[observed(callers, track_concurrency)]
async fn cancelled_inner() {
    std::future::pending::<()>().await
}

#[observed(track_concurrency)]
async fn cancelled_outer() {
    cancelled_inner().await
}

#[test]
fn cancelling_an_outer_call_cancels_the_inner_one_too() {
    {
        let mut future = pin!(cancelled_outer());
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(concurrent("cancelled_outer"), 1);
        assert_eq!(concurrent("cancelled_inner"), 1);
    }
    assert_eq!(concurrent("cancelled_outer"), 0);
    assert_eq!(concurrent("cancelled_inner"), 0);
    assert_calls("cancelled_outer", &[(OK, 0), (ERROR, 0), (CANCELLED, 1)]);
    let from_outer = |result: &'static str| -> Vec<(&str, &str)> {
        vec![
            ("caller_function", "cancelled_outer"),
            ("caller_module", MODULE),
            ("result", result),
        ]
    };
    assert_calls(
        "cancelled_inner",
        &[
            (OK, 0),
            (ERROR, 0),
            (&from_outer("ok"), 0),
            (&from_outer("error"), 0),
            (&from_outer("cancelled"), 1),
        ],
    );
}

#[observed]
fn deferred(fail: bool) -> impl Future<Output = Result<u8, FetchError>> {
    async move {
        yield_once().await;
        if fail {
            Err(FetchError::Timeout)
        } else {
            Ok(1)
        }
    }
}

#[tokio::test]
async fn a_function_returning_a_future_is_measured_until_the_future_completes() {
    assert_eq!(deferred(false).await, Ok(1));
    assert_eq!(deferred(true).await, Err(FetchError::Timeout));
    // Created but never polled: not a call.
    drop(deferred(false));
    // Polled, then dropped: cancelled.
    {
        let mut future = pin!(deferred(false));
        assert!(poll_once(future.as_mut()).is_pending());
    }
    assert_calls(
        "deferred",
        &[
            (OK, 1),
            (ERROR, 0),
            (&[("result", "error"), ("error", "timeout")], 1),
            (CANCELLED, 1),
        ],
    );
    assert_histogram_counts_every_call("deferred", &[]);
}

#[observed]
fn diverges(message: &'static str) -> ! {
    panic!("{message}")
}

#[test]
fn a_diverging_function_is_counted_when_it_panics() {
    let payload = catch_unwind(|| diverges("never returns")).expect_err("it panics");
    assert_eq!(panic_message(&*payload), "never returns");
    assert_calls("diverges", &[(OK, 0), (ERROR, 0), (PANIC, 1)]);
}

// ---------------------------------------------------------------------------------------
// track_concurrency
// ---------------------------------------------------------------------------------------

#[observed(track_concurrency)]
fn gauge_inside_sync() -> i64 {
    concurrent("gauge_inside_sync")
}

#[observed(track_concurrency)]
fn gauge_at_depth(depth: u32) -> i64 {
    if depth == 0 {
        concurrent("gauge_at_depth")
    } else {
        gauge_at_depth(depth - 1)
    }
}

#[test]
fn the_gauge_counts_calls_in_flight_and_returns_to_zero_after_return() {
    assert_eq!(gauge_inside_sync(), 1);
    assert_eq!(concurrent("gauge_inside_sync"), 0);
    assert_eq!(gauge_inside_sync(), 1);
    assert_eq!(concurrent("gauge_inside_sync"), 0);

    // Four nested calls are in flight at the deepest one.
    assert_eq!(gauge_at_depth(3), 4);
    assert_eq!(concurrent("gauge_at_depth"), 0);
    assert_calls("gauge_at_depth", &[(OK, 4), (ERROR, 0)]);
}

static SEEN_BEFORE_PANIC: AtomicI64 = AtomicI64::new(-1);

#[observed(track_concurrency)]
fn gauge_then_panic() {
    SEEN_BEFORE_PANIC.store(concurrent("gauge_then_panic"), Ordering::SeqCst);
    panic!("gauge panic");
}

#[test]
fn the_gauge_returns_to_zero_after_a_panic() {
    catch_unwind(gauge_then_panic).expect_err("it panics");
    assert_eq!(SEEN_BEFORE_PANIC.load(Ordering::SeqCst), 1);
    assert_eq!(concurrent("gauge_then_panic"), 0);
    assert_calls("gauge_then_panic", &[(OK, 0), (ERROR, 0), (PANIC, 1)]);
}

#[observed(track_concurrency)]
async fn gauge_inside_async() -> i64 {
    yield_once().await;
    concurrent("gauge_inside_async")
}

#[observed(track_concurrency)]
async fn gauge_pending_forever() {
    std::future::pending::<()>().await
}

#[tokio::test]
async fn the_gauge_follows_async_calls_and_returns_to_zero_after_cancellation() {
    assert_eq!(gauge_inside_async().await, 1);
    assert_eq!(concurrent("gauge_inside_async"), 0);

    // Observed from outside: in flight between the first poll and the drop.
    {
        let mut future = pin!(gauge_pending_forever());
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(concurrent("gauge_pending_forever"), 1);
        assert!(poll_once(future.as_mut()).is_pending());
        assert_eq!(concurrent("gauge_pending_forever"), 1);
    }
    assert_eq!(concurrent("gauge_pending_forever"), 0);

    // Observed from another task while a call waits.
    let waiting = tokio::spawn(gauge_pending_forever());
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(concurrent("gauge_pending_forever"), 1);
    waiting.abort();
    assert!(waiting.await.unwrap_err().is_cancelled());
    assert_eq!(concurrent("gauge_pending_forever"), 0);

    let _ = tokio::time::timeout(Duration::from_millis(1), gauge_pending_forever()).await;
    assert_eq!(concurrent("gauge_pending_forever"), 0);
    assert_calls(
        "gauge_pending_forever",
        &[(OK, 0), (ERROR, 0), (CANCELLED, 3)],
    );
}

#[observed]
fn without_gauge() {}

#[test]
fn functions_without_track_concurrency_have_no_gauge() {
    without_gauge();
    assert_calls("without_gauge", &[(OK, 1), (ERROR, 0)]);
    assert_eq!(concurrent_with("without_gauge", &[]), None);
}

// ---------------------------------------------------------------------------------------
// callers
// ---------------------------------------------------------------------------------------

#[observed(callers)]
fn sync_leaf() {}

#[observed]
fn sync_middle() {
    sync_leaf();
}

fn plain_helper() {
    sync_leaf();
}

#[observed]
fn sync_top() {
    sync_middle();
    // After the nested call returns, this function is the caller again.
    sync_leaf();
    // A function that is not observed is transparent.
    plain_helper();
}

#[test]
fn nested_sync_calls_name_the_nearest_observed_caller() {
    sync_top();
    sync_top();
    sync_leaf();
    let from = |caller: &'static str, result: &'static str| -> Vec<(&str, &str)> {
        vec![
            ("caller_function", caller),
            ("caller_module", MODULE),
            ("result", result),
        ]
    };
    assert_calls(
        "sync_leaf",
        &[
            (&from("sync_middle", "ok"), 2),
            (&from("sync_middle", "error"), 0),
            (&from("sync_top", "ok"), 4),
            (&from("sync_top", "error"), 0),
            (OK, 1),
            (ERROR, 0),
        ],
    );
    // `callers` is per function: the middle one has no caller labels.
    assert_calls("sync_middle", &[(OK, 2), (ERROR, 0)]);
    assert_histogram_counts_every_call("sync_leaf", &[]);
}

mod nested {
    use rustform::observed;

    #[observed]
    pub fn in_nested_module() {
        super::sync_leaf_for_modules();
    }
}

#[observed(callers)]
fn sync_leaf_for_modules() {}

#[test]
fn the_caller_module_is_the_callers_module_path() {
    nested::in_nested_module();
    let nested_module = format!("{MODULE}::nested");
    assert_calls(
        "sync_leaf_for_modules",
        &[
            // The series of calls without a caller exist from the first call, at zero.
            (OK, 0),
            (ERROR, 0),
            (
                &[
                    ("caller_function", "in_nested_module"),
                    ("caller_module", nested_module.as_str()),
                    ("result", "ok"),
                ],
                1,
            ),
            (
                &[
                    ("caller_function", "in_nested_module"),
                    ("caller_module", nested_module.as_str()),
                    ("result", "error"),
                ],
                0,
            ),
        ],
    );
    assert_calls_in(&nested_module, "in_nested_module", &[(OK, 1), (ERROR, 0)]);
}

#[observed(callers)]
async fn async_leaf(fail: bool) -> Result<(), FetchError> {
    yield_once().await;
    if fail {
        Err(FetchError::Timeout)
    } else {
        Ok(())
    }
}

#[observed(callers)]
fn sync_leaf_in_async() {}

#[observed]
async fn async_top() {
    yield_once().await;
    let _ = async_leaf(false).await;
    let _ = async_leaf(true).await;
    sync_leaf_in_async();
    // Later polls of this function name it again.
    yield_once().await;
    sync_leaf_in_async();
}

#[observed]
async fn async_spawner() {
    // A spawned task runs on its own: it has no caller.
    tokio::spawn(async_leaf(false)).await.unwrap().unwrap();
    tokio::spawn(async { sync_leaf_in_async() }).await.unwrap();
}

#[tokio::test]
async fn nested_async_calls_name_their_caller_and_spawned_tasks_have_none() {
    async_top().await;
    async_spawner().await;
    let from_top = |result: &'static str| -> Vec<(&str, &str)> {
        vec![
            ("caller_function", "async_top"),
            ("caller_module", MODULE),
            ("result", result),
        ]
    };
    let timeout_from_top = [
        ("caller_function", "async_top"),
        ("caller_module", MODULE),
        ("result", "error"),
        ("error", "timeout"),
    ];
    assert_calls(
        "async_leaf",
        &[
            (&from_top("ok"), 1),
            (&from_top("error"), 0),
            (&timeout_from_top, 1),
            (OK, 1),
            (ERROR, 0),
        ],
    );
    assert_calls(
        "sync_leaf_in_async",
        &[
            (&from_top("ok"), 2),
            (&from_top("error"), 0),
            (OK, 1),
            (ERROR, 0),
        ],
    );
    for function in ["async_leaf", "sync_leaf_in_async"] {
        assert!(
            series_in(MODULE, function)
                .iter()
                .all(|(labels, _)| !labels
                    .contains(&("caller_function".into(), "async_spawner".into()))),
            "{function} was attributed to the spawning function"
        );
    }
    assert_histogram_counts_every_call("async_leaf", &[]);
}

#[observed(callers)]
async fn mt_leaf() {
    yield_once().await;
}

#[observed]
async fn mt_parent() {
    mt_leaf().await;
    let tasks: Vec<_> = (0..4).map(|_| tokio::spawn(mt_leaf())).collect();
    for task in tasks {
        task.await.unwrap();
    }
    mt_leaf().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_multi_thread_runtime_spawned_tasks_have_no_caller() {
    tokio::spawn(mt_parent()).await.unwrap();
    assert_calls(
        "mt_leaf",
        &[
            (
                &[
                    ("caller_function", "mt_parent"),
                    ("caller_module", MODULE),
                    ("result", "ok"),
                ],
                2,
            ),
            (
                &[
                    ("caller_function", "mt_parent"),
                    ("caller_module", MODULE),
                    ("result", "error"),
                ],
                0,
            ),
            (OK, 4),
            (ERROR, 0),
        ],
    );
}

#[observed(callers)]
fn shared_leaf() {}

macro_rules! callers_of_shared_leaf {
    ($($name:ident),*) => {
        $(
            #[observed]
            fn $name() {
                shared_leaf();
            }
        )*
        /// Calls the `i`-th caller `i + 1` times.
        fn call_every_caller() {
            let callers: &[fn()] = &[$($name),*];
            for (i, caller) in callers.iter().enumerate() {
                for _ in 0..=i {
                    caller();
                }
            }
        }
        const CALLER_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

callers_of_shared_leaf!(
    caller_a, caller_b, caller_c, caller_d, caller_e, caller_f, caller_g, caller_h, caller_i,
    caller_j, caller_k
);

#[test]
fn more_callers_than_cached_slots_are_all_counted() {
    call_every_caller();
    let mut expected: Vec<(Vec<(&str, &str)>, u64)> = Vec::new();
    for (i, caller) in CALLER_NAMES.iter().enumerate() {
        let from = |result| {
            vec![
                ("caller_function", *caller),
                ("caller_module", MODULE),
                ("result", result),
            ]
        };
        expected.push((from("ok"), i as u64 + 1));
        expected.push((from("error"), 0));
    }
    expected.push((OK.to_vec(), 0));
    expected.push((ERROR.to_vec(), 0));
    let expected: Vec<(&[(&str, &str)], u64)> =
        expected.iter().map(|(l, n)| (l.as_slice(), *n)).collect();
    assert_calls("shared_leaf", &expected);
    assert_histogram_counts_every_call("shared_leaf", &[]);
}

#[observed(callers)]
fn leaf_after_panic() {}

#[observed]
fn panicking_middle() {
    leaf_after_panic();
    panic!("middle fails");
}

#[observed]
fn survives_a_panic() {
    catch_unwind(panicking_middle).expect_err("the middle panics");
    // The panicking call is over: this function is the caller again.
    leaf_after_panic();
}

#[test]
fn after_a_nested_panic_the_caller_is_restored() {
    survives_a_panic();
    let from = |caller: &'static str, result: &'static str| -> Vec<(&str, &str)> {
        vec![
            ("caller_function", caller),
            ("caller_module", MODULE),
            ("result", result),
        ]
    };
    assert_calls(
        "leaf_after_panic",
        &[
            (OK, 0),
            (ERROR, 0),
            (&from("panicking_middle", "ok"), 1),
            (&from("panicking_middle", "error"), 0),
            (&from("survives_a_panic", "ok"), 1),
            (&from("survives_a_panic", "error"), 0),
        ],
    );
    assert_calls("panicking_middle", &[(OK, 0), (ERROR, 0), (PANIC, 1)]);
    assert_calls("survives_a_panic", &[(OK, 1), (ERROR, 0)]);
}

// ---------------------------------------------------------------------------------------
// Buckets, labels
// ---------------------------------------------------------------------------------------

#[observed(buckets = [0.5, 1, 2.5])]
fn with_own_buckets() {}

#[observed(buckets = linear(0.25, 0.25, 4))]
fn with_linear_buckets() {}

#[observed(buckets = exponential(1, 2, 4))]
fn with_exponential_buckets() {}

#[observed]
fn with_default_buckets() {}

/// The `le` values of the function's buckets in the text exposition, in order.
fn le_values(function: &str) -> Vec<String> {
    let prefix = format!(
        "function_calls_duration_seconds_bucket{{function=\"{function}\",module=\"{MODULE}\","
    );
    default_registry()
        .render()
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .map(|line| {
            let le = line.split(",le=\"").nth(1).expect("an le label");
            le[..le.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn bounds(function: &str) -> Vec<f64> {
    duration(function, &[])
        .buckets
        .iter()
        .map(|(b, _)| *b)
        .collect()
}

#[test]
fn each_function_keeps_its_own_buckets() {
    for _ in 0..3 {
        with_own_buckets();
        with_default_buckets();
    }
    with_linear_buckets();
    with_exponential_buckets();

    assert_eq!(bounds("with_own_buckets"), [0.5, 1.0, 2.5, f64::INFINITY]);
    assert_eq!(le_values("with_own_buckets"), ["0.5", "1", "2.5", "+Inf"]);
    assert_eq!(
        bounds("with_linear_buckets"),
        [0.25, 0.5, 0.75, 1.0, f64::INFINITY]
    );
    assert_eq!(
        bounds("with_exponential_buckets"),
        [1.0, 2.0, 4.0, 8.0, f64::INFINITY]
    );

    assert_eq!(FUNCTION_BUCKETS.len(), 14);
    let mut default_bounds = FUNCTION_BUCKETS.to_vec();
    default_bounds.push(f64::INFINITY);
    assert_eq!(bounds("with_default_buckets"), default_bounds);
    assert_eq!(
        le_values("with_default_buckets"),
        [
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    for function in ["with_own_buckets", "with_default_buckets"] {
        assert_eq!(duration(function, &[]).count, 3);
        assert_histogram_counts_every_call(function, &[]);
    }
}

const GOLD: &[(&str, &str)] = &[("tier", "gold"), ("region", "eu-west")];

#[observed(track_concurrency, labels(tier = "gold", region = "eu-west"))]
fn labeled(fail: bool) -> Result<i64, FetchError> {
    if fail {
        return Err(FetchError::NotFound);
    }
    Ok(concurrent_with("labeled", GOLD).expect("the gauge carries the labels"))
}

#[test]
fn constant_labels_are_on_all_three_metrics() {
    assert_eq!(labeled(false), Ok(1));
    assert_eq!(labeled(true), Err(FetchError::NotFound));
    assert_eq!(labeled(false), Ok(1));
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        extra.iter().chain(GOLD).copied().collect()
    };
    assert_calls(
        "labeled",
        &[
            (&with(OK), 2),
            (&with(ERROR), 0),
            (&with(&[("result", "error"), ("error", "not_found")]), 1),
        ],
    );
    assert_eq!(duration("labeled", GOLD).count, 3);
    assert_histogram_counts_every_call("labeled", GOLD);
    assert_eq!(concurrent_with("labeled", GOLD), Some(0));
    // Without the constant labels there is no such series.
    assert_eq!(concurrent_with("labeled", &[]), None);
    assert!(!has_calls_series("labeled", OK));
}

// ---------------------------------------------------------------------------------------
// Names of methods
// ---------------------------------------------------------------------------------------

#[derive(Debug, ErrorLabel)]
enum StockError {
    Empty,
}

struct Inventory {
    items: Vec<u32>,
}

#[observed]
impl Inventory {
    fn new() -> Self {
        Inventory { items: Vec::new() }
    }

    fn count(&self) -> usize {
        self.items.len()
    }

    async fn restock(&mut self, n: u32) {
        yield_once().await;
        self.items.extend(0..n);
    }

    #[observed(name = "inventory.take")]
    fn take(&mut self) -> Result<u32, StockError> {
        self.items.pop().ok_or(StockError::Empty)
    }

    #[observed(skip)]
    fn internal(&self) -> bool {
        self.items.is_empty()
    }
}

struct Shelf<T> {
    top: Option<T>,
}

#[observed]
impl<T: Clone> Shelf<T> {
    fn peek(&self) -> Option<T> {
        self.top.clone()
    }
}

impl<T> Shelf<T> {
    #[observed]
    fn lone_generic(&self) -> bool {
        self.top.is_some()
    }
}

struct Clerk;

impl Clerk {
    #[observed]
    fn lone_method(&self) -> u8 {
        7
    }
}

trait Describe {
    fn describe(&self) -> String;
}

#[observed]
impl Describe for Clerk {
    fn describe(&self) -> String {
        "clerk".into()
    }
}

#[async_trait::async_trait]
trait Store {
    async fn put(&self, key: &str) -> Result<(), StockError>;
}

#[async_trait::async_trait]
#[observed]
impl Store for Clerk {
    async fn put(&self, key: &str) -> Result<(), StockError> {
        if key.is_empty() {
            Err(StockError::Empty)
        } else {
            Ok(())
        }
    }
}

#[tokio::test]
async fn methods_are_named_type_method() {
    let mut inventory = Inventory::new();
    inventory.restock(2).await;
    assert_eq!(inventory.count(), 2);
    assert_eq!(inventory.take().unwrap(), 1);
    assert_eq!(inventory.take().unwrap(), 0);
    assert!(matches!(inventory.take(), Err(StockError::Empty)));
    assert!(inventory.internal());

    assert_calls("Inventory::new", &[(OK, 1), (ERROR, 0)]);
    assert_calls("Inventory::restock", &[(OK, 1), (ERROR, 0)]);
    assert_calls("Inventory::count", &[(OK, 1), (ERROR, 0)]);
    // `name` renames the span, not the function label.
    assert_calls(
        "Inventory::take",
        &[
            (OK, 2),
            (ERROR, 0),
            (&[("result", "error"), ("error", "empty")], 1),
        ],
    );
    assert!(series_in(MODULE, "Inventory::internal").is_empty());
    assert!(series_in(MODULE, "inventory.take").is_empty());

    let shelf = Shelf { top: Some(3u8) };
    assert_eq!(shelf.peek(), Some(3));
    assert!(shelf.lone_generic());
    let empty: Shelf<String> = Shelf { top: None };
    assert_eq!(empty.peek(), None);
    assert!(!empty.lone_generic());
    assert_calls("Shelf::peek", &[(OK, 2), (ERROR, 0)]);
    assert_calls("Shelf::lone_generic", &[(OK, 2), (ERROR, 0)]);

    assert_eq!(Clerk.lone_method(), 7);
    assert_eq!(Clerk.describe(), "clerk");
    Clerk.put("k").await.unwrap();
    Clerk.put("").await.unwrap_err();
    assert_calls("Clerk::lone_method", &[(OK, 1), (ERROR, 0)]);
    assert_calls("Clerk::describe", &[(OK, 1), (ERROR, 0)]);
    assert_calls(
        "Clerk::put",
        &[
            (OK, 1),
            (ERROR, 0),
            (&[("result", "error"), ("error", "empty")], 1),
        ],
    );
    for bare in ["new", "count", "peek", "lone_method", "lone_generic", "put"] {
        assert!(series_in(MODULE, bare).is_empty(), "{bare} has no prefix");
    }
}

trait Greet {
    #[observed]
    fn greet(&self) -> usize {
        1
    }
}

struct English;
struct French;

impl Greet for English {}
impl Greet for French {}

trait Shout {
    fn shout(&self) -> String;
}

impl<T: std::fmt::Display> Shout for T {
    #[observed]
    fn shout(&self) -> String {
        self.to_string().to_uppercase()
    }
}

#[test]
fn a_method_serving_several_types_is_named_after_each() {
    English.greet();
    French.greet();
    French.greet();
    assert_calls("English::greet", &[(OK, 1), (ERROR, 0)]);
    assert_calls("French::greet", &[(OK, 2), (ERROR, 0)]);

    assert_eq!("hi".shout(), "HI");
    assert_eq!(String::from("yo").shout(), "YO");
    assert_eq!(7u8.shout(), "7");
    assert_eq!(8u8.shout(), "8");
    assert_calls("str::shout", &[(OK, 1), (ERROR, 0)]);
    assert_calls("String::shout", &[(OK, 1), (ERROR, 0)]);
    assert_calls("u8::shout", &[(OK, 2), (ERROR, 0)]);
    assert_histogram_counts_every_call("u8::shout", &[]);
}

// ---------------------------------------------------------------------------------------
// ok_if / error_if, generics
// ---------------------------------------------------------------------------------------

fn is_success(status: &u16) -> bool {
    *status < 400
}

#[observed(ok_if = is_success)]
fn respond(status: u16) -> u16 {
    status
}

fn is_negative(code: &i32) -> bool {
    *code < 0
}

#[observed(error_if = is_negative)]
fn c_style(code: i32) -> i32 {
    code
}

#[derive(Debug, Clone, Copy, ErrorLabel)]
enum Health {
    Ready,
    Degraded,
    Unavailable,
}

impl Health {
    fn is_down(&self) -> bool {
        matches!(self, Health::Unavailable)
    }
}

#[observed(error_if = Health::is_down)]
fn health(n: u8) -> Health {
    match n {
        0 => Health::Unavailable,
        1 => Health::Degraded,
        _ => Health::Ready,
    }
}

#[test]
fn ok_if_and_error_if_classify_other_return_types() {
    for status in [200, 204, 404, 500, 301] {
        respond(status);
    }
    assert_calls("respond", &[(OK, 3), (ERROR, 2)]);

    for code in [0, -1, 3, -22] {
        c_style(code);
    }
    assert_calls("c_style", &[(OK, 2), (ERROR, 2)]);

    for n in [0, 1, 2, 2, 0] {
        health(n);
    }
    assert_calls(
        "health",
        &[
            (OK, 0),
            (ERROR, 0),
            (&[("result", "ok"), ("ok", "ready")], 2),
            (&[("result", "ok"), ("ok", "degraded")], 1),
            (&[("result", "error"), ("error", "unavailable")], 2),
        ],
    );
    assert_histogram_counts_every_call("health", &[]);
}

#[observed]
fn parse_number<T: FromStr>(text: &str) -> Result<T, T::Err> {
    text.parse()
}

#[observed]
fn fail_with<E: ErrorLabel>(error: E) -> Result<(), E> {
    Err(error)
}

#[observed]
fn wrap_ok<T: ErrorLabel, E>(value: T) -> Result<T, E> {
    Ok(value)
}

#[test]
fn generic_functions_returning_result_count_errors() {
    assert_eq!(parse_number::<u8>("7"), Ok(7));
    assert!(parse_number::<u8>("x").is_err());
    assert_eq!(parse_number::<i64>("-3"), Ok(-3));
    assert!(parse_number::<f64>("").is_err());
    assert!(parse_number::<u8>("300").is_err());
    // Every instantiation shares one call site.
    assert_calls("parse_number", &[(OK, 2), (ERROR, 3)]);

    // A bound `E: ErrorLabel` is enough for the kind label.
    let _ = fail_with(FetchError::Timeout);
    let _ = fail_with(io::Error::from(io::ErrorKind::NotFound));
    let _ = fail_with(StockError::Empty);
    assert_calls(
        "fail_with",
        &[
            (OK, 0),
            (ERROR, 0),
            (&[("result", "error"), ("error", "timeout")], 1),
            (&[("result", "error"), ("error", "not_found")], 1),
            (&[("result", "error"), ("error", "empty")], 1),
        ],
    );

    let _ = wrap_ok::<_, String>(Freshness::Cached);
    assert_calls(
        "wrap_ok",
        &[
            (OK, 0),
            (ERROR, 0),
            (&[("result", "ok"), ("ok", "cached")], 1),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// Exactness under contention
// ---------------------------------------------------------------------------------------

#[derive(Debug, ErrorLabel)]
enum HotError {
    Busy,
    Refused,
}

#[observed(track_concurrency)]
fn hot_path(i: u64) -> Result<u64, HotError> {
    match i % 4 {
        2 => Err(HotError::Busy),
        3 => Err(HotError::Refused),
        _ => Ok(i),
    }
}

#[observed]
fn hot_ok(i: u64) -> u64 {
    i
}

#[test]
fn eight_threads_lose_no_call() {
    const THREADS: u64 = 8;
    const CALLS: u64 = 10_000;
    let start = Barrier::new(THREADS as usize);
    std::thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                start.wait();
                for i in 0..CALLS {
                    std::hint::black_box(hot_ok(i));
                    let _ = std::hint::black_box(hot_path(i));
                }
            });
        }
    });
    assert_calls("hot_ok", &[(OK, 80_000), (ERROR, 0)]);
    assert_eq!(duration("hot_ok", &[]).count, 80_000);

    assert_calls(
        "hot_path",
        &[
            (OK, 40_000),
            (ERROR, 0),
            (&[("result", "error"), ("error", "busy")], 20_000),
            (&[("result", "error"), ("error", "refused")], 20_000),
        ],
    );
    assert_eq!(duration("hot_path", &[]).count, 80_000);
    assert_eq!(concurrent("hot_path"), 0);
}

#[observed(track_concurrency)]
fn crowded(i: u64) -> Result<u64, HotError> {
    if i.is_multiple_of(3) {
        Err(HotError::Busy)
    } else {
        Ok(i)
    }
}

/// The `+Inf` bucket and `_count` of `crowded`'s duration in one exposition.
fn crowded_inf_and_count(text: &str) -> (Option<u64>, Option<u64>) {
    let value = |line: &str| line.rsplit(' ').next().and_then(|v| v.parse().ok());
    let sample = |prefix: &str, extra: &str| {
        text.lines()
            .find(|l| {
                l.starts_with(prefix) && l.contains("function=\"crowded\"") && l.contains(extra)
            })
            .and_then(value)
    };
    (
        sample("function_calls_duration_seconds_bucket{", "le=\"+Inf\""),
        sample("function_calls_duration_seconds_count{", ""),
    )
}

const STRIPES_CHILD: &str = "RUSTFORM_TEST_FORCED_STRIPES_CHILD";

/// Sixteen threads on one function, more than this machine's cores, while scrapes run:
/// every call counted once, and in every scrape `+Inf` equals `_count`. Run again in a
/// child process with the stripe count of a host with 32 or more cores.
#[test]
fn sixteen_threads_on_one_function_lose_no_call_while_scrapes_race() {
    const THREADS: u64 = 16;
    const CALLS: u64 = 30_000;
    let start = Barrier::new(THREADS as usize + 1);
    let done = std::sync::atomic::AtomicBool::new(false);
    let scrapes = std::thread::scope(|s| {
        let callers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for i in 0..CALLS {
                        let _ = std::hint::black_box(crowded(i));
                    }
                })
            })
            .collect();
        let scraper = s.spawn(|| {
            start.wait();
            let mut scrapes = 0u64;
            while !done.load(Ordering::Relaxed) {
                let (inf, count) = crowded_inf_and_count(&default_registry().render());
                assert_eq!(inf, count, "+Inf and _count differ within one scrape");
                scrapes += 1;
            }
            scrapes
        });
        for caller in callers {
            caller.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        scraper.join().unwrap()
    });
    assert!(scrapes > 0);
    let total = THREADS * CALLS;
    let errors = THREADS * CALLS.div_ceil(3);
    assert_calls(
        "crowded",
        &[
            (OK, total - errors),
            (ERROR, 0),
            (&[("result", "error"), ("error", "busy")], errors),
        ],
    );
    assert_eq!(duration("crowded", &[]).count, total);
    assert_eq!(concurrent("crowded"), 0);
    let (inf, count) = crowded_inf_and_count(&default_registry().render());
    assert_eq!((inf, count), (Some(total), Some(total)));

    if std::env::var_os(STRIPES_CHILD).is_some() {
        return;
    }
    // The same on a simulated large host, in a process of its own (the stripe count is
    // read once per process).
    let (passed, output) = testkit::rerun_test(
        module_path!(),
        "sixteen_threads_on_one_function_lose_no_call_while_scrapes_race",
        &[
            (STRIPES_CHILD, Some("1")),
            ("RUSTFORM_METRIC_STRIPES", Some("66")),
        ],
        &[],
    );
    assert!(passed, "with 66 stripes: {output}");
}

#[observed(track_concurrency)]
async fn hot_async(i: u64) -> Result<u64, HotError> {
    yield_once().await;
    if i.is_multiple_of(2) {
        Ok(i)
    } else {
        Err(HotError::Busy)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_calls_moving_between_threads_lose_nothing() {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async {
                for i in 0..1_000 {
                    let _ = hot_async(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_calls(
        "hot_async",
        &[
            (OK, 4_000),
            (ERROR, 0),
            (&[("result", "error"), ("error", "busy")], 4_000),
        ],
    );
    assert_eq!(duration("hot_async", &[]).count, 8_000);
    assert_eq!(concurrent("hot_async"), 0);
}

// ---------------------------------------------------------------------------------------
// Calls from thread-local destructors
// ---------------------------------------------------------------------------------------

#[observed]
fn called_at_thread_exit(kind: ManyKinds) -> Result<(), ManyKinds> {
    Err(kind)
}

/// Calls an observed function, with an error kind it has not returned before, when the
/// thread's locals are destroyed.
struct CallsOnDrop;

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        let _ = called_at_thread_exit(ManyKinds::K1);
    }
}

thread_local! {
    static CALLS_ON_DROP: CallsOnDrop = const { CallsOnDrop };
}

/// Set in the child process of the test below.
const THREAD_EXIT_CHILD: &str = "RUSTFORM_TEST_THREAD_EXIT_CHILD";

#[test]
fn a_call_from_a_thread_local_destructor_is_counted() {
    if std::env::var_os(THREAD_EXIT_CHILD).is_some() {
        // Thread-local destructors run in the reverse order of first use: the one
        // registered first runs after rustform's own thread locals are gone.
        std::thread::spawn(|| {
            CALLS_ON_DROP.with(|_| {});
            let _ = called_at_thread_exit(ManyKinds::K0);
        })
        .join()
        .expect("the thread exits cleanly");
        assert_calls(
            "called_at_thread_exit",
            &[
                (OK, 0),
                (ERROR, 0),
                (&[("result", "error"), ("error", "k0")], 1),
                (&[("result", "error"), ("error", "k1")], 1),
            ],
        );
        return;
    }
    // A failure here may abort the process, so it runs in a child process of its own.
    let (passed, output) = testkit::rerun_test(
        module_path!(),
        "a_call_from_a_thread_local_destructor_is_counted",
        &[
            (THREAD_EXIT_CHILD, Some("1")),
            ("RUST_BACKTRACE", Some("0")),
        ],
        &["--test-threads=1"],
    );
    assert!(passed, "the child process failed: {output}");
}
