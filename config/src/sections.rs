//! Decoding each section of `rustform.yml` into its typed form, with the checks that
//! span several keys (timeouts that must nest, metric names that must be unique).

use std::time::Duration;

use crate::IpNet;
use crate::decode::{Decoder, join};
use crate::names::{family_name, label_name_problem, metric_name_problem};
use crate::node::Node;
use crate::schema::*;

const ZERO: Duration = Duration::ZERO;
const MS: Duration = Duration::from_millis(1);

pub(crate) fn config(d: &mut Decoder<'_>, root: &Node) -> Config {
    let mut out = Config::default();
    let mut f = d.map(root, "");
    out.name = f.read(d, "name", Decoder::string);
    f.set(d, "observability", &mut out.observability, |d, n, p| {
        Some(observability(d, n, p))
    });
    f.set(d, "scaling", &mut out.scaling, |d, n, p| {
        Some(scaling(d, n, p))
    });
    f.set(d, "custom_metrics", &mut out.custom_metrics, |d, n, p| {
        Some(custom_metrics(d, n, p))
    });
    f.set(d, "alerts", &mut out.alerts, |d, n, p| {
        Some(alerts(d, n, p))
    });
    f.finish(d);
    out
}

fn observability(d: &mut Decoder<'_>, node: &Node, path: &str) -> Observability {
    let mut out = Observability::default();
    let mut f = d.map(node, path);
    f.set(d, "opentelemetry", &mut out.opentelemetry, |d, n, p| {
        Some(opentelemetry(d, n, p))
    });
    f.set(d, "prometheus", &mut out.prometheus, |d, n, p| {
        Some(prometheus(d, n, p))
    });
    f.set(d, "logging", &mut out.logging, |d, n, p| {
        Some(logging(d, n, p))
    });
    f.set(d, "health", &mut out.health, |d, n, p| {
        Some(health(d, n, p))
    });
    f.finish(d);
    out
}

fn opentelemetry(d: &mut Decoder<'_>, node: &Node, path: &str) -> OpenTelemetry {
    let mut out = OpenTelemetry::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    out.service_name = f.read(d, "service_name", Decoder::string);
    out.service_version = f.read(d, "service_version", Decoder::string);
    f.set(d, "tracing", &mut out.tracing, |d, n, p| {
        Some(tracing(d, n, p))
    });
    f.set(d, "metrics", &mut out.metrics, |d, n, p| {
        Some(metrics(d, n, p))
    });
    if let Some((node, path)) = f.get("resource") {
        let mut r = d.map(node, &path);
        if let Some((node, path)) = r.get("attributes") {
            // Attributes that expand to nothing are left out: `k8s.pod.name: ${K8S_POD_NAME}`
            // outside Kubernetes is expected, not a mistake worth a warning.
            let warnings = d.warnings.len();
            out.resource.attributes = d
                .string_map(node, &path)
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .collect();
            d.warnings.truncate(warnings);
        }
        r.finish(d);
    }
    f.finish(d);
    out
}

fn tracing(d: &mut Decoder<'_>, node: &Node, path: &str) -> Tracing {
    let mut out = Tracing::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    if let Some(rate) = f.read(d, "sample_rate", |d, n, p| d.number(n, p, 0.0, 1.0)) {
        out.sampler = Sampler::ratio(rate);
    }
    if let Some(n) = f.read(d, "max_events_per_span", |d, n, p| d.whole(n, p, 0, 65_536)) {
        out.max_events_per_span = n as u32;
    }
    if let Some(n) = f.read(d, "max_attributes_per_span", |d, n, p| {
        d.whole(n, p, 0, 65_536)
    }) {
        out.max_attributes_per_span = n as u32;
    }
    if let Some((node, path)) = f.get("exporters") {
        out.exporters = d
            .list(node, &path)
            .into_iter()
            .filter_map(|(node, path)| trace_exporter(d, node, &path))
            .collect();
    }
    f.set(d, "batch", &mut out.batch, |d, n, p| Some(batch(d, n, p)));
    if let Some((node, path)) = f.get("propagators") {
        out.propagators = d
            .list(node, &path)
            .into_iter()
            .filter_map(|(node, path)| d.choice(node, &path, PROPAGATORS))
            .collect();
    }
    f.finish(d);
    out
}

pub(crate) const PROPAGATORS: &[(&str, Propagator)] = &[
    ("tracecontext", Propagator::TraceContext),
    ("baggage", Propagator::Baggage),
];

fn batch(d: &mut Decoder<'_>, node: &Node, path: &str) -> Batch {
    let mut out = Batch::default();
    let mut f = d.map(node, path);
    if let Some(n) = f.read(d, "max_queue_size", |d, n, p| d.whole(n, p, 1, 1 << 20)) {
        out.max_queue_size = n as usize;
    }
    let batch_at = f.get("max_export_batch_size").map(|(n, _)| n.at);
    if let Some(n) = f.read(d, "max_export_batch_size", |d, n, p| {
        d.whole(n, p, 1, 1 << 20)
    }) {
        out.max_export_batch_size = n as usize;
    }
    f.set(d, "scheduled_delay", &mut out.scheduled_delay, |d, n, p| {
        d.duration(n, p, MS)
    });
    f.set(d, "export_timeout", &mut out.export_timeout, |d, n, p| {
        d.duration(n, p, MS)
    });
    if out.max_export_batch_size > out.max_queue_size {
        d.error(
            &join(path, "max_export_batch_size"),
            batch_at.unwrap_or_default(),
            format!(
                "a batch of {} cannot be larger than the queue ({}); lower it or raise max_queue_size",
                out.max_export_batch_size, out.max_queue_size
            ),
        );
    }
    f.finish(d);
    out
}

