//! `rustform::http::ObserveLayer` end to end: an axum service with the layer, served on
//! loopback and called by a real HTTP client, with rustform installed (its subscriber,
//! OpenTelemetry export to the in-process OTLP collector, the W3C propagators).
//!
//! `rustform::init()` is once per process, so this is a test binary of its own and every
//! test of this file shares one installation and one server; they take turns (a lock) because they read the same
//! metric families of the default registry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{any, get};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use reqwest::blocking::Client;
use rustform::config::Config;
use rustform::http::{ObserveLayer, UNMATCHED_ROUTE};
use rustform::metrics::{MetricValue, default_registry};
use testkit::otlp_collector::{Collector, ReceivedSpan};

/// Hang detectors, not timings.
const WAIT: Duration = Duration::from_secs(30);

const DURATION: &str = "http_server_request_duration_seconds";
const ACTIVE: &str = "http_server_active_requests";

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID: &str = "00f067aa0ba902b7";

struct World {
    collector: Collector,
    base: String,
    _guard: rustform::Guard,
}

fn config_yaml(collector: &Collector) -> String {
    format!(
        "name: http-layer\n\
         observability:\n  \
           logging:\n    level: \"warn,rustform::http=info,http_layer=info\"\n    format: json\n    include_spans: true\n  \
           opentelemetry:\n    \
             service_name: http-layer\n    \
             tracing:\n      \
               batch:\n        scheduled_delay: 100ms\n      \
               exporters:\n        \
                 - type: otlp\n          endpoint: {}\n          protocol: grpc\n  \
           prometheus:\n    \
             metrics:\n      \
               http:\n        \
                 track_ip_addresses: true\n        \
                 histogram_buckets: [0.001, 0.01, 0.1, 1, 10]\n",
        collector.grpc_endpoint()
    )
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let collector = Collector::start();
    let yaml = config_yaml(&collector);
    let guard = rustform::Observability::builder()
        .config_yaml(yaml.clone())
        .install()
        .expect("rustform installs");
    let config = Config::parse(&yaml, "rustform.yml", &|_| None).expect("a valid configuration");
    let layer = ObserveLayer::from_config(&config).propagate_response_traceparent(true);
    let base = serve(app().layer(layer));
    World {
        collector,
        base,
        _guard: guard,
    }
});

/// One test at a time: they read the same metric families.
fn world() -> (&'static World, MutexGuard<'static, ()>) {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    (&WORLD, turn)
}

#[rustform::observed]
async fn get_user(id: Path<u32>) -> String {
    tracing::warn!(user = id.0, "looking up a user");
    format!("user {}", id.0)
}

async fn fail() -> StatusCode {
    StatusCode::INTERNAL_SERVER_ERROR
}

async fn explode() -> &'static str {
    panic!("the handler panics on purpose")
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(120)).await;
    "too late"
}

/// The trace id the handler runs in, in hexadecimal.
async fn trace_id() -> String {
    let ids = rustform::trace::current().expect("inside the server span");
    ids.trace_id.iter().map(|b| format!("{b:02x}")).collect()
}

fn app() -> Router {
    Router::new()
        .route("/users/{id}", get(get_user))
        .route("/fail", get(fail))
        .route("/panic", get(explode))
        .route("/slow", get(slow))
        .route("/trace", get(trace_id))
        .route("/purge/{key}", any(|| async { "purged" }))
        .route("/load/{n}", get(|| async { "ok" }))
}

fn serve(app: Router) -> String {
    let address = testkit::serve_axum(app, 4);
    format!("http://{address}")
}

fn client() -> Client {
    Client::builder().timeout(WAIT).build().unwrap()
}

/// The number of requests the duration histogram counted for these labels.
fn count(method: &str, route: &str, status: &str) -> u64 {
    let labels = [
        ("http_request_method", method),
        ("http_route", route),
        ("http_response_status_code", status),
    ];
    match default_registry().snapshot().get(DURATION, &labels) {
        Some(MetricValue::Histogram(h)) => h.count,
        None => 0,
        Some(other) => panic!("{DURATION} is {other:?}"),
    }
}

