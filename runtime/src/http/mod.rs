//! HTTP instrumentation: [`ObserveLayer`], a tower layer for servers, and
//! [`ClientMiddleware`] (for `reqwest`) or [`inject`] (for any client) for the requests a
//! service makes to others.
//!
//! # Servers
//!
//! Add the layer to an axum router (or any tower service over [`http::Request`] and
//! [`http::Response`]: hyper, tonic) and every request gets:
//!
//! - **a server span** `"{method} {route}"` (`"GET /users/{id}"`; the method alone when
//!   no route matched; `HTTP` for a method outside the standard nine) with the
//!   OpenTelemetry HTTP semantic-convention attributes `otel.kind = "server"`,
//!   `http.request.method` (and `http.request.method_original` for an unknown one),
//!   `http.route`, `url.path`, `url.scheme`, `server.address`, `server.port`,
//!   `network.protocol.version`, `http.response.status_code`, `http.request_id`, and
//!   `user_agent.original` / `client.address` only when `track_user_agents` /
//!   `track_ip_addresses` say so. A 5xx, a panic or a service error sets
//!   `otel.status_code = "ERROR"` and `error.type`. The span is the parent of everything
//!   the handler does, `#[observed]` functions included, and it continues the caller's
//!   trace: its parent comes from the `traceparent`, `tracestate` and `baggage` headers,
//!   read by the globally installed propagators (`rustform::init()` installs W3C trace
//!   context and baggage). A malformed header is ignored and the span starts a new trace.
//! - **RED metrics** in the [default registry](crate::metrics::default_registry):
//!
//!   | metric | labels | type |
//!   | --- | --- | --- |
//!   | `http_server_request_duration_seconds` | `http_request_method`, `http_route`, `http_response_status_code` | histogram (`prometheus.metrics.http.histogram_buckets`, by default the OpenTelemetry advice [`HTTP_DURATION_BUCKETS`](crate::config::HTTP_DURATION_BUCKETS)) |
//!   | `http_server_active_requests` | `http_request_method`, `http_route` | gauge |
//!   | `http_server_request_body_size_bytes` | as the duration | histogram, when `Content-Length` or the body tells the size |
//!   | `http_server_response_body_size_bytes` | as the duration | histogram, likewise |
//!
//!   The route label is the route template, never the path: requests no route matched
//!   share [`UNMATCHED_ROUTE`], so a scan of random URLs adds no series. A method other
//!   than `GET`, `HEAD`, `POST`, `PUT`, `DELETE`, `CONNECT`, `OPTIONS`, `TRACE` and
//!   `PATCH` (compared case-sensitively) is `_OTHER`. The duration runs until the
//!   response head is ready (a streamed body is not waited for). These families are not
//!   those of `#[observed]` (`function_calls_*`): a handler that is also `#[observed]`
//!   is counted once in each, as a request and as a function call, never twice in one.
//! - **a request id**: the request's `x-request-id` when it is 1 to 128 visible ASCII
//!   characters, else a new one (32 hexadecimal digits) that replaces it in the request
//!   the handler sees. It is the span's `http.request_id`, so every log line written
//!   inside the request carries it (JSON logs with `include_spans`), and it is echoed in
//!   the response's `x-request-id`. With
//!   [`propagate_response_traceparent`](ObserveLayer::propagate_response_traceparent),
//!   the response also carries the server span's `traceparent`.
//!
//! A handler that panics is counted as a 500 (`error.type = "panic"` on the span) and the
//! panic goes on unwinding; a request whose response future is dropped first (the client
//! went away, a timeout) ends its span with `error.type = "cancelled"` and is not counted
//! in the duration, as no status was sent. Either way the active-requests gauge goes
//! back down.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use std::net::SocketAddr;
//!
//! #[rustform::observed]
//! async fn get_user(axum::extract::Path(id): axum::extract::Path<u32>) -> String {
//!     format!("user {id}")
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = rustform::init()?;
//! let app = Router::new()
//!     .route("/users/{id}", get(get_user))
//!     .layer(rustform::http::ObserveLayer::new())
//!     .merge(rustform::endpoint::router());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(()) }
//! ```
//!
//! Add the layer with `Router::layer` (or `route_layer`), so it sees the matched route;
//! around a whole router or another kind of service it sees none, and every request is
//! [`UNMATCHED_ROUTE`]. `client.address` comes from axum's
//! `ConnectInfo<SocketAddr>`: serve with `into_make_service_with_connect_info`.
//!
//! # Clients
//!
//! [`ClientMiddleware`] is a middleware of [`reqwest_middleware`] (re-exported here, so
//! the versions match). Every request sent through the client gets:
//!
//! - **a client span**, a child of the current span (a handler's, an `#[observed]`
//!   function's), named `"{method}"`, or `"{method} {url.template}"` when the request
//!   carries a [`UrlTemplate`] (`HTTP` for a method outside the standard nine), with
//!   `otel.kind = "client"`, `http.request.method` (and `http.request.method_original`),
//!   `server.address`, `server.port` (the scheme's default when the URL has none),
//!   `url.full`, `url.template`, and once the response head arrives
//!   `http.response.status_code` and `network.protocol.version`. `url.full` keeps no
//!   secrets: credentials in the URL (reqwest sends them as an `Authorization` header)
//!   become `REDACTED:REDACTED`, every query value becomes `REDACTED` (names are kept),
//!   the fragment is left out. No header is recorded, so neither is `Authorization`.
//!   A status of 400 or more sets
//!   `otel.status_code = "ERROR"` and `error.type` to the status (for a client, 4xx is
//!   an error too, as the semantic conventions say); a request that got no response sets
//!   `error.type` to `timeout`, `connect`, `redirect`, `body`, `decode`, `builder`,
//!   `request` or `_OTHER`. A request dropped by its caller first ends its span with
//!   `error.type = "cancelled"` and is not counted.
//! - **the trace context in its headers**: the client span's `traceparent` (and
//!   `tracestate`, `baggage`) written by the globally installed propagators, as
//!   [`inject`] does, so the service called continues this trace under the client span.
//! - **a duration** in the [default registry](crate::metrics::default_registry):
//!   `http_client_request_duration_seconds{http_request_method, server_address,
//!   server_port, http_response_status_code, error_type}`, a histogram with the buckets
//!   of the server's (`prometheus.metrics.http.histogram_buckets`), until the response
//!   head arrived. A label that does not apply is empty: `http_response_status_code`
//!   when no response came, `error_type` below 400. The method folds as on the server;
//!   `server_address` takes as many values as the hosts the service calls, and past the
//!   family's cardinality limit new ones share the overflow series.
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use rustform::http::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
//! use rustform::http::{ClientMiddleware, ObserveLayer, UrlTemplate};
//! use std::sync::LazyLock;
//!
//! static INVENTORY: LazyLock<ClientWithMiddleware> = LazyLock::new(|| {
//!     ClientBuilder::new(reqwest::Client::new())
//!         .with(ClientMiddleware::new())
//!         .build()
//! });
//!
//! /// Its span is the parent of the client span; the inventory service's server span is
//! /// the client span's child, in the same trace.
//! #[rustform::observed]
//! async fn create_order() -> Result<String, rustform::http::reqwest_middleware::Error> {
//!     let response = INVENTORY
//!         .post("http://inventory:8080/items/42/reserve")
//!         .with_extension(UrlTemplate("/items/{id}/reserve"))
//!         .send()
//!         .await?;
//!     Ok(format!("reserved: {}", response.status()))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = rustform::init()?;
//! let app = Router::new()
//!     .route("/orders", post(|| async { create_order().await.unwrap_or_default() }))
//!     .layer(ObserveLayer::new());
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

