//! The `process_*` metrics and `build_info`, in a fresh registry: the text exposition
//! checked by the real `promtool check metrics`, the OpenMetrics one by the strict parser
//! and by a real Prometheus server scraping it, and the values against what the test
//! itself does to the process (files opened, threads spawned, CPU burnt).
//!
//! `promtool check metrics` (2.42) reads only the 0.0.4 text format: on OpenMetrics it
//! reports every counter's `_total` sample as a metric without help, so the OpenMetrics
//! exposition is checked by `testkit::openmetrics` and by the Prometheus scrape instead.
//!
//! The tests change the process-wide descriptor and thread counts they read, so they run
//! one at a time (`serial`).

#![cfg(target_os = "linux")]

use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustform::Error;
use rustform::metrics::{BuildInfo, MetricValue, Registry, register_process_metrics};
use testkit::openmetrics;
use testkit::prometheus_server::{Job, PrometheusServer};

/// Held for the whole of each test, so no other test opens files or starts threads
/// while one counts them.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn process_registry() -> Registry {
    let registry = Registry::new();
    register_process_metrics(&registry).expect("process metrics register");
    registry
}

fn checkout_build() -> BuildInfo {
    BuildInfo {
        version: "1.4.2".into(),
        commit: "4f2a9c1".into(),
        branch: "main".into(),
        service_name: "checkout".into(),
    }
}

/// The value of the unlabeled sample `name` in a text exposition.
fn sample(text: &str, name: &str) -> f64 {
    let prefix = format!("{name} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"));
    let value = &line[prefix.len()..];
    value
        .parse()
        .unwrap_or_else(|e| panic!("{name}: {value:?}: {e}"))
}

/// One scrape of `name`.
fn scrape(registry: &Registry, name: &str) -> f64 {
    sample(&registry.render(), name)
}

fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs_f64()
}

#[test]
fn promtool_accepts_the_process_metrics_and_build_info() {
    let _serial = serial();
    let registry = process_registry();
    checkout_build().register(&registry).unwrap();

    let text = registry.render();
    testkit::assert_promtool_accepts(&text);
    for name in testkit::PROCESS_FAMILIES {
        assert!(
            text.contains(&format!("\n{name} ")) || text.starts_with(&format!("# HELP {name} ")),
            "{name} missing in\n{text}"
        );
        sample(&text, name);
    }

    let om = registry.render_openmetrics();
    let families = openmetrics::parse(&om).unwrap_or_else(|e| panic!("{e}\n{om}"));
    let kinds: Vec<(&str, &str, Option<&str>, usize)> = families
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.kind.as_str(),
                f.unit.as_deref(),
                f.samples.len(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("process_cpu_seconds", "counter", Some("seconds"), 1),
            ("process_resident_memory_bytes", "gauge", Some("bytes"), 1),
            ("process_virtual_memory_bytes", "gauge", Some("bytes"), 1),
            ("process_open_fds", "gauge", None, 1),
            ("process_max_fds", "gauge", None, 1),
            ("process_threads", "gauge", None, 1),
            ("process_start_time_seconds", "gauge", Some("seconds"), 1),
            ("build_info", "gauge", None, 1),
        ],
        "{om}"
    );
    assert_eq!(families[0].samples[0].name, "process_cpu_seconds_total");
    for family in &families {
        assert!(family.help.as_deref().is_some_and(|h| !h.is_empty()));
    }
}

#[test]
fn memory_and_descriptor_limits_are_sane() {
    let _serial = serial();
    let registry = process_registry();
    let text = registry.render();
    let resident = sample(&text, "process_resident_memory_bytes");
    let virtual_ = sample(&text, "process_virtual_memory_bytes");
    assert!(resident > 0.0, "{text}");
    assert!(virtual_ >= resident, "{text}");
    let open = sample(&text, "process_open_fds");
    let max = sample(&text, "process_max_fds");
    // stdin, stdout, stderr and the listing of /proc/self/fd itself at least.
    assert!(open >= 4.0, "{text}");
    assert!(max >= open, "{text}");
    assert!(sample(&text, "process_threads") >= 1.0, "{text}");
}

#[test]
fn open_fds_follow_files_opened_and_closed() {
    let _serial = serial();
    let registry = process_registry();
    let before = scrape(&registry, "process_open_fds");
    let files: Vec<File> = (0..10)
        .map(|_| File::open(env!("CARGO_MANIFEST_DIR")).expect("open the package directory"))
        .collect();
    let opened = scrape(&registry, "process_open_fds");
    assert!(opened >= before + 10.0, "{before} → {opened}");
    // The snapshot reads the same count.
    assert_eq!(
        registry.snapshot().get("process_open_fds", &[]),
        Some(&MetricValue::Gauge(opened as i64))
    );
    drop(files);
    let closed = scrape(&registry, "process_open_fds");
    assert!(closed <= opened - 10.0, "{before} → {opened} → {closed}");
}

