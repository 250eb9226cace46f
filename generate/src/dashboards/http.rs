//! The HTTP server: the metrics of `rustform::http::ObserveLayer` (OpenTelemetry's HTTP
//! semantic conventions) by route, and the client middleware's outgoing requests by host.
//!
//! These series carry no `service_name` label: they are narrowed to the service by the
//! `job` variable, and to routes by the `route` variable.

use super::grafana::{
    Dashboard, JOB, QUANTILES, RATE, datasource_variable, heatmap, job_variable, quantile_targets,
    route_variable, service_variable, stat, target, thresholds, timeseries,
};
use crate::Service;
use crate::promql;

const HTTP_DURATION: &str = "http_server_request_duration_seconds";
pub(super) const HTTP_ACTIVE: &str = "http_server_active_requests";
const HTTP_REQUEST_BODY: &str = "http_server_request_body_size_bytes";
const HTTP_RESPONSE_BODY: &str = "http_server_response_body_size_bytes";
const HTTP_CLIENT_DURATION: &str = "http_client_request_duration_seconds";

/// The `ObserveLayer` metrics: requests, errors and latency by route, requests in
/// progress, body sizes; and the client middleware's outgoing requests.
pub(super) fn dashboard(service: &Service<'_>) -> Dashboard {
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
                promql::rate_sum(&[], &format!("{count}{{{sel}}}"), RATE),
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
            vec![target(
                promql::quantile(0.95, &bucket, sel, &[], RATE),
                "p95",
            )],
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
                promql::rate_sum(&route, &format!("{count}{{{sel}}}"), RATE),
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
                promql::rate_sum(
                    &["http_response_status_code"],
                    &format!("{count}{{{sel}}}"),
                    RATE,
                ),
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
            quantile_targets(&bucket, sel),
        ),
    );
    d.add(
        12,
        8,
        heatmap(
            "Latency distribution",
            "Requests per second in each duration bucket.",
            "s",
            promql::rate_sum(&["le"], &format!("{bucket}{{{sel}}}"), RATE),
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
                    promql::quantile(q, &bucket, sel, &route, RATE),
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
                    promql::quantile(0.95, &format!("{family}_bucket"), sel, &route, RATE),
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
                    promql::rate_sum(&route, &format!("{family}_sum{{{sel}}}"), RATE),
                    "{{http_route}}",
                )],
            ),
        );
    }

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
                promql::rate_sum(&server, &format!("{client_count}{{{JOB}}}"), RATE),
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
                promql::ratio_or_zero(
                    &format!(r#"{client_count}{{{JOB},error_type!=""}}"#),
                    &format!("{client_count}{{{JOB}}}"),
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
                promql::quantile(
                    0.95,
                    &format!("{HTTP_CLIENT_DURATION}_bucket"),
                    JOB,
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
    promql::ratio_or_zero(
        &format!(r#"{count}{{{selector},http_response_status_code=~"5.."}}"#),
        &format!("{count}{{{selector}}}"),
        by,
        RATE,
    )
}
