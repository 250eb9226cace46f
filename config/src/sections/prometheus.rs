//! `observability.prometheus`: the scrape endpoint (where it is served, how it is
//! protected, how long a connection may hold it) and the built-in metric families it
//! exposes.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Authentication, MS, duration, nested, some, whole};
use crate::decode::{Decoder, Fields};
use crate::names::metric_name_problem;
use crate::node::Node;

section! {
    /// `observability.prometheus`: the scrape endpoint.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Prometheus {
        /// `enabled` (default true).
        pub enabled: bool = true => Decoder::bool,
        /// `endpoint` (default `/metrics`).
        pub endpoint: String = "/metrics".to_owned() => Decoder::url_path,
        /// `authentication`.
        pub authentication: Authentication = Authentication::default() => nested,
        /// `listen`: the address `rustform::init()` serves the endpoint on (`0.0.0.0:9464`,
        /// `127.0.0.1:0`); without one, nothing is served and the application mounts
        /// `rustform::endpoint::router()` in its own server.
        pub listen: Option<SocketAddr> = None => some(listen),
        /// `request_timeout` (default 10 s): the longest the endpoint may take to answer a
        /// request once its head has arrived (503 past it), and the longest a connection of
        /// its own server may take to finish once it is closed for being idle.
        pub request_timeout: Duration = Duration::from_secs(10) => duration(MS),
        /// `header_timeout` (default: the smaller of 10 s and `request_timeout`, the way Go's
        /// `http.Server` falls back from `ReadHeaderTimeout` to `ReadTimeout`): on the
        /// endpoint's own server, a connection with no request in progress must deliver a
        /// complete request head within this time, counted from the moment it is accepted
        /// (the TLS handshake included) or from the end of its previous request, or it is
        /// closed. It bounds silent connections, slow heads and idle keep-alive connections,
        /// over HTTP/1.1 and HTTP/2 alike; HTTP/2 pings go unanswered for no longer.
        pub header_timeout: Duration = DEFAULT_HEADER_TIMEOUT => duration(MS),
        /// `max_connections` (default 512, the default of Prometheus's own
        /// `--web.max-connections`): the most connections the endpoint's own server holds
        /// open at once; past it, a new connection is closed as soon as it is accepted. A
        /// few scrapers need a few connections; the cap keeps a flood of connections below
        /// the process's descriptor limit (1024 by default on Linux), so the application
        /// keeps its own descriptors.
        pub max_connections: u32 = 512 => whole(1, 1_000_000),
        /// `tls`: serve HTTPS with this certificate and key (TLS 1.2 and 1.3).
        pub tls: Option<Tls> = None => some(Tls::decode),
        /// `metrics`.
        pub metrics: PrometheusMetrics = PrometheusMetrics::default() => nested,
    }

    /// Without a `header_timeout`, a request's head may take no longer than the request.
    fn complete(&mut self, _d: &mut Decoder<'_>, fields: &mut Fields<'_>) {
        if fields.get("header_timeout").is_none() {
            self.header_timeout = DEFAULT_HEADER_TIMEOUT.min(self.request_timeout);
        }
    }
}

/// The longest `prometheus.header_timeout` is by default: a scraper sends its request
/// head at once, so ten seconds is generous and still bounds a silent connection.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// `listen`: an address and port.
fn listen(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<SocketAddr> {
    let text = d.string(node, path)?;
    match text.trim().parse::<SocketAddr>() {
        Ok(address) => Some(address),
        Err(_) => {
            d.error(
                path,
                node.at,
                format!(
                    "expected an address and port, like \"0.0.0.0:9464\" or \"127.0.0.1:9464\", found {text:?}"
                ),
            );
            None
        }
    }
}

/// `prometheus.tls`: the endpoint's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Tls {
    /// `cert_file`: the certificate chain, PEM, leaf first.
    pub cert_file: String,
    /// `key_file`: its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: String,
}

impl Tls {
    /// `tls`: both files are required.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Tls> {
        let mut fields = d.map(node, path);
        let cert_file = fields.required(
            d,
            "cert_file",
            "the path of the certificate chain (PEM)",
            Decoder::string,
        );
        let key_file = fields.required(
            d,
            "key_file",
            "the path of the private key (PEM)",
            Decoder::string,
        );
        fields.finish(d);
        Some(Tls {
            cert_file: cert_file?,
            key_file: key_file?,
        })
    }
}

section! {
    /// `prometheus.metrics`: built-in metric families.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct PrometheusMetrics {
        /// `http`.
        pub http: HttpMetrics = HttpMetrics::default() => nested,
        /// `database`.
        pub database: DatabaseMetrics = DatabaseMetrics::default() => nested,
        /// `business`.
        pub business: BusinessMetrics = BusinessMetrics::default() => nested,
    }
}

section! {
    /// `prometheus.metrics.http`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct HttpMetrics {
        /// `enabled` (default true).
        pub enabled: bool = true => Decoder::bool,
        /// `track_user_agents` (default false).
        pub track_user_agents: bool = false => Decoder::bool,
        /// `track_ip_addresses` (default false).
        pub track_ip_addresses: bool = false => Decoder::bool,
        /// `histogram_buckets` (default: the OpenTelemetry HTTP duration buckets).
        pub histogram_buckets: Vec<f64> = HTTP_DURATION_BUCKETS.to_vec() => Decoder::buckets,
    }
}

/// The OpenTelemetry semantic conventions' advice for `http.server.request.duration`.
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

section! {
    /// `prometheus.metrics.database`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct DatabaseMetrics {
        /// `enabled` (default false).
        pub enabled: bool = false => Decoder::bool,
        /// `track_queries` (default false): never record SQL text unless asked.
        pub track_queries: bool = false => Decoder::bool,
        /// `connection_pool` (default true).
        pub connection_pool: bool = true => Decoder::bool,
        /// `query_duration` (default true).
        pub query_duration: bool = true => Decoder::bool,
    }
}

section! {
    /// `prometheus.metrics.business`: label-less metrics declared by name.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct BusinessMetrics {
        /// `enabled` (default false).
        pub enabled: bool = false => Decoder::bool,
        /// `custom_counters`.
        pub custom_counters: Vec<String> = Vec::new() => metric_names,
        /// `custom_gauges`.
        pub custom_gauges: Vec<String> = Vec::new() => metric_names,
        /// `custom_histograms`.
        pub custom_histograms: Vec<String> = Vec::new() => metric_names,
    }
}

/// A list of metric names; the invalid ones are reported and left out.
fn metric_names(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<String>> {
    let names = d.strings(node, path);
    Some(
        names
            .into_iter()
            .filter_map(|(name, at, path)| match metric_name_problem(&name) {
                Some(problem) => {
                    d.error(
                        &path,
                        at,
                        format!("{name:?} is not a valid metric name: {problem}"),
                    );
                    None
                }
                None => Some(name),
            })
            .collect(),
    )
}