#[test]
fn threads_follow_spawned_threads() {
    let _serial = serial();
    let registry = process_registry();
    let before = scrape(&registry, "process_threads");
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    std::thread::park();
                }
            })
        })
        .collect();
    // A spawned thread is counted as soon as `spawn` returns. The test harness may end
    // one thread of its own meanwhile, hence the margin.
    let during = scrape(&registry, "process_threads");
    assert!(during >= before + 6.0, "{before} → {during}");
    stop.store(true, Ordering::Release);
    for thread in threads {
        thread.thread().unpark();
        thread.join().unwrap();
    }
    // A joined thread may still be counted for a moment while the kernel finishes its
    // exit: wait for the count to come down.
    let limit = Instant::now() + Duration::from_secs(10);
    loop {
        let after = scrape(&registry, "process_threads");
        if after <= during - 8.0 {
            break;
        }
        assert!(
            Instant::now() < limit,
            "{before} → {during} → {after} after joining"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn start_time_is_within_the_last_day() {
    let _serial = serial();
    let registry = process_registry();
    let start = scrape(&registry, "process_start_time_seconds");
    let now = now_seconds();
    // Boot time and start ticks are both rounded down by the kernel, so the start is
    // never after the true start, which is before now.
    assert!(start <= now, "start {start} after now {now}");
    assert!(
        start >= now - 86_400.0,
        "start {start} more than a day before {now}"
    );
    // The snapshot holds the same start, fraction included.
    let Some(MetricValue::FloatGauge(snapshot)) = registry
        .snapshot()
        .get("process_start_time_seconds", &[])
        .cloned()
    else {
        panic!("no start time in the snapshot")
    };
    assert_eq!(snapshot, start);
}

#[test]
fn cpu_seconds_never_go_down_and_move_with_work() {
    let _serial = serial();
    let registry = process_registry();
    let first = scrape(&registry, "process_cpu_seconds_total");
    let mut last = first;
    let mut work = 0u64;
    // Burn CPU until the count moves (ticks are 10 ms); the limit only stops a hang.
    let limit = Instant::now() + Duration::from_secs(60);
    while last <= first {
        for i in 0..2_000_000u64 {
            work = std::hint::black_box(work.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        let now = scrape(&registry, "process_cpu_seconds_total");
        assert!(now >= last, "CPU seconds went down: {last} → {now}");
        last = now;
        assert!(Instant::now() < limit, "CPU seconds stayed at {first}");
    }
    let snapshot = registry.snapshot();
    let Some(MetricValue::FloatCounter(seconds)) = snapshot.get("process_cpu_seconds_total", &[])
    else {
        panic!("no CPU seconds in the snapshot")
    };
    assert!(*seconds <= scrape(&registry, "process_cpu_seconds_total"));
    assert!(*seconds >= last);
}

#[test]
fn build_info_renders_the_exact_line() {
    let _serial = serial();
    let registry = Registry::new();
    checkout_build().register(&registry).unwrap();
    let text = registry.render();
    assert_eq!(
        text,
        "# HELP build_info Version, commit and branch the service was built from; the value is always 1\n\
         # TYPE build_info gauge\n\
         build_info{version=\"1.4.2\",commit=\"4f2a9c1\",branch=\"main\",service_name=\"checkout\"} 1\n"
    );
    testkit::assert_promtool_accepts(&text);
    assert!(
        registry.render_openmetrics().ends_with(
            "build_info{version=\"1.4.2\",commit=\"4f2a9c1\",branch=\"main\",service_name=\"checkout\"} 1\n# EOF\n"
        )
    );

    // Unknown commit and branch are empty values, still accepted.
    let unknown = Registry::new();
    BuildInfo {
        version: "0.1.0".into(),
        service_name: "svc".into(),
        ..BuildInfo::default()
    }
    .register(&unknown)
    .unwrap();
    let text = unknown.render();
    assert!(text.contains(
        "build_info{version=\"0.1.0\",commit=\"\",branch=\"\",service_name=\"svc\"} 1\n"
    ));
    testkit::assert_promtool_accepts(&text);
}

#[test]
fn registering_twice_is_an_error() {
    let _serial = serial();
    let registry = process_registry();
    checkout_build().register(&registry).unwrap();
    let before = registry.render();

    let err = register_process_metrics(&registry).unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
    let Error::AlreadyRegistered { second, .. } = &err else {
        unreachable!()
    };
    assert_eq!(second.file(), file!(), "{err}");
    let err = checkout_build().register(&registry).unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");

    // Nothing was added: the same families, once each.
    let after = registry.render();
    let types = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("# TYPE "))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(types(&after), types(&before));
    assert_eq!(types(&after).len(), 8);
}

#[test]
fn a_real_prometheus_scrapes_them_in_openmetrics_and_joins_build_info() {
    let _serial = serial();
    let registry = process_registry();
    checkout_build().register(&registry).unwrap();
    let server = testkit::metrics_server::MetricsServer::start(registry);
    let prometheus = PrometheusServer::start(
        &[Job {
            name: "rustform",
            target: server.target(),
            extra: "",
        }],
        &[],
    );
    let target = prometheus.wait_until_up("rustform");
    assert_eq!(target["lastError"], "", "{target}");

    for name in testkit::PROCESS_FAMILIES {
        let results = prometheus.query(&format!("{name}{{job=\"rustform\"}}"));
        assert_eq!(results.len(), 1, "{name}: {results:?}");
        let value: f64 = results[0]["value"][1].as_str().unwrap().parse().unwrap();
        assert!(
            value > 0.0 || name == "process_cpu_seconds_total",
            "{name} = {value}"
        );
    }

    // Units only travel in OpenMetrics: seeing one shows the scrape used it.
    let metadata = prometheus.api("metadata", &[("metric", "process_resident_memory_bytes")]);
    assert_eq!(
        metadata["process_resident_memory_bytes"][0]["unit"], "bytes",
        "{metadata}"
    );

    // The join autometrics dashboards make: a series annotated with the build's labels.
    let joined = prometheus.query(
        "process_resident_memory_bytes{job=\"rustform\"} \
         * on (instance, job) group_left (version, commit, branch, service_name) build_info",
    );
    assert_eq!(joined.len(), 1, "{joined:?}");
    let labels = &joined[0]["metric"];
    assert_eq!(labels["version"], "1.4.2", "{labels}");
    assert_eq!(labels["commit"], "4f2a9c1", "{labels}");
    assert_eq!(labels["branch"], "main", "{labels}");
    assert_eq!(labels["service_name"], "checkout", "{labels}");
}