const PROTOCOLS: &[(&str, Protocol)] = &[
    ("grpc", Protocol::Grpc),
    ("http/protobuf", Protocol::HttpProtobuf),
    ("http", Protocol::HttpProtobuf),
];

const COMPRESSIONS: &[(&str, Compression)] =
    &[("gzip", Compression::Gzip), ("none", Compression::None)];

/// Reads the keys every exporter shares.
fn transport(
    d: &mut Decoder<'_>,
    f: &mut crate::decode::Fields<'_>,
    url_endpoint: bool,
) -> Transport {
    let endpoint = f.read(d, "endpoint", |d, n, p| {
        let text = d.string(n, p)?;
        if url_endpoint {
            check_url(d, n, p, &text)?;
        } else {
            check_path(d, n, p, &text).then_some(())?;
        }
        Some(text)
    });
    let mut out = Transport {
        endpoint,
        protocol: f.read(d, "protocol", |d, n, p| d.choice(n, p, PROTOCOLS)),
        compression: f.read(d, "compression", |d, n, p| d.choice(n, p, COMPRESSIONS)),
        ..Transport::default()
    };
    f.set(d, "timeout", &mut out.timeout, |d, n, p| {
        d.duration(n, p, MS)
    });
    out.headers = f
        .read(d, "headers", |d, n, p| Some(d.string_map(n, p)))
        .unwrap_or_default();
    if url_endpoint {
        out.tls = client_tls(d, f);
    }
    out
}

/// `tls: { ca_file, cert_file, key_file }` of a client; a certificate needs its key.
fn client_tls(d: &mut Decoder<'_>, f: &mut crate::decode::Fields<'_>) -> ClientTls {
    let Some((node, path)) = f.get("tls") else {
        return ClientTls::default();
    };
    let mut t = d.map(node, &path);
    let tls = ClientTls {
        ca_file: t.read(d, "ca_file", Decoder::string),
        cert_file: t.read(d, "cert_file", Decoder::string),
        key_file: t.read(d, "key_file", Decoder::string),
    };
    t.finish(d);
    match (&tls.cert_file, &tls.key_file) {
        (Some(_), None) => d.error(
            &path,
            node.at,
            "missing key \"key_file\": a client certificate needs its private key (PEM)",
        ),
        (None, Some(_)) => d.error(
            &path,
            node.at,
            "missing key \"cert_file\": a client key needs its certificate chain (PEM)",
        ),
        _ => {}
    }
    tls
}

fn check_url(d: &mut Decoder<'_>, node: &Node, path: &str, url: &str) -> Option<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest)
            if !rest.is_empty()
                && !rest.starts_with('/')
                && !rest.contains(char::is_whitespace) =>
        {
            Some(())
        }
        _ => {
            d.error(
                path,
                node.at,
                format!(
                    "expected an http:// or https:// URL with a host, like \"http://collector:4317\", found {:?}",
                    crate::node::shorten(url)
                ),
            );
            None
        }
    }
}

const TRACE_EXPORTERS: &[(&str, TraceExporterKind)] = &[
    ("otlp", TraceExporterKind::Otlp),
    ("console", TraceExporterKind::Console),
    ("zipkin", TraceExporterKind::Zipkin),
    ("jaeger", TraceExporterKind::Jaeger),
];

fn trace_exporter(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<TraceExporter> {
    let mut f = d.map(node, path);
    let kind = required(
        d,
        &mut f,
        node,
        path,
        "type",
        "otlp, console, zipkin or jaeger",
        |d, n, p| d.choice(n, p, TRACE_EXPORTERS),
    );
    let mut out = TraceExporter::new(kind.unwrap_or(TraceExporterKind::Otlp));
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "enabled_in_dev", &mut out.enabled_in_dev, Decoder::bool);
    out.transport = transport(d, &mut f, true);
    f.finish(d);
    kind.map(|_| out)
}

const METRICS_EXPORTERS: &[(&str, MetricsExporterKind)] = &[
    ("prometheus", MetricsExporterKind::Prometheus),
    ("otlp", MetricsExporterKind::Otlp),
    ("console", MetricsExporterKind::Console),
];

fn metrics(d: &mut Decoder<'_>, node: &Node, path: &str) -> Metrics {
    let mut out = Metrics::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "export_interval", &mut out.export_interval, |d, n, p| {
        d.duration(n, p, MS)
    });
    f.set(d, "export_timeout", &mut out.export_timeout, |d, n, p| {
        d.duration(n, p, MS)
    });
    f.set(d, "http_metrics", &mut out.http_metrics, Decoder::bool);
    f.set(
        d,
        "database_metrics",
        &mut out.database_metrics,
        Decoder::bool,
    );
    f.set(d, "system_metrics", &mut out.system_metrics, Decoder::bool);
    f.set(d, "custom_metrics", &mut out.custom_metrics, Decoder::bool);
    if let Some((node, path)) = f.get("exporters") {
        for (node, path) in d.list(node, &path) {
            let mut e = d.map(node, &path);
            let kind = required(
                d,
                &mut e,
                node,
                &path,
                "type",
                "prometheus, otlp or console",
                |d, n, p| d.choice(n, p, METRICS_EXPORTERS),
            );
            let mut exporter = MetricsExporter::new(kind.unwrap_or(MetricsExporterKind::Otlp));
            e.set(d, "enabled", &mut exporter.enabled, Decoder::bool);
            exporter.transport =
                transport(d, &mut e, kind != Some(MetricsExporterKind::Prometheus));
            exporter.authentication =
                e.read(d, "authentication", |d, n, p| Some(authentication(d, n, p)));
            e.finish(d);
            if kind.is_some() {
                out.exporters.push(exporter);
            }
        }
    }
    f.finish(d);
    out
}

