//! Per-request cost of `rustform::http::ObserveLayer` on a trivial axum handler, against
//! no layer, tower-http's `TraceLayer`, axum-prometheus' `PrometheusMetricLayer`, and
//! those two together (the pair a service adds for what `ObserveLayer` does alone), in
//! one run.
//!
//! Every case serves the same router (five routes; the one requested, `/users/{id}`, has
//! a path parameter) with the same `GET /users/42` request (`Host`, `User-Agent` and
//! `Accept` headers, no body, no `traceparent`): `oneshot` on a clone of the `Router`,
//! then the response body read to its end, as a server sending it would. One sample is
//! `iters` such requests in one `block_on` of a current-thread tokio runtime. The request
//! is built inside the loop in every case, so the cases differ by the layer alone.
//!
//! The layers, each added with `Router::layer` (so each sees the matched route):
//!
//! - `ObserveLayer::new()`: a server span with the OpenTelemetry HTTP attributes, trace
//!   context extraction with the propagators `rustform::init()` installs (W3C trace
//!   context and baggage), a request id, and the RED metrics with exemplars, in the
//!   default registry.
//! - `TraceLayer::new_for_http()` with `DefaultMakeSpan::new().level(Level::INFO)`: its
//!   default span is at DEBUG, which a service logging at INFO never builds; at INFO it
//!   builds one for every request, as `ObserveLayer` does. Its other callbacks keep their
//!   defaults: the request, response and end-of-stream events are at DEBUG and are
//!   filtered out, failures (none here) at ERROR.
//! - `PrometheusMetricLayer`: from `PrometheusMetricLayer::pair()`, which installs the
//!   `metrics` crate's Prometheus recorder once for the process (and spawns its upkeep
//!   task onto the benchmark's runtime).
//! - `TraceLayer` + `PrometheusMetricLayer`: the metric layer inside, the trace layer
//!   outermost.
//!
//! The same subscriber is in force for all five cases of a group. Three groups:
//!
//! 1. `http_no_subscriber`, run first, before any subscriber exists in the process:
//!    every span is disabled, so what remains is the metrics, the request id and the
//!    layers' own bookkeeping.
//! 2. `http_rustform_logs`: what `rustform::init()` installs (environment ignored), with
//!    logs at `info` in the `json` format to standard error and no exporters: INFO spans
//!    go through the level filter, `TraceContextLayer` (trace and span ids for each span)
//!    and the JSON formatter (each span's fields, formatted when the span is created).
//!    None of the layers logs an event at INFO, so nothing is written. This is the
//!    setting of a service that called `rustform::init()`, and the one the target in
//!    BENCHMARKS.md is judged in.
//! 3. `http_registry`: a scoped `registry().with(LevelFilter::INFO)`, a registry that
//!    stores INFO spans and records nothing: the spans' cost without the log pipeline.
//!
//! Run with `cargo bench --bench http`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::Path;
use axum::http::header::{ACCEPT, HOST, USER_AGENT};
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use axum_prometheus::metrics_exporter_prometheus::PrometheusHandle;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use rustform::http::{ObserveLayer, X_REQUEST_ID};
use tokio::runtime::Runtime;
use tower::ServiceExt;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{DefaultMakeSpan, TraceLayer};
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;

/// What `rustform::init()` would read from `rustform.yml`: logs at INFO as JSON lines,
/// no exporters (the defaults), the W3C propagators (the default).
const RUSTFORM_YML: &str = "\
observability:
  logging:
    level: info
    format: json
    output: stderr
  opentelemetry:
    service_name: bench
";

/// The handler: the user's id back, as text.
async fn get_user(Path(id): Path<u32>) -> String {
    format!("user {id}")
}

/// The application's routes, without any layer.
fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { "home" }))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/users",
            get(|| async { "users" }).post(|| async { StatusCode::CREATED }),
        )
        .route("/users/{id}", get(get_user))
        .route("/users/{id}/orders", get(|| async { "orders" }))
}

/// The request every case serves.
fn request() -> Request<Body> {
    Request::get("/users/42")
        .header(HOST, "api.example.com")
        .header(USER_AGENT, "curl/8.5.0")
        .header(ACCEPT, "*/*")
        .body(Body::empty())
        .expect("a valid request")
}

/// Serves one request and reads the response body to its end.
async fn serve(app: &Router) -> (StatusCode, bool, Bytes) {
    let response = match app.clone().oneshot(request()).await {
        Ok(response) => response,
        Err(infallible) => match infallible {},
    };
    let status = response.status();
    let has_request_id = response.headers().contains_key(X_REQUEST_ID);
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body in memory");
    (status, has_request_id, body)
}

/// The layers measured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    NoLayer,
    Observe,
    Trace,
    Prometheus,
    TraceAndPrometheus,
}

impl Case {
    const ALL: [Case; 5] = [
        Case::NoLayer,
        Case::Observe,
        Case::Trace,
        Case::Prometheus,
        Case::TraceAndPrometheus,
    ];

