//! The Prometheus text exposition, checked by the real `promtool check metrics` and
//! against the format's rules, exactly: the default registry after `#[observed]` calls,
//! every metric type with escaped label values, and a `prometheus::Registry` holding
//! hand-written `prometheus` metrics beside a rustform registry.

use std::collections::{BTreeMap, HashSet};
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use prometheus::Encoder as _;
use rustform::metrics::{
    Buckets, Counter, CounterVec, Gauge, GaugeVec, Histogram, HistogramVec, LabelSet, LabelValue,
    Registry, default_registry,
};
use rustform::{ErrorLabel, observed};

// ---------------------------------------------------------------------------------------
// Hand-written label types
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Get,
    Post,
    Delete,
}

const METHODS: [Method; 3] = [Method::Get, Method::Post, Method::Delete];

impl LabelValue for Method {
    const CARDINALITY: Option<usize> = Some(3);

    fn dense_index(&self) -> usize {
        *self as usize
    }

    fn from_dense_index(index: usize) -> Option<Self> {
        METHODS.get(index).copied()
    }

    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Delete => "delete",
        })
    }
}

/// A fixed-cardinality label set: every series exists from the start.
struct Route {
    method: Method,
    success: bool,
}

impl LabelSet for Route {
    const NAMES: &'static [&'static str] = &["method", "success"];
    const CARDINALITY: Option<usize> = Some(6);

    fn dense_index(&self) -> usize {
        self.method.dense_index() * 2 + self.success.dense_index()
    }

    fn from_dense_index(index: usize) -> Option<Self> {
        Some(Route {
            method: Method::from_dense_index(index / 2)?,
            success: bool::from_dense_index(index % 2)?,
        })
    }

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        self.method.with_str(|s| f(s));
        self.success.with_str(|s| f(s));
    }
}

/// An open-ended label set: series appear on first use.
struct Tenant {
    tenant: String,
}

impl LabelSet for Tenant {
    const NAMES: &'static [&'static str] = &["tenant"];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        f(&self.tenant)
    }
}

fn tenant(name: &str) -> Tenant {
    Tenant {
        tenant: name.to_owned(),
    }
}

/// A mix of both: open-ended.
struct Upload {
    method: Method,
    tenant: String,
}

impl LabelSet for Upload {
    const NAMES: &'static [&'static str] = &["method", "tenant"];

    fn visit_values(&self, f: &mut dyn FnMut(&str)) {
        self.method.with_str(|s| f(s));
        f(&self.tenant);
    }
}

/// Label values that need escaping or are not ASCII.
const AWKWARD: [&str; 5] = [
    r#"say "hi""#,
    r"C:\temp\new",
    "two\nlines",
    "Zoë ☕ 日本",
    r#"all \ " of
them"#,
];

// ---------------------------------------------------------------------------------------
// The format's rules
// ---------------------------------------------------------------------------------------

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: String,
}

/// One family: its header and its samples, in order.
#[derive(Debug, Clone)]
struct FamilyText {
    name: String,
    help: String,
    kind: String,
    samples: Vec<Sample>,
}

/// Parses `name{a="x",b="y"} value`, unescaping label values.
fn parse_sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).expect("a sample name");
    let name = line[..name_end].to_owned();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        let mut chars = after.char_indices().peekable();
        loop {
            let start = chars.peek().expect("a label or `}`").0;
            if after[start..].starts_with('}') {
                rest = &after[start + 1..];
                break;
            }
            let eq = after[start..]
                .find("=\"")
                .expect("`=\"` after a label name")
                + start;
            let label = after[start..eq].to_owned();
            while chars.peek().is_some_and(|(i, _)| *i <= eq + 1) {
                chars.next();
            }
            let mut value = String::new();
            loop {
                match chars.next().expect("a closing quote").1 {
                    '\\' => match chars.next().expect("an escaped character").1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => panic!("invalid escape \\{other} in {line:?}"),
                    },
                    '"' => break,
                    '\n' => panic!("raw newline in a label value: {line:?}"),
                    c => value.push(c),
                }
            }
            labels.push((label, value));
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
    }
    let value = rest.strip_prefix(' ').expect("a space before the value");
    assert!(
        !value.is_empty() && !value.contains(' '),
        "bad value in {line:?}"
    );
    Sample {
        name,
        labels,
        value: value.to_owned(),
    }
}

fn parse_value(text: &str) -> f64 {
    match text {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {other:?}")),
    }
}

