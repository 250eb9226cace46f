//! The HTTP endpoint: `/metrics` for Prometheus behind authentication and per-client rate
//! limits, and health checks for load balancers and Kubernetes probes.
//!
//! | path | answers | authentication |
//! |---|---|---|
//! | `/metrics` (`prometheus.endpoint`) | the default registry, Prometheus text 0.0.4 or OpenMetrics by `Accept`, gzip when accepted | as configured; 401 with `WWW-Authenticate: Bearer`, 403 without the scope, 429 with `Retry-After` past the rate |
//! | `/healthz` | 200 while the process answers (liveness) | never |
//! | `/readyz` | 200 when every critical check passes, else 503 naming the failing ones; 503 once shutdown starts | never |
//! | `/catalog` | JSON of [`crate::catalog()`]: the observed functions, their objectives, the `AppMetrics` structs (read by `rustform generate --catalog URL`) | as `/metrics` |
//! | `/health` (`health.endpoint`) | JSON: status, version, uptime, and each check's status, latency and message | only with `health.require_authentication` |
//!
//! `rustform::init()` serves it on `prometheus.listen` when the configuration gives an
//! address; otherwise mount [`router()`] in the application's own axum server (serve it
//! with `into_make_service_with_connect_info::<SocketAddr>()` so rate limits see client
//! addresses).
//!
//! `/metrics` is never served open by accident:
//!
//! - it is open only when the configuration says so, with `authentication: { enabled:
//!   false }` (open and unlimited, as a plain exporter) or `method: none` (open, limited
//!   per client network); without an `authentication` section the protected paths answer
//!   503 and one error is logged saying how to choose;
//! - a [`router()`] taken before `rustform::init()` answers from the configuration
//!   `init()` installs, and 503 until then (logged once);
//! - with authentication on, a request without the peer's address (the router served
//!   without `ConnectInfo`) gets 503, and one error names the fix: limits keyed by an
//!   unknown address would put every client in one bucket.
//!
//! Every authentication decision is an event on the target `rustform::audit` (outcome,
//! reason, client id, client address, path — never the credential), and the endpoint
//! counts `rustform_endpoint_auth_failures_total{reason}`,
//! `rustform_endpoint_rate_limited_total` and times
//! `rustform_endpoint_scrape_duration_seconds`. Its own server counts
//! `rustform_endpoint_connections` (open) and
//! `rustform_endpoint_connections_refused_total` (past `prometheus.max_connections`).

#[cfg(feature = "auth")]
mod limits;
mod server;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Error;
#[cfg(feature = "auth")]
use crate::auth::{Authenticator, Decision, DenyStatus};
use crate::config::Config;
use crate::health::{self, Checks};
#[cfg(feature = "auth")]
use crate::metrics::{Counter, CounterVec, LabelSet};
use crate::metrics::{Histogram, default_registry};
pub(crate) use server::Server;

/// The endpoint of a configuration: its routes, authentication, limits and checks.
///
/// ```
/// let config = rustform::config::Config::default();
/// let endpoint = rustform::endpoint::Endpoint::from_config(&config)?;
/// let app: axum::Router = axum::Router::new().merge(endpoint.router());
/// # let _ = app;
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    state: Arc<Shared>,
}

/// What every request reads.
struct Shared {
    metrics_path: String,
    health_path: String,
    health_enabled: bool,
    health_requires_auth: bool,
    #[cfg(feature = "auth")]
    auth: Authenticator,
    auth_enabled: bool,
    /// No `authentication` was written: the protected paths answer 503.
    auth_unset: bool,
    #[cfg(feature = "auth")]
    limits: limits::Limits,
    checks: Checks,
    version: String,
    started: Instant,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("metrics_path", &self.metrics_path)
            .field("health_path", &self.health_path)
            .field("auth_enabled", &self.auth_enabled)
            .finish_non_exhaustive()
    }
}

/// The routes of the endpoint `rustform::init()` built, for [`router()`].
static INSTALLED: OnceLock<Router> = OnceLock::new();

/// The routes of the installed endpoint, to merge into the application's axum `Router`.
///
/// Taken after `rustform::init()`, they are the configuration's. Taken before it, they
/// are the default paths (`/metrics`, `/healthz`, `/readyz`, `/catalog`, `/health`), and
/// each request is answered by the endpoint `init()` installs once it has run (a path
/// the configuration moved then answers 404), and by 503 until then, with one logged
/// error: nothing is served open for want of a configuration.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let _guard = rustform::init()?;
/// let app = axum::Router::new()
///     .route("/", axum::routing::get(|| async { "hello" }))
///     .merge(rustform::endpoint::router());
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
/// # Ok(()) }
/// ```
pub fn router() -> Router {
    match INSTALLED.get() {
        Some(router) => router.clone(),
        None => {
            let mut router = Router::new();
            for path in ["/metrics", "/healthz", "/readyz", CATALOG_PATH, "/health"] {
                router = router.route(path, get(deferred));
            }
            router
        }
    }
}

