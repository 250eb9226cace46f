//! The application metrics: a row per `AppMetrics` struct and one for the metrics
//! declared in `rustform.yml`, each metric drawn by its type: a counter as a rate, a
//! gauge as a value, a histogram as percentiles and a heatmap.
//!
//! A metric `app_metrics!` declares from the file is in the catalog as a member of its
//! struct, so it is drawn there, once, and not again among the declared ones.

use super::grafana::{
    Dashboard, JOB, RATE, datasource_variable, heatmap, job_variable, quantile_targets,
    service_variable, target, timeseries,
};
use crate::Service;
use crate::promql;
use rustform::catalog::CatalogMetric;
use rustform::config::MetricDeclaration;
use rustform::config::names;
use rustform::metrics::MetricType;

/// A row per `AppMetrics` struct and one for the metrics declared in `rustform.yml`; none
/// when there are neither.
pub(super) fn dashboard(service: &Service<'_>) -> Option<Dashboard> {
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
    names::family_name(name, kind == MetricType::Counter)
}

/// The panels of one metric: a counter's rate, a gauge's value, a histogram's
/// percentiles and heatmap; split by its labels, summed over instances.
fn metric_panels(d: &mut Dashboard, metric: &CatalogMetric) {
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
                        promql::rate_sum(&labels, &format!("{sample}{{{JOB}}}"), RATE),
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
                        promql::aggregate(how, &labels, &format!("{}{{{JOB}}}", metric.name)),
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
                    quantile_targets(&bucket, JOB),
                ),
            );
            d.add(
                12,
                8,
                heatmap(
                    &format!("{} distribution", metric.name),
                    &format!("{help}(observations per second in each bucket of {bucket})"),
                    value_unit(unit),
                    promql::rate_sum(&["le"], &format!("{bucket}{{{JOB}}}"), RATE),
                ),
            );
        }
        // A type added to rustform later gets no panels until it is drawn here.
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_become_grafana_units() {
        assert_eq!(value_unit(Some("seconds")), "s");
        assert_eq!(value_unit(Some("bytes")), "bytes");
        assert_eq!(value_unit(Some("ratio")), "percentunit");
        assert_eq!(value_unit(Some("dollars")), "short");
        assert_eq!(rate_unit(None), "cps");
    }
}
