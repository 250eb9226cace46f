//! OpenTelemetry export end to end: a service (`tests/probe/export_probe.rs`, its own
//! process, as `init()` is once per process) exports to a real receiver started here on
//! loopback: an OTLP collector built from the official protobuf definitions (gRPC and
//! HTTP) that also takes Zipkin v2 JSON, decoded by a Zipkin v2 model crate.

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use testkit::otlp_collector::{AttrValue, Collector, Reply, Signal, Transport};
use testkit::pki::Pki;

/// Generous bounds for waiting on a receiver: hang detectors, not timings.
const WAIT: Duration = Duration::from_secs(30);

/// A working directory holding `rustform.yml`.
struct Service {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Service {
    fn new(yaml: &str) -> Service {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rustform.yml"), yaml).unwrap();
        Service {
            dir,
            env: Vec::new(),
        }
    }

    fn env(mut self, name: &str, value: &str) -> Service {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    fn command(&self, scenario: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rustform-export-probe"));
        command
            .arg(scenario)
            .current_dir(self.dir.path())
            .env_clear()
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        command
    }

    /// Runs `scenario` to the end; it must succeed.
    fn run(&self, scenario: &str) -> Report {
        let output = self.command(scenario).output().expect("the probe runs");
        Report::of(scenario, output)
    }

    /// Starts `scenario` and returns at once.
    fn spawn(&self, scenario: &str) -> Child {
        self.command(scenario)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the probe starts")
    }
}

/// What the probe reported on stderr.
struct Report {
    stderr: String,
    /// The service's own logs.
    stdout: String,
}

impl Report {
    fn of(scenario: &str, output: Output) -> Report {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if std::env::var_os("PROBE_DEBUG").is_some() {
            eprintln!("{}\n{stderr}", String::from_utf8_lossy(&output.stdout));
        }
        assert!(
            output.status.success(),
            "probe {scenario} exited {}\nstdout:\n{}\nstderr:\n{stderr}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
        );
        Report {
            stderr,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        }
    }

    fn value(&self, key: &str) -> String {
        let prefix = format!("{key}: ");
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {key:?} in\n{}", self.stderr))
            .to_owned()
    }

    fn number(&self, key: &str) -> u64 {
        self.value(key).parse().unwrap()
    }

    /// `produced`, `exported` and the dropped counts of one exporter, checked to add up.
    fn accounting(&self, exporter: &str) -> Accounting {
        let produced = self.number(&format!("{exporter} produced"));
        let exported = self.number(&format!("{exporter} exported"));
        let dropped: BTreeMap<&str, u64> = ["queue_full", "export_failed", "rejected", "shutdown"]
            .into_iter()
            .map(|r| (r, self.number(&format!("{exporter} dropped {r}"))))
            .collect();
        assert_eq!(
            exported + dropped.values().sum::<u64>(),
            produced,
            "exported + dropped == produced for {exporter}: {exported} + {dropped:?} vs {produced}"
        );
        Accounting {
            produced,
            exported,
            dropped,
        }
    }

    /// `produced`, `exported` and the dropped counts of the metric points one exporter
    /// pushed, checked to add up.
    fn point_accounting(&self, exporter: &str) -> Accounting {
        let key = |what: &str| self.number(&format!("metric points {exporter} {what}"));
        let produced = key("produced");
        let exported = key("exported");
        let dropped: BTreeMap<&str, u64> = ["export_failed", "rejected", "shutdown"]
            .into_iter()
            .map(|r| (r, key(&format!("dropped {r}"))))
            .collect();
        assert_eq!(
            exported + dropped.values().sum::<u64>(),
            produced,
            "exported + dropped == produced for the points of {exporter}: \
             {exported} + {dropped:?} vs {produced}"
        );
        Accounting {
            produced,
            exported,
            dropped,
        }
    }