/// Checks an exposition against the rules of the Prometheus text format and returns its
/// families: one HELP and one TYPE per family, before its samples; the samples of a
/// family together and named after it; counters named `_total`; no label set twice;
/// histogram buckets ascending and cumulative, ending at `+Inf` equal to `_count`, with a
/// `_sum`; a final newline.
fn check_exposition(text: &str) -> Vec<FamilyText> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "the body must end with a newline"
    );
    let mut families: Vec<FamilyText> = Vec::new();
    let mut seen_names = HashSet::new();
    let mut pending_help: Option<(String, String)> = None;
    for line in text.lines() {
        if let Some(help) = line.strip_prefix("# HELP ") {
            assert!(pending_help.is_none(), "two HELP lines in a row: {line:?}");
            let (name, help) = help.split_once(' ').expect("HELP has a name and text");
            assert!(
                seen_names.insert(name.to_owned()),
                "{name} has a second HELP"
            );
            pending_help = Some((name.to_owned(), help.to_owned()));
        } else if let Some(kind) = line.strip_prefix("# TYPE ") {
            let (name, kind) = kind.split_once(' ').expect("TYPE has a name and type");
            let (help_name, help) = pending_help
                .take()
                .unwrap_or_else(|| panic!("TYPE of {name} without a HELP just before"));
            assert_eq!(help_name, name, "HELP and TYPE name different families");
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "unexpected type {kind}"
            );
            if kind == "counter" {
                assert!(name.ends_with("_total"), "counter {name} lacks `_total`");
            }
            families.push(FamilyText {
                name: name.to_owned(),
                help: help.to_owned(),
                kind: kind.to_owned(),
                samples: Vec::new(),
            });
        } else if line.starts_with('#') {
            panic!("unexpected comment line {line:?}");
        } else {
            assert!(pending_help.is_none(), "a sample between HELP and TYPE");
            let family = families
                .last_mut()
                .unwrap_or_else(|| panic!("sample {line:?} before any HELP/TYPE"));
            let sample = parse_sample(line);
            let allowed: Vec<String> = match family.kind.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .map(|s| format!("{}{s}", family.name))
                    .collect(),
                _ => vec![family.name.clone()],
            };
            assert!(
                allowed.contains(&sample.name),
                "sample {} is outside its family {} (or the family is split)",
                sample.name,
                family.name
            );
            family.samples.push(sample);
        }
    }
    assert!(pending_help.is_none(), "HELP without TYPE at the end");

    for family in &families {
        let mut label_sets = HashSet::new();
        for sample in &family.samples {
            let mut key = sample.labels.clone();
            key.sort();
            assert!(
                label_sets.insert((sample.name.clone(), key)),
                "{} has the label set {:?} twice",
                sample.name,
                sample.labels
            );
        }
        if family.kind == "histogram" {
            check_histogram(family);
        }
    }
    families
}

fn check_histogram(family: &FamilyText) {
    type Key = Vec<(String, String)>;
    let mut buckets: BTreeMap<Key, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<Key, f64> = BTreeMap::new();
    let mut sums: HashSet<Key> = HashSet::new();
    for sample in &family.samples {
        let value = parse_value(&sample.value);
        if sample.name.ends_with("_bucket") {
            let le = sample
                .labels
                .iter()
                .find(|(n, _)| n == "le")
                .unwrap_or_else(|| panic!("a bucket without `le`: {sample:?}"));
            assert_eq!(
                sample.labels.last().map(|(n, _)| n.as_str()),
                Some("le"),
                "`le` comes last"
            );
            let key: Key = sample
                .labels
                .iter()
                .filter(|(n, _)| n != "le")
                .cloned()
                .collect();
            buckets
                .entry(key)
                .or_default()
                .push((parse_value(&le.1), value));
        } else if sample.name.ends_with("_count") {
            counts.insert(sample.labels.clone(), value);
        } else {
            sums.insert(sample.labels.clone());
        }
    }
    assert!(!buckets.is_empty(), "{} has no buckets", family.name);
    assert_eq!(
        buckets.len(),
        counts.len(),
        "{}: a _count per series",
        family.name
    );
    for (key, series) in &buckets {
        assert!(
            series.windows(2).all(|w| w[0].0 < w[1].0),
            "{} {key:?}: bounds not ascending: {series:?}",
            family.name
        );
        assert!(
            series.windows(2).all(|w| w[0].1 <= w[1].1),
            "{} {key:?}: counts not cumulative: {series:?}",
            family.name
        );
        let (last_bound, last_count) = *series.last().unwrap();
        assert_eq!(
            last_bound,
            f64::INFINITY,
            "{} {key:?} ends at +Inf",
            family.name
        );
        assert_eq!(
            Some(&last_count),
            counts.get(key),
            "{} {key:?}: +Inf bucket equals _count",
            family.name
        );
        assert!(sums.contains(key), "{} {key:?} has a _sum", family.name);
    }
}