#[cfg(feature = "http-client")]
mod client;
mod future;
mod headers;
mod metrics;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use ::http::header::{HOST, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use ::http::{Request, Response, Version};
use axum::extract::{ConnectInfo, MatchedPath};
use http_body::Body;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;
use tracing::field::{Empty, display};
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::{Config, HttpMetrics};
use crate::metrics::Buckets;
#[cfg(feature = "http-client")]
pub use client::{ClientMiddleware, UrlTemplate};
pub use future::ResponseFuture;
use future::{InFlight, UnwindGuard, content_length};
use headers::{HeaderExtractor, HeaderInjector, is_sane_request_id, new_request_id};
use metrics::{Route, ServerMetrics, method_label, server_metrics};
/// The `reqwest-middleware` crate [`ClientMiddleware`] plugs into, the version rustform
/// is built with.
#[cfg(feature = "http-client")]
pub use reqwest_middleware;

/// The `http_route` label of requests that matched no route: one value for all of them,
/// so unknown paths cannot create series. (The span has no `http.route` then, as the
/// OpenTelemetry semantic conventions ask.)
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The header carrying the request id, in requests and responses.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `prometheus.metrics.http` of the configuration `rustform::init()` installed.
static INSTALLED: OnceLock<HttpMetrics> = OnceLock::new();

/// Makes `config`'s `prometheus.metrics.http` what [`ObserveLayer::new`] uses; called by
/// `rustform::init()`.
pub(crate) fn install(config: &Config) {
    let _ = INSTALLED.set(config.observability.prometheus.metrics.http.clone());
}

/// A tower [`Layer`](tower::Layer) that gives every request a server span, RED metrics
/// and a request id, and continues the caller's trace. See the [module](self) for what
/// it records.
///
/// ```
/// use axum::{Router, routing::get};
/// use rustform::http::ObserveLayer;
///
/// let app: Router = Router::new()
///     .route("/users/{id}", get(|| async { "a user" }))
///     .layer(ObserveLayer::new().propagate_response_traceparent(true));
/// # let _ = app;
/// ```
#[derive(Clone, Debug)]
pub struct ObserveLayer {
    settings: Arc<Settings>,
}

/// What every request of a layer reads.
#[derive(Clone, Debug)]
struct Settings {
    metrics: Option<&'static ServerMetrics>,
    track_user_agents: bool,
    track_ip_addresses: bool,
    response_traceparent: bool,
}

impl ObserveLayer {
    /// The layer as `prometheus.metrics.http` of the configuration `rustform::init()`
    /// installed says (`enabled`, `track_user_agents`, `track_ip_addresses`,
    /// `histogram_buckets`), or with the defaults before `init()`: metrics on, no user
    /// agents, no client addresses, the OpenTelemetry duration buckets.
    ///
    /// The metric families are registered in the default registry by the first layer
    /// built; a later layer asking for other buckets shares the registered ones (and the
    /// logs say so).
    pub fn new() -> ObserveLayer {
        match INSTALLED.get() {
            Some(http) => ObserveLayer::from_settings(http),
            None => ObserveLayer::from_settings(&HttpMetrics::default()),
        }
    }

