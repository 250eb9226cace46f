//! OpenMetrics exposition: parsed back by a strict parser, scraped by a real Prometheus
//! server (label escaping, exemplars), and cardinality limits under concurrency.

use std::cell::Cell;
use std::time::Duration;

use rustform::metrics::{
    Buckets, Counter, CounterVec, Exemplar, Gauge, GaugeVec, Histogram, HistogramVec, MetricValue,
    Registry, TraceContext, set_trace_context_source,
};
use rustform::{LabelSet, LabelValue, observed};
use testkit::openmetrics;
use testkit::prometheus_server::{Job, PrometheusServer};

thread_local! {
    static CURRENT_TRACE: Cell<Option<TraceContext>> = const { Cell::new(None) };
}

/// Exemplars in these tests come from a per-thread trace context the test sets.
fn install_trace_source() {
    set_trace_context_source(|| CURRENT_TRACE.with(Cell::get));
}

fn in_trace<R>(trace: u8, span: u8, f: impl FnOnce() -> R) -> R {
    install_trace_source();
    CURRENT_TRACE.with(|c| {
        c.set(Some(TraceContext {
            trace_id: [trace; 16],
            span_id: [span; 8],
        }))
    });
    let r = f();
    CURRENT_TRACE.with(|c| c.set(None));
    r
}

#[derive(Clone, Copy, LabelValue)]
enum Outcome {
    Won,
    Lost,
}

#[derive(Clone, LabelSet)]
struct GameLabels {
    outcome: Outcome,
    player: String,
}

fn sample_registry() -> Registry {
    let registry = Registry::new();
    let games = CounterVec::<GameLabels>::new();
    let bytes = Counter::new();
    let temperature = Gauge::new();
    let rooms = GaugeVec::<GameLabels>::new();
    let latency = Histogram::new(Buckets::new([0.1, 0.5, 1.0]).unwrap());
    let sizes = HistogramVec::<GameLabels>::new(Buckets::exponential(1.0, 10.0, 3).unwrap());
    registry
        .register(
            "games",
            "Games played, by \"outcome\"\nand player",
            games.clone(),
        )
        .unwrap();
    registry
        .register_with_unit("sent_bytes_total", "Bytes sent", "bytes", bytes.clone())
        .unwrap();
    registry
        .register_with_unit(
            "room_temperature_celsius",
            "Room temperature",
            "celsius",
            temperature.clone(),
        )
        .unwrap();
    registry
        .register("rooms", "Rooms open", rooms.clone())
        .unwrap();
    registry
        .register_with_unit(
            "latency_seconds",
            "Request latency",
            "seconds",
            latency.clone(),
        )
        .unwrap();
    registry
        .register("payload_size", "Payload sizes", sizes.clone())
        .unwrap();
    games
        .with(&GameLabels {
            outcome: Outcome::Won,
            player: "ann \"the\" \\ best\n".into(),
        })
        .inc_by(3);
    games
        .with(&GameLabels {
            outcome: Outcome::Lost,
            player: "bøb".into(),
        })
        .inc();
    bytes.inc_by(1024);
    temperature.set(-4);
    rooms
        .with(&GameLabels {
            outcome: Outcome::Won,
            player: "x".into(),
        })
        .set(2);
    in_trace(0x11, 0x22, || latency.observe_traced(0.3));
    latency.observe(2.0);
    in_trace(0x33, 0x44, || bytes.inc_by_traced(1));
    sizes
        .with(&GameLabels {
            outcome: Outcome::Lost,
            player: "y".into(),
        })
        .observe(50.0);
    registry
}

