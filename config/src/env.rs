//! The standard environment variables, applied over the file.
//!
//! The rules are the OpenTelemetry specification's: an empty value is unset; a value
//! that cannot be read is ignored with a warning (the program still starts); booleans
//! are true only for a case-insensitive `true`; `OTEL_SERVICE_NAME` beats `service.name`
//! in `OTEL_RESOURCE_ATTRIBUTES`; `OTEL_SDK_DISABLED=true` turns OpenTelemetry off.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::decode::closest;
use crate::error::Problem;
use crate::sections::*;

/// Applies the environment to `config`, returning a warning for each ignored value.
pub(crate) fn apply(config: &mut Config, lookup: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
    let mut env = Env {
        lookup,
        warnings: Vec::new(),
    };
    let otel = &mut config.observability.opentelemetry;

    if let Some(disabled) = env.bool("OTEL_SDK_DISABLED") {
        otel.enabled = otel.enabled && !disabled;
    }
    if let Some(attributes) = env.resource_attributes() {
        for (key, value) in attributes {
            if key == "service.name" {
                otel.service_name = Some(value.clone());
            }
            if key == "service.version" {
                otel.service_version = Some(value.clone());
            }
            otel.resource.attributes.insert(key, value);
        }
    }
    if let Some(name) = env.get("OTEL_SERVICE_NAME") {
        otel.service_name = Some(name);
    }

    let tracing = &mut otel.tracing;
    if let Some(sampler) = env.sampler() {
        tracing.sampler = sampler;
    }
    if let Some(n) = env.whole("OTEL_SPAN_EVENT_COUNT_LIMIT", 0, 65_536) {
        tracing.max_events_per_span = n as u32;
    }
    if let Some(n) = env.whole("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 0, 65_536) {
        tracing.max_attributes_per_span = n as u32;
    }
    if let Some(n) = env.whole("OTEL_BSP_MAX_QUEUE_SIZE", 1, 1 << 20) {
        tracing.batch.max_queue_size = n as usize;
    }
    if let Some(n) = env.whole("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1, 1 << 20) {
        tracing.batch.max_export_batch_size = (n as usize).min(tracing.batch.max_queue_size);
    }
    if let Some(d) = env.millis("OTEL_BSP_SCHEDULE_DELAY") {
        tracing.batch.scheduled_delay = d;
    }
    if let Some(d) = env.millis("OTEL_BSP_EXPORT_TIMEOUT") {
        tracing.batch.export_timeout = d;
    }
    if let Some(propagators) = env.propagators() {
        tracing.propagators = propagators;
    }
    let metrics = &mut otel.metrics;
    if let Some(d) = env.millis("OTEL_METRIC_EXPORT_INTERVAL") {
        metrics.export_interval = d;
    }
    if let Some(d) = env.millis("OTEL_METRIC_EXPORT_TIMEOUT") {
        metrics.export_timeout = d;
    }

    env.trace_exporters(&mut otel.tracing.exporters);
    env.metrics_exporters(&mut otel.metrics.exporters);

    if let Some(filter) = env.get("RUST_LOG") {
        match level_problem(&filter) {
            None => config.observability.logging.level = filter,
            Some(problem) => env.ignore("RUST_LOG", &problem),
        }
    }
    env.warnings
}

struct Env<'e> {
    lookup: &'e dyn Fn(&str) -> Option<String>,
    warnings: Vec<Problem>,
}

/// Which signal an OTLP setting is for.
#[derive(Clone, Copy)]
enum Signal {
    Traces,
    Metrics,
}

impl Signal {
    fn var(self, setting: &str) -> String {
        match self {
            Signal::Traces => format!("OTEL_EXPORTER_OTLP_TRACES_{setting}"),
            Signal::Metrics => format!("OTEL_EXPORTER_OTLP_METRICS_{setting}"),
        }
    }

    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
        }
    }
}

/// OTLP settings from the environment for one signal.
#[derive(Default)]
struct OtlpEnv {
    endpoint: Option<String>,
    protocol: Option<Protocol>,
    headers: Option<BTreeMap<String, String>>,
    timeout: Option<Duration>,
    compression: Option<Compression>,
    /// `*_CERTIFICATE`, `*_CLIENT_CERTIFICATE`, `*_CLIENT_KEY`: file paths.
    certificate: Option<String>,
    client_certificate: Option<String>,
    client_key: Option<String>,
}

