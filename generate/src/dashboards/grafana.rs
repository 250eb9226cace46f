//! The Grafana model: a dashboard laid out on Grafana's 24-column grid, its variables,
//! panels and targets, and the JSON file it becomes.
//!
//! Every panel and target reads the `datasource` variable, so the files work with any
//! Prometheus data source; the `service` and `job` variables narrow the series to one
//! service ([`service_selector`], [`JOB`]). Panels are added in reading order and
//! [`Dashboard::add`] places them: on the current line while they fit, then below; a
//! collapsed row keeps the panels that follow it inside it, as Grafana stores them.

use serde_json::{Value, json};

use crate::promql::{self, CALLS};
use crate::{GenerateError, GeneratedFile, Service};
use rustform::config::names::observed::SERVICE_NAME;

/// The Grafana dashboard schema version the generated JSON follows (Grafana 10.4 and
/// later read it as is).
pub const SCHEMA_VERSION: u32 = 39;

/// The longest `uid` Grafana accepts.
pub const MAX_UID_LEN: usize = 40;

/// The rate window of every time-series panel.
pub(super) const RATE: &str = "$__rate_interval";

/// The quantiles of the latency panels: legend and value.
pub(super) const QUANTILES: [(&str, f64); 3] = [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)];

/// The series of the scrape jobs selected in the `job` variable.
pub(super) const JOB: &str = r#"job=~"$job""#;

/// The series of the service selected in the `service` variable, on the selected jobs.
pub(super) fn service_selector() -> String {
    format!(r#"{SERVICE_NAME}="$service",{JOB}"#)
}

/// A dashboard being laid out: rows and panels on Grafana's 24-column grid.
pub(super) struct Dashboard {
    /// The kind in the `uid`: `overview`, `metrics`, `http`, `slo`.
    uid_kind: &'static str,
    /// The kind in the file name.
    file_kind: &'static str,
    title: &'static str,
    description: &'static str,
    /// The start of the time range shown, which ends now: `now-1h`.
    pub(super) time: &'static str,
    /// How often Grafana runs the queries again: `30s`.
    pub(super) refresh: &'static str,
    /// The templating variables, in the order Grafana shows them.
    pub(super) variables: Vec<Value>,
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
    pub(super) fn new(
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
    pub(super) fn row(&mut self, title: &str, collapsed: bool) {
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
    pub(super) fn add(&mut self, width: u64, height: u64, mut panel: Value) {
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

    pub(super) fn into_file(self, service: &Service<'_>) -> Result<GeneratedFile, GenerateError> {
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

/// The data source of every panel and target: the `datasource` variable.
fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

pub(super) fn datasource_variable() -> Value {
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
pub(super) fn service_variable(service: &Service<'_>) -> Value {
    let name = service.name();
    query_variable(
        "service",
        "Service",
        &format!(r#"label_values({{__name__=~"build_info|{CALLS}"}}, {SERVICE_NAME})"#),
        json!({"selected": true, "text": name, "value": name}),
        false,
    )
}

/// The scrape jobs exposing the selected service, for the series without a
/// `service_name` label; all of them by default.
pub(super) fn job_variable() -> Value {
    query_variable(
        "job",
        "Job",
        &format!(
            r#"label_values({{__name__=~"build_info|{CALLS}",{SERVICE_NAME}="$service"}}, job)"#
        ),
        json!({"selected": true, "text": ["All"], "value": ["$__all"]}),
        true,
    )
}

/// The HTTP routes of the selected jobs; all of them by default.
pub(super) fn route_variable() -> Value {
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
pub(super) fn target(expr: impl Into<String>, legend: &str) -> Value {
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
pub(super) fn instant_target(expr: impl Into<String>, legend: &str) -> Value {
    json!({
        "datasource": datasource(),
        "editorMode": "code",
        "expr": expr.into(),
        "legendFormat": legend,
        "range": false,
        "instant": true,
    })
}

/// One target per quantile of [`QUANTILES`] of `bucket{selector}`, legends `p50`, `p95`,
/// `p99`.
pub(super) fn quantile_targets(bucket: &str, selector: &str) -> Vec<Value> {
    QUANTILES
        .iter()
        .map(|(legend, q)| target(promql::quantile(*q, bucket, selector, &[], RATE), legend))
        .collect()
}

/// A threshold steps list: the first color has no value (the base).
pub(super) fn thresholds(steps: &[(&str, Option<f64>)]) -> Value {
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

pub(super) fn timeseries(title: &str, description: &str, unit: &str, targets: Vec<Value>) -> Value {
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

pub(super) fn stat(
    title: &str,
    description: &str,
    unit: &str,
    targets: Vec<Value>,
    steps: Value,
) -> Value {
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

pub(super) fn bargauge(title: &str, description: &str, targets: Vec<Value>, steps: Value) -> Value {
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

pub(super) fn heatmap(title: &str, description: &str, unit: &str, expr: String) -> Value {
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

pub(super) fn table(title: &str, description: &str, expr: String) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_lettered() {
        assert_eq!(ref_id(0), "A");
        assert_eq!(ref_id(25), "Z");
        assert_eq!(ref_id(26), "AA");
    }
}
