//! Logs through the public API: `rustform::trace::subscriber_with_writer` writing to
//! memory, installed per test with `tracing::subscriber::with_default` (thread-local).
//! JSON lines carry the trace context of the span they were written in; filters,
//! sampling and the human formats behave as `rustform.yml` says.

use rustform::config::{LogFormat, Logging};
use rustform::metrics::{MetricValue, TraceContext, default_registry};
use rustform::observed;
use rustform::trace::{current, subscriber_with_writer};
use serde_json::Value;
use testkit::log_capture::Capture;

fn json() -> Logging {
    let mut logging = Logging::default();
    logging.format = LogFormat::Json;
    logging
}

/// Runs `f` with the subscriber for `logging`; returns what it wrote.
fn capture<R>(logging: &Logging, f: impl FnOnce() -> R) -> (Capture, R) {
    let out = Capture::default();
    let subscriber = subscriber_with_writer(logging, out.clone()).expect("a valid configuration");
    let result = tracing::subscriber::with_default(subscriber, f);
    (out, result)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that `line` carries exactly `ids`.
fn assert_ids(line: &Value, ids: &TraceContext) {
    assert_eq!(line["trace_id"], hex(&ids.trace_id), "{line}");
    assert_eq!(line["span_id"], hex(&ids.span_id), "{line}");
}

fn is_hex(value: &Value, len: usize) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn lines_carry_the_ids_of_their_span() {
    let (out, (outer, inner)) = capture(&json(), || {
        tracing::info!("before");
        let outer_span = tracing::info_span!("outer").entered();
        let outer = current().expect("inside outer");
        tracing::info!("in outer");
        let inner = tracing::info_span!("inner").in_scope(|| {
            tracing::info!("in inner");
            current().expect("inside inner")
        });
        tracing::info!("back in outer");
        drop(outer_span);
        tracing::info!("after");
        (outer, inner)
    });

    assert_eq!(out.lines().len(), 5);
    for message in ["before", "after"] {
        let line = out.line(message);
        assert!(line.get("trace_id").is_none(), "{line}");
        assert!(line.get("span_id").is_none(), "{line}");
    }
    assert_ids(&out.line("in outer"), &outer);
    assert_ids(&out.line("back in outer"), &outer);
    assert_ids(&out.line("in inner"), &inner);
    assert_eq!(inner.trace_id, outer.trace_id);
    assert_ne!(inner.span_id, outer.span_id);
    let line = out.line("in inner");
    assert!(is_hex(&line["trace_id"], 32), "{line}");
    assert!(is_hex(&line["span_id"], 16), "{line}");
    assert_ne!(line["trace_id"], "0".repeat(32));
}

#[test]
fn separate_requests_are_separate_traces() {
    let (out, ()) = capture(&json(), || {
        tracing::info_span!("request").in_scope(|| tracing::info!("first"));
        tracing::info_span!("request").in_scope(|| tracing::info!("second"));
    });
    assert_ne!(
        out.line("first")["trace_id"],
        out.line("second")["trace_id"]
    );
}

#[observed]
fn charge(cents: u32) -> Option<TraceContext> {
    tracing::info!(cents, "charging");
    current()
}

#[observed]
fn checkout() -> Option<TraceContext> {
    tracing::info!("checking out");
    let outer = current();
    let inner = charge(250).expect("inside charge");
    assert_eq!(inner.trace_id, outer.expect("inside checkout").trace_id);
    outer
}

#[test]
fn observed_functions_get_ids_too() {
    let (out, ids) = capture(&json(), checkout);
    let ids = ids.expect("inside checkout");
    let line = out.line("checking out");
    assert_ids(&line, &ids);
    assert_eq!(line["span"]["name"], "checkout");

    let charging = out.line("charging");
    assert_eq!(charging["trace_id"], hex(&ids.trace_id));
    assert_ne!(charging["span_id"], hex(&ids.span_id));
    assert_eq!(charging["span"]["name"], "charge");
    assert_eq!(charging["fields"]["cents"], 250);
    let names: Vec<&Value> = charging["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["name"])
        .collect();
    assert_eq!(names, ["checkout", "charge"]);
}

#[test]
fn span_fields_appear_only_with_include_spans() {
    let run = |include_spans: bool| {
        let mut logging = json();
        logging.include_spans = include_spans;
        let (out, ()) = capture(&logging, || {
            let _span = tracing::info_span!("order", id = 42, customer = "ada").entered();
            tracing::info!("placed");
        });
        out.line("placed")
    };

    let with = run(true);
    assert_eq!(
        with["span"],
        serde_json::json!({"id": 42, "customer": "ada", "name": "order"})
    );
    assert_eq!(
        with["spans"],
        serde_json::json!([{"id": 42, "customer": "ada", "name": "order"}])
    );

    let without = run(false);
    assert!(without.get("span").is_none(), "{without}");
    assert!(without.get("spans").is_none(), "{without}");
    assert!(!without.to_string().contains("ada"), "{without}");
    // The trace context is there either way.
    assert!(is_hex(&without["trace_id"], 32), "{without}");
    assert!(is_hex(&without["span_id"], 16), "{without}");
}

#[derive(Debug)]
#[allow(dead_code, reason = "read through Debug")]
struct Hostile {
    text: &'static str,
}

#[test]
fn hostile_values_stay_valid_json() {
    let nasty = "quote \" backslash \\ newline \n return \r tab \t nul \u{0} bell \u{7} \
                 escape \u{1b}[31m del \u{7f} emoji 🦀👩‍👩‍👧 line sep \u{2028} \"}{\"";
    let (out, ()) = capture(&json(), || {
        let _span = tracing::info_span!("span \"with\" quotes", field = nasty).entered();
        tracing::info!(
            display = %nasty,
            debug = ?Hostile { text: nasty },
            bytes = ?b"\xff\xfe\x00",
            "message {nasty}"
        );
        tracing::info!(target: "weird \"target\"\n", "second");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    let line = &lines[0];
    assert_eq!(line["fields"]["message"], format!("message {nasty}"));
    assert_eq!(line["fields"]["display"], nasty);
    assert_eq!(
        line["fields"]["debug"],
        format!("{:?}", Hostile { text: nasty })
    );
    assert_eq!(line["fields"]["bytes"], format!("{:?}", b"\xff\xfe\x00"));
    assert_eq!(line["span"]["field"], nasty);
    assert_eq!(line["span"]["name"], "span \"with\" quotes");
    assert_eq!(lines[1]["target"], "weird \"target\"\n");
    // One event, one line: no raw control character survives.
    let text = out.text();
    assert_eq!(text.matches('\n').count(), 2, "{text}");
    assert!(
        !text.contains(['\r', '\u{0}', '\u{7}', '\u{1b}', '\u{7f}']),
        "{text}"
    );
}

#[test]
fn numbers_and_booleans_are_json_numbers_and_booleans() {
    let (out, ()) = capture(&json(), || {
        tracing::info!(
            count = 3u64,
            delta = -7i64,
            ratio = 0.5f64,
            ok = true,
            nan = f64::NAN,
            inf = f64::INFINITY,
            "values"
        );
    });
    let fields = &out.line("values")["fields"];
    assert_eq!(fields["count"], 3);
    assert_eq!(fields["delta"], -7);
    assert_eq!(fields["ratio"], 0.5);
    assert_eq!(fields["ok"], true);
    assert_eq!(fields["nan"], "NaN");
    assert_eq!(fields["inf"], "inf");
}

#[test]
fn the_level_filters() {
    let mut logging = json();
    logging.level = "warn".into();
    let (out, ()) = capture(&logging, || {
        tracing::debug!("debug");
        tracing::info!("info");
        tracing::warn!("warn");
        tracing::error!("error");
    });
    let messages: Vec<Value> = out
        .lines()
        .iter()
        .map(|l| l["fields"]["message"].clone())
        .collect();
    assert_eq!(messages, ["warn", "error"]);
}

#[test]
fn directives_filter_by_target() {
    let mut logging = json();
    logging.level = "info,noisy=error,chatty::deep=debug".into();
    let (out, ()) = capture(&logging, || {
        tracing::info!(target: "noisy", "noisy info");
        tracing::error!(target: "noisy", "noisy error");
        tracing::debug!(target: "chatty::deep", "deep debug");
        tracing::debug!(target: "chatty", "shallow debug");
        tracing::info!("plain info");
    });
    let messages: Vec<Value> = out
        .lines()
        .iter()
        .map(|l| l["fields"]["message"].clone())
        .collect();
    assert_eq!(messages, ["noisy error", "deep debug", "plain info"]);
    assert_eq!(out.line("deep debug")["target"], "chatty::deep");
}

#[test]
fn an_invalid_directive_is_an_error() {
    for level in ["info,my_crate=loudest", "[unclosed"] {
        let mut logging = json();
        logging.level = level.into();
        let error = match subscriber_with_writer(&logging, Capture::default()) {
            Ok(_) => panic!("{level:?} was accepted"),
            Err(error) => error,
        };
        assert!(
            matches!(
                error,
                rustform::Error::Install {
                    what: "logging",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains(level), "{error}");
    }
}

fn dropped_by_sampling() -> u64 {
    match default_registry().snapshot().get(
        "rustform_log_events_dropped_total",
        &[("reason", "sampling")],
    ) {
        Some(MetricValue::Counter(n)) => *n,
        _ => 0,
    }
}

#[test]
fn sampling_keeps_exactly_the_rate_and_every_warning() {
    // The only test here that samples, so the counter moves by this test's drops alone.
    let before = dropped_by_sampling();
    let mut logging = json();
    logging.sampling = Some(0.1);
    let (out, ()) = capture(&logging, || {
        for i in 0..1000 {
            tracing::info!(i, "routine");
            if i % 100 == 0 {
                tracing::warn!(i, "warning");
                tracing::error!(i, "failure");
            }
        }
    });
    let lines = out.lines();
    let count = |level: &str| lines.iter().filter(|l| l["level"] == level).count();
    assert_eq!(count("INFO"), 100);
    assert_eq!(count("WARN"), 10);
    assert_eq!(count("ERROR"), 10);
    assert_eq!(dropped_by_sampling() - before, 900);
    let exposed = default_registry().render();
    assert!(
        exposed.contains("rustform_log_events_dropped_total{reason=\"sampling\"}"),
        "{exposed}"
    );
}

#[test]
fn pretty_and_compact_contain_the_message() {
    for format in [LogFormat::Pretty, LogFormat::Compact] {
        let mut logging = Logging::default();
        logging.format = format;
        let (out, ()) = capture(&logging, || {
            let _span = tracing::info_span!("request", path = "/pay").entered();
            tracing::info!(amount = 12, "payment accepted");
        });
        let text = out.text();
        assert!(text.contains("payment accepted"), "{format:?}:\n{text}");
        assert!(text.contains("amount"), "{format:?}:\n{text}");
        assert!(text.contains("INFO"), "{format:?}:\n{text}");
        assert!(
            !text.contains('\u{1b}'),
            "{format:?} coloured a capture:\n{text}"
        );
    }
}

#[test]
fn human_formats_follow_the_include_options() {
    let mut logging = Logging::default();
    logging.format = LogFormat::Compact;
    logging.include_targets = false;
    logging.include_line_numbers = true;
    let (out, ()) = capture(
        &logging,
        || tracing::info!(target: "hidden_target", "hello"),
    );
    let text = out.text();
    assert!(!text.contains("hidden_target"), "{text}");
    assert!(text.contains("logs.rs"), "{text}");
}
