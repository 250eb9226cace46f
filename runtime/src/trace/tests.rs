//! The stack end to end, captured in memory.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::*;
use crate::metrics::{MetricValue, default_registry};

/// Log output, kept in memory.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }

    fn json(&self) -> Vec<Value> {
        self.text()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect()
    }
}

fn json_logging() -> Logging {
    let mut logging = Logging::default();
    logging.format = LogFormat::Json;
    logging
}

/// Runs `f` with the stack for `logging` as the thread's subscriber; returns the output.
fn capture(logging: &Logging, f: impl FnOnce()) -> Capture {
    let out = Capture::default();
    let subscriber = subscriber_with_writer(logging, out.clone()).unwrap();
    tracing::subscriber::with_default(subscriber, f);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn json_lines_carry_the_ids_of_their_span() {
    let mut ids = Vec::new();
    let out = capture(&json_logging(), || {
        tracing::info!("outside");
        let _outer = tracing::info_span!("outer").entered();
        ids.push(current().unwrap());
        tracing::info!("in outer");
    });
    let lines = out.json();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].get("trace_id").is_none());
    assert!(lines[0].get("span").is_none());
    assert_eq!(lines[1]["trace_id"], hex(&ids[0].trace_id));
    assert_eq!(lines[1]["span_id"], hex(&ids[0].span_id));
}

#[test]
fn json_has_tracing_subscribers_field_names() {
    let out = capture(&json_logging(), || {
        let _span = tracing::info_span!("checkout", user = "ada").entered();
        tracing::warn!(order = 42, paid = true, "declined");
    });
    let line = &out.json()[0];
    let timestamp = line["timestamp"].as_str().unwrap();
    // 2025-01-02T03:04:05.678901Z
    assert_eq!(timestamp.len(), 27, "{timestamp}");
    assert_eq!(&timestamp[10..11], "T");
    assert_eq!(&timestamp[19..20], ".");
    assert!(timestamp.ends_with('Z'));
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["fields"]["message"], "declined");
    assert_eq!(line["fields"]["order"], 42);
    assert_eq!(line["fields"]["paid"], true);
    assert_eq!(line["target"], module_path!());
    assert_eq!(
        line["span"],
        serde_json::json!({"user": "ada", "name": "checkout"})
    );
    assert_eq!(
        line["spans"],
        serde_json::json!([{"user": "ada", "name": "checkout"}])
    );
    assert!(line.get("filename").is_none());
    assert!(line.get("threadName").is_none());
    assert!(line.get("threadId").is_none());
}

#[test]
fn json_options_follow_the_configuration() {
    let mut logging = json_logging();
    logging.include_targets = false;
    logging.include_line_numbers = true;
    logging.include_thread_ids = true;
    logging.include_thread_names = true;
    let out = std::thread::Builder::new()
        .name("worker-7".into())
        .spawn(move || capture(&logging, || tracing::info!("hello")))
        .unwrap()
        .join()
        .unwrap();
    let line = &out.json()[0];
    assert!(line.get("target").is_none());
    assert_eq!(line["filename"], file!());
    assert!(line["line_number"].as_u64().unwrap() > 0);
    assert_eq!(line["threadName"], "worker-7");
    assert!(line["threadId"].as_str().unwrap().starts_with("ThreadId("));
}

#[test]
fn spans_are_listed_from_the_root() {
    let out = capture(&json_logging(), || {
        let _a = tracing::info_span!("a", depth = 1).entered();
        let _b = tracing::info_span!("b").entered();
        let _c = tracing::info_span!("c", depth = 3).entered();
        tracing::info!("deep");
    });
    let line = &out.json()[0];
    assert_eq!(line["span"], serde_json::json!({"depth": 3, "name": "c"}));
    assert_eq!(
        line["spans"],
        serde_json::json!([{"depth": 1, "name": "a"}, {"name": "b"}, {"depth": 3, "name": "c"}])
    );
}

