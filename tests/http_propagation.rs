//! A trace across two services: service A (axum with `ObserveLayer`) calls service B
//! (axum with `ObserveLayer`, an `#[observed]` handler) through
//! `rustform::http::ClientMiddleware`, both on loopback in this process, exporting to the
//! in-process OTLP collector. One trace arrives: A's server span, A's client span, B's
//! server span, B's handler span, each the parent of the next.
//!
//! `rustform::init()` is once per process, so this is a test binary of its own and the
//! tests share one installation and the two services; they take turns (a lock) because they read the same metric family.

use std::net::TcpListener;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use rustform::config::{LogFormat, Logging};
use rustform::http::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use rustform::http::{ClientMiddleware, ObserveLayer, UrlTemplate};
use rustform::metrics::{MetricValue, default_registry};
use rustform::trace::subscriber_with_writer;
use serde_json::Value;
use testkit::log_capture::Capture;
use testkit::otlp_collector::{Collector, ReceivedSpan};

/// Hang detectors, not timings.
const WAIT: Duration = Duration::from_secs(30);

const CLIENT_DURATION: &str = "http_client_request_duration_seconds";

struct World {
    collector: Collector,
    /// Service A, `http://127.0.0.1:PORT`.
    a: String,
    /// Service B's port.
    b_port: u16,
    /// A loopback port nothing listens on.
    closed_port: u16,
    guard: rustform::Guard,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let collector = Collector::start();
    let yaml = format!(
        "name: http-propagation\n\
         observability:\n  \
           logging:\n    level: \"warn,rustform::http=info,http_propagation=info\"\n    format: json\n  \
           opentelemetry:\n    \
             service_name: http-propagation\n    \
             tracing:\n      \
               batch:\n        scheduled_delay: 100ms\n      \
               exporters:\n        \
                 - type: otlp\n          endpoint: {}\n          protocol: grpc\n",
        collector.grpc_endpoint()
    );
    let guard = rustform::Observability::builder()
        .config_yaml(yaml)
        .install()
        .expect("rustform installs");
    let b = testkit::serve_axum(service_b().layer(ObserveLayer::new()), 2);
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let calls = Calls {
        client: ClientBuilder::new(reqwest::Client::new())
            .with(ClientMiddleware::new())
            .build(),
        b: format!("http://{b}"),
        closed: format!("http://127.0.0.1:{closed_port}"),
    };
    let a = testkit::serve_axum(service_a(Arc::new(calls)).layer(ObserveLayer::new()), 2);
    World {
        collector,
        a: format!("http://{a}"),
        b_port: b.port(),
        closed_port,
        guard,
    }
});

/// One test at a time: they read the same metric family.
fn world() -> (&'static World, MutexGuard<'static, ()>) {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    (&WORLD, turn)
}

// --- Service B: stock, with an observed handler --------------------------------------

#[rustform::observed]
async fn reserve_stock(Path(sku): Path<String>) -> String {
    format!("reserved {sku}")
}

fn service_b() -> Router {
    Router::new()
        .route("/stock/{sku}", get(reserve_stock))
        .route("/broken", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
}

// --- Service A: orders, calling B through the middleware ------------------------------

/// A's way to the services it calls.
struct Calls {
    client: ClientWithMiddleware,
    b: String,
    closed: String,
}

/// Calls `url`; answers with the status and body it got, or 502 when no response came.
async fn forward(calls: &Calls, url: String, template: &'static str) -> (StatusCode, String) {
    let sent = calls
        .client
        .get(url)
        .with_extension(UrlTemplate(template))
        .send()
        .await;
    match sent {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            (status, response.text().await.unwrap_or_default())
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()),
    }
}

async fn order(State(calls): State<Arc<Calls>>, Path(sku): Path<String>) -> (StatusCode, String) {
    let url = format!("{}/stock/{sku}", calls.b);
    forward(&calls, url, "/stock/{sku}").await
}

async fn order_broken(State(calls): State<Arc<Calls>>) -> (StatusCode, String) {
    let url = format!("{}/broken", calls.b);
    forward(&calls, url, "/broken").await
}

async fn order_unreachable(State(calls): State<Arc<Calls>>) -> (StatusCode, String) {
    let url = format!("{}/anything", calls.closed);
    forward(&calls, url, "/anything").await
}

fn service_a(calls: Arc<Calls>) -> Router {
    Router::new()
        .route("/orders/{sku}", get(order))
        .route("/orders-broken", get(order_broken))
        .route("/orders-unreachable", get(order_unreachable))
        .with_state(calls)
}

// --- Helpers ---------------------------------------------------------------------------

fn client_count(port: u16, status: &str, error_type: &str) -> u64 {
    let port = port.to_string();
    let labels = [
        ("http_request_method", "GET"),
        ("server_address", "127.0.0.1"),
        ("server_port", port.as_str()),
        ("http_response_status_code", status),
        ("error_type", error_type),
    ];
    match default_registry().snapshot().get(CLIENT_DURATION, &labels) {
        Some(MetricValue::Histogram(h)) => h.count,
        None => 0,
        Some(other) => panic!("{CLIENT_DURATION} is {other:?}"),
    }
}