/// Requests a [`router()`] taken before `init()` refused while there was no endpoint.
static REFUSED_BEFORE_INIT: AtomicU64 = AtomicU64::new(0);
/// Whether that has been logged.
static BEFORE_INIT_TOLD: AtomicBool = AtomicBool::new(false);

/// A request to a [`router()`] taken before `init()`: the installed endpoint answers it,
/// or 503 while there is none.
async fn deferred(request: Request) -> Response {
    let Some(router) = INSTALLED.get() else {
        REFUSED_BEFORE_INIT.fetch_add(1, Ordering::Relaxed);
        // Said now when a subscriber can hear it, else by `init()` once it has one.
        if crate::trace::has_global_subscriber() {
            tell_once(&BEFORE_INIT_TOLD, BEFORE_INIT);
        }
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "the endpoint is not configured yet: rustform::init() has not run\n",
        )
            .into_response();
    };
    let path = request.uri().path().to_owned();
    let mut router = router.clone();
    let response = match tower::Service::call(&mut router, request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if response.status() == StatusCode::NOT_FOUND {
        static MOVED: std::sync::Once = std::sync::Once::new();
        MOVED.call_once(|| {
            tracing::error!(
                target: "rustform::endpoint",
                path,
                "rustform::endpoint::router() was taken before rustform::init() and the \
                 configuration serves this path elsewhere: merge router() after init()"
            );
        });
    }
    response
}

const BEFORE_INIT: &str = "rustform::endpoint::router() was asked before rustform::init() \
     installed a configuration, and answers 503 until then: call init() before serving it";

/// What the endpoint tells once, on `rustform::endpoint` at error level.
fn tell_once(told: &AtomicBool, message: &str) {
    if !told.swap(true, Ordering::AcqRel) {
        tracing::error!(target: "rustform::endpoint", "{message}");
    }
}

/// Whether the missing `authentication` has been logged.
static UNSET_TOLD: AtomicBool = AtomicBool::new(false);

const UNSET: &str = "observability.prometheus.authentication is not configured, so /metrics \
     and /catalog answer 503: write `authentication: { enabled: true, method: bearer_token, \
     token_env: METRICS_TOKEN }` to require a token, or `authentication: { enabled: false }` \
     to serve them to anyone";

impl Endpoint {
    /// The endpoint `config` describes: reads the tokens, keys and token store it names.
    ///
    /// # Errors
    ///
    /// [`Error::Install`] when a credential source is missing or unreadable, or a health
    /// check is misconfigured.
    pub fn from_config(config: &Config) -> Result<Endpoint, Error> {
        Endpoint::with_version(config, config.service_version().unwrap_or_default())
    }

    /// The endpoint of `config`, reporting `version` on `/health` (what `build_info`
    /// says, so the two agree).
    pub(crate) fn with_version(config: &Config, version: &str) -> Result<Endpoint, Error> {
        let prometheus = &config.observability.prometheus;
        let auth_config = &prometheus.authentication;
        #[cfg(feature = "auth")]
        let auth = if auth_config.enabled {
            Authenticator::from_config(auth_config, &crate::config::process_env)?
        } else {
            Authenticator::none()
        };
        #[cfg(not(feature = "auth"))]
        if auth_config.enabled {
            return Err(Error::missing_feature(
                "observability.prometheus.authentication.enabled",
                "authentication",
                "auth",
            ));
        }
        let health = &config.observability.health;
        // The endpoint's own series exist from the start, at zero, as Prometheus advises.
        #[cfg(feature = "auth")]
        LazyLock::force(&RATE_LIMITED);
        LazyLock::force(&SCRAPE_DURATION);
        #[cfg(feature = "auth")]
        for reason in crate::auth::FailureReason::ALL {
            AUTH_FAILURES.with(&FailureLabels {
                reason: reason.as_str(),
            });
        }
        Ok(Endpoint {
            state: Arc::new(Shared {
                metrics_path: prometheus.endpoint.clone(),
                health_path: health.endpoint.clone(),
                health_enabled: health.enabled,
                health_requires_auth: health.require_authentication,
                #[cfg(feature = "auth")]
                auth,
                auth_enabled: auth_config.enabled,
                auth_unset: !auth_config.enabled && !auth_config.explicit,
                #[cfg(feature = "auth")]
                limits: limits::Limits::new(&auth_config.rate_limit)?,
                checks: Checks::from_config(health)?,
                version: version.to_owned(),
                started: Instant::now(),
            }),
        })
    }