impl OtlpEnv {
    fn apply(&self, transport: &mut Transport) {
        if let Some(p) = self.protocol {
            transport.protocol = Some(p);
        }
        if let Some(e) = &self.endpoint {
            transport.endpoint = Some(e.clone());
        }
        if let Some(h) = &self.headers {
            transport.headers.extend(h.clone());
        }
        if let Some(t) = self.timeout {
            transport.timeout = t;
        }
        if let Some(c) = self.compression {
            transport.compression = Some(c);
        }
        if let Some(file) = &self.certificate {
            transport.tls.ca_file = Some(file.clone());
        }
        if let Some(file) = &self.client_certificate {
            transport.tls.cert_file = Some(file.clone());
        }
        if let Some(file) = &self.client_key {
            transport.tls.key_file = Some(file.clone());
        }
    }
}

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|v| !v.trim().is_empty())
    }

    fn ignore(&mut self, name: &str, problem: &str) {
        self.warnings.push(Problem {
            path: name.to_owned(),
            at: None,
            message: format!("{problem}; the variable is ignored"),
        });
    }

    fn bool(&mut self, name: &str) -> Option<bool> {
        let value = self.get(name)?;
        match value.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => {
                self.ignore(name, &format!("expected true or false, found {value:?}"));
                None
            }
        }
    }

    fn whole(&mut self, name: &str, min: u64, max: u64) -> Option<u64> {
        let value = self.get(name)?;
        match value.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.ignore(
                    name,
                    &format!("expected a whole number between {min} and {max}, found {value:?}"),
                );
                None
            }
        }
    }

    /// A duration in milliseconds, as the OpenTelemetry variables give them.
    fn millis(&mut self, name: &str) -> Option<Duration> {
        self.whole(name, 1, 86_400_000).map(Duration::from_millis)
    }

    fn resource_attributes(&mut self) -> Option<Vec<(String, String)>> {
        const NAME: &str = "OTEL_RESOURCE_ATTRIBUTES";
        let value = self.get(NAME)?;
        match parse_pairs(&value) {
            Ok(pairs) => Some(pairs),
            Err(problem) => {
                self.ignore(NAME, &problem);
                None
            }
        }
    }

    fn sampler(&mut self) -> Option<Sampler> {
        const NAME: &str = "OTEL_TRACES_SAMPLER";
        const ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
        let name = self.get(NAME)?;
        let ratio = |env: &mut Self| match env.get(ARG) {
            None => Some(1.0),
            Some(arg) => match arg.trim().parse::<f64>() {
                Ok(r) if (0.0..=1.0).contains(&r) => Some(r),
                _ => {
                    env.ignore(
                        ARG,
                        &format!("expected a number between 0.0 and 1.0, found {arg:?}; using 1.0"),
                    );
                    Some(1.0)
                }
            },
        };
        let (parent_based, root) = match name.trim().to_ascii_lowercase().as_str() {
            "always_on" => (false, RootSampler::AlwaysOn),
            "always_off" => (false, RootSampler::AlwaysOff),
            "traceidratio" => (false, RootSampler::TraceIdRatio(ratio(self)?)),
            "parentbased_always_on" => (true, RootSampler::AlwaysOn),
            "parentbased_always_off" => (true, RootSampler::AlwaysOff),
            "parentbased_traceidratio" => (true, RootSampler::TraceIdRatio(ratio(self)?)),
            other => {
                const KNOWN: &[&str] = &[
                    "always_on",
                    "always_off",
                    "traceidratio",
                    "parentbased_always_on",
                    "parentbased_always_off",
                    "parentbased_traceidratio",
                ];
                let mut problem = format!(
                    "expected one of {}, found {other:?}",
                    KNOWN
                        .iter()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                if let Some(close) = closest(other, KNOWN.iter().copied()) {
                    problem.push_str(&format!(" — did you mean {close:?}?"));
                }
                self.ignore(NAME, &problem);
                return None;
            }
        };
        Some(Sampler { parent_based, root })
    }

    fn propagators(&mut self) -> Option<Vec<Propagator>> {
        self.word_list("OTEL_PROPAGATORS", "propagator", PROPAGATORS)
    }

    fn protocol(&mut self, name: &str) -> Option<Protocol> {
        let value = self.get(name)?;
        match value.trim().to_ascii_lowercase().as_str() {
            "grpc" => Some(Protocol::Grpc),
            "http/protobuf" => Some(Protocol::HttpProtobuf),
            other => {
                self.ignore(
                    name,
                    &format!("expected \"grpc\" or \"http/protobuf\", found {other:?}"),
                );
                None
            }
        }
    }

    fn compression(&mut self, name: &str) -> Option<Compression> {
        let value = self.get(name)?;
        match value.trim().to_ascii_lowercase().as_str() {
            "gzip" => Some(Compression::Gzip),
            "none" => Some(Compression::None),
            other => {
                self.ignore(
                    name,
                    &format!("expected \"gzip\" or \"none\", found {other:?}"),
                );
                None
            }
        }
    }

    fn headers(&mut self, name: &str) -> Option<BTreeMap<String, String>> {
        let value = self.get(name)?;
        match parse_pairs(&value) {
            Ok(pairs) => Some(pairs.into_iter().collect()),
            // The value may hold credentials: never repeat it.
            Err(_) => {
                self.ignore(
                    name,
                    "expected comma-separated key=value pairs with percent-encoded values",
                );
                None
            }
        }
    }

    /// A file path for `signal`: its own variable over the generic one.
    fn file(&self, signal: Signal, setting: &str) -> Option<String> {
        self.get(&signal.var(setting))
            .or_else(|| self.get(&format!("OTEL_EXPORTER_OTLP_{setting}")))
            .map(|path| path.trim().to_owned())
    }

    fn endpoint(&mut self, name: &str) -> Option<String> {
        let value = self.get(name)?;
        let value = value.trim();
        if value.starts_with("http://") || value.starts_with("https://") {
            Some(value.to_owned())
        } else {
            self.ignore(
                name,
                &format!("expected an http:// or https:// URL, found {value:?}"),
            );
            None
        }
    }

    /// The OTLP settings for `signal`: the signal's own variables over the generic ones.
    fn otlp(&mut self, signal: Signal) -> OtlpEnv {
        let protocol = self
            .protocol(&signal.var("PROTOCOL"))
            .or_else(|| self.protocol("OTEL_EXPORTER_OTLP_PROTOCOL"));
        let endpoint = match self.endpoint(&signal.var("ENDPOINT")) {
            Some(endpoint) => Some(endpoint),
            // The generic endpoint is a base URL: HTTP exports go to the signal's path.
            None => self.endpoint("OTEL_EXPORTER_OTLP_ENDPOINT").map(|base| {
                if effective_protocol(Some(&base), protocol) == Protocol::HttpProtobuf {
                    format!("{}{}", base.trim_end_matches('/'), signal.path())
                } else {
                    base
                }
            }),
        };
        let mut headers = self.headers("OTEL_EXPORTER_OTLP_HEADERS");
        if let Some(own) = self.headers(&signal.var("HEADERS")) {
            headers.get_or_insert_with(BTreeMap::new).extend(own);
        }
        OtlpEnv {
            endpoint,
            protocol,
            headers,
            timeout: self
                .millis(&signal.var("TIMEOUT"))
                .or_else(|| self.millis("OTEL_EXPORTER_OTLP_TIMEOUT")),
            compression: self
                .compression(&signal.var("COMPRESSION"))
                .or_else(|| self.compression("OTEL_EXPORTER_OTLP_COMPRESSION")),
            certificate: self.file(signal, "CERTIFICATE"),
            client_certificate: self.file(signal, "CLIENT_CERTIFICATE"),
            client_key: self.file(signal, "CLIENT_KEY"),
        }
    }

    /// `OTEL_TRACES_EXPORTER` chooses the exporters (keeping the file's settings for those
    /// it names); OTLP variables apply to every OTLP exporter, and an OTLP endpoint in the
    /// environment adds an OTLP exporter if the file has none.
    fn trace_exporters(&mut self, exporters: &mut Vec<TraceExporter>) {
        const NAME: &str = "OTEL_TRACES_EXPORTER";
        const KINDS: &[(&str, TraceExporterKind)] = &[
            ("otlp", TraceExporterKind::Otlp),
            ("console", TraceExporterKind::Console),
            ("zipkin", TraceExporterKind::Zipkin),
        ];
        let otlp = self.otlp(Signal::Traces);
        if let Some(kinds) = self.word_list(NAME, "exporter", KINDS) {
            exporters.retain(|e| {
                kinds.contains(&e.kind)
                    || (e.kind == TraceExporterKind::Jaeger
                        && kinds.contains(&TraceExporterKind::Otlp))
            });
            for kind in kinds {
                let present = exporters.iter().any(|e| {
                    e.kind == kind
                        || (kind == TraceExporterKind::Otlp && e.kind == TraceExporterKind::Jaeger)
                });
                if !present {
                    exporters.push(TraceExporter::new(kind));
                }
            }
        } else if otlp.endpoint.is_some()
            && !exporters
                .iter()
                .any(|e| matches!(e.kind, TraceExporterKind::Otlp | TraceExporterKind::Jaeger))
        {
            exporters.push(TraceExporter::new(TraceExporterKind::Otlp));
        }
        if let Some(zipkin) = self.endpoint("OTEL_EXPORTER_ZIPKIN_ENDPOINT") {
            for e in exporters
                .iter_mut()
                .filter(|e| e.kind == TraceExporterKind::Zipkin)
            {
                e.transport.endpoint = Some(zipkin.clone());
            }
        }
        for e in exporters
            .iter_mut()
            .filter(|e| matches!(e.kind, TraceExporterKind::Otlp | TraceExporterKind::Jaeger))
        {
            otlp.apply(&mut e.transport);
        }
    }

    fn metrics_exporters(&mut self, exporters: &mut Vec<MetricsExporter>) {
        const NAME: &str = "OTEL_METRICS_EXPORTER";
        const KINDS: &[(&str, MetricsExporterKind)] = &[
            ("otlp", MetricsExporterKind::Otlp),
            ("prometheus", MetricsExporterKind::Prometheus),
            ("console", MetricsExporterKind::Console),
        ];
        let otlp = self.otlp(Signal::Metrics);
        if let Some(kinds) = self.word_list(NAME, "exporter", KINDS) {
            exporters.retain(|e| kinds.contains(&e.kind));
            for kind in kinds {
                if !exporters.iter().any(|e| e.kind == kind) {
                    exporters.push(MetricsExporter::new(kind));
                }
            }
        } else if otlp.endpoint.is_some()
            && !exporters
                .iter()
                .any(|e| e.kind == MetricsExporterKind::Otlp)
        {
            exporters.push(MetricsExporter::new(MetricsExporterKind::Otlp));
        }
        for e in exporters
            .iter_mut()
            .filter(|e| e.kind == MetricsExporterKind::Otlp)
        {
            otlp.apply(&mut e.transport);
        }
    }

    /// A comma-separated list of `words` (`none` for an empty list), as
    /// `OTEL_TRACES_EXPORTER` and `OTEL_PROPAGATORS` write them. Unknown words are
    /// ignored with a warning, repeated ones counted once.
    fn word_list<K: Copy + PartialEq>(
        &mut self,
        name: &str,
        what: &str,
        words: &[(&str, K)],
    ) -> Option<Vec<K>> {
        let value = self.get(name)?;
        let mut out = Vec::new();
        for word in value.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            let word = word.to_ascii_lowercase();
            if word == "none" {
                return Some(Vec::new());
            }
            match words.iter().find(|(w, _)| *w == word) {
                Some((_, kind)) if !out.contains(kind) => out.push(*kind),
                Some(_) => {}
                None => {
                    let known = words
                        .iter()
                        .map(|(w, _)| format!("{w:?}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.ignore(
                        name,
                        &format!(
                            "the {what} {word:?} is not supported (expected {known} or \"none\")"
                        ),
                    );
                }
            }
        }
        Some(out)
    }
}