    /// The exposition the probe printed before shutting down.
    fn exposition(&self) -> String {
        let start = self.stderr.find("metrics:\n").expect("printed metrics") + "metrics:\n".len();
        let end = self.stderr.find("end of metrics").expect("end of metrics");
        self.stderr[start..end].to_owned()
    }
}

#[derive(Debug)]
struct Accounting {
    produced: u64,
    exported: u64,
    dropped: BTreeMap<&'static str, u64>,
}

/// A configuration whose trace and metric exporters are the YAML list items given.
fn config(trace_exporters: &str, metric_exporters: &str, batch: &str) -> String {
    let indent = |items: &str, spaces: usize| {
        items
            .lines()
            .map(|l| format!("{}{l}\n", " ".repeat(spaces)))
            .collect::<String>()
    };
    format!(
        "name: shop\n\
         observability:\n  \
           logging:\n    level: warn\n    format: json\n  \
           opentelemetry:\n    \
             service_version: \"2.3.4\"\n    \
             resource:\n      attributes:\n        deployment.environment.name: test\n    \
             tracing:\n      \
               batch:\n{}      \
               exporters:\n{}    \
             metrics:\n      \
               export_interval: 60s\n      \
               exporters:\n{}",
        indent(batch, 8),
        indent(trace_exporters, 8),
        if metric_exporters.is_empty() {
            "        []\n".to_owned()
        } else {
            indent(metric_exporters, 8)
        },
    )
}

/// A configuration whose only exporter sends spans to `collector` over gRPC.
fn grpc_config(collector: &Collector, batch: &str) -> String {
    config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc",
            collector.grpc_endpoint()
        ),
        "",
        batch,
    )
}

const SMALL_BATCHES: &str = "scheduled_delay: 100ms\nmax_export_batch_size: 64\n";

#[test]
fn nested_observed_spans_arrive_over_grpc_with_links_attributes_status_and_resource() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc\n  compression: gzip\n  headers:\n    authorization: \"Bearer ${{COLLECTOR_TOKEN}}\"",
            collector.grpc_endpoint()
        ),
        "",
        SMALL_BATCHES,
    );
    let report = Service::new(&yaml)
        .env("COLLECTOR_TOKEN", "s3cret")
        .run("nested");
    let spans = collector.wait_for_spans(6, WAIT);
    assert_eq!(spans.len(), 6, "{spans:#?}");
    assert!(spans.iter().all(|s| s.transport == Transport::Grpc));

    // The credential arrived as metadata, and the payload was compressed.
    let requests = collector.trace_requests();
    assert!(
        requests
            .iter()
            .all(|r| r.header("authorization") == Some("Bearer s3cret"))
    );
    assert!(requests.iter().all(|r| r.gzip));

    // Two traces of three spans: checkout → reserve_stock, checkout → charge_card.
    let checkouts: Vec<_> = spans.iter().filter(|s| s.name() == "checkout").collect();
    assert_eq!(checkouts.len(), 2);
    for checkout in &checkouts {
        assert_eq!(checkout.parent_span_id(), None);
        let children: Vec<_> = spans
            .iter()
            .filter(|s| s.parent_span_id().as_deref() == Some(&checkout.span_id()))
            .collect();
        let mut names: Vec<_> = children.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        assert_eq!(names, ["charge_card", "reserve_stock"]);
        assert!(children.iter().all(|c| c.trace_id() == checkout.trace_id()));
    }
    assert_ne!(checkouts[0].trace_id(), checkouts[1].trace_id());

    // Attributes, status and scope.
    let charges: Vec<_> = spans.iter().filter(|s| s.name() == "charge_card").collect();
    let failed: Vec<_> = charges
        .iter()
        .filter(|s| s.status_code() == StatusCode::Error)
        .collect();
    assert_eq!(failed.len(), 1);
    let failed = failed[0];
    assert_eq!(
        failed.span.status.as_ref().unwrap().message,
        "card declined"
    );
    assert_eq!(
        failed.attribute("exception.message"),
        Some(AttrValue::Str("card declined".into()))
    );
    assert_eq!(
        failed.attribute("code.function.name"),
        Some(AttrValue::Str("charge_card".into()))
    );
    assert_eq!(
        failed.attribute("code.namespace"),
        Some(AttrValue::Str("rustform_export_probe".into()))
    );
    assert_eq!(failed.scope_name, "rustform");
    // The declined checkout is an error too; the other spans are not.
    let errors = spans
        .iter()
        .filter(|s| s.status_code() == StatusCode::Error)
        .count();
    assert_eq!(errors, 2);

    // The resource names the service, its version and instance, the host and process.
    let resource = &spans[0].resource;
    let text = |key: &str| resource.get(key).map(ToString::to_string);
    assert_eq!(text("service.name").as_deref(), Some("shop"));
    assert_eq!(text("service.version").as_deref(), Some("2.3.4"));
    assert_eq!(text("deployment.environment.name").as_deref(), Some("test"));
    assert_eq!(text("telemetry.sdk.language").as_deref(), Some("rust"));
    assert_eq!(text("telemetry.distro.name").as_deref(), Some("rustform"));
    for key in ["service.instance.id", "host.name", "process.pid"] {
        assert!(resource.contains_key(key), "{key} in {resource:?}");
    }

    // Logs, exemplars and exports agree on the ids.
    let ids = report.value("reserve_stock ids");
    let reserved: Vec<_> = spans
        .iter()
        .filter(|s| s.name() == "reserve_stock")
        .map(|s| format!("{}/{}", s.trace_id(), s.span_id()))
        .collect();
    assert!(reserved.contains(&ids), "{ids} among {reserved:?}");

    let accounting = report.accounting("otlp");
    assert_eq!(accounting.produced, 6);
    assert_eq!(accounting.exported, 6);
}