fn call_a(world: &World, path: &str, request_id: &str) -> (u16, String) {
    let response = reqwest::blocking::Client::builder()
        .timeout(WAIT)
        .build()
        .unwrap()
        .get(format!("{}{path}", world.a))
        .header("x-request-id", request_id)
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

fn attribute(span: &ReceivedSpan, key: &str) -> Option<String> {
    span.attribute(key).map(|v| v.to_string())
}

/// The first exported span `pick` chooses, waiting for it at most `WAIT`.
fn wait_for_span(
    collector: &Collector,
    what: &str,
    pick: impl Fn(&ReceivedSpan) -> bool,
) -> ReceivedSpan {
    let find = |c: &Collector| c.spans().into_iter().find(|s| pick(s));
    assert!(
        collector.wait_for(|c| find(c).is_some(), WAIT),
        "no {what}; received {:?}",
        collector
            .spans()
            .iter()
            .map(|s| (s.name().to_owned(), s.kind()))
            .collect::<Vec<_>>()
    );
    find(collector).unwrap()
}

/// A's server span of the request whose id is `id`.
fn a_server_span(collector: &Collector, id: &str) -> ReceivedSpan {
    wait_for_span(
        collector,
        &format!("server span with request id {id}"),
        |s| s.kind() == SpanKind::Server && attribute(s, "http.request_id").as_deref() == Some(id),
    )
}

/// The client span under `parent`.
fn client_span_under(collector: &Collector, parent: &ReceivedSpan) -> ReceivedSpan {
    let parent_id = parent.span_id();
    wait_for_span(collector, "client span under A's server span", |s| {
        s.kind() == SpanKind::Client && s.parent_span_id().as_deref() == Some(parent_id.as_str())
    })
}

// --- Tests -----------------------------------------------------------------------------

#[test]
fn one_trace_links_a_server_a_client_b_server_and_b_handler() {
    let (world, _turn) = world();
    let before = client_count(world.b_port, "200", "");
    let (status, body) = call_a(world, "/orders/sku-42", "propagation-one-trace");
    assert_eq!((status, body.as_str()), (200, "reserved sku-42"));
    assert_eq!(client_count(world.b_port, "200", ""), before + 1);
    assert_eq!(client_count(world.b_port, "200", "200"), 0);

    let collector = &world.collector;
    let a_server = a_server_span(collector, "propagation-one-trace");
    assert_eq!(a_server.name(), "GET /orders/{sku}");
    assert_eq!(a_server.parent_span_id(), None, "the caller sent no trace");

    let a_client = client_span_under(collector, &a_server);
    let client_id = a_client.span_id();
    let b_server = wait_for_span(collector, "B's server span under A's client span", |s| {
        s.parent_span_id().as_deref() == Some(client_id.as_str())
    });
    let b_server_id = b_server.span_id();
    let b_handler = wait_for_span(collector, "B's handler span under B's server span", |s| {
        s.parent_span_id().as_deref() == Some(b_server_id.as_str())
    });

    let chain = [&a_server, &a_client, &b_server, &b_handler];
    let kinds: Vec<SpanKind> = chain.iter().map(|s| s.kind()).collect();
    assert_eq!(
        kinds,
        [
            SpanKind::Server,
            SpanKind::Client,
            SpanKind::Server,
            SpanKind::Internal
        ]
    );
    let names: Vec<&str> = chain.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "GET /orders/{sku}",
            "GET /stock/{sku}",
            "GET /stock/{sku}",
            "reserve_stock"
        ]
    );
    for pair in chain.windows(2) {
        assert_eq!(
            pair[1].parent_span_id(),
            Some(pair[0].span_id()),
            "{} is not the parent of {}",
            pair[0].name(),
            pair[1].name()
        );
    }
    // One trace, and nothing else in it.
    let trace = a_server.trace_id();
    assert!(chain.iter().all(|s| s.trace_id() == trace));
    assert!(world.guard.flush(WAIT));
    let in_trace = collector
        .spans()
        .into_iter()
        .filter(|s| s.trace_id() == trace)
        .count();
    assert_eq!(in_trace, 4);

    let port = world.b_port.to_string();
    for (key, value) in [
        ("http.request.method", "GET"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("url.template", "/stock/{sku}"),
        ("http.response.status_code", "200"),
        ("network.protocol.version", "1.1"),
    ] {
        assert_eq!(attribute(&a_client, key).as_deref(), Some(value), "{key}");
    }
    assert_eq!(
        attribute(&a_client, "url.full"),
        Some(format!("http://127.0.0.1:{port}/stock/sku-42"))
    );
    assert_eq!(attribute(&a_client, "error.type"), None);
    assert_ne!(a_client.status_code(), SpanStatus::Error);
    assert_eq!(
        attribute(&b_server, "http.route").as_deref(),
        Some("/stock/{sku}")
    );
}

