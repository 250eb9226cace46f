//! The server's RED metrics, in the default registry, and the label values they take.
//!
//! Every label value comes from a bounded set: the method folds into the nine standard
//! methods or `_OTHER`, the route is a template of the application's router or
//! [`UNMATCHED_ROUTE`], and the status is one of at most 1000 codes. A client choosing
//! paths or methods at random cannot create series.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use axum::extract::MatchedPath;
use http::Method;

use super::UNMATCHED_ROUTE;
use crate::metrics::{Buckets, DEFAULT_CARDINALITY_LIMIT, Gauge, GaugeVec, Histogram};
use crate::metrics::{HistogramVec, LabelSet, Metric, default_registry};

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

/// The values [`method_label`] gives, in the order of [`ServerMetrics`]' route tables.
const METHOD_LABELS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER",
];

/// The position of a [`method_label`] value in [`METHOD_LABELS`].
fn method_index(method: &str) -> Option<usize> {
    METHOD_LABELS.iter().position(|label| *label == method)
}

/// The route a request matched: the router's template, or none; and the series of the
/// request's method and route, once [`ServerMetrics::active`] has found them.
#[derive(Clone, Default)]
pub(crate) struct Route {
    matched: Option<MatchedPath>,
    series: Option<Arc<RouteSeries>>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Route").field(&self.template()).finish()
    }
}

impl Route {
    pub(crate) fn new(matched: Option<&MatchedPath>) -> Route {
        Route {
            matched: matched.cloned(),
            series: None,
        }
    }