#[test]
fn spans_and_metrics_arrive_over_http_and_metric_points_equal_the_exposition() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: http/protobuf",
            collector.http_endpoint()
        ),
        &format!(
            "- type: prometheus\n- type: otlp\n  endpoint: {}\n  protocol: http/protobuf",
            collector.http_endpoint()
        ),
        SMALL_BATCHES,
    );
    let report = Service::new(&yaml).run("nested");
    let spans = collector.wait_for_spans(6, WAIT);
    assert_eq!(spans.len(), 6);
    assert!(spans.iter().all(|s| s.transport == Transport::Http));
    assert!(collector.trace_requests().iter().all(|r| !r.gzip));

    // The last push (at shutdown) carries the values the exposition showed.
    let requests = collector.wait_for_metric_requests(1, WAIT);
    let last = &requests.last().expect("a metrics push").body;
    let metrics = &last.resource_metrics[0].scope_metrics[0].metrics;
    let exposition = report.exposition();

    let calls = metrics
        .iter()
        .find(|m| m.name == "function_calls")
        .expect("function_calls");
    let Some(metric::Data::Sum(sum)) = &calls.data else {
        panic!("function_calls is a sum: {calls:?}");
    };
    assert!(sum.is_monotonic);
    let mut compared = 0;
    for point in &sum.data_points {
        let labels = testkit::otlp_collector::attribute_strings(&point.attributes);
        let Some(number_data_point::Value::AsInt(value)) = point.value else {
            panic!("an integer count: {point:?}");
        };
        let line = exposition_value(&exposition, "function_calls_total", &labels)
            .unwrap_or_else(|| panic!("{labels:?} in the exposition"));
        assert_eq!(line, value as f64, "{labels:?}");
        compared += 1;
    }
    assert!(compared >= 6, "compared {compared} series");

    let durations = metrics
        .iter()
        .find(|m| m.name == "function_calls_duration_seconds")
        .expect("the duration histogram");
    assert_eq!(durations.unit, "s");
    let Some(metric::Data::Histogram(histogram)) = &durations.data else {
        panic!("a histogram");
    };
    for point in &histogram.data_points {
        let labels = testkit::otlp_collector::attribute_strings(&point.attributes);
        let count = exposition_value(
            &exposition,
            "function_calls_duration_seconds_count",
            &labels,
        )
        .expect("a count");
        assert_eq!(point.count as f64, count);
        assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
        assert_eq!(point.bucket_counts.iter().sum::<u64>(), point.count);
        // Cumulative buckets in the exposition, one per bound.
        let mut cumulative = 0;
        for (bound, n) in point.explicit_bounds.iter().zip(&point.bucket_counts) {
            cumulative += n;
            let mut with_le = labels.clone();
            with_le.insert("le".into(), prometheus_float(*bound));
            let bucket = exposition_value(
                &exposition,
                "function_calls_duration_seconds_bucket",
                &with_le,
            )
            .unwrap_or_else(|| panic!("bucket {with_le:?}"));
            assert_eq!(bucket, cumulative as f64);
        }
    }
    // Exemplars link the durations to exported traces.
    let trace_ids: std::collections::BTreeSet<String> =
        spans.iter().map(|s| s.trace_id()).collect();
    let exemplars: Vec<_> = histogram
        .data_points
        .iter()
        .flat_map(|p| &p.exemplars)
        .collect();
    assert!(!exemplars.is_empty(), "exemplars on the duration histogram");
    for exemplar in exemplars {
        let trace_id = testkit::otlp_collector::hex(&exemplar.trace_id);
        assert!(
            trace_ids.contains(&trace_id),
            "{trace_id} among {trace_ids:?}"
        );
        assert_eq!(exemplar.span_id.len(), 8);
    }
    assert_eq!(
        last.resource_metrics[0].resource.as_ref().map(|r| {
            testkit::otlp_collector::attribute_strings(&r.attributes)["service.name"].clone()
        }),
        Some("shop".to_owned())
    );
    assert_eq!(
        report.number("exports metrics success"),
        requests.len() as u64
    );
}

