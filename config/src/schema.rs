//! The typed configuration: what each section of `rustform.yml` means, with the defaults
//! that apply when a key is absent.

use std::collections::BTreeMap;
use std::time::Duration;

/// The whole configuration: `rustform.yml` with its defaults, and, once
/// [applied](crate::Config::apply_env), the `OTEL_*` and `RUST_LOG` variables.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Config {
    /// `name`: the application's name; the service name when nothing else gives one.
    pub name: Option<String>,
    /// `observability`.
    pub observability: Observability,
    /// `scaling`: how the service is run; read by the deployment generators and for
    /// the graceful-shutdown timings.
    pub scaling: Scaling,
    /// `custom_metrics`: metrics declared in the file.
    pub custom_metrics: CustomMetrics,
    /// `alerts`: alert rules to generate.
    pub alerts: Vec<Alert>,
    /// Values that were accepted with a caveat: unset `${VAR}`s, ignored environment
    /// variables.
    pub(crate) warnings: Vec<crate::Problem>,
}

/// `observability`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Observability {
    /// `observability.opentelemetry`.
    pub opentelemetry: OpenTelemetry,
    /// `observability.prometheus`: the `/metrics` endpoint.
    pub prometheus: Prometheus,
    /// `observability.logging`.
    pub logging: Logging,
    /// `observability.health`.
    pub health: Health,
}

/// `observability.opentelemetry`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OpenTelemetry {
    /// `enabled` (default true); `OTEL_SDK_DISABLED=true` turns it off.
    pub enabled: bool,
    /// `service_name`; `OTEL_SERVICE_NAME` and `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES` take precedence.
    pub service_name: Option<String>,
    /// `service_version`.
    pub service_version: Option<String>,
    /// `tracing`.
    pub tracing: Tracing,
    /// `metrics`.
    pub metrics: Metrics,
    /// `resource`.
    pub resource: Resource,
}

impl Default for OpenTelemetry {
    fn default() -> Self {
        OpenTelemetry {
            enabled: true,
            service_name: None,
            service_version: None,
            tracing: Tracing::default(),
            metrics: Metrics::default(),
            resource: Resource::default(),
        }
    }
}

/// `observability.opentelemetry.tracing`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tracing {
    /// `enabled` (default true).
    pub enabled: bool,
    /// The sampler: `parentbased(traceidratio(sample_rate))` from the file, or
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`.
    pub sampler: Sampler,
    /// `max_events_per_span` (default 128; `OTEL_SPAN_EVENT_COUNT_LIMIT`).
    pub max_events_per_span: u32,
    /// `max_attributes_per_span` (default 128; `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`).
    pub max_attributes_per_span: u32,
    /// `exporters`.
    pub exporters: Vec<TraceExporter>,
    /// `batch`: the span queue.
    pub batch: Batch,
    /// `propagators` (default `[tracecontext, baggage]`; `OTEL_PROPAGATORS`).
    pub propagators: Vec<Propagator>,
}

impl Default for Tracing {
    fn default() -> Self {
        Tracing {
            enabled: true,
            sampler: Sampler::default(),
            max_events_per_span: 128,
            max_attributes_per_span: 128,
            exporters: Vec::new(),
            batch: Batch::default(),
            propagators: vec![Propagator::TraceContext, Propagator::Baggage],
        }
    }
}

/// Which traces are recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Sampler {
    /// Whether a span with a parent follows its parent's decision (`parentbased_*`).
    pub parent_based: bool,
    /// The decision for a root span.
    pub root: RootSampler,
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler {
            parent_based: true,
            root: RootSampler::AlwaysOn,
        }
    }
}

impl Sampler {
    /// `parentbased(traceidratio(ratio))`, or always on at 1.0.
    pub fn ratio(ratio: f64) -> Sampler {
        Sampler {
            parent_based: true,
            root: if ratio >= 1.0 {
                RootSampler::AlwaysOn
            } else {
                RootSampler::TraceIdRatio(ratio)
            },
        }
    }
}

/// A root span's sampling decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Record every trace.
    AlwaysOn,
    /// Record no trace.
    AlwaysOff,
    /// Record this fraction of traces, chosen by trace id.
    TraceIdRatio(f64),
}

/// A context propagation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagator {
    /// W3C `traceparent` and `tracestate`.
    TraceContext,
    /// W3C `baggage`.
    Baggage,
}

/// `tracing.batch`: the bounded span queue (the OpenTelemetry batch span processor's
/// settings, `OTEL_BSP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Batch {
    /// `max_queue_size` (default 2048): spans beyond it are dropped and counted.
    pub max_queue_size: usize,
    /// `max_export_batch_size` (default 512).
    pub max_export_batch_size: usize,
    /// `scheduled_delay` (default 5 s).
    pub scheduled_delay: Duration,
    /// `export_timeout` (default 30 s).
    pub export_timeout: Duration,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        }
    }
}

