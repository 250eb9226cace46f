//! The client side: [`ClientMiddleware`], a `reqwest-middleware` middleware giving every
//! outgoing request a client span, the trace context in its headers, and a duration
//! histogram.

use std::fmt;

use ::http::Extensions;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};
use tracing::Instrument;
use tracing::field::{Empty, display};

use super::metrics::{RegisterOnce, method_label, register};
use super::{INSTALLED, duration_buckets, inject, inject_from, protocol_version};
use crate::config::{Config, HttpMetrics};
use crate::metrics::{Buckets, HistogramVec, LabelSet};

/// The name of the duration histogram.
const DURATION: &str = "http_client_request_duration_seconds";

/// What replaces credentials in a URL and the values of its query, in `url.full`.
const REDACTED: &str = "REDACTED";

/// A [`Middleware`] of `reqwest-middleware` that gives every request a client span,
/// writes the span's trace context into the request's headers, and measures the request
/// in `http_client_request_duration_seconds`. See the [module](super) for what it
/// records.
///
/// ```
/// use rustform::http::ClientMiddleware;
/// use rustform::http::reqwest_middleware::ClientBuilder;
///
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(ClientMiddleware::new())
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Debug)]
pub struct ClientMiddleware {
    metrics: Option<&'static ClientMetrics>,
}

impl ClientMiddleware {
    /// The middleware as `prometheus.metrics.http` of the configuration
    /// `rustform::init()` installed says (`enabled`, `histogram_buckets`, as for
    /// [`ObserveLayer`](super::ObserveLayer)), or with the defaults before `init()`.
    ///
    /// The histogram is registered in the default registry by the first middleware
    /// built; a later one asking for other buckets shares the registered ones (and the
    /// logs say so).
    pub fn new() -> ClientMiddleware {
        match INSTALLED.get() {
            Some(http) => ClientMiddleware::from_settings(http),
            None => ClientMiddleware::from_settings(&HttpMetrics::default()),
        }
    }

    /// The middleware as `config`'s `prometheus.metrics.http` says. With
    /// `enabled: false` it records no metrics; spans and trace context stay.
    ///
    /// ```
    /// let config = rustform::config::Config::parse(
    ///     "observability:\n  prometheus:\n    metrics:\n      http:\n        enabled: false\n",
    ///     "rustform.yml",
    ///     &|_| None,
    /// )?;
    /// let middleware = rustform::http::ClientMiddleware::from_config(&config);
    /// # let _ = middleware;
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub fn from_config(config: &Config) -> ClientMiddleware {
        ClientMiddleware::from_settings(&config.observability.prometheus.metrics.http)
    }

    fn from_settings(http: &HttpMetrics) -> ClientMiddleware {
        ClientMiddleware {
            metrics: http
                .enabled
                .then(|| client_metrics(&duration_buckets(http))),
        }
    }
}

impl Default for ClientMiddleware {
    fn default() -> Self {
        ClientMiddleware::new()
    }
}

/// The template of a request's URL (`/items/{id}`), for the client span's name
/// (`"GET /items/{id}"`) and its `url.template` attribute. Without it the span is named
/// by the method alone: the path itself is not a name, as it may hold ids.
///
/// ```
/// use rustform::http::UrlTemplate;
/// use rustform::http::reqwest_middleware::ClientBuilder;
///
/// # async fn run() -> Result<(), rustform::http::reqwest_middleware::Error> {
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(rustform::http::ClientMiddleware::new())
///     .build();
/// let response = client
///     .get("http://inventory:8080/items/42")
///     .with_extension(UrlTemplate("/items/{id}"))
///     .send()
///     .await?;
/// # let _ = response;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlTemplate(pub &'static str);