/// The value of the exposition's sample `name` with exactly `labels`.
fn exposition_value(
    exposition: &str,
    name: &str,
    labels: &BTreeMap<String, String>,
) -> Option<f64> {
    exposition.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (sample, rest) = series.split_once('{').unwrap_or((series, "}"));
        if sample != name {
            return None;
        }
        let parsed: BTreeMap<String, String> = rest
            .trim_end_matches('}')
            .split("\",")
            .filter(|p| !p.is_empty())
            .filter_map(|pair| {
                let (k, v) = pair.split_once("=\"")?;
                Some((k.to_owned(), v.trim_end_matches('"').to_owned()))
            })
            .collect();
        (parsed == *labels).then(|| value.parse().ok())?
    })
}

/// A bound as the exposition writes it.
fn prometheus_float(value: f64) -> String {
    format!("{value}")
}

#[test]
fn a_collector_outage_neither_blocks_the_service_nor_loses_count() {
    let collector = Collector::start();
    collector.go_down();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc\n  timeout: 1s",
            collector.grpc_endpoint()
        ),
        "",
        "scheduled_delay: 100ms\nmax_export_batch_size: 128\nmax_queue_size: 512\n",
    );
    let service = Service::new(&yaml).env("PROBE_MILLIS", "3000");
    let child = service.spawn("load");
    // Down for the first part of the run, then back.
    std::thread::sleep(Duration::from_millis(1200));
    collector.come_back();
    let report = Report::of("load", wait_bounded(child));
    let accounting = report.accounting("otlp");
    assert!(accounting.produced > 0);
    // Spans were lost during the outage and delivered after it; none went missing.
    assert!(
        accounting.dropped["export_failed"] + accounting.dropped["queue_full"] > 0,
        "{accounting:?}"
    );
    assert!(accounting.exported > 0, "{accounting:?}");
    // Every span counted as exported arrived. A request the collector read just as it
    // went down may have arrived although the service saw it fail (and counted it
    // dropped): delivery is at least once, never less than counted.
    let received: std::collections::BTreeSet<String> =
        collector.spans().iter().map(|s| s.span_id()).collect();
    assert!(
        received.len() as u64 >= accounting.exported,
        "{} < {accounting:?}",
        received.len()
    );
    assert!(received.len() as u64 <= accounting.produced);
    assert!(report.number("exports traces failure") > 0);
}

/// Waits for a probe, killing it if it hangs (a hang detector, not a timing).
fn wait_bounded(mut child: Child) -> Output {
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    panic!(
        "the probe hung; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_503_with_retry_after_is_retried_after_the_delay_and_a_400_is_not_retried() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: http/protobuf\n  timeout: 20s",
            collector.http_endpoint()
        ),
        "",
        "scheduled_delay: 60s\n",
    );
    collector.fail_next(Signal::Traces, 1, Reply::http_retry_after(503, "2"));
    let report = Service::new(&yaml).env("PROBE_CALLS", "1").run("burst");
    let attempts = collector.attempts(Signal::Traces);
    assert_eq!(attempts.len(), 2, "{attempts:#?}");
    assert!(attempts[0].failed() && !attempts[1].failed());
    let waited = attempts[1].at.duration_since(attempts[0].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "retried after {waited:?}"
    );
    assert_eq!(collector.span_count(), 3);
    assert_eq!(report.number("retries traces"), 1);
    assert_eq!(report.accounting("otlp").exported, 3);

    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: http/protobuf",
            collector.http_endpoint()
        ),
        "",
        "scheduled_delay: 60s\n",
    );
    collector.fail_next(Signal::Traces, 1, Reply::http(400));
    let report = Service::new(&yaml).env("PROBE_CALLS", "1").run("burst");
    assert_eq!(collector.attempts(Signal::Traces).len(), 1);
    assert_eq!(report.number("retries traces"), 0);
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.dropped["export_failed"], 3);
    assert_eq!(report.number("exports traces failure"), 1);
}

