//! Grafana dashboards.
//!
//! [`dashboards`] writes one Grafana dashboard (JSON, schema version
//! [`SCHEMA_VERSION`]) per concern, each under `dashboards/<service>-<kind>.json`:
//!
//! | file | title | when | what it shows |
//! | --- | --- | --- | --- |
//! | `<service>-overview.json` | `<service> / Overview` | always | request rate, error ratio, p50/p95/p99 latency and calls in flight of every `#[observed]` function (a summary and one row each), `build_info`, and the `process_*` metrics |
//! | `<service>-app-metrics.json` | `<service> / Application metrics` | an `AppMetrics` struct or a metric declared in `rustform.yml` | a row per `AppMetrics` struct and one for the declared metrics: counters as rates, gauges as values, histograms as percentiles and a heatmap |
//! | `<service>-http.json` | `<service> / HTTP server` | `prometheus.metrics.http.enabled` | the `rustform::http::ObserveLayer` metrics: request rate, 5xx ratio, latency by route, active requests, body sizes, and outgoing requests |
//! | `<service>-slo.json` | `<service> / SLOs` | a function has an [objective](rustform::Objective) | per objective: the SLI against its target, the error budget left, and burn rates over the SRE workbook windows |
//!
//! Every panel and query reads the `datasource` variable (any Prometheus data source),
//! and the series are narrowed to the `service` variable (the `service_name` label of the
//! function metrics and `build_info`) or, for series without that label (HTTP, process,
//! application metrics), to the `job` variable: the scrape jobs that expose that
//! service. The queries are plain PromQL over the raw series, so the dashboards work
//! without the recording rules of [`alert_rules`](super::alert_rules) loaded; rates use
//! `$__rate_interval`, and the SLO page measures over the dashboard's time range
//! (`$__range`, 30 days by default).
//!
//! Each dashboard's `uid` is derived from the service's [slug](Service::slug) and the
//! dashboard's kind, at most 40 characters, so regenerating the files updates the same
//! dashboards in Grafana and links to them keep working.

use std::time::Duration;

use serde_json::{Value, json};

use super::{GenerateError, GeneratedFile, Service, promql_string};
use rustform::catalog::{CatalogMetric, CatalogObjective, ObservedFunction};
use rustform::config::MetricDeclaration;
use rustform::metrics::MetricType;

/// The Grafana dashboard schema version the generated JSON follows (Grafana 10.4 and
/// later read it as is).
pub const SCHEMA_VERSION: u32 = 39;

/// The longest `uid` Grafana accepts.
pub const MAX_UID_LEN: usize = 40;

/// The quantiles of the latency panels: legend and value.
const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)];

/// The burn-rate windows of the Google SRE workbook's multi-window alerts, which the SLO
/// page shows whatever [`Options::burn_rate_windows`](super::Options::burn_rate_windows)
/// adds.
const SRE_WINDOWS: [Duration; 7] = [
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(3600),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(6 * 3600),
    Duration::from_secs(86400),
    Duration::from_secs(3 * 86400),
];

/// Above this many observed functions, their rows on the overview start collapsed.
const EXPANDED_FUNCTIONS: usize = 6;

/// The rate window of every time-series panel.
const RATE: &str = "$__rate_interval";

/// The Grafana dashboards of the service, one JSON file each, under `dashboards/`.
///
/// The overview is always there; the application-metrics, HTTP and SLO dashboards only
/// when the catalog or the configuration gives them something to show (see the
/// [module documentation](crate)). Fails when an objective's latency threshold is not a
/// bucket bound of its function ([`Catalog::check_objectives`]).
///
/// ```
/// use rustform::catalog::Catalog;
/// use rustform::config::Config;
/// use rustform_generate::{Service, dashboards};
///
/// let config = Config::parse_str("name: shop\n")?;
/// let catalog = Catalog::empty("shop");
/// let files = dashboards(&Service::new(&config, &catalog))?;
/// let paths: Vec<_> = files.iter().map(|f| f.path.to_str().unwrap()).collect();
/// assert_eq!(paths, ["dashboards/shop-overview.json", "dashboards/shop-http.json"]);
///
/// let overview: serde_json::Value = serde_json::from_str(&files[0].contents)?;
/// assert_eq!(overview["uid"], "rf-shop-overview");
/// assert_eq!(overview["title"], "shop / Overview");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Catalog::check_objectives`]: rustform::catalog::Catalog::check_objectives
pub fn dashboards(service: &Service<'_>) -> Result<Vec<GeneratedFile>, GenerateError> {
    service.catalog.check_objectives()?;
    let mut out = vec![overview(service)];
    out.extend(app_metrics(service));
    if service.config.observability.prometheus.metrics.http.enabled {
        out.push(http_server(service));
    }
    out.extend(slo(service));
    out.into_iter()
        .map(|d| d.into_file(service))
        .collect::<Result<Vec<_>, _>>()
}

// ---------------------------------------------------------------------------------------
// The four dashboards.

/// Request rate, errors, latency and calls in flight of every observed function; the
/// build; the process.
fn overview(service: &Service<'_>) -> Dashboard {
    let mut d = Dashboard::new(
        "overview",
        "overview",
        "Overview",
        "Calls, errors, latency and concurrency of every #[observed] function, the build \
         and the process. Generated by rustform from the program's catalog.",
    );
    d.variables = vec![
        datasource_variable(),
        service_variable(service),
        job_variable(),
    ];

    let all = r#"service_name="$service",job=~"$job""#;
    d.row("Service", false);
    d.add(
        5,
        4,
        stat(
            "Request rate",
            "Calls per second of every observed function.",
            "ops",
            vec![target(
                format!("sum(rate(function_calls_total{{{all}}}[{RATE}]))"),
                "calls/s",
            )],
            thresholds(&[]),
        ),
    );
    d.add(
        5,
        4,
        stat(
            "Error ratio",
            "Share of calls that returned an error (result=\"error\").",
            "percentunit",
            vec![target(error_ratio(all, &[], RATE), "errors")],
            thresholds(&[("green", None), ("orange", Some(0.01)), ("red", Some(0.05))]),
        ),
    );
    d.add(
        5,
        4,
        stat(
            "p95 latency",
            "95th percentile of the duration of every observed call.",
            "s",
            vec![target(
                quantile(0.95, DURATION_BUCKET, all, &[], RATE),
                "p95",
            )],
            thresholds(&[]),
        ),
    );
    d.add(
        4,
        4,
        stat(
            "In flight",
            "Calls in progress (functions with track_concurrency).",
            "short",
            vec![target(format!("sum({CONCURRENT}{{{all}}})"), "in flight")],
            thresholds(&[]),
        ),
    );
    d.add(
        5,
        4,
        table(
            "Build",
            "Versions running (build_info) and how many instances run each.",
            format!("count by (version, commit, branch) (build_info{{{all}}})"),
        ),
    );

    let by = ["function", "module"];
    let legend = "{{function}} ({{module}})";
    d.row("Functions", false);
    d.add(
        12,
        8,
        timeseries(
            "Request rate by function",
            "Calls per second of each observed function.",
            "ops",
            vec![target(
                format!("sum by (function, module) (rate({CALLS}{{{all}}}[{RATE}]))"),
                legend,
            )],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "Error ratio by function",
            "Share of each function's calls that returned an error.",
            "percentunit",
            vec![target(error_ratio(all, &by, RATE), legend)],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "p95 latency by function",
            "95th percentile of each function's call duration.",
            "s",
            vec![target(
                quantile(0.95, DURATION_BUCKET, all, &by, RATE),
                legend,
            )],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "In flight by function",
            "Calls in progress of each function with track_concurrency.",
            "short",
            vec![target(
                format!("sum by (function, module) ({CONCURRENT}{{{all}}})"),
                legend,
            )],
        ),
    );

    let functions = &service.catalog.functions;
    let collapsed = functions.len() > EXPANDED_FUNCTIONS;
    for f in functions {
        function_row(&mut d, f, collapsed);
    }

    if service
        .config
        .observability
        .opentelemetry
        .metrics
        .system_metrics
    {
        process_row(&mut d);
    }
    d
}