/// Where spans go: `tracing.exporters[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TraceExporter {
    /// `type`: otlp, console, zipkin or jaeger.
    pub kind: TraceExporterKind,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint`, `protocol`, `headers`, `compression`, `timeout`.
    pub transport: Transport,
    /// `enabled_in_dev` (console): print spans only in development.
    pub enabled_in_dev: bool,
}

impl TraceExporter {
    /// An exporter of `kind` with every setting at its default.
    pub fn new(kind: TraceExporterKind) -> TraceExporter {
        TraceExporter {
            kind,
            enabled: true,
            transport: Transport::default(),
            enabled_in_dev: false,
        }
    }
}

/// How an exporter reaches its receiver. Its `Debug` output names the headers but never
/// shows their values, which often hold credentials.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Transport {
    /// `endpoint`: a URL (a path for the Prometheus exporter).
    pub endpoint: Option<String>,
    /// `protocol`: grpc or http/protobuf; by default from the endpoint's port
    /// (see [`effective_protocol`](crate::effective_protocol)).
    pub protocol: Option<Protocol>,
    /// `headers`, sent with every export.
    pub headers: BTreeMap<String, String>,
    /// `compression`: gzip or none.
    pub compression: Option<Compression>,
    /// `timeout` (default 10 s) for one export, retries included.
    pub timeout: Duration,
    /// `tls`: how an `https://` endpoint is verified, and the client's certificate.
    pub tls: ClientTls,
}