fn family<'a>(families: &'a [FamilyText], name: &str) -> &'a FamilyText {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// The value of the sample `name` with exactly these labels (in order).
fn sample_value(families: &[FamilyText], name: &str, labels: &[(&str, &str)]) -> String {
    families
        .iter()
        .flat_map(|f| &f.samples)
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && s.labels
                    .iter()
                    .zip(labels)
                    .all(|(a, b)| a.0 == b.0 && a.1 == b.1)
        })
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .value
        .clone()
}

// ---------------------------------------------------------------------------------------
// The default registry after #[observed] calls
// ---------------------------------------------------------------------------------------

#[derive(Debug, ErrorLabel)]
enum PayError {
    Declined,
    #[label(rename = "gateway_down")]
    Gateway,
}

#[observed(track_concurrency, labels(tier = "gold"))]
fn pay(amount: u32) -> Result<u32, PayError> {
    match amount {
        0 => Err(PayError::Declined),
        1 => Err(PayError::Gateway),
        _ => Ok(amount),
    }
}

#[observed]
fn read_receipt(missing: bool) -> std::io::Result<String> {
    if missing {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    } else {
        Ok("receipt".into())
    }
}

#[observed(buckets = [0.01, 0.1, 1])]
fn refund() {
    panic!("refund failed")
}

#[observed(track_concurrency)]
async fn settle() {
    std::future::pending::<()>().await
}

#[observed(callers)]
fn audit() {}

#[observed]
fn checkout_flow() {
    let _ = pay(5);
    audit();
}

#[test]
fn promtool_accepts_the_default_registry_after_observed_calls() {
    for amount in [5, 0, 1, 7, 0] {
        let _ = pay(amount);
    }
    let _ = read_receipt(true);
    let _ = read_receipt(false);
    std::panic::catch_unwind(refund).expect_err("it panics");
    {
        let mut future = pin!(settle());
        assert!(
            future
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .is_pending()
        );
    }
    checkout_flow();
    audit();

    let text = default_registry().render();
    testkit::assert_promtool_accepts(&text);
    let families = check_exposition(&text);

    let module = module_path!();
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| env!("CARGO_PKG_NAME").to_owned());
    let id = |function: &'static str| -> Vec<(&str, &str)> {
        vec![
            ("function", function),
            ("module", module),
            ("service_name", &service),
        ]
    };
    let with = |function: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut labels = id(function);
        labels.extend_from_slice(extra);
        labels
    };
    let calls = "function_calls_total";
    let gold = ("tier", "gold");
    assert_eq!(
        sample_value(&families, calls, &with("pay", &[("result", "ok"), gold])),
        "3"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with("pay", &[("result", "error"), ("error", "declined"), gold])
        ),
        "2"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with(
                "pay",
                &[("result", "error"), ("error", "gateway_down"), gold]
            )
        ),
        "1"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with(
                "read_receipt",
                &[("result", "error"), ("error", "not_found")]
            )
        ),
        "1"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with("refund", &[("result", "error"), ("error", "panic")])
        ),
        "1"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with("settle", &[("result", "cancelled")])
        ),
        "1"
    );
    assert_eq!(
        sample_value(
            &families,
            calls,
            &with(
                "audit",
                &[
                    ("caller_function", "checkout_flow"),
                    ("caller_module", module),
                    ("result", "ok")
                ]
            )
        ),
        "1"
    );
    assert_eq!(
        sample_value(&families, calls, &with("audit", &[("result", "ok")])),
        "1"
    );
    let durations = "function_calls_duration_seconds_count";
    assert_eq!(
        sample_value(&families, durations, &with("pay", &[gold])),
        "6"
    );
    assert_eq!(sample_value(&families, durations, &id("refund")), "1");
    let refund_buckets: Vec<&str> = family(&families, "function_calls_duration_seconds")
        .samples
        .iter()
        .filter(|s| s.name.ends_with("_bucket") && s.labels[0].1 == "refund")
        .map(|s| s.labels.last().unwrap().1.as_str())
        .collect();
    assert_eq!(refund_buckets, ["0.01", "0.1", "1", "+Inf"]);
    let concurrent = "function_calls_concurrent";
    assert_eq!(
        sample_value(&families, concurrent, &with("pay", &[gold])),
        "0"
    );
    assert_eq!(sample_value(&families, concurrent, &id("settle")), "0");

    // The three function families, in registration order.
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    let position = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no {name} in {names:?}"))
    };
    assert!(position("function_calls_total") < position("function_calls_duration_seconds"));
    assert!(position("function_calls_duration_seconds") < position("function_calls_concurrent"));
    assert_eq!(family(&families, "function_calls_total").kind, "counter");
    assert_eq!(
        family(&families, "function_calls_duration_seconds").kind,
        "histogram"
    );
    assert_eq!(family(&families, "function_calls_concurrent").kind, "gauge");
}