#[test]
fn grpc_unavailable_is_retried_after_its_retry_info_and_invalid_argument_is_not() {
    let collector = Collector::start();
    let yaml = grpc_config(&collector, "scheduled_delay: 60s\n");
    collector.fail_next(
        Signal::Traces,
        2,
        Reply::grpc_retry(tonic::Code::Unavailable, Duration::from_millis(700)),
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "1").run("burst");
    let times = collector.attempt_times(Signal::Traces);
    assert_eq!(times.len(), 3);
    assert!(times[1].duration_since(times[0]) >= Duration::from_millis(650));
    assert_eq!(report.number("retries traces"), 2);
    assert_eq!(collector.span_count(), 3);

    let collector = Collector::start();
    let yaml = grpc_config(&collector, "scheduled_delay: 60s\n");
    collector.fail_next(Signal::Traces, 1, Reply::grpc(tonic::Code::InvalidArgument));
    let report = Service::new(&yaml).env("PROBE_CALLS", "1").run("burst");
    assert_eq!(collector.attempts(Signal::Traces).len(), 1);
    assert_eq!(report.accounting("otlp").dropped["export_failed"], 3);
}

#[test]
fn a_partial_success_is_not_retried_and_counts_the_rejected_spans() {
    let collector = Collector::start();
    let yaml = grpc_config(&collector, "scheduled_delay: 60s\n");
    collector.fail_next(
        Signal::Traces,
        1,
        Reply::partial_success(2, "2 spans too large"),
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "1").run("burst");
    assert_eq!(collector.attempts(Signal::Traces).len(), 1);
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.dropped["rejected"], 2);
    assert_eq!(accounting.exported, 1);
    assert_eq!(report.number("exports traces partial"), 1);
}

#[test]
fn shutdown_exports_every_ended_span() {
    let collector = Collector::start();
    // Nothing is sent on a timer: only the shutdown can deliver these.
    let yaml = grpc_config(
        &collector,
        "scheduled_delay: 1h\nmax_queue_size: 20000\nmax_export_batch_size: 512\n",
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "2000").run("burst");
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.produced, 6000);
    assert_eq!(accounting.exported, 6000, "{accounting:?}");
    assert_eq!(collector.span_count(), 6000);
}

#[test]
fn a_full_queue_drops_spans_and_counts_them() {
    let collector = Collector::start();
    let yaml = grpc_config(
        &collector,
        "scheduled_delay: 1h\nmax_queue_size: 100\nmax_export_batch_size: 100\n",
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "5000").run("burst");
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.produced, 15_000);
    assert!(accounting.dropped["queue_full"] > 0, "{accounting:?}");
    assert_eq!(collector.span_count() as u64, accounting.exported);
}

/// An address on loopback where nothing listens: every connection is refused.
fn refusing_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{address}")
}

/// A receiver that accepts connections and never reads from them nor answers: every
/// export hangs until its deadline.
struct Silent {
    address: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Silent {
    fn start() -> Silent {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Silent {
            address,
            stop,
            thread: Some(thread),
        }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.address)
    }
}