    /// Its routes.
    pub fn router(&self) -> Router {
        let state = self.state.clone();
        let mut router = Router::new()
            .route(&state.metrics_path, get(scrape))
            .route("/healthz", get(liveness))
            .route("/readyz", get(readiness));
        if state.metrics_path != CATALOG_PATH {
            router = router.route(CATALOG_PATH, get(catalog));
        }
        if state.health_enabled
            && !matches!(state.health_path.as_str(), "/healthz" | "/readyz")
            && state.health_path != state.metrics_path
        {
            router = router.route(&state.health_path, get(health_report));
        }
        router.with_state(state)
    }

    /// Makes this the endpoint [`router()`] returns; gives what is to be logged once
    /// the program's subscriber exists: that a router taken earlier refused requests,
    /// and, when `serving` (on `prometheus.listen`), that authentication is not
    /// configured.
    pub(crate) fn install(&self, serving: bool) -> Vec<String> {
        let _ = INSTALLED.set(self.router());
        let mut notes = Vec::new();
        let refused = REFUSED_BEFORE_INIT.load(Ordering::Relaxed);
        if refused > 0 && !BEFORE_INIT_TOLD.swap(true, Ordering::AcqRel) {
            notes.push(format!("{BEFORE_INIT} ({refused} refused)"));
        }
        if serving && self.state.auth_unset && !UNSET_TOLD.swap(true, Ordering::AcqRel) {
            notes.push(UNSET.to_owned());
        }
        notes
    }
}

/// The endpoint `config` describes, when `prometheus.enabled`, and its own server, when
/// `prometheus.listen` names an address (bound now, so a mistake stops `init()`).
pub(crate) fn start(
    config: &Config,
    version: &str,
) -> Result<(Option<Endpoint>, Option<Server>), Error> {
    let prometheus = &config.observability.prometheus;
    if !prometheus.enabled {
        return Ok((None, None));
    }
    let endpoint = Endpoint::with_version(config, version)?;
    let server = match prometheus.listen {
        Some(address) => Some(Server::start(&endpoint, address, prometheus)?),
        None => None,
    };
    Ok((Some(endpoint), server))
}

/// The peer's address, when the server recorded it.
#[cfg(feature = "auth")]
fn peer(request: &Request) -> Option<std::net::SocketAddr> {
    request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0)
}

/// `/metrics`.
async fn scrape(State(state): State<Arc<Shared>>, request: Request) -> Response {
    let started = Instant::now();
    let response = match authorize(&state, &request) {
        Ok(()) => render(request.headers()),
        Err(response) => return response,
    };
    SCRAPE_DURATION.observe(started.elapsed().as_secs_f64());
    response
}

/// Where the endpoint serves [`crate::catalog()`] as JSON, behind the same
/// authentication and rate limits as `/metrics`: what `rustform generate --catalog`
/// reads from a running service.
pub const CATALOG_PATH: &str = "/catalog";

async fn catalog(State(state): State<Arc<Shared>>, request: Request) -> Response {
    if let Err(response) = authorize(&state, &request) {
        return response;
    }
    match serde_json::to_vec(&crate::catalog()) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Authentication and rate limits: `Ok` to serve, else the response to send.
#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn authorize(state: &Shared, request: &Request) -> Result<(), Response> {
    if state.auth_unset {
        tell_once(&UNSET_TOLD, UNSET);
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the endpoint's authentication is not configured\n",
        )
            .into_response());
    }
    // With `enabled: false` written, the endpoint is open and unlimited, as a plain
    // Prometheus exporter is (and `from_config` refuses authentication without the
    // `auth` feature).
    if !state.auth_enabled {
        return Ok(());
    }
    #[cfg(not(feature = "auth"))]
    {
        let _ = request;
        Ok(())
    }
    #[cfg(feature = "auth")]
    authenticate(state, request)
}