    /// The template (`/users/{id}`), if the request matched one.
    pub(crate) fn template(&self) -> Option<&str> {
        self.matched.as_ref().map(MatchedPath::as_str)
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

/// At most this many method and route pairs have their series kept in
/// [`ServerMetrics`]' route tables; requests of others look their series up each time.
const ROUTE_TABLE_LIMIT: usize = DEFAULT_CARDINALITY_LIMIT;

/// The HTTP server metric families, registered once per process.
///
/// A request's series are found once per method and route: [`active`](Self::active)
/// looks the pair up in a table (hashing the route template alone) and leaves what it
/// finds in the request's [`Route`], where the families of the finished request find
/// their series by status. What a request records, and the series it creates, are those
/// of looking each family up by its labels.
pub(crate) struct ServerMetrics {
    duration: RequestHistograms,
    active: GaugeVec<ActiveLabels>,
    pub(crate) request_size: RequestHistograms,
    pub(crate) response_size: RequestHistograms,
    /// The series found so far, by method (position in [`METHOD_LABELS`]) and route
    /// label.
    routes: [RwLock<HashMap<Box<str>, Arc<RouteSeries>>>; METHOD_LABELS.len()],
    /// Entries in `routes`, at most [`ROUTE_TABLE_LIMIT`].
    route_count: AtomicUsize,
    buckets: Buckets,
}

/// The series of one method and route: the active-requests gauge, and in
/// [`finished`](Self::finished), by status, those of the families of finished requests
/// used so far.
struct RouteSeries {
    method: &'static str,
    active: Gauge,
    /// One table per [`RequestHistograms`], at its `table`.
    finished: [ByStatus; 3],
}

/// Series of one family by status code, sorted by status. At most one per status code
/// (100 to 999).
#[derive(Default)]
struct ByStatus(RwLock<Vec<(u16, &'static Histogram)>>);

impl ByStatus {
    /// The series of `status`, found with `find` the first time.
    fn get(&self, status: u16, find: impl FnOnce() -> &'static Histogram) -> &'static Histogram {
        {
            let list = self.0.read().unwrap_or_else(PoisonError::into_inner);
            if let Ok(i) = list.binary_search_by_key(&status, |&(s, _)| s) {
                return list[i].1;
            }
        }
        let histogram = find();
        let mut list = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if let Err(i) = list.binary_search_by_key(&status, |&(s, _)| s) {
            list.insert(i, (status, histogram));
        }
        histogram
    }
}

/// A histogram family of finished requests (duration, body sizes).
pub(crate) struct RequestHistograms {
    family: HistogramVec<RequestLabels>,
    /// Which of a [`RouteSeries`]' `finished` tables holds this family's series.
    table: usize,
}

impl RequestHistograms {
    fn new(buckets: Buckets, table: usize) -> RequestHistograms {
        RequestHistograms {
            family: HistogramVec::new(buckets),
            table,
        }
    }

    /// The series of `labels`: from the table of the request's method and route when
    /// [`ServerMetrics::active`] found it, else looked up by its labels.
    pub(crate) fn with(&'static self, labels: &RequestLabels) -> &'static Histogram {
        match &labels.route.series {
            Some(series) if series.method == labels.method => {
                match series.finished.get(self.table) {
                    Some(table) => table.get(labels.status, || self.family.with(labels)),
                    None => self.family.with(labels),
                }
            }
            _ => self.family.with(labels),
        }
    }
}

impl std::fmt::Debug for ServerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerMetrics")
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

static METRICS: RegisterOnce<ServerMetrics> = RegisterOnce::new();

/// The name of the server's duration histogram.
const DURATION: &str = "http_server_request_duration_seconds";

/// The families, registered in the default registry on first use with `buckets` for the
/// duration histogram. The first layer built decides the buckets; a later one asking for
/// others is told so in the logs and shares the registered ones.
pub(crate) fn server_metrics(buckets: &Buckets) -> &'static ServerMetrics {
    METRICS.get_or_register(
        DURATION,
        "layer",
        buckets,
        |metrics| &metrics.buckets,
        || ServerMetrics::register(buckets.clone()),
    )
}

impl ServerMetrics {
    fn register(buckets: Buckets) -> ServerMetrics {
        let sizes = Buckets::new(SIZE_BUCKETS.iter().copied()).unwrap_or_default();
        // Each family of finished requests has its own table in a route's series.
        let metrics = ServerMetrics {
            duration: RequestHistograms::new(buckets.clone(), 0),
            active: GaugeVec::new(),
            request_size: RequestHistograms::new(sizes.clone(), 1),
            response_size: RequestHistograms::new(sizes, 2),
            routes: std::array::from_fn(|_| RwLock::default()),
            route_count: AtomicUsize::new(0),
            buckets,
        };
        register(
            DURATION,
            "Duration of HTTP server requests, until the response head is ready",
            metrics.duration.family.clone(),
        );
        register(
            "http_server_active_requests",
            "HTTP server requests in progress",
            metrics.active.clone(),
        );
        register(
            "http_server_request_body_size_bytes",
            "Size of HTTP server request bodies, when known from Content-Length or the body",
            metrics.request_size.family.clone(),
        );
        register(
            "http_server_response_body_size_bytes",
            "Size of HTTP server response bodies, when known from Content-Length or the body",
            metrics.response_size.family.clone(),
        );
        metrics
    }

    /// The active-requests gauge of a method and route. The series of the pair are left
    /// in `route`, for the families of the finished request.
    pub(crate) fn active(&'static self, method: &'static str, route: &mut Route) -> Gauge {
        match self.route_series(method, route) {
            Some(series) => {
                let active = series.active.clone();
                route.series = Some(series);
                active
            }
            None => self.active_series(method, route),
        }
    }

    /// The series of a method and route from the route tables, added if new and the
    /// tables are not full.
    fn route_series(&self, method: &'static str, route: &Route) -> Option<Arc<RouteSeries>> {
        let routes = self.routes.get(method_index(method)?)?;
        let label = route.label();
        if let Some(series) = routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(label)
        {
            return Some(series.clone());
        }
        let mut routes = routes.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(series) = routes.get(label) {
            return Some(series.clone());
        }
        self.route_count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < ROUTE_TABLE_LIMIT).then_some(n + 1)
            })
            .ok()?;
        let series = Arc::new(RouteSeries {
            method,
            active: self.active_series(method, route),
            finished: Default::default(),
        });
        routes.insert(Box::from(label), series.clone());
        Some(series)
    }

    /// The active-requests gauge of a method and route, looked up by its labels.
    fn active_series(&self, method: &'static str, route: &Route) -> Gauge {
        self.active
            .with(&ActiveLabels {
                method,
                route: Route::new(route.matched.as_ref()),
            })
            .clone()
    }

    /// The duration histogram of a finished request.
    pub(crate) fn duration(&'static self, labels: &RequestLabels) -> &'static Histogram {
        self.duration.with(labels)
    }
}

/// Metric families registered once per process, by the first caller, with that caller's
/// duration buckets.
pub(crate) struct RegisterOnce<T> {
    metrics: OnceLock<T>,
    /// Whether a later caller asking for other buckets has been told, so the logs say it
    /// once.
    told: AtomicBool,
}

impl<T> RegisterOnce<T> {
    /// Nothing registered yet.
    pub(crate) const fn new() -> RegisterOnce<T> {
        RegisterOnce {
            metrics: OnceLock::new(),
            told: AtomicBool::new(false),
        }
    }

    /// The families, which `register` builds and registers with `buckets` on the first
    /// call. A later caller asking for other buckets than the registered ones
    /// (`buckets_of` reads them) shares those, and the first such caller is told so in
    /// the logs: that `name` (the histogram with the buckets) is already registered, and
    /// that this `caller` (`layer`, `middleware`) uses its buckets.
    pub(crate) fn get_or_register(
        &self,
        name: &str,
        caller: &str,
        buckets: &Buckets,
        buckets_of: impl FnOnce(&T) -> &Buckets,
        register: impl FnOnce() -> T,
    ) -> &T {
        let mut created = false;
        let metrics = self.metrics.get_or_init(|| {
            created = true;
            register()
        });
        let registered = buckets_of(metrics);
        if !created && registered != buckets && !self.told.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "rustform::http",
                registered = ?registered.bounds(),
                asked = ?buckets.bounds(),
                "{name} is already registered with other buckets; this {caller} uses those"
            );
        }
        metrics
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
    fn every_method_label_has_a_route_table() {
        for name in [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PURGE",
        ] {
            let label = method_label(&Method::from_bytes(name.as_bytes()).unwrap());
            let index = method_index(label).unwrap();
            assert_eq!(METHOD_LABELS[index], label);
        }
        assert_eq!(method_index("get"), None);
    }

    #[test]
    fn a_request_records_in_the_series_of_its_labels() {
        let metrics = server_metrics(&Buckets::new(crate::config::HTTP_DURATION_BUCKETS).unwrap());
        // A method no other test of the process uses, so the gauge is this test's.
        let method = "CONNECT";
        for round in 0..2 {
            let mut route = Route::default();
            let active = metrics.active(method, &mut route);
            assert!(route.series.is_some(), "round {round}");
            let by_labels = metrics.active_series(method, &Route::default());
            active.inc();
            assert_eq!(by_labels.get(), 1, "round {round}");
            active.dec();
            for status in [200, 503, 404] {
                let labels = RequestLabels {
                    method,
                    route: route.clone(),
                    status,
                };
                for family in [
                    &metrics.duration,
                    &metrics.request_size,
                    &metrics.response_size,
                ] {
                    assert!(std::ptr::eq(
                        family.with(&labels),
                        family.family.with(&labels)
                    ));
                }
            }
        }
        // Labels whose method is not the one the route's series were found for are
        // looked up by their own.
        let mut route = Route::default();
        metrics.active(method, &mut route);
        let labels = RequestLabels {
            method: "OPTIONS",
            route,
            status: 200,
        };
        assert!(std::ptr::eq(
            metrics.duration(&labels),
            metrics.duration.family.with(&labels)
        ));
    }

    #[test]
    fn a_route_keeps_requests_send_sync_and_unwind_safe() {
        fn check<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
        check::<Route>();
    }

    /// Collects the messages of the events logged.
    #[derive(Clone, Default)]
    struct Messages(Arc<std::sync::Mutex<Vec<String>>>);

    impl tracing::field::Visit for Messages {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            if field.name() == "message" {
                self.0.lock().unwrap().push(format!("{value:?}"));
            }
        }
    }

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Messages {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            event.record(&mut self.clone());
        }
    }

    #[test]
    fn a_later_caller_asking_for_other_buckets_is_told_once() {
        use tracing_subscriber::layer::SubscriberExt;

        let messages = Messages::default();
        let subscriber = tracing_subscriber::registry().with(messages.clone());
        let once = RegisterOnce::new();
        let first = Buckets::new([1.0, 2.0]).unwrap();
        let other = Buckets::new([5.0]).unwrap();
        let mut registered = 0;
        tracing::subscriber::with_default(subscriber, || {
            for buckets in [&first, &first, &other, &other] {
                let got = once.get_or_register(
                    "some_seconds",
                    "layer",
                    buckets,
                    |b| b,
                    || {
                        registered += 1;
                        first.clone()
                    },
                );
                assert_eq!(*got, first);
            }
        });
        assert_eq!(registered, 1);
        assert_eq!(
            *messages.0.lock().unwrap(),
            ["some_seconds is already registered with other buckets; this layer uses those"]
        );
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