#[async_trait::async_trait]
impl Middleware for ClientMiddleware {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let template = extensions.get::<UrlTemplate>().map(|t| t.0);
        let mut call = Call::start(self.metrics, &request, template);
        if call.span.is_disabled() {
            // No client span: the service called still continues the caller's trace.
            inject(request.headers_mut());
        } else {
            inject_from(&call.span, request.headers_mut());
        }
        let span = call.span.clone();
        let result = next.run(request, extensions).instrument(span).await;
        match &result {
            Ok(response) => call.end(Ending::Responded {
                status: response.status().as_u16(),
                version: protocol_version(response.version()),
            }),
            Err(error) => call.end(Ending::Failed(error_type(error))),
        }
        result
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ending {
    /// A response head arrived with this status.
    Responded { status: u16, version: &'static str },
    /// No response: the error's `error.type`.
    Failed(&'static str),
}

/// One request in flight: its span and timer, ended exactly once, even when the future
/// sending it is dropped first.
struct Call {
    started: u64,
    span: tracing::Span,
    metrics: Option<&'static ClientMetrics>,
    method: &'static str,
    address: Box<str>,
    port: Option<u16>,
    ended: bool,
}

impl Call {
    fn start(
        metrics: Option<&'static ClientMetrics>,
        request: &Request,
        template: Option<&'static str>,
    ) -> Call {
        let started = crate::clock::raw();
        let method = method_label(request.method());
        let url = request.url();
        let address = server_address(url);
        let port = url.port_or_known_default();
        let original_method = (method == "_OTHER").then(|| request.method().as_str());
        let span = tracing::info_span!(
            target: "rustform::http",
            "HTTP client request",
            otel.name = %ClientSpanName { method, template },
            otel.kind = "client",
            http.request.method = method,
            http.request.method_original = original_method,
            server.address = address,
            server.port = port,
            url.full = %RedactedUrl(url),
            url.template = template,
            network.protocol.version = Empty,
            http.response.status_code = Empty,
            otel.status_code = Empty,
            error.type = Empty,
        );
        Call {
            started,
            span,
            metrics,
            method,
            address: address.unwrap_or_default().into(),
            port,
            ended: false,
        }
    }

    /// Records how the request ended on the span and, with a response or a failure of
    /// its own, in the histogram.
    fn end(&mut self, ending: Ending) {
        self.ended = true;
        let seconds = crate::clock::nanos_between(self.started, crate::clock::raw()) as f64 * 1e-9;
        let span = &self.span;
        match ending {
            Ending::Responded { status, version } => {
                span.record("http.response.status_code", status);
                span.record("network.protocol.version", version);
                if status >= 400 {
                    span.record("otel.status_code", "ERROR");
                    span.record("error.type", display(status));
                }
            }
            Ending::Failed(kind) => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", kind);
            }
        }
        let Some(metrics) = self.metrics else {
            return;
        };
        let labels = ClientLabels {
            method: self.method,
            address: std::mem::take(&mut self.address),
            port: self.port,
            ending,
        };
        let duration = metrics.duration.with(&labels);
        duration.observe(seconds);
        if !span.is_disabled() && crate::metrics::exemplar::has_source() {
            let _entered = span.enter();
            let nanos = crate::metrics::exemplar::monotonic_nanos(crate::clock::raw());
            duration.offer_exemplar(seconds, nanos);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        // The caller dropped the request (a timeout, a `select!`), or a middleware after
        // this one panicked: no response to count, the span says why it ended.
        if std::thread::panicking() {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", "panic");
        } else {
            self.span.record("error.type", "cancelled");
        }
    }
}

/// The `error.type` of a request that got no response: a short, fixed name.
fn error_type(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Middleware(_) => "_OTHER",
        reqwest_middleware::Error::Reqwest(error) => reqwest_error_type(error),
    }
}

fn reqwest_error_type(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_redirect() {
        "redirect"
    } else if error.is_body() {
        "body"
    } else if error.is_decode() {
        "decode"
    } else if error.is_builder() {
        "builder"
    } else if error.is_request() {
        "request"
    } else {
        "_OTHER"
    }
}

/// `server.address`: the URL's host, an IPv6 address without its brackets.
fn server_address(url: &Url) -> Option<&str> {
    let host = url.host_str()?;
    Some(
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host),
    )
}

/// `"{method} {url.template}"`, the method alone without a template, and `HTTP` for
/// `_OTHER`, as the OpenTelemetry semantic conventions name client spans.
struct ClientSpanName {
    method: &'static str,
    template: Option<&'static str>,
}

impl fmt::Display for ClientSpanName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = if self.method == "_OTHER" {
            "HTTP"
        } else {
            self.method
        };
        match self.template {
            Some(template) => write!(f, "{method} {template}"),
            None => f.write_str(method),
        }
    }
}