    /// The layer as `config`'s `prometheus.metrics.http` says. With `enabled: false` it
    /// records no metrics; spans, trace context and request ids stay.
    ///
    /// ```
    /// let config = rustform::config::Config::parse(
    ///     "observability:\n  prometheus:\n    metrics:\n      http:\n        track_user_agents: true\n",
    ///     "rustform.yml",
    ///     &|_| None,
    /// )?;
    /// let layer = rustform::http::ObserveLayer::from_config(&config);
    /// # let _ = layer;
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub fn from_config(config: &Config) -> ObserveLayer {
        ObserveLayer::from_settings(&config.observability.prometheus.metrics.http)
    }

    fn from_settings(http: &HttpMetrics) -> ObserveLayer {
        let metrics = http
            .enabled
            .then(|| server_metrics(&duration_buckets(http)));
        ObserveLayer {
            settings: Arc::new(Settings {
                metrics,
                track_user_agents: http.track_user_agents,
                track_ip_addresses: http.track_ip_addresses,
                response_traceparent: false,
            }),
        }
    }

    /// Whether responses carry the server span's `traceparent` (default `false`), so a
    /// client can find the trace of its request.
    pub fn propagate_response_traceparent(mut self, on: bool) -> ObserveLayer {
        Arc::make_mut(&mut self.settings).response_traceparent = on;
        self
    }

    /// Whether spans record `user_agent.original` (default: `track_user_agents`).
    pub fn track_user_agents(mut self, on: bool) -> ObserveLayer {
        Arc::make_mut(&mut self.settings).track_user_agents = on;
        self
    }