fn check_path(d: &mut Decoder<'_>, node: &Node, path: &str, value: &str) -> bool {
    let ok = value.starts_with('/') && !value.contains(char::is_whitespace) && !value.contains('?');
    if !ok {
        d.error(
            path,
            node.at,
            format!(
                "expected a URL path starting with \"/\", like \"/metrics\", found {:?}",
                crate::node::shorten(value)
            ),
        );
    }
    ok
}

fn prometheus(d: &mut Decoder<'_>, node: &Node, path: &str) -> Prometheus {
    let mut out = Prometheus::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "endpoint", &mut out.endpoint, |d, n, p| {
        let text = d.string(n, p)?;
        check_path(d, n, p, &text).then_some(text)
    });
    f.set(d, "authentication", &mut out.authentication, |d, n, p| {
        Some(authentication(d, n, p))
    });
    out.listen = f.read(d, "listen", |d, n, p| {
        let text = d.string(n, p)?;
        match text.trim().parse::<std::net::SocketAddr>() {
            Ok(address) => Some(address),
            Err(_) => {
                d.error(
                    p,
                    n.at,
                    format!(
                        "expected an address and port, like \"0.0.0.0:9464\" or \"127.0.0.1:9464\", found {text:?}"
                    ),
                );
                None
            }
        }
    });
    f.set(d, "request_timeout", &mut out.request_timeout, |d, n, p| {
        d.duration(n, p, MS)
    });
    out.header_timeout = f
        .read(d, "header_timeout", |d, n, p| d.duration(n, p, MS))
        .unwrap_or(DEFAULT_HEADER_TIMEOUT.min(out.request_timeout));
    f.set(d, "max_connections", &mut out.max_connections, |d, n, p| {
        d.whole(n, p, 1, 1_000_000)
            .and_then(|n| u32::try_from(n).ok())
    });
    if let Some((node, path)) = f.get("tls") {
        let mut t = d.map(node, &path);
        let cert_file = required(
            d,
            &mut t,
            node,
            &path,
            "cert_file",
            "the path of the certificate chain (PEM)",
            Decoder::string,
        );
        let key_file = required(
            d,
            &mut t,
            node,
            &path,
            "key_file",
            "the path of the private key (PEM)",
            Decoder::string,
        );
        t.finish(d);
        if let (Some(cert_file), Some(key_file)) = (cert_file, key_file) {
            out.tls = Some(Tls {
                cert_file,
                key_file,
            });
        }
    }
    if let Some((node, path)) = f.get("metrics") {
        let mut m = d.map(node, &path);
        if let Some((node, path)) = m.get("http") {
            let mut h = d.map(node, &path);
            let http = &mut out.metrics.http;
            h.set(d, "enabled", &mut http.enabled, Decoder::bool);
            h.set(
                d,
                "track_user_agents",
                &mut http.track_user_agents,
                Decoder::bool,
            );
            h.set(
                d,
                "track_ip_addresses",
                &mut http.track_ip_addresses,
                Decoder::bool,
            );
            h.set(
                d,
                "histogram_buckets",
                &mut http.histogram_buckets,
                Decoder::buckets,
            );
            h.finish(d);
        }
        if let Some((node, path)) = m.get("database") {
            let mut h = d.map(node, &path);
            let db = &mut out.metrics.database;
            h.set(d, "enabled", &mut db.enabled, Decoder::bool);
            h.set(d, "track_queries", &mut db.track_queries, Decoder::bool);
            h.set(d, "connection_pool", &mut db.connection_pool, Decoder::bool);
            h.set(d, "query_duration", &mut db.query_duration, Decoder::bool);
            h.finish(d);
        }
        if let Some((node, path)) = m.get("business") {
            let mut h = d.map(node, &path);
            let business = &mut out.metrics.business;
            h.set(d, "enabled", &mut business.enabled, Decoder::bool);
            for (key, slot) in [
                ("custom_counters", &mut business.custom_counters),
                ("custom_gauges", &mut business.custom_gauges),
                ("custom_histograms", &mut business.custom_histograms),
            ] {
                if let Some((node, path)) = h.get(key) {
                    *slot = metric_names(d, node, &path);
                }
            }
            h.finish(d);
        }
        m.finish(d);
    }
    f.finish(d);
    out
}