// ---------------------------------------------------------------------------------------
// Every metric type, with escaped label values
// ---------------------------------------------------------------------------------------

/// A registry with every metric type, labeled and not, and awkward label values.
fn registry_with_every_type() -> Registry {
    let registry = Registry::new();
    let jobs = Counter::new();
    registry
        .register(
            "jobs_processed",
            "Jobs processed by the worker, \\ and \"quoted\"\nover two lines",
            jobs.clone(),
        )
        .unwrap();
    jobs.inc_by(12);

    let depth = Gauge::new();
    registry
        .register("queue_depth", "Jobs waiting", depth.clone())
        .unwrap();
    depth.set(-3);

    let sizes = Histogram::new(Buckets::new([100.0, 1000.0, 10000.0]).unwrap());
    registry
        .register_with_unit(
            "payload_size_bytes",
            "Payload sizes",
            "bytes",
            sizes.clone(),
        )
        .unwrap();
    for size in [10.0, 100.0, 5000.0, 1e6] {
        sizes.observe(size);
    }

    let requests = CounterVec::<Route>::new();
    registry
        .register("http_requests", "HTTP requests by route", requests.clone())
        .unwrap();
    requests
        .with(&Route {
            method: Method::Post,
            success: true,
        })
        .inc_by(4);
    requests
        .with(&Route {
            method: Method::Delete,
            success: false,
        })
        .inc();

    let sessions = GaugeVec::<Tenant>::new();
    registry
        .register(
            "tenant_sessions",
            "Open sessions by tenant",
            sessions.clone(),
        )
        .unwrap();
    for (i, name) in AWKWARD.iter().enumerate() {
        sessions.with(&tenant(name)).set(i as i64 + 1);
    }

    let uploads = HistogramVec::<Upload>::new(Buckets::new([0.5, 1.0]).unwrap());
    registry
        .register_with_unit(
            "upload_duration_seconds",
            "Upload durations",
            "seconds",
            uploads.clone(),
        )
        .unwrap();
    for (i, name) in AWKWARD.iter().enumerate() {
        let series = uploads.with(&Upload {
            method: METHODS[i % 3],
            tenant: (*name).to_owned(),
        });
        series.observe(0.25);
        series.observe(0.75 * i as f64);
    }

    let by_route = HistogramVec::<Route>::new(Buckets::default());
    registry
        .register(
            "route_latency_seconds",
            "Latency by route",
            by_route.clone(),
        )
        .unwrap();
    by_route
        .with(&Route {
            method: Method::Get,
            success: true,
        })
        .observe(0.2);

    let flags = GaugeVec::<Route>::new();
    registry
        .register("route_enabled", "Whether a route is enabled", flags.clone())
        .unwrap();
    flags
        .with(&Route {
            method: Method::Get,
            success: true,
        })
        .set(1);
    registry
}