/// The credential's decision, the rate limits and the audit events.
#[cfg(feature = "auth")]
#[allow(clippy::result_large_err, reason = "the error is the response itself")]
fn authenticate(state: &Shared, request: &Request) -> Result<(), Response> {
    let headers = request.headers();
    let path = request.uri().path();
    let Some(peer) = peer(request) else {
        return Err(no_peer_address());
    };
    let address = state.limits.client_address(peer, headers);
    let network = state.limits.network(address);
    let shown_address = address.to_string();
    // A network past its failed-authentication limit is refused whatever it presents:
    // were a right token let through, the limit would tell a guesser when it guessed.
    if let Err(wait) = state.limits.blocked(&network) {
        return Err(rate_limited(
            wait,
            "failed_authentications",
            None,
            &shown_address,
            path,
            "request from an address over the failed-authentication limit",
        ));
    }
    match state.auth.authenticate(headers) {
        Decision::Allowed { client, .. } => {
            // Per credential; anonymous clients (method `none`) per network.
            let key = if client.is_anonymous() {
                network
            } else {
                limits::Key::Client(client.to_string())
            };
            if let Err(wait) = state.limits.check_client(&key) {
                return Err(rate_limited(
                    wait,
                    "requests",
                    Some(&client),
                    &shown_address,
                    path,
                    "request over the rate limit",
                ));
            }
            tracing::info!(
                target: "rustform::audit",
                outcome = "allowed",
                client = %client,
                address = %shown_address,
                path,
                "authenticated"
            );
            Ok(())
        }
        Decision::Denied {
            status,
            reason,
            client,
        } => {
            AUTH_FAILURES
                .with(&FailureLabels {
                    reason: reason.as_str(),
                })
                .inc();
            let client = client.map(|c| c.to_string()).unwrap_or_default();
            tracing::warn!(
                target: "rustform::audit",
                outcome = "denied",
                reason = reason.as_str(),
                client = %client,
                address = %shown_address,
                path,
                "authentication failed"
            );
            // Failed attempts count per network; past the limit, the network is
            // refused (above) until it recovers.
            if let Err(wait) = state.limits.check_failure(&network) {
                RATE_LIMITED.inc();
                return Err(too_many(wait));
            }
            Err(match status {
                DenyStatus::Unauthorized => (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, state.auth.challenge())],
                    "authentication required\n",
                )
                    .into_response(),
                DenyStatus::Forbidden => (
                    StatusCode::FORBIDDEN,
                    "the credential lacks a required scope\n",
                )
                    .into_response(),
            })
        }
    }
}

/// 503 for a request whose peer address is unknown, with one logged error naming the
/// fix: without addresses, every client would share one bucket.
#[cfg(feature = "auth")]
fn no_peer_address() -> Response {
    static TOLD: AtomicBool = AtomicBool::new(false);
    tell_once(
        &TOLD,
        "the endpoint cannot see client addresses, so it cannot rate-limit clients apart \
         and answers 503: serve the router with \
         `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`",
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the endpoint cannot see the client's address\n",
    )
        .into_response()
}

/// 429 for a request over a limit: counted in `rustform_endpoint_rate_limited_total`
/// and an audit event (`reason` says which limit; `client` when a credential named one).
#[cfg(feature = "auth")]
fn rate_limited(
    wait: std::time::Duration,
    reason: &'static str,
    client: Option<&crate::auth::ClientId>,
    address: &str,
    path: &str,
    message: &'static str,
) -> Response {
    RATE_LIMITED.inc();
    tracing::warn!(
        target: "rustform::audit",
        outcome = "rate_limited",
        reason,
        client = client.map(tracing::field::display),
        address,
        path,
        "{message}"
    );
    too_many(wait)
}

/// 429 with `Retry-After` in whole seconds, rounded up.
#[cfg(feature = "auth")]
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, seconds.max(1).to_string())],
        "too many requests\n",
    )
        .into_response()
}