#[test]
fn a_5xx_and_a_refused_connection_are_client_errors_with_exact_labels() {
    let (world, _turn) = world();
    let broken = client_count(world.b_port, "503", "503");
    let refused = client_count(world.closed_port, "", "connect");

    let (status, _) = call_a(world, "/orders-broken", "propagation-broken");
    assert_eq!(status, 503);
    let (status, _) = call_a(world, "/orders-unreachable", "propagation-refused");
    assert_eq!(status, 502);
    assert_eq!(client_count(world.b_port, "503", "503"), broken + 1);
    assert_eq!(client_count(world.closed_port, "", "connect"), refused + 1);

    let collector = &world.collector;
    let server = a_server_span(collector, "propagation-broken");
    let client = client_span_under(collector, &server);
    assert_eq!(client.name(), "GET /broken");
    assert_eq!(client.status_code(), SpanStatus::Error);
    assert_eq!(attribute(&client, "error.type").as_deref(), Some("503"));
    assert_eq!(
        attribute(&client, "http.response.status_code").as_deref(),
        Some("503")
    );
    // A passed the 503 on: its own server span is an error too.
    assert_eq!(server.status_code(), SpanStatus::Error);

    let server = a_server_span(collector, "propagation-refused");
    let client = client_span_under(collector, &server);
    assert_eq!(client.status_code(), SpanStatus::Error);
    assert_eq!(attribute(&client, "error.type").as_deref(), Some("connect"));
    assert_eq!(attribute(&client, "http.response.status_code"), None);
    let port = world.closed_port.to_string();
    assert_eq!(
        attribute(&client, "server.port").as_deref(),
        Some(port.as_str())
    );
}

// --- The request id in the logs --------------------------------------------------------

/// The messages the handler writes; each must carry the request's id.
const INSIDE: [&str; 4] = [
    "handler starts",
    "inside the observed lookup",
    "inside a span of the handler",
    "handler ends",
];

#[rustform::observed]
async fn lookup(id: u32) -> u32 {
    tracing::warn!(id, "inside the observed lookup");
    tokio::task::yield_now().await;
    id * 2
}

async fn logging_handler(Path(id): Path<u32>) -> String {
    tracing::info!("handler starts");
    let doubled = lookup(id).await;
    {
        let _step = tracing::info_span!("pricing", step = "tax").entered();
        tracing::info!("inside a span of the handler");
    }
    tracing::info!(doubled, "handler ends");
    doubled.to_string()
}

/// The request ids of the spans a log line was written in.
fn request_ids(line: &Value) -> Vec<String> {
    line["spans"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|span| span["http.request_id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn every_log_line_written_inside_a_request_carries_its_request_id() {
    // The logs `rustform.yml` asks for (JSON, spans included), written to memory on this
    // thread: the server, its handlers and the client run on this thread's runtime.
    let mut logging = Logging::default();
    logging.format = LogFormat::Json;
    logging.include_spans = true;
    logging.level = "info".to_owned();
    let out = Capture::default();
    let subscriber = subscriber_with_writer(&logging, out.clone()).expect("a valid configuration");
    let generated = tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let app = Router::new()
                .route("/price/{id}", get(logging_handler))
                .layer(ObserveLayer::new());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            tokio::spawn(async move { axum::serve(listener, app).await });
            tracing::info!("before any request");
            let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
            let response = http
                .get(format!("{base}/price/21"))
                .header("x-request-id", "log-check-given")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.text().await.unwrap(), "42");
            let response = http.get(format!("{base}/price/5")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let generated = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(response.text().await.unwrap(), "10");
            tracing::info!("after the requests");
            generated
        })
    });
    assert_eq!(generated.len(), 32);

    let lines = out.lines();
    let message = |line: &Value| line["fields"]["message"].as_str().unwrap_or("").to_owned();
    for id in ["log-check-given", generated.as_str()] {
        let carrying: Vec<String> = lines
            .iter()
            .filter(|line| request_ids(line).iter().any(|r| r == id))
            .map(message)
            .collect();
        assert_eq!(carrying, INSIDE, "the lines of request {id}");
    }
    let inside: Vec<&Value> = lines
        .iter()
        .filter(|line| INSIDE.contains(&message(line).as_str()))
        .collect();
    assert_eq!(inside.len(), 2 * INSIDE.len(), "{lines:?}");
    for line in inside {
        assert_eq!(request_ids(line).len(), 1, "one request id: {line}");
    }
    for outside in ["before any request", "after the requests"] {
        let line = lines
            .iter()
            .find(|line| message(line) == outside)
            .unwrap_or_else(|| panic!("no line {outside:?} in {lines:?}"));
        assert!(request_ids(line).is_empty(), "{line}");
    }
}