/// `url.full` without secrets: credentials become `REDACTED:REDACTED` (as the
/// OpenTelemetry semantic conventions ask), every query value becomes `REDACTED` (a
/// parameter without `=` is replaced whole; names are kept), and the fragment, which is
/// never sent, is left out.
struct RedactedUrl<'a>(&'a Url);

impl fmt::Display for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = self.0;
        f.write_str(url.scheme())?;
        f.write_str(":")?;
        if let Some(host) = url.host_str() {
            f.write_str("//")?;
            if !url.username().is_empty() || url.password().is_some() {
                write!(f, "{REDACTED}:{REDACTED}@")?;
            }
            f.write_str(host)?;
            if let Some(port) = url.port() {
                write!(f, ":{port}")?;
            }
        }
        f.write_str(url.path())?;
        if let Some(query) = url.query() {
            f.write_str("?")?;
            for (i, parameter) in query.split('&').enumerate() {
                if i > 0 {
                    f.write_str("&")?;
                }
                match parameter.split_once('=') {
                    Some((name, _)) => write!(f, "{name}={REDACTED}")?,
                    None if parameter.is_empty() => {}
                    None => f.write_str(REDACTED)?,
                }
            }
        }
        Ok(())
    }
}

/// `{http_request_method, server_address, server_port, http_response_status_code,
/// error_type}`; a label that does not apply is empty (as Prometheus reads an absent
/// label). The method folds into `_OTHER`, the status is one of at most 1000 codes,
/// `error_type` is a status of 400 or more or one of a few fixed names, and the address
/// is one of the hosts the service calls; past the family's cardinality limit, new
/// hosts share the overflow series.
struct ClientLabels {
    method: &'static str,
    address: Box<str>,
    port: Option<u16>,
    ending: Ending,
}

impl LabelSet for ClientLabels {
    const NAMES: &'static [&'static str] = &[
        "http_request_method",
        "server_address",
        "server_port",
        "http_response_status_code",
        "error_type",
    ];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(self.method);
        f(&self.address);
        match self.port {
            Some(port) => f(itoa::Buffer::new().format(port)),
            None => f(""),
        }
        match self.ending {
            Ending::Responded { status, .. } => {
                let mut buffer = itoa::Buffer::new();
                let code = buffer.format(status);
                f(code);
                f(if status >= 400 { code } else { "" });
            }
            Ending::Failed(kind) => {
                f("");
                f(kind);
            }
        }
    }
}

/// The client's metric family, registered once per process.
struct ClientMetrics {
    duration: HistogramVec<ClientLabels>,
    buckets: Buckets,
}

impl fmt::Debug for ClientMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientMetrics")
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

static METRICS: RegisterOnce<ClientMetrics> = RegisterOnce::new();

/// The family, registered in the default registry on first use with `buckets`. The
/// first middleware built decides the buckets; a later one asking for others is told so
/// in the logs and shares the registered ones.
fn client_metrics(buckets: &Buckets) -> &'static ClientMetrics {
    METRICS.get_or_register(
        DURATION,
        "middleware",
        buckets,
        |metrics| &metrics.buckets,
        || {
            let duration = HistogramVec::new(buckets.clone());
            register(
                DURATION,
                "Duration of HTTP client requests, until the response head arrived",
                duration.clone(),
            );
            ClientMetrics {
                duration,
                buckets: buckets.clone(),
            }
        },
    )
}

#[cfg(test)]
mod tests;