    /// Whether spans record `client.address`, from axum's `ConnectInfo<SocketAddr>`
    /// (default: `track_ip_addresses`).
    pub fn track_ip_addresses(mut self, on: bool) -> ObserveLayer {
        Arc::make_mut(&mut self.settings).track_ip_addresses = on;
        self
    }
}

impl Default for ObserveLayer {
    fn default() -> Self {
        ObserveLayer::new()
    }
}

/// The buckets of the server and client duration histograms: `histogram_buckets`, or
/// the OpenTelemetry defaults (and a warning) when they are not usable.
fn duration_buckets(http: &HttpMetrics) -> Buckets {
    Buckets::new(http.histogram_buckets.iter().copied()).unwrap_or_else(|error| {
        tracing::warn!(
            target: "rustform::http",
            %error,
            "prometheus.metrics.http.histogram_buckets is not usable; \
             using the OpenTelemetry defaults"
        );
        Buckets::new(crate::config::HTTP_DURATION_BUCKETS).unwrap_or_default()
    })
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;

    fn layer(&self, inner: S) -> ObserveService<S> {
        ObserveService {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service [`ObserveLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct ObserveService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, ReqBody, ResBody> tower::Service<Request<ReqBody>> for ObserveService<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ReqBody: Body,
    ResBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let started = crate::clock::raw();
        let settings = &*self.settings;
        let method = method_label(request.method());
        let mut route = Route::new(request.extensions().get::<MatchedPath>());
        let request_id = match request.headers().get(X_REQUEST_ID) {
            Some(id) if is_sane_request_id(id) => id.clone(),
            _ => {
                let id = new_request_id();
                request.headers_mut().insert(X_REQUEST_ID, id.clone());
                id
            }
        };
        let span = server_span(settings, &request, method, &route, &request_id);
        if !span.is_disabled() {
            let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
                propagator.extract(&HeaderExtractor(request.headers()))
            });
            // Without a valid incoming context the span keeps its place in the
            // application's own spans (a root, in a server).
            if parent.span().span_context().is_valid() || !parent.baggage().is_empty() {
                let _ = span.set_parent(parent);
            }
        }
        let metrics = settings.metrics.map(|metrics| {
            let active = metrics.active(method, &mut route);
            active.inc();
            (metrics, active)
        });
        let request_size =
            content_length(request.headers()).or_else(|| request.body().size_hint().exact());
        let mut in_flight = Some(InFlight {
            started,
            method,
            route,
            metrics,
            request_size,
            request_id,
            response_traceparent: settings.response_traceparent,
        });
        let inner = {
            let _entered = span.enter();
            let _unwind = UnwindGuard {
                request: &mut in_flight,
                span: &span,
            };
            self.inner.call(request)
        };
        ResponseFuture::new(inner, span, in_flight)
    }
}

/// The server span of a request, its status fields still empty.
fn server_span<B>(
    settings: &Settings,
    request: &Request<B>,
    method: &'static str,
    route: &Route,
    request_id: &HeaderValue,
) -> tracing::Span {
    let (host, port) = server_address(request);
    let user_agent = settings
        .track_user_agents
        .then(|| request.headers().get(USER_AGENT)?.to_str().ok())
        .flatten();
    let client = settings
        .track_ip_addresses
        .then(|| request.extensions().get::<ConnectInfo<SocketAddr>>())
        .flatten()
        .map(|ConnectInfo(address)| display(address.ip()));
    let original_method = (method == "_OTHER").then(|| request.method().as_str());
    tracing::info_span!(
        target: "rustform::http",
        "HTTP request",
        otel.name = %SpanName { method, route: route.template() },
        otel.kind = "server",
        http.request.method = method,
        http.request.method_original = original_method,
        http.route = route.template(),
        url.path = request.uri().path(),
        url.scheme = request.uri().scheme_str().unwrap_or("http"),
        server.address = host,
        server.port = port,
        network.protocol.version = protocol_version(request.version()),
        user_agent.original = user_agent,
        client.address = client,
        http.request_id = request_id.to_str().unwrap_or_default(),
        http.response.status_code = Empty,
        otel.status_code = Empty,
        error.type = Empty,
    )
}

/// `"{method} {route}"`, the method alone without a route, and `HTTP` for `_OTHER`.
struct SpanName<'a> {
    method: &'static str,
    route: Option<&'a str>,
}

impl std::fmt::Display for SpanName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = if self.method == "_OTHER" {
            "HTTP"
        } else {
            self.method
        };
        match self.route {
            Some(route) => write!(f, "{method} {route}"),
            None => f.write_str(method),
        }
    }
}

/// The host and port the client addressed: the URI's authority (HTTP/2, absolute-form),
/// else the `Host` header.
fn server_address<B>(request: &Request<B>) -> (Option<&str>, Option<u16>) {
    if let Some(authority) = request.uri().authority() {
        return (Some(authority.host()), authority.port_u16());
    }
    let Some(host) = request.headers().get(HOST).and_then(|h| h.to_str().ok()) else {
        return (None, None);
    };
    // `[::1]:8080`, `example.com:8080`, `example.com`.
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !port.contains(']') => (name, port.parse().ok()),
        _ => (host, None),
    };
    (Some(name), port)
}

/// `network.protocol.version`.
fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "_OTHER",
    }
}

/// Writes the current span's trace context into `headers` with the globally installed
/// propagators (`traceparent` and `tracestate`, and `baggage`, after `rustform::init()`),
/// replacing those already there, so the service called continues this trace.
///
/// Outside any span exported to OpenTelemetry it writes nothing.
///
/// ```
/// #[rustform::observed]
/// fn call_inventory() -> http::Request<()> {
///     let mut request = http::Request::get("http://inventory/items").body(()).unwrap();
///     rustform::http::inject(request.headers_mut());
///     request
/// }
/// # let _ = call_inventory();
/// ```
pub fn inject(headers: &mut HeaderMap) {
    inject_from(&tracing::Span::current(), headers);
}

/// Writes `span`'s trace context into `headers`, as [`inject`] does the current span's.
fn inject_from(span: &tracing::Span, headers: &mut HeaderMap) {
    let context = span.context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    });
}

#[cfg(test)]
mod tests;
