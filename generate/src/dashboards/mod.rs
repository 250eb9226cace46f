//! Grafana dashboards.
//!
//! [`dashboards`] writes one Grafana dashboard (JSON, schema version
//! [`SCHEMA_VERSION`](grafana::SCHEMA_VERSION)) per concern, each under `dashboards/<service>-<kind>.json`:
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
//!
//! Each dashboard is a module that lays out its panels ([`overview`], [`application`],
//! [`http`], [`slo`]); [`grafana`] is the model they fill and the JSON it becomes, and
//! every query is written with the crate's PromQL builders, shared with the alert rules.

mod application;
mod grafana;
mod http;
mod overview;
mod slo;
#[cfg(test)]
mod tests;

use super::{GenerateError, GeneratedFile, Service};

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
    let mut out = vec![overview::dashboard(service)];
    out.extend(application::dashboard(service));
    if service.config.observability.prometheus.metrics.http.enabled {
        out.push(http::dashboard(service));
    }
    out.extend(slo::dashboard(service));
    out.into_iter()
        .map(|d| d.into_file(service))
        .collect::<Result<Vec<_>, _>>()
}