#[test]
fn without_spans_the_ids_remain() {
    let mut logging = json_logging();
    logging.include_spans = false;
    let out = capture(&logging, || {
        let _span = tracing::info_span!("quiet", secret = "x").entered();
        tracing::info!("inside");
    });
    let line = &out.json()[0];
    assert!(line.get("span").is_none());
    assert!(line.get("spans").is_none());
    assert_eq!(line["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
}

#[test]
fn recorded_values_replace_old_ones() {
    let out = capture(&json_logging(), || {
        let span = tracing::info_span!(
            "job",
            attempt = 1,
            status = tracing::field::Empty,
            note = "a,\"b\":c"
        );
        span.record("attempt", 2);
        span.record("status", "done");
        span.record("attempt", 3);
        span.in_scope(|| tracing::info!("finished"));
    });
    let text = out.text();
    // No duplicate keys, even though serde_json would accept them.
    assert_eq!(text.matches("\"attempt\"").count(), 2, "{text}");
    let line = &out.json()[0];
    assert_eq!(
        line["span"],
        serde_json::json!({"note": "a,\"b\":c", "attempt": 3, "status": "done", "name": "job"})
    );
}

#[test]
fn a_field_called_name_does_not_duplicate_the_key() {
    let out = capture(&json_logging(), || {
        let _span = tracing::info_span!("lookup", name = "ada", id = 7).entered();
        tracing::info!("found");
    });
    let text = out.text();
    let span = text.split("\"span\":").nth(1).unwrap();
    let span = &span[..span.find('}').unwrap()];
    assert_eq!(span.matches("\"name\"").count(), 1, "{span}");
    assert_eq!(out.json()[0]["span"]["name"], "lookup");
    assert_eq!(out.json()[0]["span"]["id"], 7);
}

#[test]
fn events_with_an_explicit_parent_use_its_ids() {
    let mut parent_ids = None;
    let out = capture(&json_logging(), || {
        let parent = tracing::info_span!("parent");
        parent_ids = parent.in_scope(current);
        let _other = tracing::info_span!("other").entered();
        tracing::info!(parent: &parent, "for the parent");
        tracing::info!(parent: None, "for nobody");
    });
    let lines = out.json();
    let parent_ids = parent_ids.unwrap();
    assert_eq!(lines[0]["span_id"], hex(&parent_ids.span_id));
    assert_eq!(lines[0]["span"]["name"], "parent");
    assert!(lines[1].get("span_id").is_none());
}

#[test]
fn numbers_and_special_floats() {
    let out = capture(&json_logging(), || {
        tracing::info!(
            small = -3i64,
            big = u64::MAX,
            wide = i128::MIN,
            ratio = 0.25,
            nan = f64::NAN,
            up = f64::INFINITY,
            down = f64::NEG_INFINITY,
            text = "7",
            debug = ?Some(1),
            shown = %"display"
        );
    });
    let fields = &out.json()[0]["fields"];
    assert_eq!(fields["small"], -3);
    assert_eq!(fields["big"], u64::MAX);
    // Wider than serde_json's numbers: check the text.
    assert!(out.text().contains(&format!("\"wide\":{}", i128::MIN)));
    assert_eq!(fields["ratio"], 0.25);
    assert_eq!(fields["nan"], "NaN");
    assert_eq!(fields["up"], "inf");
    assert_eq!(fields["down"], "-inf");
    assert_eq!(fields["text"], "7");
    assert_eq!(fields["debug"], "Some(1)");
    assert_eq!(fields["shown"], "display");
}

#[test]
fn errors_are_their_display() {
    let error = io::Error::other("disk \"full\"\n");
    let out = capture(&json_logging(), || {
        let error: &(dyn std::error::Error + 'static) = &error;
        tracing::error!(error, "write failed");
    });
    assert_eq!(out.json()[0]["fields"]["error"], "disk \"full\"\n");
}

#[test]
fn an_invalid_level_is_an_install_error() {
    for level in ["info,my_crate=loud", "[{", "=info"] {
        let mut logging = json_logging();
        logging.level = level.into();
        match subscriber_with_writer(&logging, Capture::default()) {
            Err(Error::Install { what, reason }) => {
                assert_eq!(what, "logging");
                assert!(reason.contains(level), "{reason}");
            }
            Err(other) => panic!("{level}: {other}"),
            Ok(_) => panic!("{level} was accepted"),
        }
    }
}

#[test]
fn an_empty_level_means_info() {
    let mut logging = json_logging();
    logging.level = "  ".into();
    let out = capture(&logging, || {
        tracing::debug!("hidden");
        tracing::info!("shown");
    });
    let lines = out.json();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["fields"]["message"], "shown");
}

#[test]
fn sampling_counts_what_it_drops() {
    let dropped = || match default_registry().snapshot().get(
        "rustform_log_events_dropped_total",
        &[("reason", "sampling")],
    ) {
        Some(MetricValue::Counter(n)) => *n,
        _ => 0,
    };
    let mut logging = json_logging();
    logging.level = "debug".into();
    logging.sampling = Some(0.5);
    let before = dropped();
    let out = capture(&logging, || {
        for i in 0..10 {
            tracing::debug!(i, "chatty");
            tracing::error!(i, "important");
        }
    });
    let lines = out.json();
    let levels = |level: &str| lines.iter().filter(|l| l["level"] == level).count();
    assert_eq!(levels("DEBUG"), 5);
    assert_eq!(levels("ERROR"), 10);
    // Other tests may sample at the same time; they only add.
    assert!(dropped() - before >= 5);
}

#[test]
fn pretty_and_compact_write_the_message() {
    for format in [LogFormat::Pretty, LogFormat::Compact] {
        let mut logging = Logging::default();
        logging.format = format;
        let out = capture(&logging, || {
            let _span = tracing::info_span!("visible_span", user = "ada").entered();
            tracing::info!(answer = 42, "human readable");
        });
        let text = out.text();
        assert!(text.contains("human readable"), "{format:?}: {text}");
        assert!(text.contains("answer"), "{format:?}: {text}");
        assert!(text.contains("visible_span"), "{format:?}: {text}");
        assert!(!text.contains('\u{1b}'), "no colours in a capture: {text}");
    }
}

#[test]
fn colours_only_on_a_terminal_without_no_color() {
    assert!(wants_colours(true, None));
    assert!(wants_colours(true, Some(OsStr::new(""))));
    assert!(!wants_colours(true, Some(OsStr::new("1"))));
    assert!(!wants_colours(false, None));
}

#[test]
fn the_boxed_subscriber_finds_current_ids() {
    let (writer, _) = output(&json_logging());
    let layers = layers(&json_logging(), writer, false, None).unwrap();
    let subscriber: Box<dyn Subscriber + Send + Sync> =
        Box::new(tracing_subscriber::Registry::default().with(layers));
    tracing::subscriber::with_default(subscriber, || {
        assert_eq!(current(), None);
        let _span = tracing::info_span!("boxed").entered();
        assert!(current().is_some());
    });
}

#[test]
fn the_level_is_a_static_hint() {
    // Callsites below the level are switched off once, not checked on every call.
    for sampling in [None, Some(0.5)] {
        let mut logging = json_logging();
        logging.level = "info,noisy=warn".into();
        logging.sampling = sampling;
        let subscriber = subscriber_with_writer(&logging, Capture::default()).unwrap();
        assert_eq!(subscriber.max_level_hint(), Some(LevelFilter::INFO));
    }
}