const CALLS: &str = "function_calls_total";
const DURATION_BUCKET: &str = "function_calls_duration_seconds_bucket";
const DURATION_COUNT: &str = "function_calls_duration_seconds_count";
const CONCURRENT: &str = "function_calls_concurrent";

/// One observed function: its calls by result, error ratio, latency percentiles, and
/// calls in flight when it keeps them.
fn function_row(d: &mut Dashboard, f: &ObservedFunction, collapsed: bool) {
    let selector = format!(
        r#"service_name="$service",job=~"$job",{}"#,
        function_matchers(f)
    );
    let name = if f.module.is_empty() {
        f.function.clone()
    } else {
        format!("{}::{}", f.module, f.function)
    };
    d.row(&format!("fn {name}"), collapsed);
    let width = if f.track_concurrency { 6 } else { 8 };
    d.add(
        width,
        8,
        timeseries(
            "Request rate",
            &format!("Calls per second of {name}, by result."),
            "ops",
            vec![target(
                format!("sum by (result) (rate({CALLS}{{{selector}}}[{RATE}]))"),
                "{{result}}",
            )],
        ),
    );
    d.add(
        width,
        8,
        timeseries(
            "Error ratio",
            &format!("Share of the calls of {name} that returned an error."),
            "percentunit",
            vec![target(error_ratio(&selector, &[], RATE), "error ratio")],
        ),
    );
    d.add(
        width,
        8,
        timeseries(
            "Latency",
            &format!("Percentiles of the call duration of {name}."),
            "s",
            quantile_targets(DURATION_BUCKET, &selector, RATE),
        ),
    );
    if f.track_concurrency {
        d.add(
            width,
            8,
            timeseries(
                "In flight",
                &format!("Calls of {name} in progress."),
                "short",
                vec![target(
                    format!("sum({CONCURRENT}{{{selector}}})"),
                    "in flight",
                )],
            ),
        );
    }
}

/// The `process_*` metrics of the service's scrape jobs, per instance.
fn process_row(d: &mut Dashboard) {
    let job = r#"job=~"$job""#;
    d.row("Process", true);
    let panels = [
        (
            "CPU",
            "CPU time per second (cores in use), per instance.",
            "short",
            format!("sum by (instance) (rate(process_cpu_seconds_total{{{job}}}[{RATE}]))"),
        ),
        (
            "Resident memory",
            "Resident set size, per instance.",
            "bytes",
            format!("sum by (instance) (process_resident_memory_bytes{{{job}}})"),
        ),
        (
            "Open file descriptors",
            "Open file descriptors as a share of the limit, per instance.",
            "percentunit",
            format!(
                "max by (instance) (process_open_fds{{{job}}}) / max by (instance) \
                 (process_max_fds{{{job}}})"
            ),
        ),
        (
            "Threads",
            "Operating-system threads, per instance.",
            "short",
            format!("sum by (instance) (process_threads{{{job}}})"),
        ),
        (
            "Uptime",
            "Time since the process started, per instance.",
            "s",
            format!("time() - max by (instance) (process_start_time_seconds{{{job}}})"),
        ),
        (
            "Virtual memory",
            "Virtual memory size, per instance.",
            "bytes",
            format!("sum by (instance) (process_virtual_memory_bytes{{{job}}})"),
        ),
    ];
    for (title, description, unit, expr) in panels {
        d.add(
            8,
            7,
            timeseries(title, description, unit, vec![target(expr, "{{instance}}")]),
        );
    }
}

/// A row per `AppMetrics` struct and one for the metrics declared in `rustform.yml`; none
/// when there are neither.
fn app_metrics(service: &Service<'_>) -> Option<Dashboard> {
    let groups = &service.catalog.metric_groups;
    // `app_metrics!` structs are in the catalog as groups of the metrics the file
    // declares: each metric gets its panels once, in its struct's row.
    let mut declared = declared_metrics(service);
    declared.retain(|m| {
        !groups
            .iter()
            .flat_map(|g| &g.metrics)
            .any(|g| g.name == m.name)
    });
    if groups.iter().all(|g| g.metrics.is_empty()) && declared.is_empty() {
        return None;
    }
    let mut d = Dashboard::new(
        "metrics",
        "app-metrics",
        "Application metrics",
        "The metrics of every #[derive(AppMetrics)] struct and of rustform.yml: counters as \
         rates, gauges as values, histograms as percentiles and heatmaps.",
    );
    d.variables = vec![
        datasource_variable(),
        service_variable(service),
        job_variable(),
    ];
    for group in groups.iter().filter(|g| !g.metrics.is_empty()) {
        let title = if group.module.is_empty() {
            group.name.clone()
        } else {
            format!("{} ({})", group.name, group.module)
        };
        d.row(&title, false);
        for metric in &group.metrics {
            metric_panels(&mut d, metric);
        }
    }
    if !declared.is_empty() {
        d.row("Declared in rustform.yml", false);
        for metric in &declared {
            metric_panels(&mut d, metric);
        }
    }
    Some(d)
}

/// The metrics `rustform::init()` registers from `rustform.yml`: `custom_metrics`, then
/// the names of `prometheus.metrics.business` not declared there, as catalog entries.
fn declared_metrics(service: &Service<'_>) -> Vec<CatalogMetric> {
    let config = service.config;
    let mut out: Vec<CatalogMetric> = Vec::new();
    if !config.observability.opentelemetry.metrics.custom_metrics {
        return out;
    }
    let custom = &config.custom_metrics;
    let sections = [
        (MetricType::Counter, &custom.counters),
        (MetricType::Gauge, &custom.gauges),
        (MetricType::Histogram, &custom.histograms),
    ];
    for (kind, list) in sections {
        for declaration in list {
            push_declared(&mut out, declared_metric(kind, declaration));
        }
    }
    let business = &config.observability.prometheus.metrics.business;
    if business.enabled {
        let lists = [
            (MetricType::Counter, &business.custom_counters),
            (MetricType::Gauge, &business.custom_gauges),
            (MetricType::Histogram, &business.custom_histograms),
        ];
        for (kind, names) in lists {
            for name in names {
                let mut metric = CatalogMetric::new(family_name(name, kind), kind);
                metric.help = format!("Business {} {name}", kind.as_str());
                push_declared(&mut out, metric);
            }
        }
    }
    out
}

fn declared_metric(kind: MetricType, d: &MetricDeclaration) -> CatalogMetric {
    let mut metric = CatalogMetric::new(family_name(&d.name, kind), kind);
    metric.help = d.description.clone();
    metric.unit = d.unit.clone();
    metric.labels = d.labels.clone();
    metric.buckets = d.buckets.clone();
    metric
}

/// Adds `metric` unless a metric of that family name is there already (a business name
/// that refers to a `custom_metrics` entry).
fn push_declared(out: &mut Vec<CatalogMetric>, metric: CatalogMetric) {
    if !out.iter().any(|m| m.name == metric.name) {
        out.push(metric);
    }
}

/// A counter's family name: its declared name without `_total`.
fn family_name(name: &str, kind: MetricType) -> &str {
    rustform::config::names::family_name(name, kind == MetricType::Counter)
}