/// `tls` of an exporter or an external health check: how rustform verifies an
/// `https://` server, and the certificate it presents for mutual TLS. Empty (the
/// default), the system's root certificates verify the server and no client certificate
/// is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientTls {
    /// `ca_file`: trust the CA certificates in this PEM file instead of the system's
    /// roots (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub ca_file: Option<String>,
    /// `cert_file`: the client certificate chain, PEM, leaf first, for servers that
    /// require one (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`); needs `key_file`.
    pub cert_file: Option<String>,
    /// `key_file`: its private key, PEM (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
    pub key_file: Option<String>,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            endpoint: None,
            protocol: None,
            headers: BTreeMap::new(),
            compression: None,
            timeout: Duration::from_secs(10),
            tls: ClientTls::default(),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct HeaderNames<'a>(&'a BTreeMap<String, String>);
        impl std::fmt::Debug for HeaderNames<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, format_args!("<redacted>"))))
                    .finish()
            }
        }
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `tracing.exporters[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceExporterKind {
    /// OTLP to a collector.
    Otlp,
    /// Human-readable spans on stderr.
    Console,
    /// Zipkin v2 JSON over HTTP.
    Zipkin,
    /// OTLP to Jaeger's OTLP port.
    Jaeger,
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC (port 4317).
    Grpc,
    /// Protobuf over HTTP (port 4318).
    HttpProtobuf,
}

/// Export compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gzip,
    /// None.
    None,
}

/// `observability.opentelemetry.metrics`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Metrics {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `export_interval` (default 60 s; `OTEL_METRIC_EXPORT_INTERVAL`) for pushed metrics.
    pub export_interval: Duration,
    /// `export_timeout` (default 30 s; `OTEL_METRIC_EXPORT_TIMEOUT`).
    pub export_timeout: Duration,
    /// `http_metrics` (default true).
    pub http_metrics: bool,
    /// `database_metrics` (default false).
    pub database_metrics: bool,
    /// `system_metrics` (default true): the `process_*` metrics and `build_info`.
    pub system_metrics: bool,
    /// `custom_metrics` (default true): register the top-level `custom_metrics` section.
    pub custom_metrics: bool,
    /// `exporters`.
    pub exporters: Vec<MetricsExporter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            enabled: true,
            export_interval: Duration::from_secs(60),
            export_timeout: Duration::from_secs(30),
            http_metrics: true,
            database_metrics: false,
            system_metrics: true,
            custom_metrics: true,
            exporters: Vec::new(),
        }
    }
}

/// `metrics.exporters[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricsExporter {
    /// `type`: prometheus, otlp or console.
    pub kind: MetricsExporterKind,
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint` (the path for prometheus, a URL for otlp), `protocol`, `headers`,
    /// `compression`, `timeout`.
    pub transport: Transport,
    /// `authentication` (prometheus): overrides `prometheus.authentication`.
    pub authentication: Option<Authentication>,
}

impl MetricsExporter {
    /// An exporter of `kind` with every setting at its default.
    pub fn new(kind: MetricsExporterKind) -> MetricsExporter {
        MetricsExporter {
            kind,
            enabled: true,
            transport: Transport::default(),
            authentication: None,
        }
    }
}

/// `metrics.exporters[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsExporterKind {
    /// The pull endpoint.
    Prometheus,
    /// OTLP push.
    Otlp,
    /// Printed to stderr.
    Console,
}

/// `observability.opentelemetry.resource`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Resource {
    /// `attributes`, merged with `OTEL_RESOURCE_ATTRIBUTES` (which wins).
    pub attributes: BTreeMap<String, String>,
}

/// `observability.prometheus`: the scrape endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Prometheus {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint` (default `/metrics`).
    pub endpoint: String,
    /// `authentication`.
    pub authentication: Authentication,
    /// `metrics`.
    pub metrics: PrometheusMetrics,
    /// `listen`: the address `rustform::init()` serves the endpoint on (`0.0.0.0:9464`,
    /// `127.0.0.1:0`); without one, nothing is served and the application mounts
    /// `rustform::endpoint::router()` in its own server.
    pub listen: Option<std::net::SocketAddr>,
    /// `request_timeout` (default 10 s): the longest the endpoint may take to answer a
    /// request once its head has arrived (503 past it), and the longest a connection of
    /// its own server may take to finish once it is closed for being idle.
    pub request_timeout: Duration,
    /// `header_timeout` (default: the smaller of 10 s and `request_timeout`, the way Go's
    /// `http.Server` falls back from `ReadHeaderTimeout` to `ReadTimeout`): on the
    /// endpoint's own server, a connection with no request in progress must deliver a
    /// complete request head within this time, counted from the moment it is accepted
    /// (the TLS handshake included) or from the end of its previous request, or it is
    /// closed. It bounds silent connections, slow heads and idle keep-alive connections,
    /// over HTTP/1.1 and HTTP/2 alike; HTTP/2 pings go unanswered for no longer.
    pub header_timeout: Duration,
    /// `max_connections` (default 512, the default of Prometheus's own
    /// `--web.max-connections`): the most connections the endpoint's own server holds
    /// open at once; past it, a new connection is closed as soon as it is accepted. A
    /// few scrapers need a few connections; the cap keeps a flood of connections below
    /// the process's descriptor limit (1024 by default on Linux), so the application
    /// keeps its own descriptors.
    pub max_connections: u32,
    /// `tls`: serve HTTPS with this certificate and key (TLS 1.2 and 1.3).
    pub tls: Option<Tls>,
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

/// The longest `prometheus.header_timeout` is by default: a scraper sends its request
/// head at once, so ten seconds is generous and still bounds a silent connection.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for Prometheus {
    fn default() -> Self {
        Prometheus {
            enabled: true,
            endpoint: "/metrics".to_owned(),
            authentication: Authentication::default(),
            metrics: PrometheusMetrics::default(),
            listen: None,
            request_timeout: Duration::from_secs(10),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            max_connections: 512,
            tls: None,
        }
    }
}

/// `authentication`: who may read the endpoint.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Authentication {
    /// `enabled` (default false).
    pub enabled: bool,
    /// Whether the configuration wrote `authentication` at all. `/metrics` is served to
    /// anyone only when it did (`enabled: false` or `method: none`); the defaults, with
    /// nothing written, make the endpoint answer 503 and log how to choose.
    pub explicit: bool,
    /// `method` (default bearer_token).
    pub method: AuthMethod,
    /// `token_env`: the variable holding the static token.
    pub token_env: Option<String>,
    /// `token_file`: a file holding the static token.
    pub token_file: Option<String>,
    /// `token_header` (default `Authorization`) for bearer tokens.
    pub token_header: Option<String>,
    /// `header_name` (default `X-API-Key`) for API keys.
    pub header_name: Option<String>,
    /// `required_scopes`.
    pub required_scopes: Vec<String>,
    /// `token_store`: the file of opaque tokens (`rf_<id>_<secret>`) that
    /// `rustform metrics generate-token` writes; bearer_token and api_key accept them
    /// besides the static token.
    pub token_store: Option<String>,
    /// `jwt`: how JSON Web Tokens are verified; required by method jwt.
    pub jwt: Option<Jwt>,
    /// `rate_limit`.
    pub rate_limit: RateLimit,
}