fn metric_names(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<String> {
    d.strings(node, path)
        .into_iter()
        .filter_map(|(name, at, path)| {
            if let Some(problem) = metric_name_problem(&name) {
                d.error(
                    &path,
                    at,
                    format!("{name:?} is not a valid metric name: {problem}"),
                );
                None
            } else {
                Some(name)
            }
        })
        .collect()
}

const AUTH_METHODS: &[(&str, AuthMethod)] = &[
    ("none", AuthMethod::None),
    ("bearer_token", AuthMethod::BearerToken),
    ("api_key", AuthMethod::ApiKey),
    ("jwt", AuthMethod::Jwt),
];

fn authentication(d: &mut Decoder<'_>, node: &Node, path: &str) -> Authentication {
    let mut out = Authentication {
        explicit: true,
        ..Authentication::default()
    };
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "method", &mut out.method, |d, n, p| {
        d.choice(n, p, AUTH_METHODS)
    });
    out.token_env = f.read(d, "token_env", |d, n, p| {
        env_var_name(d, n, p, "token", "METRICS_TOKEN")
    });
    out.token_file = f.read(d, "token_file", Decoder::string);
    out.token_header = f.read(d, "token_header", header_name);
    out.header_name = f.read(d, "header_name", header_name);
    if let Some((node, path)) = f.get("required_scopes") {
        out.required_scopes = d
            .strings(node, &path)
            .into_iter()
            .filter_map(|(scope, at, path)| {
                if scope.is_empty() || scope.contains(char::is_whitespace) {
                    d.error(
                        &path,
                        at,
                        format!("expected a scope without spaces, like \"metrics:read\", found {scope:?}"),
                    );
                    None
                } else {
                    Some(scope)
                }
            })
            .collect();
    }
    out.token_store = f.read(d, "token_store", Decoder::string);
    let jwt_given = match f.get("jwt") {
        Some((node, path)) => {
            out.jwt = jwt(d, node, &path);
            true
        }
        None => false,
    };
    if out.method == AuthMethod::Jwt && !jwt_given {
        d.error(
            path,
            node.at,
            "missing key \"jwt\": method jwt needs the issuer, audience and key, like \
             jwt: { issuer: \"https://auth.example.com\", audience: \"rustform\", secret_env: \"JWT_SECRET\" }",
        );
    }
    if let Some((node, path)) = f.get("rate_limit") {
        let mut r = d.map(node, &path);
        if let Some(n) = r.read(d, "requests_per_minute", |d, n, p| {
            d.whole(n, p, 1, 1_000_000)
        }) {
            out.rate_limit.requests_per_minute = n as u32;
        }
        if let Some(n) = r.read(d, "burst_size", |d, n, p| d.whole(n, p, 1, 1_000_000)) {
            out.rate_limit.burst_size = n as u32;
        }
        if let Some(n) = r.read(d, "failed_auth_per_minute", |d, n, p| {
            d.whole(n, p, 1, 1_000_000)
        }) {
            out.rate_limit.failed_auth_per_minute = n as u32;
        }
        if let Some(n) = r.read(d, "ipv6_prefix_length", |d, n, p| d.whole(n, p, 1, 128)) {
            out.rate_limit.ipv6_prefix_length = n as u8;
        }
        if let Some(n) = r.read(d, "ipv4_prefix_length", |d, n, p| d.whole(n, p, 1, 32)) {
            out.rate_limit.ipv4_prefix_length = n as u8;
        }
        if let Some((node, path)) = r.get("trusted_proxies") {
            out.rate_limit.trusted_proxies = d
                .strings(node, &path)
                .into_iter()
                .filter_map(|(text, at, path)| match text.trim().parse::<IpNet>() {
                    Ok(_) => Some(text.trim().to_owned()),
                    Err(message) => {
                        d.error(&path, at, message);
                        None
                    }
                })
                .collect();
        }
        r.finish(d);
    }
    f.finish(d);
    out
}

/// The name of an environment variable that holds a `what` (token, secret).
fn env_var_name(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    what: &str,
    example: &str,
) -> Option<String> {
    let name = d.string(node, path)?;
    let valid = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        d.error(
            path,
            node.at,
            // The value is not repeated: it may be the secret itself, written here by mistake.
            format!(
                "expected the name of an environment variable (letters, digits and `_`), like \
                 {example:?}; put the {what} itself in that variable, not in this file"
            ),
        );
        return None;
    }
    Some(name)
}

const JWT_ALGORITHMS: &[(&str, JwtAlgorithm)] = &[
    ("HS256", JwtAlgorithm::Hs256),
    ("RS256", JwtAlgorithm::Rs256),
    ("ES256", JwtAlgorithm::Es256),
];

/// The longest `jwt.leeway`: more keeps expired tokens working.
const MAX_LEEWAY: Duration = Duration::from_secs(3_600);