#[test]
fn promtool_accepts_every_metric_type_and_escaped_label_values() {
    let registry = registry_with_every_type();
    let text = registry.render();
    testkit::assert_promtool_accepts(&text);
    let families = check_exposition(&text);
    assert_eq!(
        families
            .iter()
            .map(|f| (f.name.as_str(), f.kind.as_str()))
            .collect::<Vec<_>>(),
        [
            ("jobs_processed_total", "counter"),
            ("queue_depth", "gauge"),
            ("payload_size_bytes", "histogram"),
            ("http_requests_total", "counter"),
            ("tenant_sessions", "gauge"),
            ("upload_duration_seconds", "histogram"),
            ("route_latency_seconds", "histogram"),
            ("route_enabled", "gauge"),
        ]
    );
    assert_eq!(
        family(&families, "jobs_processed_total").help,
        "Jobs processed by the worker, \\\\ and \"quoted\"\\nover two lines"
    );

    // Every awkward value reads back unchanged, exactly once.
    for (i, name) in AWKWARD.into_iter().enumerate() {
        assert_eq!(
            sample_value(&families, "tenant_sessions", &[("tenant", name)]),
            (i + 1).to_string()
        );
        let method = METHODS[i % 3];
        let method = method.with_str(str::to_owned);
        assert_eq!(
            sample_value(
                &families,
                "upload_duration_seconds_count",
                &[("method", &method), ("tenant", name)]
            ),
            "2"
        );
    }
    // A fixed label set shows every series, used or not.
    assert_eq!(family(&families, "http_requests_total").samples.len(), 6);
    assert_eq!(family(&families, "route_enabled").samples.len(), 6);
    assert_eq!(
        family(&families, "route_latency_seconds").samples.len(),
        6 * (11 + 1 + 2)
    );
    assert_eq!(
        sample_value(
            &families,
            "http_requests_total",
            &[("method", "post"), ("success", "true")]
        ),
        "4"
    );
    assert_eq!(
        sample_value(
            &families,
            "http_requests_total",
            &[("method", "get"), ("success", "false")]
        ),
        "0"
    );
}

#[test]
fn the_text_format_is_exact() {
    let registry = Registry::new();
    let tasks = Counter::new();
    registry
        .register("tasks", "Tasks run", tasks.clone())
        .unwrap();
    tasks.inc_by(3);

    let temperature = Gauge::new();
    registry
        .register_with_unit(
            "temperature_celsius",
            "Temperature \\ in °C\nmeasured \"hourly\"",
            "celsius",
            temperature.clone(),
        )
        .unwrap();
    temperature.set(-4);

    let latency = Histogram::new(Buckets::new([0.1, 0.5, 1.0]).unwrap());
    registry
        .register("latency_seconds", "Request latency", latency.clone())
        .unwrap();
    for v in [0.25, 0.5, 0.5, 2.0] {
        latency.observe(v);
    }

    let logins = CounterVec::<Tenant>::new();
    registry
        .register("logins_total", "Logins by tenant", logins.clone())
        .unwrap();
    logins.with(&tenant("a\"b")).inc();
    logins.with(&tenant("c\\d")).inc_by(2);
    logins.with(&tenant("e\nf")).inc();
    logins.with(&tenant("Zoë ☕")).inc_by(5);
    logins.with(&tenant("c\\d")).inc();

    let requests = CounterVec::<Route>::new();
    registry
        .register("requests", "Requests by route", requests.clone())
        .unwrap();
    requests
        .with(&Route {
            method: Method::Post,
            success: false,
        })
        .inc();

    let uploads = HistogramVec::<Tenant>::new(Buckets::new([1.0, 10.0]).unwrap());
    registry
        .register("upload_size_bytes", "Upload sizes", uploads.clone())
        .unwrap();
    uploads.with(&tenant("x\"y")).observe(4.0);
    uploads.with(&tenant("x\"y")).observe(40.0);

    let text = registry.render();
    assert_eq!(
        text,
        r#"# HELP tasks_total Tasks run
# TYPE tasks_total counter
tasks_total 3
# HELP temperature_celsius Temperature \\ in °C\nmeasured "hourly"
# TYPE temperature_celsius gauge
temperature_celsius -4
# HELP latency_seconds Request latency
# TYPE latency_seconds histogram
latency_seconds_bucket{le="0.1"} 0
latency_seconds_bucket{le="0.5"} 3
latency_seconds_bucket{le="1"} 3
latency_seconds_bucket{le="+Inf"} 4
latency_seconds_sum 3.25
latency_seconds_count 4
# HELP logins_total Logins by tenant
# TYPE logins_total counter
logins_total{tenant="a\"b"} 1
logins_total{tenant="c\\d"} 3
logins_total{tenant="e\nf"} 1
logins_total{tenant="Zoë ☕"} 5
# HELP requests_total Requests by route
# TYPE requests_total counter
requests_total{method="get",success="false"} 0
requests_total{method="get",success="true"} 0
requests_total{method="post",success="false"} 1
requests_total{method="post",success="true"} 0
requests_total{method="delete",success="false"} 0
requests_total{method="delete",success="true"} 0
# HELP upload_size_bytes Upload sizes
# TYPE upload_size_bytes histogram
upload_size_bytes_bucket{tenant="x\"y",le="1"} 0
upload_size_bytes_bucket{tenant="x\"y",le="10"} 1
upload_size_bytes_bucket{tenant="x\"y",le="+Inf"} 2
upload_size_bytes_sum{tenant="x\"y"} 44
upload_size_bytes_count{tenant="x\"y"} 2
"#
    );
    check_exposition(&text);
    testkit::assert_promtool_accepts(&text);
}