const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition in the format `Accept` prefers, gzip-compressed when accepted.
fn render(headers: &HeaderMap) -> Response {
    let registry = default_registry();
    let (body, content_type) = if wants_openmetrics(headers) {
        (registry.render_openmetrics(), OPENMETRICS)
    } else {
        (registry.render(), TEXT)
    };
    let mut response = if accepts_gzip(headers) {
        let mut response = Response::new(Body::from(crate::gzip::gzip(body.as_bytes())));
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        Response::new(Body::from(body))
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    response
}

/// Whether `Accept` ranks OpenMetrics above the text format (Prometheus asks for
/// `application/openmetrics-text;version=1.0.0;q=0.5,…,text/plain;version=0.0.4;q=0.3`).
pub(crate) fn wants_openmetrics(headers: &HeaderMap) -> bool {
    let mut best_openmetrics: Option<f32> = None;
    let mut best_text: Option<f32> = None;
    for (media, q) in weighted(headers, header::ACCEPT) {
        let slot = match media.as_str() {
            "application/openmetrics-text" => &mut best_openmetrics,
            "text/plain" | "*/*" => &mut best_text,
            _ => continue,
        };
        *slot = Some(slot.map_or(q, |b| b.max(q)));
    }
    match (best_openmetrics, best_text) {
        (Some(om), Some(text)) => om > 0.0 && om >= text,
        (Some(om), None) => om > 0.0,
        _ => false,
    }
}

/// Whether `Accept-Encoding` allows gzip (and does not refuse it with `q=0`).
pub(crate) fn accepts_gzip(headers: &HeaderMap) -> bool {
    weighted(headers, header::ACCEPT_ENCODING)
        .any(|(coding, q)| (coding == "gzip" || coding == "*") && q > 0.0)
}

/// The items of a comma-separated header with their `q` weights (1 when absent),
/// lower-cased: `text/plain;q=0.3` is `("text/plain", 0.3)`.
fn weighted(
    headers: &HeaderMap,
    name: header::HeaderName,
) -> impl Iterator<Item = (String, f32)> + '_ {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|item| {
            let mut parts = item.split(';').map(str::trim);
            let value = parts.next().unwrap_or_default().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (value, q)
        })
}

/// `/healthz`: the process answers.
async fn liveness() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"pass\"}",
    )
        .into_response()
}

/// `/readyz`: every critical check passes, and shutdown has not started.
async fn readiness(State(state): State<Arc<Shared>>) -> Response {
    if !health::is_ready() {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"status\":\"fail\",\"failing\":[\"shutting_down\"]}".to_owned(),
        );
    }
    let report = state.checks.run().await;
    let status = if report.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, report.readiness_json())
}

/// `/health`: every check, with the version and uptime.
async fn health_report(State(state): State<Arc<Shared>>, request: Request) -> Response {
    if state.health_requires_auth
        && let Err(response) = authorize(&state, &request)
    {
        return response;
    }
    let report = state.checks.run().await;
    let status = if report.ready() && health::is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        status,
        report.to_json(&state.version, state.started.elapsed()),
    )
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The labels of the authentication failure counter.
#[cfg(feature = "auth")]
struct FailureLabels {
    reason: &'static str,
}

#[cfg(feature = "auth")]
impl LabelSet for FailureLabels {
    const NAMES: &'static [&'static str] = &["reason"];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(self.reason);
    }
}

#[cfg(feature = "auth")]
static AUTH_FAILURES: LazyLock<CounterVec<FailureLabels>> = LazyLock::new(|| {
    let counter = CounterVec::new();
    register(
        "rustform_endpoint_auth_failures",
        "Requests to the endpoint refused for their credentials, by reason",
        counter.clone(),
    );
    counter
});

#[cfg(feature = "auth")]
static RATE_LIMITED: LazyLock<Counter> = LazyLock::new(|| {
    let counter = Counter::default();
    register(
        "rustform_endpoint_rate_limited",
        "Requests to the endpoint refused for going over the rate limit",
        counter.clone(),
    );
    counter
});

static SCRAPE_DURATION: LazyLock<Histogram> = LazyLock::new(|| {
    let histogram = Histogram::default();
    register(
        "rustform_endpoint_scrape_duration_seconds",
        "Time to authenticate and render a scrape of /metrics",
        histogram.clone(),
    );
    histogram
});

fn register(name: &str, help: &str, metric: impl crate::metrics::Metric) {
    if let Err(error) = default_registry().register(name, help, metric) {
        tracing::error!(target: "rustform::endpoint", %error, "an endpoint metric is counted but not exposed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn prometheus_accept_header_picks_openmetrics() {
        let prometheus = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
        assert!(wants_openmetrics(&headers(header::ACCEPT, prometheus)));
        assert!(!wants_openmetrics(&headers(header::ACCEPT, "text/plain")));
        assert!(!wants_openmetrics(&HeaderMap::new()));
        assert!(!wants_openmetrics(&headers(
            header::ACCEPT,
            "application/openmetrics-text;q=0"
        )));
        assert!(!wants_openmetrics(&headers(
            header::ACCEPT,
            "text/plain;q=0.9, application/openmetrics-text;q=0.5"
        )));
    }

    #[test]
    fn gzip_only_when_accepted() {
        assert!(accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip")));
        assert!(accepts_gzip(&headers(
            header::ACCEPT_ENCODING,
            "br, GZIP;q=0.5"
        )));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "gzip;q=0")));
        assert!(!accepts_gzip(&headers(header::ACCEPT_ENCODING, "identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