/// `authentication.jwt`: `None` when something is wrong (and reported).
fn jwt(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Jwt> {
    let mut out = Jwt::default();
    let problems = d.problems.len();
    let mut f = d.map(node, path);
    let algorithm = f.read(d, "algorithm", |d, n, p| d.choice(n, p, JWT_ALGORITHMS));
    let algorithm_given = f.get("algorithm").is_some();
    let secret = f.get("secret_env");
    if let Some((node, path)) = &secret {
        out.secret_env = env_var_name(d, node, path, "secret", "JWT_SECRET");
    }
    let public_key = f.get("public_key_file");
    if let Some((node, path)) = &public_key {
        out.public_key_file = d.string(node, path);
    }
    let jwks = f.get("jwks_file");
    if let Some((node, path)) = &jwks {
        out.jwks_file = d.string(node, path);
    }
    for (key, slot, example) in [
        ("issuer", &mut out.issuer, "https://auth.example.com"),
        ("audience", &mut out.audience, "rustform"),
    ] {
        match f.get(key) {
            Some((node, path)) => {
                if let Some(text) = d.string(node, &path) {
                    if text.trim().is_empty() {
                        d.error(
                            &path,
                            node.at,
                            format!("expected the {key} every token must name, like {example:?}"),
                        );
                    } else {
                        *slot = text;
                    }
                }
            }
            None => d.error(
                path,
                node.at,
                format!(
                    "missing key {key:?}: tokens are accepted only from a known issuer for a \
                     known audience; write it like {key}: {example:?}"
                ),
            ),
        }
    }
    if let Some((node, path)) = f.get("leeway")
        && let Some(leeway) = d.duration(node, &path, ZERO)
    {
        if leeway > MAX_LEEWAY {
            d.error(
                &path,
                node.at,
                format!(
                    "a leeway of {} keeps expired tokens working; allow clock skew of at most 1h",
                    crate::decode::show_duration(leeway)
                ),
            );
        } else {
            out.leeway = leeway;
        }
    }
    f.finish(d);
    if let Some(algorithm) = algorithm {
        out.algorithm = algorithm;
    }
    if algorithm.is_some() || !algorithm_given {
        match out.algorithm {
            JwtAlgorithm::Hs256 => {
                for (given, key) in [(&public_key, "public_key_file"), (&jwks, "jwks_file")] {
                    if let Some((node, path)) = given {
                        d.error(
                            path,
                            node.at,
                            format!(
                                "{key} is for RS256 and ES256; HS256 verifies with the shared \
                                 secret named by secret_env (or set algorithm: \"RS256\")"
                            ),
                        );
                    }
                }
                if secret.is_none() {
                    d.error(
                        path,
                        node.at,
                        "missing key \"secret_env\": HS256 needs the variable holding the \
                         shared secret, like secret_env: \"JWT_SECRET\"",
                    );
                }
            }
            JwtAlgorithm::Rs256 | JwtAlgorithm::Es256 => {
                let name = if out.algorithm == JwtAlgorithm::Rs256 {
                    "RS256"
                } else {
                    "ES256"
                };
                if let Some((node, path)) = &secret {
                    d.error(
                        path,
                        node.at,
                        format!(
                            "secret_env is for HS256; {name} verifies with a public key: \
                             set public_key_file or jwks_file instead"
                        ),
                    );
                }
                match (&public_key, &jwks) {
                    (None, None) => d.error(
                        path,
                        node.at,
                        format!(
                            "missing key \"public_key_file\": {name} needs the PEM public key \
                             (public_key_file) or a JSON Web Key Set (jwks_file)"
                        ),
                    ),
                    (Some(_), Some((node, path))) => d.error(
                        path,
                        node.at,
                        "public_key_file and jwks_file cannot be used together: give one",
                    ),
                    _ => {}
                }
            }
        }
    }
    (d.problems.len() == problems).then_some(out)
}

fn header_name(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    let name = d.string(node, path)?;
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !valid {
        d.error(
            path,
            node.at,
            format!("expected an HTTP header name, like \"X-API-Key\", found {name:?}"),
        );
        return None;
    }
    Some(name)
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Checks `tracing-subscriber` filter directives (`info`, `my_crate=debug,hyper=warn`).
/// Returns the problem, if any.
pub(crate) fn level_problem(directives: &str) -> Option<String> {
    for directive in directives.split(',').map(str::trim) {
        if directive.is_empty() {
            continue;
        }
        let level = match directive.rsplit_once('=') {
            Some((target, level)) => {
                if target.is_empty() {
                    return Some(format!("{directive:?} has no target before \"=\""));
                }
                level
            }
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => directive,
            // A bare target (`info,my_crate`) enables everything in it; a lone word that
            // is not a level is far more likely a mistyped level.
            None if !directive.contains(char::is_whitespace) && directives.contains(',') => {
                continue;
            }
            None => directive,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let mut message = format!(
                "{level:?} is not a level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\""
            );
            if let Some(close) = crate::decode::closest(level, LEVELS.iter().copied()) {
                message.push_str(&format!(" — did you mean {close:?}?"));
            } else if !directive.contains('=') {
                message.push_str(&format!(
                    "; to set the level of a target, write \"{directive}=debug\""
                ));
            }
            return Some(message);
        }
    }
    None
}

const LOG_FORMATS: &[(&str, LogFormat)] = &[
    ("json", LogFormat::Json),
    ("pretty", LogFormat::Pretty),
    ("compact", LogFormat::Compact),
];

const LOG_OUTPUTS: &[(&str, LogOutput)] =
    &[("stdout", LogOutput::Stdout), ("stderr", LogOutput::Stderr)];

fn logging(d: &mut Decoder<'_>, node: &Node, path: &str) -> Logging {
    let mut out = Logging::default();
    let mut f = d.map(node, path);
    f.set(d, "level", &mut out.level, |d, n, p| {
        let level = d.string(n, p)?;
        match level_problem(&level) {
            Some(problem) => {
                d.error(p, n.at, problem);
                None
            }
            None => Some(level),
        }
    });
    f.set(d, "format", &mut out.format, |d, n, p| {
        d.choice(n, p, LOG_FORMATS)
    });
    f.set(d, "output", &mut out.output, |d, n, p| {
        d.choice(n, p, LOG_OUTPUTS)
    });
    f.set(d, "include_spans", &mut out.include_spans, Decoder::bool);
    f.set(
        d,
        "include_targets",
        &mut out.include_targets,
        Decoder::bool,
    );
    f.set(
        d,
        "include_thread_ids",
        &mut out.include_thread_ids,
        Decoder::bool,
    );
    f.set(
        d,
        "include_thread_names",
        &mut out.include_thread_names,
        Decoder::bool,
    );
    f.set(
        d,
        "include_line_numbers",
        &mut out.include_line_numbers,
        Decoder::bool,
    );
    if let Some((node, path)) = f.get("sampling") {
        let mut s = d.map(node, &path);
        let enabled = s.read(d, "enabled", Decoder::bool).unwrap_or(false);
        let rate = s.read(d, "rate", |d, n, p| d.number(n, p, 0.0, 1.0));
        if enabled {
            out.sampling = Some(rate.unwrap_or(1.0));
        }
        s.finish(d);
    }
    f.finish(d);
    out
}

const HEALTH_CHECKS: &[(&str, HealthCheckKind)] = &[
    ("database", HealthCheckKind::Database),
    ("external_service", HealthCheckKind::ExternalService),
    ("custom", HealthCheckKind::Custom),
];

fn health(d: &mut Decoder<'_>, node: &Node, path: &str) -> Health {
    let mut out = Health::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "endpoint", &mut out.endpoint, |d, n, p| {
        let text = d.string(n, p)?;
        check_path(d, n, p, &text).then_some(text)
    });
    f.set(
        d,
        "require_authentication",
        &mut out.require_authentication,
        Decoder::bool,
    );
    if let Some((node, path)) = f.get("checks") {
        for (node, path) in d.list(node, &path) {
            if let Some(check) = health_check(d, node, &path) {
                if let Some(first) = out.checks.iter().find(|c| c.name == check.name) {
                    let name = first.name.clone();
                    d.error(
                        &join(&path, "name"),
                        node.at,
                        format!("a check named {name:?} is already declared; give each check its own name"),
                    );
                } else {
                    out.checks.push(check);
                }
            }
        }
    }
    f.finish(d);
    out
}

fn health_check(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<HealthCheck> {
    let mut f = d.map(node, path);
    let kind = required(
        d,
        &mut f,
        node,
        path,
        "type",
        "database, external_service or custom",
        |d, n, p| d.choice(n, p, HEALTH_CHECKS),
    );
    let name = f.read(d, "name", Decoder::string);
    let url = f.read(d, "url", |d, n, p| {
        let url = d.string(n, p)?;
        check_url(d, n, p, &url).map(|()| url)
    });
    let handler = f.read(d, "handler", Decoder::string);
    let timeout = f
        .read(d, "timeout", |d, n, p| d.duration(n, p, MS))
        .unwrap_or(Duration::from_secs(5));
    let critical = f.read(d, "critical", Decoder::bool).unwrap_or(true);
    let tls = client_tls(d, &mut f);
    f.finish(d);
    let kind = kind?;
    let name = match (kind, name) {
        (_, Some(name)) => name,
        (HealthCheckKind::Database, None) => "database".to_owned(),
        (_, None) => {
            d.error(
                path,
                node.at,
                "missing key \"name\": give the check a name, like name: \"auth_service\"",
            );
            return None;
        }
    };
    if kind == HealthCheckKind::ExternalService && url.is_none() {
        d.error(
            path,
            node.at,
            "missing key \"url\": an external_service check needs the URL to call, like url: \"http://auth/health\"",
        );
        return None;
    }
    Some(HealthCheck {
        kind,
        name,
        url,
        handler,
        timeout,
        critical,
        tls,
    })
}

/// Reads a key that must be present.
fn required<'n, 'e, T>(
    d: &mut Decoder<'e>,
    f: &mut crate::decode::Fields<'n>,
    node: &Node,
    path: &str,
    key: &'static str,
    allowed: &str,
    read: impl FnOnce(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
) -> Option<T> {
    match f.get(key) {
        Some((value, value_path)) => read(d, value, &value_path),
        None => {
            d.error(
                path,
                node.at,
                format!("missing key {key:?}: expected {allowed}"),
            );
            None
        }
    }
}

const STRATEGIES: &[(&str, ScalingStrategy)] = &[
    ("horizontal", ScalingStrategy::Horizontal),
    ("vertical", ScalingStrategy::Vertical),
];

const ALGORITHMS: &[(&str, LoadBalancing)] = &[
    ("round_robin", LoadBalancing::RoundRobin),
    ("least_connections", LoadBalancing::LeastConnections),
    ("ip_hash", LoadBalancing::IpHash),
];

const DISCOVERY: &[(&str, DiscoveryMethod)] = &[
    ("dns", DiscoveryMethod::Dns),
    ("consul", DiscoveryMethod::Consul),
    ("kubernetes", DiscoveryMethod::Kubernetes),
];

fn scaling(d: &mut Decoder<'_>, node: &Node, path: &str) -> Scaling {
    let mut out = Scaling::default();
    let mut f = d.map(node, path);
    f.set(d, "enabled", &mut out.enabled, Decoder::bool);
    f.set(d, "strategy", &mut out.strategy, |d, n, p| {
        d.choice(n, p, STRATEGIES)
    });
    if let Some((node, path)) = f.get("load_balancer") {
        let mut l = d.map(node, &path);
        let lb = &mut out.load_balancer;
        l.set(d, "algorithm", &mut lb.algorithm, |d, n, p| {
            d.choice(n, p, ALGORITHMS)
        });
        l.set(
            d,
            "health_check_interval",
            &mut lb.health_check_interval,
            |d, n, p| d.duration(n, p, MS),
        );
        if let Some(n) = l.read(d, "max_failures", |d, n, p| d.whole(n, p, 1, 1_000)) {
            lb.max_failures = n as u32;
        }
        l.finish(d);
    }
    if let Some((node, path)) = f.get("service_discovery") {
        let mut s = d.map(node, &path);
        let sd = &mut out.service_discovery;
        s.set(d, "method", &mut sd.method, |d, n, p| {
            d.choice(n, p, DISCOVERY)
        });
        sd.service_name = s.read(d, "service_name", Decoder::string);
        if let Some(n) = s.read(d, "port", |d, n, p| d.whole(n, p, 1, 65_535)) {
            sd.port = n as u16;
        }
        s.finish(d);
    }
    if let Some((node, path)) = f.get("instances") {
        instances(d, node, &path, &mut out.instances);
    }
    f.finish(d);
    out
}

fn instances(d: &mut Decoder<'_>, node: &Node, path: &str, out: &mut Instances) {
    let mut f = d.map(node, path);
    let count = |d: &mut Decoder<'_>, n: &Node, p: &str| d.whole(n, p, 1, 10_000).map(|n| n as u32);
    let percent = |d: &mut Decoder<'_>, n: &Node, p: &str| d.whole(n, p, 1, 100).map(|n| n as u32);
    f.set(d, "min_instances", &mut out.min_instances, count);
    let max_at = f.get("max_instances").map(|(n, _)| n.at);
    f.set(d, "max_instances", &mut out.max_instances, count);
    f.set(
        d,
        "target_cpu_utilization",
        &mut out.target_cpu_utilization,
        percent,
    );
    f.set(
        d,
        "target_memory_utilization",
        &mut out.target_memory_utilization,
        percent,
    );
    f.set(
        d,
        "shutdown_timeout",
        &mut out.shutdown_timeout,
        |d, n, p| d.duration(n, p, MS),
    );
    let drain_at = f.get("drain_timeout").map(|(n, _)| n.at);
    f.set(d, "drain_timeout", &mut out.drain_timeout, |d, n, p| {
        d.duration(n, p, ZERO)
    });
    if let Some(at) = max_at
        && out.max_instances < out.min_instances
    {
        d.error(
            &join(path, "max_instances"),
            at,
            format!(
                "max_instances ({}) is below min_instances ({}); raise it or lower min_instances",
                out.max_instances, out.min_instances
            ),
        );
    }
    if out.drain_timeout > out.shutdown_timeout {
        d.error(
            &join(path, "drain_timeout"),
            drain_at.unwrap_or_default(),
            format!(
                "drain_timeout ({}) must fit within shutdown_timeout ({}): draining is part of shutdown",
                crate::decode::show_duration(out.drain_timeout),
                crate::decode::show_duration(out.shutdown_timeout)
            ),
        );
    }
    f.finish(d);
}

fn custom_metrics(d: &mut Decoder<'_>, node: &Node, path: &str) -> CustomMetrics {
    let mut out = CustomMetrics::default();
    let mut f = d.map(node, path);
    // Every sample name a declared metric exposes, with the metric that exposes it: a
    // histogram `x` writes `x_count`, so a gauge `x_count` would be ambiguous.
    let mut owners: Vec<(String, String, &'static str, String)> = Vec::new();
    for (key, histogram) in [("counters", false), ("gauges", false), ("histograms", true)] {
        let Some((node, path)) = f.get(key) else {
            continue;
        };
        let kind = &key[..key.len() - 1];
        let mut declared = Vec::new();
        for (node, path) in d.list(node, &path) {
            let Some(metric) = declaration(d, node, &path, key, histogram) else {
                continue;
            };
            let family = family_name(&metric.name, key == "counters");
            let samples = sample_names(family, key);
            let clash = samples.iter().find_map(|sample| {
                owners
                    .iter()
                    .find(|(owned, ..)| owned == sample)
                    .map(|owner| (sample, owner))
            });
            if let Some((sample, (_, first_path, first_kind, first_name))) = clash {
                let name_at = name_position(node).unwrap_or(node.at);
                let message = if family_name(first_name, *first_kind == "counter") == family {
                    format!(
                        "{:?} is already declared at {first_path}; each metric needs its own name",
                        metric.name
                    )
                } else {
                    format!(
                        "the {kind} {:?} would expose the sample name {sample:?}, which the \
                         {first_kind} {first_name:?} declared at {first_path} also uses; rename one of them",
                        metric.name
                    )
                };
                d.error(&join(&path, "name"), name_at, message);
                continue;
            }
            for sample in samples {
                owners.push((sample, path.clone(), kind, metric.name.clone()));
            }
            declared.push(metric);
        }
        match key {
            "counters" => out.counters = declared,
            "gauges" => out.gauges = declared,
            _ => out.histograms = declared,
        }
    }
    f.finish(d);
    out
}

/// The sample names a metric of family `family` declared under `section` writes, in
/// either exposition format.
fn sample_names(family: &str, section: &str) -> Vec<String> {
    let suffixes: &[&str] = match section {
        "counters" => &["", "_total", "_created"],
        "histograms" => &["", "_bucket", "_sum", "_count", "_created"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{family}{s}")).collect()
}

/// Where a declaration's `name` value is.
fn name_position(node: &Node) -> Option<crate::node::Position> {
    match &node.value {
        crate::node::Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.name == "name")
            .map(|(_, v)| v.at),
        _ => None,
    }
}

fn declaration(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
    section: &str,
    histogram: bool,
) -> Option<MetricDeclaration> {
    let mut f = d.map(node, path);
    let name = required(
        d,
        &mut f,
        node,
        path,
        "name",
        "the metric's name, like \"orders_total\"",
        |d, n, p| {
            let name = d.string(n, p)?;
            if let Some(problem) = metric_name_problem(&name) {
                d.error(
                    p,
                    n.at,
                    format!("{name:?} is not a valid metric name: {problem}"),
                );
                return None;
            }
            if section != "counters" && name.ends_with("_total") {
                d.error(
                p,
                n.at,
                format!("{name:?} ends with \"_total\", which Prometheus reserves for counters; rename it or declare it under counters"),
            );
                return None;
            }
            Some(name)
        },
    );
    let description = required(
        d,
        &mut f,
        node,
        path,
        "description",
        "one sentence saying what the metric measures",
        |d, n, p| {
            let text = d.string(n, p)?;
            if text.trim().is_empty() {
                d.error(
                    p,
                    n.at,
                    "expected one sentence saying what the metric measures, found an empty string",
                );
                return None;
            }
            Some(text)
        },
    );
    let unit = f.read(d, "unit", |d, n, p| {
        let unit = d.string(n, p)?;
        if let Some(name) = &name
            && !family_name(name, section == "counters").ends_with(&format!("_{unit}"))
        {
            d.error(
                p,
                n.at,
                format!("the unit {unit:?} must end the metric name: rename it to \"{}_{unit}\" or drop the unit", family_name(name, section == "counters")),
            );
            return None;
        }
        Some(unit)
    });
    let mut labels: Vec<String> = Vec::new();
    if let Some((node, path)) = f.get("labels") {
        for (label, at, label_path) in d.strings(node, &path) {
            if let Some(problem) = label_name_problem(&label) {
                d.error(
                    &label_path,
                    at,
                    format!("{label:?} is not a valid label name: {problem}"),
                );
            } else if labels.contains(&label) {
                d.error(
                    &label_path,
                    at,
                    format!("the label {label:?} is listed twice; list each label once"),
                );
            } else {
                labels.push(label);
            }
        }
    }
    let buckets = if histogram {
        f.read(d, "buckets", Decoder::buckets)
    } else {
        if let Some((node, path)) = f.get("buckets") {
            d.error(
                &path,
                node.at,
                format!("only histograms have buckets; remove \"buckets\" or declare the metric under histograms (it is under {section})"),
            );
        }
        None
    };
    f.finish(d);
    Some(MetricDeclaration {
        name: name?,
        description: description?,
        unit,
        labels,
        buckets,
        path: path.to_owned(),
    })
}

fn alerts(d: &mut Decoder<'_>, node: &Node, path: &str) -> Vec<Alert> {
    let mut out: Vec<Alert> = Vec::new();
    for (node, path) in d.list(node, path) {
        let mut f = d.map(node, &path);
        let name = required(
            d,
            &mut f,
            node,
            &path,
            "name",
            "the alert's name, like \"high_error_rate\"",
            |d, n, p| {
                let name = d.string(n, p)?;
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !valid {
                    d.error(p, n.at, format!("{name:?} is not a valid alert name: use letters, digits and `_`, starting with a letter"));
                    return None;
                }
                Some(name)
            },
        );
        let condition = required(
            d,
            &mut f,
            node,
            &path,
            "condition",
            "a PromQL expression",
            |d, n, p| {
                let condition = d.string(n, p)?;
                if condition.trim().is_empty() {
                    d.error(
                        p,
                        n.at,
                        "expected a PromQL expression, found an empty string",
                    );
                    return None;
                }
                Some(condition)
            },
        );
        let duration = f
            .read(d, "duration", |d, n, p| d.duration(n, p, ZERO))
            .unwrap_or(ZERO);
        let severity = f
            .read(d, "severity", |d, n, p| {
                let severity = d.string(n, p)?;
                if severity.is_empty() || !severity.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    d.error(p, n.at, format!("expected a severity in lowercase, like \"critical\", \"warning\" or \"info\", found {severity:?}"));
                    return None;
                }
                Some(severity)
            })
            .unwrap_or_else(|| "warning".to_owned());
        let description = f.read(d, "description", Decoder::string);
        let summary = f.read(d, "summary", Decoder::string);
        let labels = f
            .read(d, "labels", |d, n, p| Some(d.string_map(n, p)))
            .unwrap_or_default();
        let annotations = f
            .read(d, "annotations", |d, n, p| Some(d.string_map(n, p)))
            .unwrap_or_default();
        f.finish(d);
        let (Some(name), Some(condition)) = (name, condition) else {
            continue;
        };
        if out.iter().any(|a| a.name == name) {
            d.error(
                &join(&path, "name"),
                node.at,
                format!(
                    "an alert named {name:?} is already declared; give each alert its own name"
                ),
            );
            continue;
        }
        out.push(Alert {
            name,
            condition,
            duration,
            severity,
            description,
            summary,
            labels,
            annotations,
        });
    }
    out
}