/// The panels of one metric: a counter's rate, a gauge's value, a histogram's
/// percentiles and heatmap; split by its labels, summed over instances.
fn metric_panels(d: &mut Dashboard, metric: &CatalogMetric) {
    let job = r#"job=~"$job""#;
    let labels: Vec<&str> = metric.labels.iter().map(String::as_str).collect();
    let legend = if labels.is_empty() {
        metric.name.clone()
    } else {
        labels
            .iter()
            .map(|l| format!("{{{{{l}}}}}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let unit = metric.unit.as_deref();
    let help = if metric.help.is_empty() {
        String::new()
    } else {
        format!("{} ", metric.help.trim_end_matches('.'))
    };
    match metric.metric_type {
        MetricType::Counter => {
            let sample = metric.sample_name();
            d.add(
                12,
                8,
                timeseries(
                    &format!("{} (per second)", metric.name),
                    &format!("{help}(counter {sample}, rate per second)"),
                    rate_unit(unit),
                    vec![target(
                        aggregate("sum", &labels, &format!("rate({sample}{{{job}}}[{RATE}])")),
                        &legend,
                    )],
                ),
            );
        }
        MetricType::Gauge => {
            // A ratio averages over instances; anything else adds up.
            let how = if unit == Some("ratio") { "avg" } else { "sum" };
            d.add(
                12,
                8,
                timeseries(
                    &metric.name,
                    &format!("{help}(gauge {}, {how} over instances)", metric.name),
                    value_unit(unit),
                    vec![target(
                        aggregate(how, &labels, &format!("{}{{{job}}}", metric.name)),
                        &legend,
                    )],
                ),
            );
        }
        MetricType::Histogram => {
            let bucket = format!("{}_bucket", metric.name);
            d.add(
                12,
                8,
                timeseries(
                    &format!("{} percentiles", metric.name),
                    &format!("{help}(histogram {}, all series together)", metric.name),
                    value_unit(unit),
                    quantile_targets(&bucket, job, RATE),
                ),
            );
            d.add(
                12,
                8,
                heatmap(
                    &format!("{} distribution", metric.name),
                    &format!("{help}(observations per second in each bucket of {bucket})"),
                    value_unit(unit),
                    format!("sum by (le) (rate({bucket}{{{job}}}[{RATE}]))"),
                ),
            );
        }
        // A type added to rustform later gets no panels until it is drawn here.
        _ => {}
    }
}

/// `how by (labels) (inner)`, or `how(inner)` without labels.
fn aggregate(how: &str, labels: &[&str], inner: &str) -> String {
    if labels.is_empty() {
        format!("{how}({inner})")
    } else {
        format!("{how} by ({}) ({inner})", labels.join(", "))
    }
}

/// The Grafana unit of a value with the declared unit.
fn value_unit(unit: Option<&str>) -> &'static str {
    match unit {
        Some("seconds") => "s",
        Some("bytes") => "bytes",
        Some("ratio") => "percentunit",
        _ => "short",
    }
}

/// The Grafana unit of a counter's rate with the declared unit.
fn rate_unit(unit: Option<&str>) -> &'static str {
    match unit {
        Some("bytes") => "Bps",
        Some("seconds") => "s",
        Some("ratio") => "percentunit",
        _ => "cps",
    }
}

const HTTP_DURATION: &str = "http_server_request_duration_seconds";
const HTTP_ACTIVE: &str = "http_server_active_requests";
const HTTP_REQUEST_BODY: &str = "http_server_request_body_size_bytes";
const HTTP_RESPONSE_BODY: &str = "http_server_response_body_size_bytes";
const HTTP_CLIENT_DURATION: &str = "http_client_request_duration_seconds";

/// The `ObserveLayer` metrics: requests, errors and latency by route, requests in
/// progress, body sizes; and the client middleware's outgoing requests.
fn http_server(service: &Service<'_>) -> Dashboard {
    let mut d = Dashboard::new(
        "http",
        "http",
        "HTTP server",
        "Requests served through rustform::http::ObserveLayer (OpenTelemetry HTTP semantic \
         conventions): rate, 5xx ratio, latency and body sizes by route.",
    );
    d.variables = vec![
        datasource_variable(),
        service_variable(service),
        job_variable(),
        route_variable(),
    ];
    let sel = r#"job=~"$job",http_route=~"$route""#;
    let count = format!("{HTTP_DURATION}_count");
    let bucket = format!("{HTTP_DURATION}_bucket");
    let route = ["http_route"];

    d.row("Requests", false);
    d.add(
        6,
        4,
        stat(
            "Request rate",
            "Requests per second, every selected route.",
            "reqps",
            vec![target(
                format!("sum(rate({count}{{{sel}}}[{RATE}]))"),
                "requests/s",
            )],
            thresholds(&[]),
        ),
    );
    d.add(
        6,
        4,
        stat(
            "Error ratio (5xx)",
            "Share of requests answered with a 5xx status.",
            "percentunit",
            vec![target(http_error_ratio(sel, &[]), "5xx")],
            thresholds(&[("green", None), ("orange", Some(0.01)), ("red", Some(0.05))]),
        ),
    );
    d.add(
        6,
        4,
        stat(
            "p95 latency",
            "95th percentile of the time to the response head.",
            "s",
            vec![target(quantile(0.95, &bucket, sel, &[], RATE), "p95")],
            thresholds(&[]),
        ),
    );
    d.add(
        6,
        4,
        stat(
            "Active requests",
            "Requests in progress.",
            "short",
            vec![target(format!("sum({HTTP_ACTIVE}{{{sel}}})"), "active")],
            thresholds(&[]),
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "Request rate by route",
            "Requests per second of each route template.",
            "reqps",
            vec![target(
                format!("sum by (http_route) (rate({count}{{{sel}}}[{RATE}]))"),
                "{{http_route}}",
            )],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "Request rate by status code",
            "Requests per second by response status code.",
            "reqps",
            vec![target(
                format!("sum by (http_response_status_code) (rate({count}{{{sel}}}[{RATE}]))"),
                "{{http_response_status_code}}",
            )],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "Error ratio (5xx) by route",
            "Share of each route's requests answered with a 5xx status.",
            "percentunit",
            vec![target(http_error_ratio(sel, &route), "{{http_route}}")],
        ),
    );
    d.add(
        12,
        8,
        timeseries(
            "Active requests by route",
            "Requests in progress on each route.",
            "short",
            vec![target(
                format!("sum by (http_route) ({HTTP_ACTIVE}{{{sel}}})"),
                "{{http_route}}",
            )],
        ),
    );

    d.row("Latency", false);
    d.add(
        12,
        8,
        timeseries(
            "Latency",
            "Percentiles of the time to the response head, every selected route.",
            "s",
            quantile_targets(&bucket, sel, RATE),
        ),
    );
    d.add(
        12,
        8,
        heatmap(
            "Latency distribution",
            "Requests per second in each duration bucket.",
            "s",
            format!("sum by (le) (rate({bucket}{{{sel}}}[{RATE}]))"),
        ),
    );
    for (legend, q) in [QUANTILES[1], QUANTILES[2]] {
        d.add(
            12,
            8,
            timeseries(
                &format!("{legend} latency by route"),
                &format!("{legend} of the time to the response head, per route."),
                "s",
                vec![target(
                    quantile(q, &bucket, sel, &route, RATE),
                    "{{http_route}}",
                )],
            ),
        );
    }

    d.row("Body sizes", false);
    for (what, family) in [
        ("Request", HTTP_REQUEST_BODY),
        ("Response", HTTP_RESPONSE_BODY),
    ] {
        d.add(
            6,
            8,
            timeseries(
                &format!("{what} body size p95 by route"),
                &format!(
                    "95th percentile of the {} body size, per route (when the size is known).",
                    what.to_lowercase()
                ),
                "bytes",
                vec![target(
                    quantile(0.95, &format!("{family}_bucket"), sel, &route, RATE),
                    "{{http_route}}",
                )],
            ),
        );
        d.add(
            6,
            8,
            timeseries(
                &format!("{what} throughput by route"),
                &format!("{what} body bytes per second, per route."),
                "Bps",
                vec![target(
                    format!("sum by (http_route) (rate({family}_sum{{{sel}}}[{RATE}]))"),
                    "{{http_route}}",
                )],
            ),
        );
    }

    let job = r#"job=~"$job""#;
    let server = ["server_address"];
    let client_count = format!("{HTTP_CLIENT_DURATION}_count");
    d.row("Outgoing requests", true);
    d.add(
        8,
        8,
        timeseries(
            "Outgoing request rate by server",
            "Requests per second sent through rustform::http::ClientMiddleware, per host.",
            "reqps",
            vec![target(
                format!("sum by (server_address) (rate({client_count}{{{job}}}[{RATE}]))"),
                "{{server_address}}",
            )],
        ),
    );
    d.add(
        8,
        8,
        timeseries(
            "Outgoing error ratio by server",
            "Share of outgoing requests that failed or got a status of 400 or more, per host.",
            "percentunit",
            vec![target(
                ratio_or_zero(
                    &format!(r#"{client_count}{{{job},error_type!=""}}"#),
                    &format!("{client_count}{{{job}}}"),
                    &server,
                    RATE,
                ),
                "{{server_address}}",
            )],
        ),
    );
    d.add(
        8,
        8,
        timeseries(
            "Outgoing p95 latency by server",
            "95th percentile of the time to the response head, per host.",
            "s",
            vec![target(
                quantile(
                    0.95,
                    &format!("{HTTP_CLIENT_DURATION}_bucket"),
                    job,
                    &server,
                    RATE,
                ),
                "{{server_address}}",
            )],
        ),
    );
    d
}

/// Share of the requests answered with a 5xx status.
fn http_error_ratio(selector: &str, by: &[&str]) -> String {
    let count = format!("{HTTP_DURATION}_count");
    ratio_or_zero(
        &format!(r#"{count}{{{selector},http_response_status_code=~"5.."}}"#),
        &format!("{count}{{{selector}}}"),
        by,
        RATE,
    )
}

/// One objective and the functions it judges.
struct ObjectiveFunctions<'a> {
    objective: &'a CatalogObjective,
    functions: Vec<&'a ObservedFunction>,
}

/// Per objective: the SLI against its target over the time range, the error budget
/// left, burn rates, and the SLI over time; none when no function has an objective.
fn slo(service: &Service<'_>) -> Option<Dashboard> {
    let mut objectives: Vec<ObjectiveFunctions<'_>> = Vec::new();
    for f in &service.catalog.functions {
        let Some(objective) = &f.objective else {
            continue;
        };
        match objectives.iter_mut().find(|o| o.objective == objective) {
            Some(o) => o.functions.push(f),
            None => objectives.push(ObjectiveFunctions {
                objective,
                functions: vec![f],
            }),
        }
    }
    if objectives.is_empty() {
        return None;
    }
    let mut d = Dashboard::new(
        "slo",
        "slo",
        "SLOs",
        "Service-level objectives declared with #[observed(objective = ...)]: the SLI over \
         the time range against its target, the error budget left, and the burn rates of \
         the SRE workbook's alert windows.",
    );
    d.time = "now-30d";
    d.refresh = "5m";
    d.variables = vec![
        datasource_variable(),
        service_variable(service),
        job_variable(),
    ];
    let windows = burn_rate_windows(service);
    for o in &objectives {
        let objective = o.objective;
        let names: Vec<String> = o
            .functions
            .iter()
            .map(|f| format!("{}::{}", f.module, f.function))
            .collect();
        d.row(&format!("Objective {}", objective.name), false);
        if let Some(percentile) = objective.success_label() {
            let selector = format!(
                r#"service_name="$service",job=~"$job",objective_name={},objective_percentile={}"#,
                promql_string(&objective.name),
                promql_string(&percentile),
            );
            let target_ratio = number(objective.success_rate.unwrap_or(0.0) / 100.0);
            // As in the alert rules: cancelled calls are neither success nor failure.
            let errors = |window: &str| {
                ratio_or_zero(
                    &format!(r#"{CALLS}{{{selector},result="error"}}"#),
                    &format!(r#"{CALLS}{{{selector},result=~"ok|error"}}"#),
                    &[],
                    window,
                )
            };
            let about = format!(
                "{percentile}% of the calls of {} return without error.",
                names.join(", ")
            );
            objective_panels(
                &mut d,
                ObjectivePanels {
                    sli_title: &format!("Success rate (target {percentile}%)"),
                    about: &about,
                    target_ratio: &target_ratio,
                    bad_ratio: &errors,
                    windows: &windows,
                },
            );
        }
        if let Some((percentile, threshold)) = objective.latency_labels() {
            let latency = objective.latency.expect("latency labels come from it");
            let selector = format!(
                r#"service_name="$service",job=~"$job",objective_name={},objective_percentile={},objective_latency_threshold={}"#,
                promql_string(&objective.name),
                promql_string(&percentile),
                promql_string(&threshold),
            );
            let le = promql_string(&le_pattern(latency.threshold_seconds));
            let target_ratio = number(latency.percentile / 100.0);
            let slow = |window: &str| {
                format!(
                    "1 - sum(rate({DURATION_BUCKET}{{{selector},le=~{le}}}[{window}])) / \
                     sum(rate({DURATION_COUNT}{{{selector}}}[{window}]))"
                )
            };
            let within = human_seconds(latency.threshold_seconds);
            let about = format!(
                "{percentile}% of the calls of {} finish within {within}.",
                names.join(", ")
            );
            objective_panels(
                &mut d,
                ObjectivePanels {
                    sli_title: &format!("Calls within {within} (target {percentile}%)"),
                    about: &about,
                    target_ratio: &target_ratio,
                    bad_ratio: &slow,
                    windows: &windows,
                },
            );
        }
    }
    Some(d)
}

/// What the four panels of one target of an objective need.
struct ObjectivePanels<'a> {
    sli_title: &'a str,
    about: &'a str,
    /// The target as a ratio: `0.999`.
    target_ratio: &'a str,
    /// The share of bad calls over a window (an error, or slower than the threshold).
    bad_ratio: &'a dyn Fn(&str) -> String,
    windows: &'a [Duration],
}

/// The SLI over the time range, the error budget left, the burn rate of each window, the
/// SLI over time against its target.
fn objective_panels(d: &mut Dashboard, p: ObjectivePanels<'_>) {
    let budget = format!("(1 - {})", p.target_ratio);
    let target_value: f64 = p.target_ratio.parse().unwrap_or(0.0);
    d.add(
        6,
        8,
        stat(
            p.sli_title,
            &format!("{} Measured over the dashboard's time range.", p.about),
            "percentunit",
            vec![target(
                format!("1 - ({})", (p.bad_ratio)("$__range")),
                "SLI",
            )],
            thresholds(&[("red", None), ("green", Some(target_value))]),
        ),
    );
    d.add(
        6,
        8,
        stat(
            "Error budget remaining",
            &format!(
                "Share of the error budget {budget} not yet spent over the dashboard's time \
                 range; below zero, the objective is missed."
            ),
            "percentunit",
            vec![target(
                format!("1 - ({}) / {budget}", (p.bad_ratio)("$__range")),
                "remaining",
            )],
            thresholds(&[("red", None), ("orange", Some(0.0)), ("green", Some(0.25))]),
        ),
    );
    let burn_targets = p
        .windows
        .iter()
        .map(|w| {
            let window = promql_duration(*w);
            instant_target(format!("({}) / {budget}", (p.bad_ratio)(&window)), &window)
        })
        .collect();
    d.add(
        6,
        8,
        bargauge(
            "Burn rate",
            "How many times faster than sustainable the error budget burns, over each \
             window of the SRE workbook's alerts (1 = the budget lasts exactly the SLO \
             period; the page alerts fire at 14.4 over 1h and 5m, and 6 over 6h and 30m).",
            burn_targets,
            thresholds(&[
                ("green", None),
                ("yellow", Some(1.0)),
                ("orange", Some(6.0)),
                ("red", Some(14.4)),
            ]),
        ),
    );
    d.add(
        6,
        8,
        timeseries(
            &format!("{} over time", p.sli_title),
            &format!("{} The SLI per rate interval against its target.", p.about),
            "percentunit",
            vec![
                target(format!("1 - ({})", (p.bad_ratio)(RATE)), "SLI"),
                target(format!("vector({})", p.target_ratio), "target"),
            ],
        ),
    );
}

/// The SRE workbook's windows and those of the alert options, shortest first.
fn burn_rate_windows(service: &Service<'_>) -> Vec<Duration> {
    let mut windows: Vec<Duration> = SRE_WINDOWS.to_vec();
    for w in &service.options.burn_rate_windows {
        windows.extend([w.short, w.long]);
    }
    windows.retain(|w| w.as_secs() > 0);
    windows.sort();
    windows.dedup_by_key(|w| w.as_secs());
    windows
}

// ---------------------------------------------------------------------------------------
// PromQL.

/// The matchers of one function's series. A method whose type is only known after its
/// first call (`resolved: false`) is matched with or without its `Type::` prefix.
fn function_matchers(f: &ObservedFunction) -> String {
    let function = if f.resolved {
        format!("function={}", promql_string(&f.function))
    } else {
        format!(
            "function=~{}",
            promql_string(&format!("(?:.+::)?{}", regex_escape(&f.function)))
        )
    };
    format!("{function},module={}", promql_string(&f.module))
}

/// `bad / total` over `window`, summed `by`, reading 0 (not nothing) when no bad series
/// exists yet for a group with calls.
fn ratio_or_zero(bad: &str, total: &str, by: &[&str], window: &str) -> String {
    let sum = |series: &str| aggregate("sum", by, &format!("rate({series}[{window}])"));
    let total = sum(total);
    format!("({} or {total} * 0) / {total}", sum(bad))
}

/// The share of `function_calls_total{selector}` with `result="error"`.
fn error_ratio(selector: &str, by: &[&str], window: &str) -> String {
    ratio_or_zero(
        &format!(r#"{CALLS}{{{selector},result="error"}}"#),
        &format!("{CALLS}{{{selector}}}"),
        by,
        window,
    )
}

/// `histogram_quantile(q, sum by (le, by...) (rate(bucket{selector}[window])))`.
fn quantile(q: f64, bucket: &str, selector: &str, by: &[&str], window: &str) -> String {
    let mut labels = vec!["le"];
    labels.extend_from_slice(by);
    format!(
        "histogram_quantile({}, sum by ({}) (rate({bucket}{{{selector}}}[{window}])))",
        number(q),
        labels.join(", ")
    )
}

/// One target per quantile of [`QUANTILES`], legends `p50`, `p95`, `p99`.
fn quantile_targets(bucket: &str, selector: &str, window: &str) -> Vec<Value> {
    QUANTILES
        .iter()
        .map(|(legend, q)| target(quantile(*q, bucket, selector, &[], window), legend))
        .collect()
}

/// A regular expression matching the `le` label of the bucket bound `seconds` however
/// the exposition wrote it: `0.25`; `1` or `1.0`; `0.00001`, `1e-5` or `1e-05` (small
/// bounds are written with an exponent by some encoders, with two digits by Go's).
fn le_pattern(seconds: f64) -> String {
    let mut forms = vec![
        rustform::objective::threshold_label(seconds),
        format!("{seconds:?}"),
    ];
    if seconds.fract() == 0.0 {
        forms.push(format!("{seconds:.1}"));
    }
    if seconds < 1e-4 {
        let exponent = format!("{seconds:e}");
        if let Some((mantissa, power)) = exponent.split_once('e') {
            let (sign, digits) = match power.strip_prefix('-') {
                Some(d) => ("-", d),
                None => ("+", power),
            };
            forms.push(format!("{mantissa}e{sign}{digits:0>2}"));
        }
        forms.push(exponent);
    }
    let mut escaped: Vec<String> = forms.iter().map(|f| regex_escape(f)).collect();
    escaped.sort();
    escaped.dedup();
    escaped.join("|")
}

/// `s` with the characters special to RE2 escaped.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A PromQL duration: `5m`, `1h`, `3d`.
fn promql_duration(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if s >= len && s.is_multiple_of(len) {
            return format!("{}{unit}", s / len);
        }
    }
    format!("{s}s")
}

/// `0.25` → `250 ms`, `2.5` → `2.5 s`.
fn human_seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{} ms", number(seconds * 1000.0))
    } else {
        format!("{} s", number(seconds))
    }
}

/// A number as PromQL and people write it: `0.999`, `14.4`, `1`.
fn number(x: f64) -> String {
    let text = format!("{x:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

// ---------------------------------------------------------------------------------------
// Grafana JSON.

/// The data source of every panel and target: the `datasource` variable.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

fn datasource_variable() -> Value {
    json!({
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "includeAll": false,
        "multi": false,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": false,
    })
}

/// A query variable over `label_values(...)`.
fn query_variable(name: &str, label: &str, query: &str, current: Value, multi: bool) -> Value {
    json!({
        "type": "query",
        "name": name,
        "label": label,
        "datasource": datasource(),
        "definition": query,
        "query": {"query": query, "refId": format!("{name}-variable")},
        "current": current,
        "hide": 0,
        "includeAll": multi,
        "multi": multi,
        "options": [],
        "refresh": 2,
        "regex": "",
        "skipUrlSync": false,
        "sort": 1,
    })
}

/// The `service_name` label of the function metrics and `build_info`, the catalog's
/// service selected.
fn service_variable(service: &Service<'_>) -> Value {
    let name = service.name();
    query_variable(
        "service",
        "Service",
        r#"label_values({__name__=~"build_info|function_calls_total"}, service_name)"#,
        json!({"selected": true, "text": name, "value": name}),
        false,
    )
}

/// The scrape jobs exposing the selected service, for the series without a
/// `service_name` label; all of them by default.
fn job_variable() -> Value {
    query_variable(
        "job",
        "Job",
        r#"label_values({__name__=~"build_info|function_calls_total",service_name="$service"}, job)"#,
        json!({"selected": true, "text": ["All"], "value": ["$__all"]}),
        true,
    )
}

/// The HTTP routes of the selected jobs; all of them by default.
fn route_variable() -> Value {
    let mut v = query_variable(
        "route",
        "Route",
        r#"label_values(http_server_request_duration_seconds_count{job=~"$job"}, http_route)"#,
        json!({"selected": true, "text": ["All"], "value": ["$__all"]}),
        true,
    );
    v["allValue"] = json!(".*");
    v
}

/// A range query.
fn target(expr: impl Into<String>, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr.into(),
        "legendFormat": legend,
        "range": true,
        "instant": false,
    })
}

/// An instant query.
fn instant_target(expr: impl Into<String>, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr.into(),
        "legendFormat": legend,
        "range": false,
        "instant": true,
    })
}