impl Default for Authentication {
    /// Disabled; when enabled, bearer tokens with no token source, no required scope
    /// and the default rate limits.
    fn default() -> Self {
        Authentication {
            enabled: false,
            explicit: false,
            method: AuthMethod::BearerToken,
            token_env: None,
            token_file: None,
            token_header: None,
            header_name: None,
            required_scopes: Vec::new(),
            token_store: None,
            jwt: None,
            rate_limit: RateLimit::default(),
        }
    }
}

/// `authentication.jwt`: the key, issuer and audience a JSON Web Token must have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Jwt {
    /// `algorithm` (default HS256). Tokens signed with any other algorithm are refused.
    pub algorithm: JwtAlgorithm,
    /// `secret_env`: the variable holding the HS256 secret (at least 32 bytes).
    pub secret_env: Option<String>,
    /// `public_key_file`: the PEM public key for RS256 or ES256.
    pub public_key_file: Option<String>,
    /// `jwks_file`: a JSON Web Key Set for RS256 or ES256, keys chosen by `kid`.
    pub jwks_file: Option<String>,
    /// `issuer`: the required `iss` claim.
    pub issuer: String,
    /// `audience`: the required `aud` claim (one of its values).
    pub audience: String,
    /// `leeway` (default 60 s, at most 1 h): clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for Jwt {
    /// HS256, no key, empty issuer and audience (which the file must give), 60 s leeway.
    fn default() -> Self {
        Jwt {
            algorithm: JwtAlgorithm::Hs256,
            secret_env: None,
            public_key_file: None,
            jwks_file: None,
            issuer: String::new(),
            audience: String::new(),
            leeway: Duration::from_secs(60),
        }
    }
}

/// `authentication.jwt.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// HMAC with SHA-256 and a shared secret.
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and an RSA public key.
    Rs256,
    /// ECDSA on P-256 with SHA-256 and an EC public key.
    Es256,
}

/// `authentication.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// Anyone may read.
    None,
    /// `Authorization: Bearer <token>`.
    BearerToken,
    /// A key in a configurable header.
    ApiKey,
    /// A signed JWT with scopes.
    Jwt,
}

/// `authentication.rate_limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// `requests_per_minute` (default 60) per client.
    pub requests_per_minute: u32,
    /// `burst_size` (default 10).
    pub burst_size: u32,
    /// `failed_auth_per_minute` (default 10): failed authentication attempts allowed per
    /// client address.
    pub failed_auth_per_minute: u32,
    /// `trusted_proxies` (default none): the peers whose `X-Forwarded-For` is believed,
    /// as written: IP addresses or networks, each checked to parse as an [`IpNet`](crate::IpNet).
    pub trusted_proxies: Vec<String>,
    /// `ipv6_prefix_length` (default 64, 1 to 128): clients without a credential and
    /// failed authentications from IPv6 addresses are limited per network of this
    /// length, since one host commonly holds a whole /64 and could move through it.
    pub ipv6_prefix_length: u8,
    /// `ipv4_prefix_length` (default 32, 1 to 32): the same for IPv4 addresses.
    pub ipv4_prefix_length: u8,
}

impl Default for RateLimit {
    /// 60 requests a minute with bursts of 10, 10 failed attempts a minute, no trusted
    /// proxy, IPv6 clients per /64 and IPv4 clients per address.
    fn default() -> Self {
        RateLimit {
            requests_per_minute: 60,
            burst_size: 10,
            failed_auth_per_minute: 10,
            trusted_proxies: Vec::new(),
            ipv6_prefix_length: 64,
            ipv4_prefix_length: 32,
        }
    }
}