impl Drop for Silent {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How the probe ends.
#[derive(Clone, Copy)]
enum End {
    /// `guard.shutdown(2s)`.
    Shutdown,
    /// The guard dropped, with `shutdown_timeout: 2s`.
    Drop,
}

/// 10,000 spans and a last metrics push, all to `endpoint` (which never takes them),
/// then a 2 s shutdown: once it returns, every span and metric point is counted as
/// exported or dropped, and nothing changes afterwards.
fn every_item_is_counted_when_nothing_is_delivered(endpoint: &str, protocol: &str, end: End) {
    let exporter = format!("- type: otlp\n  endpoint: {endpoint}\n  protocol: {protocol}");
    let yaml = config(&exporter, &exporter, "max_queue_size: 20000\n")
        + "scaling:\n  instances:\n    shutdown_timeout: 2s\n    drain_timeout: 1s\n";
    let mut service = Service::new(&yaml)
        .env("PROBE_SPANS", "10000")
        .env("PROBE_LATER_MILLIS", "500");
    if let End::Shutdown = end {
        service = service
            .env("PROBE_END", "shutdown")
            .env("PROBE_SHUTDOWN_MILLIS", "2000");
    }
    let report = Report::of("spans", wait_bounded(service.spawn("spans")));
    if let End::Shutdown = end {
        assert_eq!(report.value("shut down"), "true");
    }

    let spans = report.accounting("otlp");
    assert_eq!(spans.produced, 10_000, "{spans:?}");
    assert_eq!(spans.exported, 0, "{spans:?}");
    assert_eq!(spans.dropped["queue_full"], 0, "{spans:?}");
    assert_eq!(spans.dropped["rejected"], 0, "{spans:?}");
    assert_eq!(
        spans.dropped["export_failed"] + spans.dropped["shutdown"],
        10_000,
        "{spans:?}"
    );

    let points = report.point_accounting("otlp");
    assert!(points.produced > 0, "the last push is counted: {points:?}");
    assert_eq!(points.exported, 0, "{points:?}");
    assert_eq!(points.dropped["rejected"], 0, "{points:?}");
    assert_eq!(
        points.dropped["export_failed"] + points.dropped["shutdown"],
        points.produced,
        "{points:?}"
    );

    // Half a second later, the export thread counted nothing more.
    for key in [
        "otlp produced",
        "otlp exported",
        "otlp dropped export_failed",
        "otlp dropped shutdown",
        "metric points otlp produced",
        "metric points otlp exported",
        "metric points otlp dropped export_failed",
        "metric points otlp dropped shutdown",
    ] {
        assert_eq!(
            report.number(&format!("later {key}")),
            report.number(key),
            "{key} changed after shutdown returned"
        );
    }
}

#[test]
fn shutdown_counts_every_item_when_connections_are_refused() {
    every_item_is_counted_when_nothing_is_delivered(&refusing_endpoint(), "grpc", End::Shutdown);
}

#[test]
fn shutdown_counts_every_item_when_the_receiver_never_answers() {
    let silent = Silent::start();
    every_item_is_counted_when_nothing_is_delivered(
        &silent.endpoint(),
        "http/protobuf",
        End::Shutdown,
    );
}

#[test]
fn dropping_the_guard_counts_every_item_when_connections_are_refused() {
    every_item_is_counted_when_nothing_is_delivered(
        &refusing_endpoint(),
        "http/protobuf",
        End::Drop,
    );
}

#[test]
fn dropping_the_guard_counts_every_item_when_the_receiver_never_answers() {
    let silent = Silent::start();
    every_item_is_counted_when_nothing_is_delivered(&silent.endpoint(), "grpc", End::Drop);
}

#[test]
fn zipkin_json_is_accepted_by_a_zipkin_v2_decoder() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: zipkin\n  endpoint: {}",
            collector.zipkin_endpoint()
        ),
        "",
        SMALL_BATCHES,
    );
    let report = Service::new(&yaml).run("nested");
    let spans = collector.wait_for_zipkin_spans(6, WAIT);
    assert_eq!(collector.rejections(), Vec::<String>::new());
    assert_eq!(spans.len(), 6);
    let checkout = spans
        .iter()
        .find(|s| s.name() == Some("checkout") && s.parent_id().is_none())
        .expect("a root checkout");
    let children = spans
        .iter()
        .filter(|s| s.parent_id() == Some(checkout.id()))
        .count();
    assert_eq!(children, 2);
    assert!(
        spans
            .iter()
            .all(|s| s.local_endpoint().and_then(|e| e.service_name()) == Some("shop"))
    );
    let declined = spans
        .iter()
        .filter(|s| s.tags().get("error").map(String::as_str) == Some("card declined"))
        .count();
    assert_eq!(declined, 2);
    assert_eq!(report.accounting("zipkin").exported, 6);
}

#[test]
fn otel_sdk_disabled_exports_nothing() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc",
            collector.grpc_endpoint()
        ),
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc",
            collector.grpc_endpoint()
        ),
        SMALL_BATCHES,
    );
    let report = Service::new(&yaml)
        .env("OTEL_SDK_DISABLED", "true")
        .run("nested");
    // The probe has shut down: anything it would send has been sent.
    assert!(collector.all_attempts().is_empty());
    assert!(!report.stderr.contains("otlp produced"));
}