fn active(method: &str, route: &str) -> i64 {
    let labels = [("http_request_method", method), ("http_route", route)];
    match default_registry().snapshot().get(ACTIVE, &labels) {
        Some(MetricValue::Gauge(v)) => *v,
        None => 0,
        Some(other) => panic!("{ACTIVE} is {other:?}"),
    }
}

fn duration_series() -> usize {
    default_registry()
        .snapshot()
        .family(DURATION)
        .map_or(0, |f| f.series.len())
}

/// Waits until `done`, at most `WAIT`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The exported server span whose request id is `id`.
fn server_span(collector: &Collector, id: &str) -> ReceivedSpan {
    let find = |c: &Collector| {
        c.spans().into_iter().find(|s| {
            s.kind() == SpanKind::Server
                && s.attribute("http.request_id").map(|v| v.to_string()) == Some(id.to_owned())
        })
    };
    assert!(
        collector.wait_for(|c| find(c).is_some(), WAIT),
        "no server span with request id {id}; received {:?}",
        collector
            .spans()
            .iter()
            .map(|s| s.name().to_owned())
            .collect::<Vec<_>>()
    );
    find(collector).unwrap()
}

fn attribute(span: &ReceivedSpan, key: &str) -> Option<String> {
    span.attribute(key).map(|v| v.to_string())
}

#[test]
fn a_200_is_counted_under_its_route_template() {
    let (world, _turn) = world();
    let before = count("GET", "/users/{id}", "200");
    let http = client();
    for id in [1, 2, 3] {
        let response = http
            .get(format!("{}/users/{id}", world.base))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().unwrap(), format!("user {id}"));
    }
    assert_eq!(count("GET", "/users/{id}", "200"), before + 3);
    assert_eq!(active("GET", "/users/{id}"), 0);
    // No series names a raw path.
    let snapshot = default_registry().snapshot();
    let family = snapshot.family(DURATION).unwrap();
    assert!(
        family
            .series
            .iter()
            .all(|s| s.labels.iter().all(|(_, v)| !v.starts_with("/users/1"))),
        "{family:?}"
    );
    // The configured buckets.
    let Some(MetricValue::Histogram(h)) = snapshot.get(
        DURATION,
        &[
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
        ],
    ) else {
        panic!("no histogram")
    };
    let bounds: Vec<f64> = h.buckets.iter().map(|(le, _)| *le).collect();
    assert_eq!(bounds, [0.001, 0.01, 0.1, 1.0, 10.0, f64::INFINITY]);
    // The response body size is known ("user 1" is 6 bytes).
    let size = snapshot.get(
        "http_server_response_body_size_bytes",
        &[
            ("http_request_method", "GET"),
            ("http_route", "/users/{id}"),
            ("http_response_status_code", "200"),
        ],
    );
    assert!(
        matches!(size, Some(MetricValue::Histogram(h)) if h.count >= 3 && h.sum >= 18.0),
        "{size:?}"
    );
}

#[test]
fn a_404_and_a_500_and_an_odd_method_have_exact_labels() {
    let (world, _turn) = world();
    let http = client();
    let unmatched = count("GET", UNMATCHED_ROUTE, "404");
    let failed = count("GET", "/fail", "500");
    let purged = count("_OTHER", "/purge/{key}", "200");
    let head = count("HEAD", "/users/{id}", "200");

    let response = http
        .get(format!("{}/no/such/page", world.base))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = http.get(format!("{}/fail", world.base)).send().unwrap();
    assert_eq!(response.status(), 500);
    let purge = reqwest::Method::from_bytes(b"PURGE").unwrap();
    let response = http
        .request(purge, format!("{}/purge/x", world.base))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http.head(format!("{}/users/9", world.base)).send().unwrap();
    assert_eq!(response.status(), 200);

    assert_eq!(count("GET", UNMATCHED_ROUTE, "404"), unmatched + 1);
    assert_eq!(count("GET", "/fail", "500"), failed + 1);
    assert_eq!(count("_OTHER", "/purge/{key}", "200"), purged + 1);
    assert_eq!(count("HEAD", "/users/{id}", "200"), head + 1);
    let snapshot = default_registry().snapshot();
    let family = snapshot.family(DURATION).unwrap();
    assert!(
        family.series.iter().all(|s| s
            .labels
            .iter()
            .all(|(_, v)| v != "PURGE" && v != "/no/such/page")),
        "{family:?}"
    );
}