/// `prometheus.metrics`: built-in metric families.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct PrometheusMetrics {
    /// `http`.
    pub http: HttpMetrics,
    /// `database`.
    pub database: DatabaseMetrics,
    /// `business`.
    pub business: BusinessMetrics,
}

/// `prometheus.metrics.http`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpMetrics {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `track_user_agents` (default false).
    pub track_user_agents: bool,
    /// `track_ip_addresses` (default false).
    pub track_ip_addresses: bool,
    /// `histogram_buckets` (default: the OpenTelemetry HTTP duration buckets).
    pub histogram_buckets: Vec<f64>,
}

/// The OpenTelemetry semantic conventions' advice for `http.server.request.duration`.
pub const HTTP_DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            enabled: true,
            track_user_agents: false,
            track_ip_addresses: false,
            histogram_buckets: HTTP_DURATION_BUCKETS.to_vec(),
        }
    }
}

/// `prometheus.metrics.database`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DatabaseMetrics {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `track_queries` (default false): never record SQL text unless asked.
    pub track_queries: bool,
    /// `connection_pool` (default true).
    pub connection_pool: bool,
    /// `query_duration` (default true).
    pub query_duration: bool,
}

impl Default for DatabaseMetrics {
    fn default() -> Self {
        DatabaseMetrics {
            enabled: false,
            track_queries: false,
            connection_pool: true,
            query_duration: true,
        }
    }
}

/// `prometheus.metrics.business`: label-less metrics declared by name.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct BusinessMetrics {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `custom_counters`.
    pub custom_counters: Vec<String>,
    /// `custom_gauges`.
    pub custom_gauges: Vec<String>,
    /// `custom_histograms`.
    pub custom_histograms: Vec<String>,
}

/// `observability.logging`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Logging {
    /// `level` (default `info`): a level or `tracing-subscriber` filter directives
    /// (`info,hyper=warn`); `RUST_LOG` takes precedence.
    pub level: String,
    /// `format` (default pretty).
    pub format: LogFormat,
    /// `output` (default stdout).
    pub output: LogOutput,
    /// `include_spans` (default true): the current span and its parents with their fields,
    /// in JSON lines (the pretty and compact formats always show them).
    pub include_spans: bool,
    /// `include_targets` (default true).
    pub include_targets: bool,
    /// `include_thread_ids` (default false).
    pub include_thread_ids: bool,
    /// `include_thread_names` (default false).
    pub include_thread_names: bool,
    /// `include_line_numbers` (default false): file and line of each event.
    pub include_line_numbers: bool,
    /// `sampling`: `Some(rate)` when enabled.
    pub sampling: Option<f64>,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "info".to_owned(),
            format: LogFormat::Pretty,
            output: LogOutput::Stdout,
            include_spans: true,
            include_targets: true,
            include_thread_ids: false,
            include_thread_names: false,
            include_line_numbers: false,
            sampling: None,
        }
    }
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, multi-line.
    Pretty,
    /// Human-readable, one line per event.
    Compact,
}

/// `logging.output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// `observability.health`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Health {
    /// `enabled` (default true).
    pub enabled: bool,
    /// `endpoint` (default `/health`).
    pub endpoint: String,
    /// `checks`.
    pub checks: Vec<HealthCheck>,
    /// `require_authentication` (default false): whether `/health` needs the same
    /// credentials as `/metrics` (`/healthz` and `/readyz` never do: probes carry none).
    pub require_authentication: bool,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            enabled: true,
            endpoint: "/health".to_owned(),
            checks: Vec::new(),
            require_authentication: false,
        }
    }
}

/// `health.checks[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthCheck {
    /// `type`.
    pub kind: HealthCheckKind,
    /// `name` (default: the type for `database`).
    pub name: String,
    /// `url` (external_service).
    pub url: Option<String>,
    /// `handler` (custom; default: the name): the check registered in code.
    pub handler: Option<String>,
    /// `timeout` (default 5 s).
    pub timeout: Duration,
    /// `critical` (default true): whether readiness depends on it.
    pub critical: bool,
    /// `tls` (external_service): how an `https://` URL is verified.
    pub tls: ClientTls,
}