    fn name(self) -> &'static str {
        match self {
            Case::NoLayer => "no layer",
            Case::Observe => "ObserveLayer",
            Case::Trace => "TraceLayer",
            Case::Prometheus => "axum-prometheus",
            Case::TraceAndPrometheus => "TraceLayer + axum-prometheus",
        }
    }
}

/// tower-http's `TraceLayer` for HTTP, its span at INFO.
fn trace_layer() -> TraceLayer<SharedClassifier<ServerErrorsAsFailures>> {
    TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().level(Level::INFO))
}

/// The peers' state shared by all groups: the runtime and axum-prometheus' layer, whose
/// recorder is installed once per process.
struct Bench {
    runtime: Runtime,
    prometheus: PrometheusMetricLayer<'static>,
    prometheus_handle: PrometheusHandle,
}

impl Bench {
    fn new() -> Bench {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a tokio runtime");
        // `pair()` spawns the recorder's upkeep task, so it needs a runtime; the task runs
        // while the benchmark drives the runtime.
        let (prometheus, prometheus_handle) = {
            let _entered = runtime.enter();
            PrometheusMetricLayer::pair()
        };
        Bench {
            runtime,
            prometheus,
            prometheus_handle,
        }
    }

    fn app(&self, case: Case) -> Router {
        let routes = routes();
        match case {
            Case::NoLayer => routes,
            Case::Observe => routes.layer(ObserveLayer::new()),
            Case::Trace => routes.layer(trace_layer()),
            Case::Prometheus => routes.layer(self.prometheus.clone()),
            Case::TraceAndPrometheus => routes.layer(self.prometheus.clone()).layer(trace_layer()),
        }
    }

    /// Serves one request through `app` and checks that the response is right and that
    /// the layer recorded what it claims to, before the case is timed.
    fn check(&self, case: Case, app: &Router) {
        let (status, has_request_id, body) = self.runtime.block_on(serve(app));
        assert_eq!(status, StatusCode::OK, "{}", case.name());
        assert_eq!(&body[..], b"user 42", "{}", case.name());
        assert_eq!(has_request_id, case == Case::Observe, "{}", case.name());
        match case {
            Case::Observe => assert_recorded(
                &rustform::metrics::default_registry().render(),
                r#"http_server_request_duration_seconds_count{http_request_method="GET",http_route="/users/{id}",http_response_status_code="200"}"#,
            ),
            Case::Prometheus | Case::TraceAndPrometheus => assert_recorded(
                &self.prometheus_handle.render(),
                r#"endpoint="/users/{id}""#,
            ),
            Case::NoLayer | Case::Trace => {}
        }
    }

    /// All five cases, one after the other, under the subscriber in force.
    fn cases(&self, group: &mut BenchmarkGroup<'_, WallTime>) {
        for case in Case::ALL {
            let app = self.app(case);
            self.check(case, &app);
            group.bench_function(case.name(), |b| {
                b.iter_custom(|iters| {
                    self.runtime.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            black_box(serve(&app).await);
                        }
                        start.elapsed()
                    })
                });
            });
        }
    }
}

fn assert_recorded(text: &str, needle: &str) {
    assert!(
        text.contains(needle),
        "expected `{needle}` in the exposition:\n{text}"
    );
}

/// Whether INFO spans are built and DEBUG ones are not, for the `TraceLayer` span's
/// target as for `ObserveLayer`'s.
fn info_spans_enabled() -> bool {
    let trace = tracing::enabled!(target: "tower_http::trace::make_span", Level::INFO);
    let observe = tracing::enabled!(target: "rustform::http", Level::INFO);
    assert_eq!(trace, observe, "both layers' spans are enabled, or neither");
    assert!(!tracing::enabled!(target: "tower_http::trace::make_span", Level::DEBUG));
    trace
}

fn http(c: &mut Criterion) {
    let bench = Bench::new();

    let mut group = c.benchmark_group("http_no_subscriber");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    assert!(!tracing::dispatcher::has_been_set(), "no subscriber yet");
    assert!(!info_spans_enabled());
    bench.cases(&mut group);
    group.finish();

    let _guard = rustform::Observability::builder()
        .config_yaml(RUSTFORM_YML)
        .env(|_| None)
        .build()
        .expect("a valid configuration")
        .install()
        .expect("rustform installed once");
    let mut group = c.benchmark_group("http_rustform_logs");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    assert!(info_spans_enabled());
    bench.cases(&mut group);
    group.finish();

    let registry = tracing_subscriber::registry().with(LevelFilter::INFO);
    tracing::subscriber::with_default(registry, || {
        let mut group = c.benchmark_group("http_registry");
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        assert!(info_spans_enabled());
        bench.cases(&mut group);
        group.finish();
    });
}

criterion_group!(benches, http);
criterion_main!(benches);