/// The OTLP protocol an exporter uses: as configured, else by the endpoint's port
/// (4317 is gRPC), else HTTP/protobuf, the OpenTelemetry default.
///
/// ```
/// use rustform_config::{Protocol, effective_protocol};
///
/// assert_eq!(effective_protocol(Some("http://collector:4317"), None), Protocol::Grpc);
/// assert_eq!(effective_protocol(Some("http://collector:4318"), None), Protocol::HttpProtobuf);
/// assert_eq!(effective_protocol(None, Some(Protocol::Grpc)), Protocol::Grpc);
/// ```
pub fn effective_protocol(endpoint: Option<&str>, protocol: Option<Protocol>) -> Protocol {
    if let Some(protocol) = protocol {
        return protocol;
    }
    let port = endpoint.and_then(|e| {
        let authority = e.split("://").nth(1)?.split('/').next()?;
        authority.rsplit_once(':')?.1.parse::<u16>().ok()
    });
    match port {
        Some(4317) => Protocol::Grpc,
        _ => Protocol::HttpProtobuf,
    }
}

/// `key=value,key=value` with percent-encoded values (W3C baggage octets), as
/// `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS` write them.
fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(
                "expected comma-separated key=value pairs, found an entry without \"=\"".to_owned(),
            );
        };
        let key = key.trim();
        if key.is_empty() {
            return Err("expected comma-separated key=value pairs, found an empty key".to_owned());
        }
        let value = percent_decode(value.trim())
            .ok_or_else(|| format!("the value of {key:?} is not valid percent-encoding"))?;
        out.push((key.to_owned(), value));
    }
    Ok(out)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_percent_decoded() {
        assert_eq!(
            parse_pairs("a=1, b=x%20y ,c=%E2%9C%93").unwrap(),
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "✓".into())
            ]
        );
        assert!(parse_pairs("a=%zz").is_err());
        assert!(parse_pairs("a=%E2").is_err());
        assert!(parse_pairs("novalue").is_err());
        assert!(parse_pairs("=v").is_err());
    }
}
