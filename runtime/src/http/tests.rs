use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::{Arc, Mutex};

use ::http::{Request, Response, StatusCode, Version};
use tower::{Layer, Service};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// Answers with the request's `x-request-id` in the body and the status it is told.
#[derive(Clone)]
struct Echo(StatusCode);

impl Service<Request<String>> for Echo {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let id = request
            .headers()
            .get(X_REQUEST_ID)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let mut response = Response::new(id);
        *response.status_mut() = self.0;
        ready(Ok(response))
    }
}

/// The fields every span got, by span name then field name.
#[derive(Clone, Default)]
pub(super) struct Fields(pub(super) Arc<Mutex<Vec<(String, String)>>>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .lock()
            .unwrap()
            .push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .lock()
            .unwrap()
            .push((field.name().to_owned(), value.to_owned()));
    }
}

impl Fields {
    pub(super) fn get(&self, name: &str) -> Option<String> {
        let fields = self.0.lock().unwrap();
        fields
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Fields {
    fn on_new_span(
        &self,
        attrs: &Attributes<'_>,
        _: &Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        attrs.record(&mut self.clone());
    }

    fn on_record(&self, _: &Id, values: &Record<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        values.record(&mut self.clone());
    }
}

fn call(layer: &ObserveLayer, status: StatusCode, request: Request<String>) -> Response<String> {
    let mut service = layer.layer(Echo(status));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(service.call(request)).unwrap()
}

pub(super) fn with_fields<R>(f: impl FnOnce() -> R) -> (R, Fields) {
    let fields = Fields::default();
    let subscriber = tracing_subscriber::registry().with(fields.clone());
    (tracing::subscriber::with_default(subscriber, f), fields)
}

#[test]
fn a_sane_request_id_is_kept_and_echoed() {
    let layer = ObserveLayer::new();
    let request = Request::get("/a")
        .header("x-request-id", "client-42")
        .body(String::new())
        .unwrap();
    let (response, fields) = with_fields(|| call(&layer, StatusCode::OK, request));
    assert_eq!(response.body(), "client-42");
    assert_eq!(response.headers()[X_REQUEST_ID], "client-42");
    assert_eq!(fields.get("http.request_id").as_deref(), Some("client-42"));
}

#[test]
fn a_missing_or_hostile_request_id_is_replaced() {
    let layer = ObserveLayer::new();
    for sent in [None, Some("has space"), Some(&*"x".repeat(129))] {
        let mut request = Request::get("/a").body(String::new()).unwrap();
        if let Some(sent) = sent {
            request
                .headers_mut()
                .insert(X_REQUEST_ID, HeaderValue::from_str(sent).unwrap());
        }
        let response = call(&layer, StatusCode::OK, request);
        let id = response.headers()[X_REQUEST_ID].to_str().unwrap();
        assert_eq!(id.len(), 32, "{sent:?}");
        assert_eq!(response.body(), id, "the handler sees the new id");
    }
}

#[test]
fn the_span_has_the_semantic_convention_attributes() {
    let layer = ObserveLayer::new()
        .track_user_agents(true)
        .track_ip_addresses(true);
    let mut request = Request::builder()
        .method("PURGE")
        .uri("/cache/items?x=1")
        .version(Version::HTTP_11)
        .header("host", "shop.example:8443")
        .header("user-agent", "curl/8")
        .body(String::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 5555))));
    let (response, fields) = with_fields(|| call(&layer, StatusCode::BAD_GATEWAY, request));
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let get = |name| fields.get(name);
    assert_eq!(get("otel.name").as_deref(), Some("HTTP"));
    assert_eq!(get("otel.kind").as_deref(), Some("server"));
    assert_eq!(get("http.request.method").as_deref(), Some("_OTHER"));
    assert_eq!(
        get("http.request.method_original").as_deref(),
        Some("PURGE")
    );
    assert_eq!(get("http.route"), None);
    assert_eq!(get("url.path").as_deref(), Some("/cache/items"));
    assert_eq!(get("url.scheme").as_deref(), Some("http"));
    assert_eq!(get("server.address").as_deref(), Some("shop.example"));
    assert_eq!(get("server.port").as_deref(), Some("8443"));
    assert_eq!(get("network.protocol.version").as_deref(), Some("1.1"));
    assert_eq!(get("user_agent.original").as_deref(), Some("curl/8"));
    assert_eq!(get("client.address").as_deref(), Some("10.1.2.3"));
    assert_eq!(get("http.response.status_code").as_deref(), Some("502"));
    assert_eq!(get("otel.status_code").as_deref(), Some("ERROR"));
    assert_eq!(get("error.type").as_deref(), Some("502"));
}

#[test]
fn user_agents_and_addresses_are_left_out_by_default() {
    let layer = ObserveLayer::from_config(&Config::default());
    let mut request = Request::get("/a")
        .header("user-agent", "curl/8")
        .body(String::new())
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 1, 2, 3], 5555))));
    let (_, fields) = with_fields(|| call(&layer, StatusCode::OK, request));
    assert_eq!(fields.get("user_agent.original"), None);
    assert_eq!(fields.get("client.address"), None);
    assert_eq!(fields.get("otel.status_code"), None);
    assert_eq!(fields.get("otel.name").as_deref(), Some("GET"));
}

#[test]
fn span_names() {
    let name = |method, route| SpanName { method, route }.to_string();
    assert_eq!(name("GET", Some("/users/{id}")), "GET /users/{id}");
    assert_eq!(name("POST", None), "POST");
    assert_eq!(name("_OTHER", Some("/x")), "HTTP /x");
    assert_eq!(name("_OTHER", None), "HTTP");
}

#[test]
fn server_addresses() {
    let of = |host: &str| {
        let request = Request::get("/").header("host", host).body(()).unwrap();
        let (name, port) = server_address(&request);
        (name.map(str::to_owned), port)
    };
    assert_eq!(of("example.com"), (Some("example.com".into()), None));
    assert_eq!(
        of("example.com:8080"),
        (Some("example.com".into()), Some(8080))
    );
    assert_eq!(of("[::1]:8080"), (Some("[::1]".into()), Some(8080)));
    assert_eq!(of("[::1]"), (Some("[::1]".into()), None));
    let absolute = Request::get("http://api.example:81/x").body(()).unwrap();
    assert_eq!(server_address(&absolute), (Some("api.example"), Some(81)));
    let none = Request::get("/").body(()).unwrap();
    assert_eq!(server_address(&none), (None, None));
}

#[test]
fn protocol_versions() {
    assert_eq!(protocol_version(Version::HTTP_10), "1.0");
    assert_eq!(protocol_version(Version::HTTP_11), "1.1");
    assert_eq!(protocol_version(Version::HTTP_2), "2");
    assert_eq!(protocol_version(Version::HTTP_3), "3");
}

#[test]
fn the_installed_settings_are_those_new_uses() {
    let config = Config::parse(
        "observability:\n  prometheus:\n    metrics:\n      http:\n        track_user_agents: true\n",
        "rustform.yml",
        &|_| None,
    )
    .unwrap();
    install(&config);
    assert!(ObserveLayer::new().settings.track_user_agents);
}

#[test]
fn inject_outside_a_span_writes_nothing() {
    let mut headers = HeaderMap::new();
    inject(&mut headers);
    assert!(headers.is_empty());
}
