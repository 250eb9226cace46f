//! The server's RED metrics, in the default registry, and the label values they take.
//!
//! Every label value comes from a bounded set: the method folds into the nine standard
//! methods or `_OTHER`, the route is a template of the application's router or
//! [`UNMATCHED_ROUTE`], and the status is one of at most 1000 codes. A client choosing
//! paths or methods at random cannot create series.

use std::sync::OnceLock;

use axum::extract::MatchedPath;
use http::Method;

use super::UNMATCHED_ROUTE;
use crate::metrics::{Buckets, Gauge, GaugeVec, Histogram, HistogramVec, LabelSet};
use crate::metrics::{Metric, default_registry};

/// The method as a label value and span attribute: one of the nine methods of RFC 9110
/// and RFC 5789, matched case-sensitively, or `_OTHER` (as the OpenTelemetry semantic
/// conventions ask), so a client inventing methods cannot create series.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// The route a request matched: the router's template, or none.
#[derive(Clone, Debug, Default)]
pub(crate) struct Route(Option<MatchedPath>);

impl Route {
    pub(crate) fn new(matched: Option<&MatchedPath>) -> Route {
        Route(matched.cloned())
    }

    /// The template (`/users/{id}`), if the request matched one.
    pub(crate) fn template(&self) -> Option<&str> {
        self.0.as_ref().map(MatchedPath::as_str)
    }

    /// The `http_route` label: the template, or [`UNMATCHED_ROUTE`].
    pub(crate) fn label(&self) -> &str {
        self.template().unwrap_or(UNMATCHED_ROUTE)
    }
}

/// `{http_request_method, http_route, http_response_status_code}`.
pub(crate) struct RequestLabels {
    pub(crate) method: &'static str,
    pub(crate) route: Route,
    pub(crate) status: u16,
}

impl LabelSet for RequestLabels {
    const NAMES: &'static [&'static str] = &[
        "http_request_method",
        "http_route",
        "http_response_status_code",
    ];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(self.method);
        f(self.route.label());
        f(itoa::Buffer::new().format(self.status));
    }
}

/// `{http_request_method, http_route}`.
pub(crate) struct ActiveLabels {
    pub(crate) method: &'static str,
    pub(crate) route: Route,
}

impl LabelSet for ActiveLabels {
    const NAMES: &'static [&'static str] = &["http_request_method", "http_route"];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(self.method);
        f(self.route.label());
    }
}

/// The buckets of the body size histograms: 64 bytes to 16 MiB, by factors of four.
const SIZE_BUCKETS: &[f64] = &[
    64.0,
    256.0,
    1024.0,
    4096.0,
    16384.0,
    65536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
];

/// The HTTP server metric families, registered once per process.
pub(crate) struct ServerMetrics {
    pub(crate) duration: HistogramVec<RequestLabels>,
    pub(crate) active: GaugeVec<ActiveLabels>,
    pub(crate) request_size: HistogramVec<RequestLabels>,
    pub(crate) response_size: HistogramVec<RequestLabels>,
    buckets: Buckets,
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

static METRICS: OnceLock<ServerMetrics> = OnceLock::new();

/// The families, registered in the default registry on first use with `buckets` for the
/// duration histogram. The first layer built decides the buckets; a later one asking for
/// others is told so in the logs and shares the registered ones.
pub(crate) fn server_metrics(buckets: &Buckets) -> &'static ServerMetrics {
    let mut created = false;
    let metrics = METRICS.get_or_init(|| {
        created = true;
        ServerMetrics::register(buckets.clone())
    });
    if !created && metrics.buckets != *buckets {
        static TOLD: OnceLock<()> = OnceLock::new();
        TOLD.get_or_init(|| {
            tracing::warn!(
                target: "rustform::http",
                registered = ?metrics.buckets.bounds(),
                asked = ?buckets.bounds(),
                "http_server_request_duration_seconds is already registered with other \
                 buckets; this layer uses those"
            );
        });
    }
    metrics
}

impl ServerMetrics {
    fn register(buckets: Buckets) -> ServerMetrics {
        let sizes = Buckets::new(SIZE_BUCKETS.iter().copied()).unwrap_or_default();
        let metrics = ServerMetrics {
            duration: HistogramVec::new(buckets.clone()),
            active: GaugeVec::new(),
            request_size: HistogramVec::new(sizes.clone()),
            response_size: HistogramVec::new(sizes),
            buckets,
        };
        register(
            "http_server_request_duration_seconds",
            "Duration of HTTP server requests, until the response head is ready",
            metrics.duration.clone(),
        );
        register(
            "http_server_active_requests",
            "HTTP server requests in progress",
            metrics.active.clone(),
        );
        register(
            "http_server_request_body_size_bytes",
            "Size of HTTP server request bodies, when known from Content-Length or the body",
            metrics.request_size.clone(),
        );
        register(
            "http_server_response_body_size_bytes",
            "Size of HTTP server response bodies, when known from Content-Length or the body",
            metrics.response_size.clone(),
        );
        metrics
    }

    /// The active-requests gauge of a method and route.
    pub(crate) fn active(&self, method: &'static str, route: &Route) -> Gauge {
        self.active
            .with(&ActiveLabels {
                method,
                route: route.clone(),
            })
            .clone()
    }

    /// The duration histogram of a finished request.
    pub(crate) fn duration(&self, labels: &RequestLabels) -> &Histogram {
        self.duration.with(labels)
    }
}

/// Registers `metric` in the default registry, logging (never failing) on a clash.
pub(crate) fn register(name: &str, help: &str, metric: impl Metric) {
    if let Err(error) = default_registry().register(name, help, metric) {
        tracing::error!(target: "rustform::http", %error, "an HTTP metric is counted but not exposed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_name_and_others_fold() {
        for name in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_label(&method), name);
        }
        for name in ["PURGE", "get", "Post", "PROPFIND", "X-ANYTHING"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "_OTHER", "{name}");
        }
    }

    #[test]
    fn labels_are_in_the_declared_order() {
        let mut values = Vec::new();
        RequestLabels {
            method: "GET",
            route: Route::default(),
            status: 404,
        }
        .visit_values(&mut |v| values.push(v.to_owned()));
        assert_eq!(values, ["GET", UNMATCHED_ROUTE, "404"]);
        assert_eq!(values.len(), RequestLabels::NAMES.len());
    }
}