#[test]
fn a_panicking_handler_counts_as_500_and_the_server_keeps_serving() {
    let (world, _turn) = world();
    let http = client();
    let before = count("GET", "/panic", "500");
    let result = http.get(format!("{}/panic", world.base)).send();
    assert!(
        result.is_err() || result.as_ref().unwrap().status() == 500,
        "{result:?}"
    );
    eventually("the panic to be counted", || {
        count("GET", "/panic", "500") == before + 1
    });
    assert_eq!(active("GET", "/panic"), 0);
    let response = http.get(format!("{}/users/5", world.base)).send().unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_client_gone_mid_request_ends_the_span_and_the_gauge() {
    let (world, _turn) = world();
    let impatient = Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let before = count("GET", "/slow", "200");
    let result = impatient
        .get(format!("{}/slow", world.base))
        .header("x-request-id", "impatient-client")
        .send();
    assert!(result.is_err(), "{result:?}");
    // The handler sleeps two minutes: only the dropped response future brings the gauge
    // back within the wait.
    eventually("the gauge to return to 0", || active("GET", "/slow") == 0);
    assert_eq!(count("GET", "/slow", "200"), before, "no status was sent");
    let span = server_span(&world.collector, "impatient-client");
    assert_eq!(attribute(&span, "error.type").as_deref(), Some("cancelled"));
    assert_eq!(attribute(&span, "http.response.status_code"), None);
}

#[test]
fn a_scan_of_random_urls_and_methods_adds_no_series() {
    let (world, _turn) = world();
    let http = client();
    // Warm up the two series a scan may use.
    http.get(format!("{}/warm/up", world.base)).send().unwrap();
    let odd = reqwest::Method::from_bytes(b"SCAN").unwrap();
    http.request(odd, format!("{}/warm/up", world.base))
        .send()
        .unwrap();
    let before = duration_series();
    let unmatched = count("GET", UNMATCHED_ROUTE, "404");
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut gets = 0;
    for i in 0..2500 {
        let path = format!("/{:x}/{:x}?q={:x}", next(), next(), next());
        let request = if i % 10 == 0 {
            let method = format!("M{:X}", next() % 1_000_000);
            http.request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}{path}", world.base),
            )
        } else {
            gets += 1;
            http.get(format!("{}{path}", world.base))
        };
        assert_eq!(request.send().unwrap().status(), 404);
    }
    assert_eq!(duration_series(), before, "the scan created series");
    assert_eq!(count("GET", UNMATCHED_ROUTE, "404"), unmatched + gets);
}

#[test]
fn sixty_four_clients_get_exact_counts_and_the_gauge_returns_to_zero() {
    let (world, _turn) = world();
    let before = count("GET", "/load/{n}", "200");
    let sent = AtomicU64::new(0);
    let until = Instant::now() + Duration::from_secs(3);
    std::thread::scope(|scope| {
        for thread in 0..64 {
            let sent = &sent;
            let base = &world.base;
            scope.spawn(move || {
                let http = client();
                let mut n = 0;
                // At least one request each, however loaded the machine; then more for
                // the rest of the three seconds.
                while n == 0 || (Instant::now() < until && n < 100_000) {
                    let response = http
                        .get(format!("{base}/load/{thread}-{n}"))
                        .send()
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    sent.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            });
        }
    });
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent >= 64, "{sent}");
    assert_eq!(count("GET", "/load/{n}", "200"), before + sent);
    assert_eq!(active("GET", "/load/{n}"), 0);
}