#[test]
fn an_empty_registry_renders_nothing_and_unused_open_ended_families_are_left_out() {
    let registry = Registry::new();
    assert_eq!(registry.render(), "");
    registry
        .register("not_yet_total", "Nothing yet", CounterVec::<Tenant>::new())
        .unwrap();
    assert_eq!(registry.render(), "");
    testkit::assert_promtool_accepts(&registry.render());
}

// ---------------------------------------------------------------------------------------
// Interoperation with the prometheus crate
// ---------------------------------------------------------------------------------------

fn encode(registry: &prometheus::Registry) -> String {
    let mut buffer = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut buffer)
        .unwrap();
    String::from_utf8(buffer).unwrap()
}

#[test]
fn a_prometheus_registry_holds_hand_written_metrics_beside_a_rustform_registry() {
    let prometheus_registry = prometheus::Registry::new();
    let legacy = prometheus::IntCounter::new(
        "legacy_requests_total",
        "Requests served by the legacy handler",
    )
    .unwrap();
    prometheus_registry
        .register(Box::new(legacy.clone()))
        .unwrap();

    let rustform_registry = Registry::new();
    let jobs = Counter::new();
    rustform_registry
        .register("jobs", "Jobs run", jobs.clone())
        .unwrap();
    let logins = CounterVec::<Tenant>::new();
    rustform_registry
        .register("logins", "Logins by tenant", logins.clone())
        .unwrap();
    let latency = Histogram::new(Buckets::new([0.5, 1.0]).unwrap());
    rustform_registry
        .register("job_duration_seconds", "Job durations", latency.clone())
        .unwrap();
    let depth = Gauge::new();
    rustform_registry
        .register("queue_depth", "Jobs waiting", depth.clone())
        .unwrap();
    prometheus_registry
        .register(Box::new(rustform_registry.clone()))
        .unwrap();

    // Values recorded after registration are what a scrape sees.
    legacy.inc_by(7);
    jobs.inc_by(2);
    logins.with(&tenant("b\"q")).inc();
    logins.with(&tenant("a\\z")).inc_by(3);
    logins.with(&tenant("Zoë\n☕")).inc();
    latency.observe(0.25);
    latency.observe(0.75);
    latency.observe(4.0);
    depth.set(-2);

    let text = encode(&prometheus_registry);
    assert_eq!(
        text,
        r#"# HELP job_duration_seconds Job durations
# TYPE job_duration_seconds histogram
job_duration_seconds_bucket{le="0.5"} 1
job_duration_seconds_bucket{le="1"} 2
job_duration_seconds_bucket{le="+Inf"} 3
job_duration_seconds_sum 5
job_duration_seconds_count 3
# HELP jobs_total Jobs run
# TYPE jobs_total counter
jobs_total 2
# HELP legacy_requests_total Requests served by the legacy handler
# TYPE legacy_requests_total counter
legacy_requests_total 7
# HELP logins_total Logins by tenant
# TYPE logins_total counter
logins_total{tenant="Zoë\n☕"} 1
logins_total{tenant="a\\z"} 3
logins_total{tenant="b\"q"} 1
# HELP queue_depth Jobs waiting
# TYPE queue_depth gauge
queue_depth -2
"#
    );
    check_exposition(&text);
    testkit::assert_promtool_accepts(&text);

    // A family added to the rustform registry later is scraped too.
    let late = Gauge::new();
    rustform_registry
        .register(
            "late_arrival",
            "Registered after the collector",
            late.clone(),
        )
        .unwrap();
    late.set(5);
    let text = encode(&prometheus_registry);
    assert!(
        text.contains("# TYPE late_arrival gauge\nlate_arrival 5\n"),
        "{text}"
    );
    check_exposition(&text);
    testkit::assert_promtool_accepts(&text);
}