/// `health.checks[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// The application's database, checked by a check registered in code.
    Database,
    /// An HTTP GET that must answer 2xx.
    ExternalService,
    /// A check registered in code.
    Custom,
}

/// `scaling`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Scaling {
    /// `enabled` (default false).
    pub enabled: bool,
    /// `strategy` (default horizontal).
    pub strategy: ScalingStrategy,
    /// `load_balancer`.
    pub load_balancer: LoadBalancer,
    /// `service_discovery`.
    pub service_discovery: ServiceDiscovery,
    /// `instances`.
    pub instances: Instances,
}

/// `scaling.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScalingStrategy {
    /// More instances.
    #[default]
    Horizontal,
    /// Bigger instances.
    Vertical,
}

/// `scaling.load_balancer`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LoadBalancer {
    /// `algorithm` (default round_robin).
    pub algorithm: LoadBalancing,
    /// `health_check_interval` (default 30 s).
    pub health_check_interval: Duration,
    /// `max_failures` (default 3).
    pub max_failures: u32,
}

impl Default for LoadBalancer {
    fn default() -> Self {
        LoadBalancer {
            algorithm: LoadBalancing::RoundRobin,
            health_check_interval: Duration::from_secs(30),
            max_failures: 3,
        }
    }
}

/// `scaling.load_balancer.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancing {
    /// In turn.
    RoundRobin,
    /// To the least busy.
    LeastConnections,
    /// By client address.
    IpHash,
}

/// `scaling.service_discovery`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ServiceDiscovery {
    /// `method` (default kubernetes).
    pub method: DiscoveryMethod,
    /// `service_name`.
    pub service_name: Option<String>,
    /// `port` (default 3000).
    pub port: u16,
}

impl Default for ServiceDiscovery {
    fn default() -> Self {
        ServiceDiscovery {
            method: DiscoveryMethod::Kubernetes,
            service_name: None,
            port: 3000,
        }
    }
}

/// `scaling.service_discovery.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryMethod {
    /// DNS records.
    Dns,
    /// Consul.
    Consul,
    /// Kubernetes services.
    Kubernetes,
}

/// `scaling.instances`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Instances {
    /// `min_instances` (default 1).
    pub min_instances: u32,
    /// `max_instances` (default 1).
    pub max_instances: u32,
    /// `target_cpu_utilization` percent (default 70).
    pub target_cpu_utilization: u32,
    /// `target_memory_utilization` percent (default 80).
    pub target_memory_utilization: u32,
    /// `shutdown_timeout` (default 30 s): the whole shutdown, flushes included.
    pub shutdown_timeout: Duration,
    /// `drain_timeout` (default 10 s): how long in-flight requests may finish.
    pub drain_timeout: Duration,
}

impl Default for Instances {
    fn default() -> Self {
        Instances {
            min_instances: 1,
            max_instances: 1,
            target_cpu_utilization: 70,
            target_memory_utilization: 80,
            shutdown_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// `custom_metrics`.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct CustomMetrics {
    /// `counters`.
    pub counters: Vec<MetricDeclaration>,
    /// `gauges`.
    pub gauges: Vec<MetricDeclaration>,
    /// `histograms`.
    pub histograms: Vec<MetricDeclaration>,
}

/// One declared metric.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MetricDeclaration {
    /// `name`, as written (a counter's may end in `_total`).
    pub name: String,
    /// `description`: the help text.
    pub description: String,
    /// `unit`: a base unit that the name ends with (`seconds`, `bytes`).
    pub unit: Option<String>,
    /// `labels`, in the order their values are given.
    pub labels: Vec<String>,
    /// `buckets` (histograms; default: the Prometheus defaults).
    pub buckets: Option<Vec<f64>>,
    /// Where the declaration is in the file, for messages.
    pub path: String,
}

/// `alerts[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Alert {
    /// `name`.
    pub name: String,
    /// `condition`: a PromQL expression.
    pub condition: String,
    /// `duration` (`for:`; default 0).
    pub duration: Duration,
    /// `severity` (default warning).
    pub severity: String,
    /// `description`.
    pub description: Option<String>,
    /// `summary`.
    pub summary: Option<String>,
    /// `labels`.
    pub labels: BTreeMap<String, String>,
    /// `annotations`.
    pub annotations: BTreeMap<String, String>,
}