#[test]
fn request_ids_are_echoed_or_generated() {
    let (world, _turn) = world();
    let http = client();
    let response = http
        .get(format!("{}/users/1", world.base))
        .header("x-request-id", "abc-123")
        .send()
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = http.get(format!("{}/users/1", world.base)).send().unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let again = http.get(format!("{}/users/1", world.base)).send().unwrap();
    assert_ne!(again.headers()["x-request-id"], generated.as_str());
}

#[test]
fn a_valid_traceparent_is_continued_and_a_malformed_one_starts_a_new_trace() {
    let (world, _turn) = world();
    let http = client();
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN_ID}-01");
    let response = http
        .get(format!("{}/trace", world.base))
        .header("traceparent", &traceparent)
        .header("x-request-id", "continued-trace")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.headers()["traceparent"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.text().unwrap(), TRACE_ID);
    let parts: Vec<&str> = echoed.split('-').collect();
    assert_eq!(parts.len(), 4, "{echoed}");
    assert_eq!((parts[0], parts[1], parts[3]), ("00", TRACE_ID, "01"));
    let span = server_span(&world.collector, "continued-trace");
    assert_eq!(span.trace_id(), TRACE_ID);
    assert_eq!(span.parent_span_id().as_deref(), Some(PARENT_SPAN_ID));
    assert_eq!(
        span.span_id(),
        parts[2],
        "the response names the server span"
    );

    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-zzzzzzzzzzzzzzzz-01",
    ] {
        let response = http
            .get(format!("{}/trace", world.base))
            .header("traceparent", bad)
            .header("tracestate", "bad state ,,=")
            .header("baggage", "=;=,,")
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{bad}");
        let trace = response.text().unwrap();
        assert_eq!(trace.len(), 32);
        assert_ne!(trace, TRACE_ID, "{bad}");
        assert_ne!(trace, "0".repeat(32), "{bad}");
    }
}

#[test]
fn the_server_span_arrives_with_its_attributes_and_the_observed_handler_under_it() {
    let (world, _turn) = world();
    let http = client();
    let response = http
        .get(format!("{}/users/7", world.base))
        .header("x-request-id", "span-check-200")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .get(format!("{}/fail", world.base))
        .header("x-request-id", "span-check-500")
        .send()
        .unwrap();
    assert_eq!(response.status(), 500);

    let server = server_span(&world.collector, "span-check-200");
    assert_eq!(server.name(), "GET /users/{id}");
    assert_eq!(server.kind(), SpanKind::Server);
    assert_ne!(server.status_code(), SpanStatus::Error);
    for (key, value) in [
        ("http.request.method", "GET"),
        ("http.route", "/users/{id}"),
        ("url.path", "/users/7"),
        ("url.scheme", "http"),
        ("http.response.status_code", "200"),
        ("network.protocol.version", "1.1"),
        ("server.address", "127.0.0.1"),
        ("client.address", "127.0.0.1"),
    ] {
        assert_eq!(attribute(&server, key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(
        attribute(&server, "user_agent.original"),
        None,
        "not tracked"
    );
    let server_id = server.span_id();
    let handler = |c: &Collector| {
        c.spans_named("get_user")
            .into_iter()
            .find(|s| s.parent_span_id().as_deref() == Some(server_id.as_str()))
    };
    assert!(
        world.collector.wait_for(|c| handler(c).is_some(), WAIT),
        "the #[observed] handler's span is not a child of the server span"
    );
    assert_eq!(
        handler(&world.collector).unwrap().trace_id(),
        server.trace_id()
    );

    let failed = server_span(&world.collector, "span-check-500");
    assert_eq!(failed.name(), "GET /fail");
    assert_eq!(failed.status_code(), SpanStatus::Error);
    assert_eq!(
        attribute(&failed, "http.response.status_code").as_deref(),
        Some("500")
    );
    assert_eq!(attribute(&failed, "error.type").as_deref(), Some("500"));
}