#[test]
fn the_default_registry_and_observed_functions_through_a_prometheus_registry() {
    let prometheus_registry = prometheus::Registry::new();
    let hand_written = prometheus::IntGauge::new("workers", "Worker threads").unwrap();
    hand_written.set(4);
    prometheus_registry
        .register(Box::new(hand_written.clone()))
        .unwrap();
    interop_observed(false).unwrap();
    interop_observed(true).unwrap_err();
    prometheus_registry
        .register(Box::new(default_registry().clone()))
        .unwrap();
    let text = encode(&prometheus_registry);
    check_exposition(&text);
    testkit::assert_promtool_accepts(&text);
    assert!(text.contains("# TYPE workers gauge\nworkers 4\n"), "{text}");
    let module = module_path!();
    assert!(
        text.contains(&format!(
            "function_calls_total{{function=\"interop_observed\",module=\"{module}\","
        )),
        "{text}"
    );
    let families = check_exposition(&text);
    let count = family(&families, "function_calls_duration_seconds")
        .samples
        .iter()
        .find(|s| {
            s.name == "function_calls_duration_seconds_count"
                && s.labels[0] == ("function".to_owned(), "interop_observed".to_owned())
        })
        .expect("the duration of interop_observed")
        .value
        .clone();
    assert_eq!(count, "2");
}

#[observed]
fn interop_observed(fail: bool) -> Result<(), PayError> {
    if fail {
        Err(PayError::Declined)
    } else {
        Ok(())
    }
}

#[test]
fn empty_rustform_registries_register_side_by_side() {
    let prometheus_registry = prometheus::Registry::new();
    let first = Registry::new();
    let second = Registry::new();
    prometheus_registry
        .register(Box::new(first.clone()))
        .unwrap();
    prometheus_registry
        .register(Box::new(second.clone()))
        .unwrap();
    assert_eq!(encode(&prometheus_registry), "");

    // The same registry twice is refused, as for any collector.
    assert!(matches!(
        prometheus_registry.register(Box::new(first.clone())),
        Err(prometheus::Error::AlreadyReg)
    ));

    // Both are scraped once they have metrics.
    let a = Counter::new();
    first
        .register("first_events", "Events of the first", a.clone())
        .unwrap();
    let b = Gauge::new();
    second
        .register("second_level", "Level of the second", b.clone())
        .unwrap();
    a.inc();
    b.set(9);
    let text = encode(&prometheus_registry);
    assert_eq!(
        text,
        "# HELP first_events_total Events of the first\n\
         # TYPE first_events_total counter\n\
         first_events_total 1\n\
         # HELP second_level Level of the second\n\
         # TYPE second_level gauge\n\
         second_level 9\n"
    );
    testkit::assert_promtool_accepts(&text);
}

#[test]
fn a_rustform_family_named_like_a_hand_written_metric_is_refused() {
    let prometheus_registry = prometheus::Registry::new();
    let hand_written =
        prometheus::IntCounter::new("orders_total", "Orders, counted by hand").unwrap();
    prometheus_registry
        .register(Box::new(hand_written))
        .unwrap();
    let rustform_registry = Registry::new();
    rustform_registry
        .register("orders", "Orders", Counter::new())
        .unwrap();
    assert!(
        prometheus_registry
            .register(Box::new(rustform_registry))
            .is_err()
    );
}

#[test]
fn a_call_cancelled_by_a_timeout_shows_in_the_exposition() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let timed_out = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(1), cancelled_by_timeout()).await
    });
    assert!(timed_out.is_err());
    drop(runtime);
    let text = default_registry().render();
    testkit::assert_promtool_accepts(&text);
    assert!(text.contains(&format!(
        "function_calls_total{{function=\"cancelled_by_timeout\",module=\"{}\",service_name=",
        module_path!()
    )));
    let families = check_exposition(&text);
    let cancelled = family(&families, "function_calls_total")
        .samples
        .iter()
        .find(|s| {
            s.labels[0].1 == "cancelled_by_timeout"
                && s.labels
                    .contains(&("result".to_owned(), "cancelled".to_owned()))
        })
        .expect("the cancelled call");
    assert_eq!(cancelled.value, "1");
}

#[observed]
async fn cancelled_by_timeout() {
    std::future::pending::<()>().await
}