/// A threshold steps list: the first color has no value (the base).
fn thresholds(steps: &[(&str, Option<f64>)]) -> Value {
    let steps: Vec<Value> = if steps.is_empty() {
        vec![json!({"color": "green", "value": null})]
    } else {
        steps
            .iter()
            .map(|(color, value)| json!({"color": color, "value": value}))
            .collect()
    };
    json!({"mode": "absolute", "steps": steps})
}

/// A panel of `kind` with its targets given `refId`s `A`, `B`, …
fn panel(kind: &str, title: &str, description: &str, targets: Vec<Value>) -> Value {
    let targets: Vec<Value> = targets
        .into_iter()
        .enumerate()
        .map(|(i, mut t)| {
            t["refId"] = json!(ref_id(i));
            t
        })
        .collect();
    json!({
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource(),
        "targets": targets,
    })
}

/// `A` … `Z`, `AA` …
fn ref_id(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

fn timeseries(title: &str, description: &str, unit: &str, targets: Vec<Value>) -> Value {
    let mut p = panel("timeseries", title, description, targets);
    p["fieldConfig"] = json!({
        "defaults": {
            "unit": unit,
            "color": {"mode": "palette-classic"},
            "custom": {
                "drawStyle": "line",
                "lineWidth": 1,
                "fillOpacity": 10,
                "showPoints": "never",
                "spanNulls": false,
            },
        },
        "overrides": [],
    });
    p["options"] = json!({
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
        "tooltip": {"mode": "multi", "sort": "desc"},
    });
    p
}

fn stat(title: &str, description: &str, unit: &str, targets: Vec<Value>, steps: Value) -> Value {
    let mut p = panel("stat", title, description, targets);
    p["fieldConfig"] = json!({
        "defaults": {"unit": unit, "color": {"mode": "thresholds"}, "thresholds": steps},
        "overrides": [],
    });
    p["options"] = json!({
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        "colorMode": "value",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
    });
    p
}

fn bargauge(title: &str, description: &str, targets: Vec<Value>, steps: Value) -> Value {
    let mut p = panel("bargauge", title, description, targets);
    p["fieldConfig"] = json!({
        "defaults": {
            "unit": "short",
            "decimals": 2,
            "min": 0,
            "color": {"mode": "thresholds"},
            "thresholds": steps,
        },
        "overrides": [],
    });
    p["options"] = json!({
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
        "orientation": "horizontal",
        "displayMode": "gradient",
        "showUnfilled": true,
    });
    p
}

fn heatmap(title: &str, description: &str, unit: &str, expr: String) -> Value {
    let mut t = target(expr, "{{le}}");
    t["format"] = json!("heatmap");
    let mut p = panel("heatmap", title, description, vec![t]);
    p["fieldConfig"] = json!({"defaults": {}, "overrides": []});
    p["options"] = json!({
        "calculate": false,
        "yAxis": {"axisPlacement": "left", "unit": unit},
        "rowsFrame": {"layout": "auto"},
        "color": {"mode": "scheme", "scheme": "Oranges", "fill": "dark", "exponent": 0.5, "steps": 64},
        "cellGap": 1,
        "tooltip": {"mode": "single", "yHistogram": true},
        "legend": {"show": true},
    });
    p
}

fn table(title: &str, description: &str, expr: String) -> Value {
    let mut t = instant_target(expr, "");
    t["format"] = json!("table");
    let mut p = panel("table", title, description, vec![t]);
    p["fieldConfig"] = json!({"defaults": {}, "overrides": []});
    p["options"] = json!({"showHeader": true});
    p["transformations"] = json!([{
        "id": "organize",
        "options": {
            "excludeByName": {"Time": true},
            "renameByName": {"Value": "instances"},
        },
    }]);
    p
}

/// A dashboard being laid out: rows and panels on Grafana's 24-column grid.
struct Dashboard {
    /// The kind in the `uid`: `overview`, `metrics`, `http`, `slo`.
    uid_kind: &'static str,
    /// The kind in the file name.
    file_kind: &'static str,
    title: &'static str,
    description: &'static str,
    time: &'static str,
    refresh: &'static str,
    variables: Vec<Value>,
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    /// The height of the tallest panel of the line being filled.
    line: u64,
    /// The collapsed row being filled (its index in `panels`), and the `y` just below
    /// it, where what follows goes.
    collapsed: Option<(usize, u64)>,
}

impl Dashboard {
    fn new(
        uid_kind: &'static str,
        file_kind: &'static str,
        title: &'static str,
        description: &'static str,
    ) -> Dashboard {
        Dashboard {
            uid_kind,
            file_kind,
            title,
            description,
            time: "now-1h",
            refresh: "30s",
            variables: Vec::new(),
            panels: Vec::new(),
            next_id: 1,
            x: 0,
            y: 0,
            line: 0,
            collapsed: None,
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Ends the line being filled, and a collapsed row: what follows goes below.
    fn close(&mut self) {
        self.y += self.line;
        self.x = 0;
        self.line = 0;
        if let Some((_, y)) = self.collapsed.take() {
            self.y = y;
        }
    }

    /// Starts a row; the panels added next belong to it.
    fn row(&mut self, title: &str, collapsed: bool) {
        self.close();
        let id = self.id();
        self.panels.push(json!({
            "type": "row",
            "id": id,
            "title": title,
            "collapsed": collapsed,
            "datasource": datasource(),
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            "panels": [],
        }));
        self.y += 1;
        if collapsed {
            self.collapsed = Some((self.panels.len() - 1, self.y));
        }
    }

    /// Adds a panel `width` columns wide and `height` high, on the current line when it
    /// fits, else on the next.
    fn add(&mut self, width: u64, height: u64, mut panel: Value) {
        if self.x + width > 24 {
            self.y += self.line;
            self.x = 0;
            self.line = 0;
        }
        panel["id"] = json!(self.id());
        panel["gridPos"] = json!({"h": height, "w": width, "x": self.x, "y": self.y});
        self.x += width;
        self.line = self.line.max(height);
        match self.collapsed {
            Some((row, _)) => {
                if let Some(list) = self.panels[row]["panels"].as_array_mut() {
                    list.push(panel);
                }
            }
            None => self.panels.push(panel),
        }
    }

    fn into_file(self, service: &Service<'_>) -> Result<GeneratedFile, GenerateError> {
        let slug = service.slug();
        let dashboard = json!({
            "id": null,
            "uid": uid(&slug, self.uid_kind),
            "title": format!("{} / {}", service.name(), self.title),
            "description": self.description,
            "tags": ["rustform", slug, self.uid_kind],
            "timezone": "browser",
            "editable": true,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "time": {"from": self.time, "to": "now"},
            "refresh": self.refresh,
            "fiscalYearStartMonth": 0,
            "liveNow": false,
            "links": [{
                "type": "dashboards",
                "title": "Dashboards",
                "tags": ["rustform", slug],
                "asDropdown": true,
                "includeVars": true,
                "keepTime": true,
            }],
            "annotations": {"list": []},
            "templating": {"list": self.variables},
            "panels": self.panels,
        });
        let mut text = serde_json::to_string_pretty(&dashboard)
            .map_err(|e| GenerateError::Invalid(format!("dashboard JSON: {e}")))?;
        text.push('\n');
        Ok(GeneratedFile::new(
            format!("dashboards/{slug}-{}.json", self.file_kind),
            text,
        ))
    }
}

/// `rf-<slug>-<kind>`; a slug too long for Grafana's 40 characters is cut and followed
/// by a hash of the whole slug, so two long names still get two uids.
fn uid(slug: &str, kind: &str) -> String {
    let whole = format!("rf-{slug}-{kind}");
    if whole.len() <= MAX_UID_LEN {
        return whole;
    }
    let hash = format!("{:08x}", fnv1a(slug));
    // "rf-" + cut + "-" + hash + "-" + kind
    let room = MAX_UID_LEN - 3 - 1 - hash.len() - 1 - kind.len();
    let cut = slug[..room.min(slug.len())].trim_end_matches('-');
    format!("rf-{cut}-{hash}-{kind}")
}

/// 32-bit FNV-1a: stable across releases and platforms, unlike `DefaultHasher`.
fn fnv1a(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use rustform::catalog::{Catalog, CatalogLatency, MetricGroup};
    use rustform::config::Config;

    const YAML: &str = "name: shop
custom_metrics:
  counters:
    - name: orders_total
      description: Orders placed
      labels: [status]
  gauges:
    - name: queue_depth
      description: Jobs waiting
  histograms:
    - name: payment_seconds
      description: Payment time
      unit: seconds
observability:
  prometheus:
    metrics:
      business:
        enabled: true
        custom_counters: [signups_total, orders_total]
        custom_gauges: [active_carts]
        custom_histograms: [basket_size]
";

    fn function(module: &str, name: &str) -> ObservedFunction {
        ObservedFunction::new(module, name)
    }

    fn objective(
        name: &str,
        success: Option<f64>,
        latency: Option<(f64, f64)>,
    ) -> CatalogObjective {
        CatalogObjective::new(
            name,
            success,
            latency.map(|(threshold, percentile)| CatalogLatency::new(threshold, percentile)),
        )
    }

    fn metric(name: &str, kind: MetricType, unit: Option<&str>, labels: &[&str]) -> CatalogMetric {
        let mut metric = CatalogMetric::new(name, kind);
        metric.help = format!("{name} help");
        metric.unit = unit.map(str::to_owned);
        metric.labels = labels.iter().map(|l| (*l).to_owned()).collect();
        metric.buckets = (kind == MetricType::Histogram).then(|| vec![1.0, 10.0]);
        metric
    }

    fn catalog() -> Catalog {
        let api = objective("api", Some(99.9), Some((0.25, 99.0)));
        let mut checkout = function("shop::orders", "checkout");
        checkout.track_concurrency = true;
        checkout.objective = Some(api.clone());
        let mut get_user = function("shop::users", "get_user");
        get_user.objective = Some(api);
        let mut search = function("shop::search", "search");
        search.objective = Some(objective("search", None, Some((0.1, 95.0))));
        let mut process = function("shop::jobs", "process");
        process.resolved = false;
        let mut catalog = Catalog::empty("shop");
        catalog.functions = vec![checkout, get_user, search, process];
        catalog.metric_groups = vec![MetricGroup::new(
            "ShopMetrics",
            "shop::metrics",
            vec![
                metric("shop_payments", MetricType::Counter, None, &["method"]),
                metric("shop_active_users", MetricType::Gauge, None, &[]),
                metric("shop_cache_hit", MetricType::Gauge, Some("ratio"), &[]),
                metric(
                    "shop_order_size_bytes",
                    MetricType::Histogram,
                    Some("bytes"),
                    &[],
                ),
            ],
        )];
        catalog
    }

    fn config(yaml: &str) -> Config {
        Config::parse(yaml, "rustform.yml", &|_| None).expect("a valid configuration")
    }

    fn generate(config: &Config, catalog: &Catalog) -> Vec<(String, Value)> {
        dashboards(&Service::new(config, catalog))
            .expect("dashboards")
            .into_iter()
            .map(|f| {
                let json = serde_json::from_str(&f.contents).expect("valid JSON");
                (f.path.to_string_lossy().into_owned(), json)
            })
            .collect()
    }

    /// Every panel, those inside rows included.
    fn panels(dashboard: &Value) -> Vec<&Value> {
        let mut out = Vec::new();
        for p in dashboard["panels"].as_array().expect("panels") {
            out.push(p);
            if let Some(inner) = p["panels"].as_array() {
                out.extend(inner);
            }
        }
        out
    }

    fn expressions(dashboard: &Value) -> Vec<String> {
        panels(dashboard)
            .into_iter()
            .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
            .map(|t| t["expr"].as_str().expect("expr").to_owned())
            .collect()
    }

    /// `expr` without its string literals.
    fn without_strings(expr: &str) -> String {
        let mut out = String::new();
        let mut chars = expr.chars();
        while let Some(c) = chars.next() {
            if c == '"' {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
                out.push_str("\"\"");
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Brackets balance outside string literals.
    fn balanced(expr: &str) -> bool {
        let mut stack = Vec::new();
        let mut chars = expr.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => loop {
                    match chars.next() {
                        Some('\\') => {
                            chars.next();
                        }
                        Some('"') => break,
                        Some(_) => {}
                        None => return false,
                    }
                },
                '(' | '{' | '[' => stack.push(c),
                ')' | '}' | ']' => {
                    let open = match c {
                        ')' => '(',
                        '}' => '{',
                        _ => '[',
                    };
                    if stack.pop() != Some(open) {
                        return false;
                    }
                }
                _ => {}
            }
        }
        stack.is_empty()
    }

    #[test]
    fn every_dashboard_has_what_grafana_requires() {
        let config = config(YAML);
        let catalog = catalog();
        let ds = json!({"type": "prometheus", "uid": "${datasource}"});
        for (path, d) in generate(&config, &catalog) {
            assert!(
                d["title"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("shop / ")),
                "{path}"
            );
            assert_eq!(d["schemaVersion"], SCHEMA_VERSION, "{path}");
            assert_eq!(d["tags"][0], "rustform", "{path}");
            assert!(
                d["time"]["from"].is_string() && d["refresh"].is_string(),
                "{path}"
            );
            let variables = d["templating"]["list"].as_array().expect("templating.list");
            assert_eq!(variables[0]["type"], "datasource", "{path}");
            assert_eq!(variables[0]["query"], "prometheus", "{path}");
            assert_eq!(variables[1]["name"], "service", "{path}");
            assert_eq!(variables[1]["current"]["value"], "shop", "{path}");
            for v in &variables[1..] {
                assert_eq!(v["datasource"], ds, "{path}: variable {}", v["name"]);
            }
            let mut ids = HashSet::new();
            for p in panels(&d) {
                let title = &p["title"];
                assert!(
                    ids.insert(p["id"].as_u64().expect("id")),
                    "{path}: id of {title}"
                );
                let grid = &p["gridPos"];
                for key in ["h", "w", "x", "y"] {
                    assert!(grid[key].is_u64(), "{path}: gridPos.{key} of {title}");
                }
                assert!(grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap() <= 24);
                assert_eq!(p["datasource"], ds, "{path}: {title}");
                assert!(p["type"].is_string() && title.is_string(), "{path}");
                if p["type"] == "row" {
                    continue;
                }
                let targets = p["targets"].as_array().expect("targets");
                assert!(!targets.is_empty(), "{path}: {title}");
                let mut refs = HashSet::new();
                for t in targets {
                    assert_eq!(t["datasource"], ds, "{path}: {title}");
                    assert!(refs.insert(t["refId"].as_str().expect("refId")));
                    let expr = t["expr"].as_str().expect("expr");
                    assert!(balanced(expr), "{path}: {title}: {expr}");
                    assert!(
                        !without_strings(expr).contains(':'),
                        "{path}: a recording rule in {expr}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_function_and_metric_is_queried() {
        let config = config(YAML);
        let catalog = catalog();
        let files = generate(&config, &catalog);
        let all: Vec<String> = files.iter().flat_map(|(_, d)| expressions(d)).collect();
        let overview = expressions(&files[0].1);
        for f in &catalog.functions {
            let needle = if f.resolved {
                format!("function=\"{}\",module=\"{}\"", f.function, f.module)
            } else {
                format!(
                    "function=~\"(?:.+::)?{}\",module=\"{}\"",
                    f.function, f.module
                )
            };
            assert!(overview.iter().any(|e| e.contains(&needle)), "{needle}");
        }
        let declared = [
            "orders_total",
            "queue_depth",
            "payment_seconds_bucket",
            "signups_total",
            "active_carts",
            "basket_size_bucket",
        ];
        let groups = catalog.metric_groups[0]
            .metrics
            .iter()
            .map(|m| match m.metric_type {
                MetricType::Histogram => format!("{}_bucket", m.name),
                _ => m.sample_name(),
            });
        for sample in groups.chain(declared.map(str::to_owned)) {
            let needle = format!("{sample}{{");
            assert!(all.iter().any(|e| e.contains(&needle)), "{sample}");
        }
        for family in [
            CALLS,
            DURATION_BUCKET,
            CONCURRENT,
            "build_info",
            HTTP_ACTIVE,
        ] {
            assert!(all.iter().any(|e| e.contains(family)), "{family}");
        }
        // `orders_total` is declared twice (custom_metrics and business): one panel.
        let metrics = &files
            .iter()
            .find(|(p, _)| p.ends_with("-app-metrics.json"))
            .unwrap()
            .1;
        let orders = panels(metrics)
            .into_iter()
            .filter(|p| p["title"] == "orders (per second)")
            .count();
        assert_eq!(orders, 1);
    }

    #[test]
    fn a_declared_metric_typed_by_app_metrics_gets_panels_once() {
        // `app_metrics!` puts the file's declarations in the catalog as a group.
        let config = config(YAML);
        let mut catalog = catalog();
        catalog.metric_groups.push(MetricGroup::new(
            "DeclaredMetrics",
            "shop",
            vec![metric("orders", MetricType::Counter, None, &["status"])],
        ));
        let files = generate(&config, &catalog);
        let metrics = &files
            .iter()
            .find(|(p, _)| p.ends_with("-app-metrics.json"))
            .unwrap()
            .1;
        let all = panels(metrics);
        let orders: Vec<_> = all
            .iter()
            .filter(|p| p["title"] == "orders (per second)")
            .collect();
        assert_eq!(orders.len(), 1);
        // The rest of the file's metrics keep their row.
        let rows: Vec<_> = all
            .iter()
            .filter(|p| p["type"] == "row")
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            rows,
            [
                "ShopMetrics (shop::metrics)",
                "DeclaredMetrics (shop)",
                "Declared in rustform.yml"
            ]
        );
        assert!(all.iter().any(|p| p["title"] == "queue_depth"));
    }

    #[test]
    fn uids_are_stable_short_and_distinct() {
        let config = config(YAML);
        let catalog = catalog();
        let uids = |catalog: &Catalog| -> Vec<String> {
            generate(&config, catalog)
                .into_iter()
                .map(|(_, d)| d["uid"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(
            uids(&catalog),
            [
                "rf-shop-overview",
                "rf-shop-metrics",
                "rf-shop-http",
                "rf-shop-slo"
            ]
        );
        assert_eq!(uids(&catalog), uids(&catalog));
        let long = |tail: &str| {
            let mut c = catalog.clone();
            c.service = format!("{}{tail}", "very-long-service-name-".repeat(2));
            c
        };
        let (a, b) = (uids(&long("a")), uids(&long("b")));
        for uid in a.iter().chain(&b) {
            assert!(uid.len() <= MAX_UID_LEN, "{uid}");
            assert!(uid.starts_with("rf-very-long-"), "{uid}");
            assert!(
                uid.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-'),
                "{uid}"
            );
        }
        let distinct: HashSet<&String> = a.iter().chain(&b).collect();
        assert_eq!(distinct.len(), 8, "{a:?} {b:?}");
        assert_eq!(a, uids(&long("a")));
    }

    #[test]
    fn dashboards_follow_what_there_is_to_show() {
        let catalog = Catalog::empty("shop");
        let paths = |yaml: &str| -> Vec<String> {
            generate(&config(yaml), &catalog)
                .into_iter()
                .map(|(p, _)| p)
                .collect()
        };
        assert_eq!(
            paths("name: shop\n"),
            ["dashboards/shop-overview.json", "dashboards/shop-http.json"]
        );
        assert_eq!(
            paths(
                "name: shop\nobservability:\n  prometheus:\n    metrics:\n      http:\n        enabled: false\n"
            ),
            ["dashboards/shop-overview.json"]
        );
        assert_eq!(
            paths(YAML),
            [
                "dashboards/shop-overview.json",
                "dashboards/shop-app-metrics.json",
                "dashboards/shop-http.json"
            ]
        );
    }

    #[test]
    fn functions_get_a_row_each() {
        let config = config("name: shop\n");
        let mut catalog = catalog();
        let rows = |catalog: &Catalog| -> Vec<(String, bool)> {
            let overview = generate(&config, catalog).remove(0).1;
            overview["panels"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["title"].as_str().unwrap().starts_with("fn "))
                .map(|p| {
                    (
                        p["title"].as_str().unwrap().to_owned(),
                        p["collapsed"] == true,
                    )
                })
                .collect()
        };
        assert_eq!(
            rows(&catalog),
            [
                ("fn shop::orders::checkout".to_owned(), false),
                ("fn shop::users::get_user".to_owned(), false),
                ("fn shop::search::search".to_owned(), false),
                ("fn shop::jobs::process".to_owned(), false),
            ]
        );
        // Many functions: their rows start collapsed, their panels inside.
        for i in 0..EXPANDED_FUNCTIONS {
            catalog
                .functions
                .push(function("shop::more", &format!("f{i}")));
        }
        let rows = rows(&catalog);
        assert_eq!(rows.len(), 4 + EXPANDED_FUNCTIONS);
        assert!(rows.iter().all(|(_, collapsed)| *collapsed));
    }

    #[test]
    fn the_slo_page_reads_the_raw_series() {
        let config = config("name: shop\n");
        let catalog = catalog();
        let files = generate(&config, &catalog);
        let slo = &files.last().unwrap().1;
        assert_eq!(slo["time"]["from"], "now-30d");
        let rows: Vec<&str> = slo["panels"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "row")
            .map(|p| p["title"].as_str().unwrap())
            .collect();
        assert_eq!(rows, ["Objective api", "Objective search"]);
        let exprs = expressions(slo);
        let success = r#"objective_name="api",objective_percentile="99.9""#;
        let latency = r#"objective_name="api",objective_percentile="99",objective_latency_threshold="0.25",le=~"0\\.25""#;
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(success) && e.contains(r#"result="error""#))
        );
        assert!(exprs.iter().any(|e| e.contains(latency)));
        // Every success-rate share counts ok and error calls only, as the alert rules do,
        // and every query selects the `job` variable.
        for e in exprs.iter().filter(|e| e.contains(success)) {
            assert!(
                e.contains(&format!(r#"{success},result=~"ok|error"}}"#)),
                "{e}"
            );
        }
        for e in exprs.iter().filter(|e| e.contains("objective_name")) {
            assert!(e.contains(r#"job=~"$job""#), "{e}");
        }
        assert!(
            slo["templating"]["list"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v["name"] == "job")
        );
        assert!(exprs.iter().any(|e| e.contains("/ (1 - 0.999)")));
        assert!(exprs.iter().any(|e| e.contains("/ (1 - 0.99)")));
        assert!(exprs.iter().any(|e| e.contains("[$__range]")));
        assert!(exprs.contains(&"vector(0.999)".to_owned()));
        let burn = panels(slo)
            .into_iter()
            .find(|p| p["type"] == "bargauge")
            .unwrap();
        let windows: Vec<&str> = burn["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["legendFormat"].as_str().unwrap())
            .collect();
        assert_eq!(windows, ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]);
        assert!(
            burn["targets"][0]["expr"]
                .as_str()
                .unwrap()
                .contains("[5m]")
        );
        // A latency-only objective has no success panels.
        let search = r#"objective_name="search""#;
        assert!(
            !exprs
                .iter()
                .any(|e| e.contains(search) && e.contains(CALLS))
        );
        assert!(
            exprs
                .iter()
                .any(|e| e.contains(search) && e.contains(r#"le=~"0\\.1""#))
        );
    }

    #[test]
    fn a_threshold_between_bounds_is_refused() {
        let config = config("name: shop\n");
        let mut catalog = catalog();
        catalog.functions[0].objective = Some(objective("slow", None, Some((0.3, 99.0))));
        let err = dashboards(&Service::new(&config, &catalog)).unwrap_err();
        assert!(matches!(err, GenerateError::Objective(_)), "{err}");
    }

    #[test]
    fn bucket_bounds_match_however_they_are_written() {
        assert_eq!(le_pattern(0.25), r"0\.25");
        assert_eq!(le_pattern(1.0), r"1|1\.0");
        let tiny = le_pattern(0.00001);
        for form in [r"0\.00001", r"1e-5", r"1e-05"] {
            assert!(tiny.split('|').any(|f| f == form), "{tiny}");
        }
    }

    #[test]
    fn helpers_write_what_people_write() {
        assert_eq!(number(0.999), "0.999");
        assert_eq!(number(99.9 / 100.0), "0.999");
        assert_eq!(number(14.4), "14.4");
        assert_eq!(number(1.0), "1");
        assert_eq!(promql_duration(Duration::from_secs(300)), "5m");
        assert_eq!(promql_duration(Duration::from_secs(3 * 86400)), "3d");
        assert_eq!(promql_duration(Duration::from_secs(90)), "90s");
        assert_eq!(human_seconds(0.25), "250 ms");
        assert_eq!(human_seconds(2.5), "2.5 s");
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "AA");
        assert_eq!(value_unit(Some("seconds")), "s");
        assert_eq!(value_unit(Some("bytes")), "bytes");
        assert_eq!(value_unit(Some("ratio")), "percentunit");
        assert_eq!(value_unit(Some("dollars")), "short");
        assert_eq!(rate_unit(None), "cps");
        assert_eq!(
            ratio_or_zero("e", "t", &["a"], "5m"),
            "(sum by (a) (rate(e[5m])) or sum by (a) (rate(t[5m])) * 0) / sum by (a) (rate(t[5m]))"
        );
    }
}