#[test]
fn the_standard_environment_variables_configure_the_exporter() {
    let collector = Collector::start();
    // No exporter in the file: OTEL_EXPORTER_OTLP_ENDPOINT adds one, for both signals,
    // with the signal paths appended for HTTP.
    let yaml = "name: shop\nobservability:\n  logging:\n    level: warn\n";
    let report = Service::new(yaml)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.http_endpoint())
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_HEADERS", "x-team=checkout")
        .env("OTEL_SERVICE_NAME", "shop-env")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .run("nested");
    let spans = collector.wait_for_spans(6, WAIT);
    assert_eq!(spans.len(), 6);
    assert_eq!(spans[0].service_name().as_deref(), Some("shop-env"));
    assert!(
        collector
            .trace_requests()
            .iter()
            .all(|r| r.header("x-team") == Some("checkout"))
    );
    assert!(!collector.wait_for_metric_requests(1, WAIT).is_empty());
    assert_eq!(report.accounting("otlp").exported, 6);
}

#[test]
fn unsampled_observed_calls_skip_their_span_and_keep_their_metrics() {
    let collector = Collector::start();
    let yaml = grpc_config(&collector, SMALL_BATCHES)
        .replace("    tracing:\n", "    tracing:\n      sample_rate: 0.0\n");
    let report = Service::new(&yaml).run("nested");
    // Nothing sampled, so nothing produced or sent, and no span was made at all (the
    // logs, at WARN, would not have shown it): no trace ids inside the call.
    assert!(
        !report.stderr.contains("otlp produced"),
        "{}",
        report.stderr
    );
    assert!(!report.stderr.contains("reserve_stock ids"));
    assert_eq!(collector.span_count(), 0);
    // The metrics were counted all the same.
    let exposition = report.exposition();
    let mut labels = BTreeMap::new();
    labels.insert("function".to_owned(), "checkout".to_owned());
    labels.insert("module".to_owned(), "rustform_export_probe".to_owned());
    labels.insert("service_name".to_owned(), "shop".to_owned());
    labels.insert("result".to_owned(), "ok".to_owned());
    assert_eq!(
        exposition_value(&exposition, "function_calls_total", &labels),
        Some(1.0)
    );
}

#[test]
fn unsampled_calls_keep_their_span_when_the_logs_write_it() {
    let collector = Collector::start();
    let yaml = grpc_config(&collector, SMALL_BATCHES)
        .replace("    tracing:\n", "    tracing:\n      sample_rate: 0.0\n")
        .replace("level: warn", "level: info");
    let report = Service::new(&yaml).env("RUST_LOG", "info").run("nested");
    // The JSON logs at INFO show the span and its ids; none of it is exported.
    assert_eq!(report.stderr.matches("reserve_stock ids").count(), 2);
    assert_eq!(collector.span_count(), 0);
}

// ---------------------------------------------------------------------------------------
// TLS: the collector behind a certificate of a CA made here
// ---------------------------------------------------------------------------------------

/// Trace exporters over gRPC and OTLP/HTTP and a metrics exporter over OTLP/HTTP, all to
/// `collector`, each with `tls` (YAML flow mapping, may be empty).
fn tls_config(collector: &Collector, tls: &str) -> String {
    config(
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: grpc\n  tls: {tls}\n\
             - type: otlp\n  endpoint: {}\n  protocol: http/protobuf\n  tls: {tls}",
            collector.grpc_endpoint(),
            collector.traces_url(),
        ),
        &format!(
            "- type: otlp\n  endpoint: {}\n  protocol: http/protobuf\n  tls: {tls}",
            collector.metrics_url()
        ),
        SMALL_BATCHES,
    )
}

#[test]
fn a_collector_behind_tls_receives_spans_and_metrics_over_grpc_and_http() {
    let pki = Pki::new();
    let collector = Collector::start_tls(pki.server_config(false));
    assert!(collector.grpc_endpoint().starts_with("https://"));
    let yaml = tls_config(
        &collector,
        &format!("{{ ca_file: \"{}\" }}", pki.path("ca.pem")),
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "2").run("burst");
    // Two exporters, each sent every span: one over gRPC, one over HTTP, all exported.
    let accounting = report.accounting("otlp");
    assert!(accounting.produced >= 4);
    assert_eq!(accounting.exported, accounting.produced);
    let spans = collector.wait_for_spans(accounting.produced as usize, WAIT);
    assert_eq!(spans.len() as u64, accounting.produced);
    let over = |transport| spans.iter().filter(|s| s.transport == transport).count();
    assert_eq!(over(Transport::Grpc), over(Transport::Http));
    assert_eq!(report.number("exports metrics success"), 1);
    assert!(!collector.metrics_named("function_calls").is_empty());
    assert_eq!(collector.handshake_failures(), 0);
}