#[test]
fn openmetrics_output_parses_back_to_the_same_values() {
    let registry = sample_registry();
    let text = registry.render_openmetrics();
    let families = openmetrics::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let snapshot = registry.snapshot();
    assert_eq!(families.len(), snapshot.families.len());
    for (parsed, family) in families.iter().zip(&snapshot.families) {
        assert_eq!(parsed.name, family.name);
        assert_eq!(parsed.kind, family.metric_type.as_str());
        assert_eq!(parsed.help.as_deref(), Some(family.help.as_str()));
        assert_eq!(parsed.unit, family.unit);
        for series in &family.series {
            let labels: Vec<(String, String)> = series.labels.clone();
            let find = |name: String, extra: Option<(&str, String)>| {
                let mut want = labels.clone();
                want.extend(extra.map(|(n, v)| (n.to_owned(), v)));
                parsed
                    .samples
                    .iter()
                    .find(|s| s.name == name && s.labels == want)
                    .unwrap_or_else(|| panic!("no sample {name} {want:?} in\n{text}"))
                    .value
            };
            match &series.value {
                MetricValue::Counter(v) => {
                    assert_eq!(find(format!("{}_total", family.name), None), *v as f64)
                }
                MetricValue::Gauge(v) => assert_eq!(find(family.name.clone(), None), *v as f64),
                MetricValue::Histogram(h) => {
                    for (bound, count) in &h.buckets {
                        let le = if bound.is_infinite() {
                            "+Inf".to_owned()
                        } else {
                            format_le(*bound)
                        };
                        assert_eq!(
                            find(format!("{}_bucket", family.name), Some(("le", le))),
                            *count as f64
                        );
                    }
                    assert_eq!(find(format!("{}_count", family.name), None), h.count as f64);
                    assert_eq!(find(format!("{}_sum", family.name), None), h.sum);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn format_le(bound: f64) -> String {
    if bound.fract() == 0.0 {
        format!("{}", bound as i64)
    } else {
        format!("{bound}")
    }
}

#[test]
fn exemplars_appear_in_openmetrics_only() {
    let registry = sample_registry();
    let om = openmetrics::parse(&registry.render_openmetrics()).unwrap();
    let latency = om.iter().find(|f| f.name == "latency_seconds").unwrap();
    let bucket = latency
        .samples
        .iter()
        .find(|s| s.label("le") == Some("0.5"))
        .unwrap();
    let exemplar = bucket
        .exemplar
        .as_ref()
        .expect("the 0.5 bucket carries the traced observation");
    assert_eq!(
        exemplar.labels,
        [
            ("trace_id".to_owned(), "11".repeat(16)),
            ("span_id".to_owned(), "22".repeat(8))
        ]
    );
    assert_eq!(exemplar.value, 0.3);
    assert!(exemplar.timestamp.is_some());
    // The untraced observation left its bucket without an exemplar.
    let inf = latency
        .samples
        .iter()
        .find(|s| s.label("le") == Some("+Inf"))
        .unwrap();
    assert_eq!(inf.exemplar, None);
    let sent = om.iter().find(|f| f.name == "sent_bytes").unwrap();
    assert_eq!(
        sent.samples[0].exemplar.as_ref().unwrap().labels[0].1,
        "33".repeat(16)
    );
    assert!(
        !registry.render().contains(" # {"),
        "the 0.0.4 text format has no exemplars"
    );
}

#[observed(buckets = [0.5, 5.0])]
fn traced_work() -> u32 {
    7
}

#[test]
fn observed_durations_carry_the_current_trace_as_exemplar() {
    // The span must be enabled for its trace to be taken.
    let subscriber = tracing_subscriber::registry();
    tracing::subscriber::with_default(subscriber, || in_trace(0xaa, 0xbb, traced_work));
    let text = rustform::metrics::default_registry().render_openmetrics();
    let om = openmetrics::parse(&text).unwrap();
    let durations = om
        .iter()
        .find(|f| f.name == "function_calls_duration_seconds")
        .unwrap();
    let bucket = durations
        .samples
        .iter()
        .find(|s| s.label("function") == Some("traced_work") && s.label("le") == Some("0.5"))
        .unwrap();
    let exemplar = bucket
        .exemplar
        .as_ref()
        .expect("exemplar on the call's bucket");
    assert_eq!(exemplar.labels[0], ("trace_id".to_owned(), "aa".repeat(16)));
    assert_eq!(exemplar.labels[1], ("span_id".to_owned(), "bb".repeat(8)));
}

#[test]
fn invalid_trace_contexts_give_no_exemplar() {
    install_trace_source();
    CURRENT_TRACE.with(|c| {
        c.set(Some(TraceContext {
            trace_id: [0; 16],
            span_id: [1; 8],
        }))
    });
    assert_eq!(Exemplar::current(1.0), None);
    CURRENT_TRACE.with(|c| c.set(None));
    assert_eq!(Exemplar::current(1.0), None);
}

#[derive(Clone, LabelSet)]
struct UserLabels {
    user: String,
}

#[test]
fn cardinality_overflow_is_exact_under_eight_threads() {
    let registry = Registry::new();
    let logins = CounterVec::<UserLabels>::with_cardinality_limit(100);
    registry
        .register("logins", "Logins by user", logins.clone())
        .unwrap();
    std::thread::scope(|scope| {
        for thread in 0..8 {
            let logins = &logins;
            scope.spawn(move || {
                for i in 0..1000 {
                    // 250 distinct users in all, each thread walking them in its own order.
                    let user = format!("user-{}", (i * 7 + thread * 31) % 250);
                    logins.with(&UserLabels { user }).inc();
                }
            });
        }
    });
    let snapshot = registry.snapshot();
    let family = snapshot.family("logins").unwrap();
    assert_eq!(
        family.series.len(),
        101,
        "100 series and the overflow series"
    );
    let total: u64 = family
        .series
        .iter()
        .map(|s| match s.value {
            MetricValue::Counter(v) => v,
            _ => unreachable!(),
        })
        .sum();
    assert_eq!(total, 8 * 1000, "nothing lost, nothing counted twice");
    let overflow = snapshot
        .get("logins_total", &[("otel_metric_overflow", "true")])
        .unwrap();
    let kept: u64 = family
        .series
        .iter()
        .filter(|s| s.labels[0].0 == "user")
        .map(|s| match s.value {
            MetricValue::Counter(v) => v,
            _ => 0,
        })
        .sum();
    assert_eq!(*overflow, MetricValue::Counter(8000 - kept));
    testkit::assert_promtool_accepts(&registry.render());
}

#[derive(Clone, LabelSet)]
struct Tricky {
    value: String,
}

#[test]
fn escaped_label_values_and_exemplars_survive_a_real_prometheus_scrape() {
    let registry = Registry::new();
    let tricky = GaugeVec::<Tricky>::new();
    registry
        .register(
            "escape_check",
            "Label values that need escaping",
            tricky.clone(),
        )
        .unwrap();
    let values = [
        "plain",
        "quote \" inside",
        "back\\slash",
        "new\nline",
        "ünïcödé ✓ 日本",
        "\\\"\n",
    ];
    for (i, v) in values.iter().enumerate() {
        tricky
            .with(&Tricky {
                value: (*v).to_owned(),
            })
            .set(i as i64 + 1);
    }
    let latency = Histogram::new(Buckets::new([0.1, 1.0]).unwrap());
    registry
        .register_with_unit(
            "exemplar_check_seconds",
            "Latency with exemplars",
            "seconds",
            latency.clone(),
        )
        .unwrap();
    in_trace(0x5a, 0xa5, || latency.observe_traced(0.05));

    let server = testkit::metrics_server::MetricsServer::start(registry);
    let prometheus = PrometheusServer::start(
        &[Job {
            name: "rustform",
            target: server.target(),
            extra: "",
        }],
        &["exemplar-storage"],
    );
    let target = prometheus.wait_until_up("rustform");
    assert_eq!(target["lastError"], "", "{target}");

    let results = prometheus.query("escape_check");
    assert_eq!(results.len(), values.len(), "{results:?}");
    for (i, v) in values.iter().enumerate() {
        let found = results
            .iter()
            .find(|r| r["metric"]["value"] == *v)
            .unwrap_or_else(|| panic!("{v:?} not found in {results:?}"));
        assert_eq!(found["value"][1], (i + 1).to_string());
    }

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 600).to_string(), (now + 600).to_string());
    let mut exemplars = serde_json::Value::Null;
    prometheus.wait("the exemplar to be stored", Duration::from_secs(30), || {
        exemplars = prometheus.api(
            "query_exemplars",
            &[
                ("query", "exemplar_check_seconds_bucket"),
                ("start", &start),
                ("end", &end),
            ],
        );
        exemplars.as_array().is_some_and(|a| !a.is_empty())
    });
    let first = &exemplars[0]["exemplars"][0];
    assert_eq!(first["labels"]["trace_id"], "5a".repeat(16), "{exemplars}");
    assert_eq!(first["labels"]["span_id"], "a5".repeat(8), "{exemplars}");
    assert_eq!(first["value"], "0.05");
}