#[test]
fn zipkin_reaches_a_collector_behind_tls() {
    let pki = Pki::new();
    let collector = Collector::start_tls(pki.server_config(false));
    let yaml = config(
        &format!(
            "- type: zipkin\n  endpoint: {}\n  tls: {{ ca_file: \"{}\" }}",
            collector.zipkin_endpoint(),
            pki.path("ca.pem")
        ),
        "",
        SMALL_BATCHES,
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "2").run("burst");
    let accounting = report.accounting("zipkin");
    assert!(accounting.produced > 0);
    assert_eq!(accounting.exported, accounting.produced);
    let spans = collector.wait_for_zipkin_spans(accounting.produced as usize, WAIT);
    assert_eq!(spans.len() as u64, accounting.produced);
    assert!(collector.zipkin_endpoint().starts_with("https://"));
}

#[test]
fn the_otel_certificate_variables_give_the_ca_and_the_client_certificate() {
    // The collector requires a client certificate issued by the CA (mutual TLS); the
    // files come from the standard variables, the signal's own over the generic ones.
    let pki = Pki::new();
    let collector = Collector::start_tls(pki.server_config(true));
    let yaml = tls_config(&collector, "{}");
    let report = Service::new(&yaml)
        .env("OTEL_EXPORTER_OTLP_CERTIFICATE", &pki.path("ca.pem"))
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
            &pki.path("client.pem"),
        )
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
            &pki.path("client.key"),
        )
        .env(
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
            &pki.path("client.pem"),
        )
        .env("OTEL_EXPORTER_OTLP_CLIENT_KEY", &pki.path("client.key"))
        .env("PROBE_CALLS", "1")
        .run("burst");
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.exported, accounting.produced);
    let spans = collector.wait_for_spans(accounting.produced as usize, WAIT);
    assert_eq!(spans.len() as u64, accounting.produced);
    assert_eq!(report.number("exports metrics success"), 1);
    assert_eq!(collector.handshake_failures(), 0);
}

#[test]
fn without_a_client_certificate_a_collector_requiring_one_refuses_the_export() {
    let pki = Pki::new();
    let collector = Collector::start_tls(pki.server_config(true));
    let yaml = tls_config(
        &collector,
        &format!("{{ ca_file: \"{}\" }}", pki.path("ca.pem")),
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "2").run("burst");
    assert!(collector.handshake_failures() > 0);
    assert!(collector.spans().is_empty());
    assert!(collector.metric_requests().is_empty());
    // Nothing is lost silently: every span is counted as failed.
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.exported, 0);
    assert_eq!(accounting.dropped["export_failed"], accounting.produced);
    assert!(accounting.produced >= 4);
    assert_eq!(report.number("exports metrics failure"), 1);
}

#[test]
fn a_wrong_ca_fails_with_a_logged_reason_and_counted_spans() {
    let pki = Pki::new();
    let other = Pki::new();
    let collector = Collector::start_tls(pki.server_config(false));
    let yaml = tls_config(
        &collector,
        &format!("{{ ca_file: \"{}\" }}", other.path("ca.pem")),
    );
    let report = Service::new(&yaml).env("PROBE_CALLS", "2").run("burst");
    assert!(collector.spans().is_empty());
    let accounting = report.accounting("otlp");
    assert_eq!(accounting.exported, 0);
    assert_eq!(accounting.dropped["export_failed"], accounting.produced);
    // The logs say why, for each exporter: the server's certificate is not trusted.
    let failures: Vec<serde_json::Value> = report
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["level"] == "WARN" && l["target"] == "rustform::export")
        .collect();
    assert_eq!(failures.len(), 3, "{}", report.stdout);
    for failure in &failures {
        let reason = failure["fields"]["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("invalid peer certificate"), "{failure}");
    }
}

#[test]
fn a_ca_file_that_cannot_be_read_stops_init_with_its_yaml_path() {
    let collector = Collector::start();
    let yaml = config(
        &format!(
            "- type: otlp\n  endpoint: https://{}\n  protocol: grpc\n  tls: {{ ca_file: /no/such/ca.pem }}",
            collector.grpc_addr()
        ),
        "",
        SMALL_BATCHES,
    );
    let output = Service::new(&yaml)
        .command("burst")
        .output()
        .expect("the probe runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("observability.opentelemetry.tracing.exporters[0].tls.ca_file: cannot read /no/such/ca.pem"),
        "{stderr}"
    );
}
