//! `rustform.yml` as users write it: the reference file loads with every value where it
//! belongs, each broken file gives its exact message (snapshots in `tests/config/broken/`,
//! refreshed with `RUSTFORM_BLESS=1`), hostile input never panics, every message about a
//! mutated reference file says where (line, column, YAML path), and the environment
//! takes precedence as the OpenTelemetry specification says.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustform::config::*;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(name)
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

fn reference() -> String {
    std::fs::read_to_string(dir("rustform.full.yml")).expect("reference file")
}

#[test]
fn the_reference_file_loads_with_its_values() {
    let env = env_of(&[
        ("JAEGER_TOKEN", "t0ken"),
        ("ENVIRONMENT", "production"),
        ("K8S_NAMESPACE", "shop"),
        ("K8S_POD_NAME", "shop-7f9c"),
    ]);
    let config = Config::parse(&reference(), "rustform.full.yml", &env).unwrap();
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    assert_eq!(config.name.as_deref(), Some("my-observed-app"));
    let otel = &config.observability.opentelemetry;
    assert_eq!(config.service_name(), Some("my-observed-app"));
    assert_eq!(config.service_version(), Some("1.0.0"));
    assert_eq!(otel.tracing.sampler, Sampler::ratio(1.0));
    assert_eq!(otel.tracing.max_events_per_span, 128);
    assert_eq!(otel.tracing.exporters.len(), 2);
    let otlp = &otel.tracing.exporters[0];
    assert_eq!(otlp.kind, TraceExporterKind::Otlp);
    assert_eq!(
        otlp.transport.endpoint.as_deref(),
        Some("http://jaeger:14268/api/traces")
    );
    assert_eq!(otlp.transport.headers["authorization"], "Bearer t0ken");
    assert_eq!(otel.tracing.exporters[1].kind, TraceExporterKind::Console);
    assert!(otel.tracing.exporters[1].enabled_in_dev);
    assert_eq!(otel.metrics.export_interval, Duration::from_secs(10));
    assert!(otel.metrics.database_metrics && otel.metrics.system_metrics);
    let exporters = &otel.metrics.exporters;
    assert_eq!(exporters[0].kind, MetricsExporterKind::Prometheus);
    let auth = exporters[0].authentication.as_ref().unwrap();
    assert_eq!(auth.token_header.as_deref(), Some("Authorization"));
    assert_eq!(
        exporters[1].transport.endpoint.as_deref(),
        Some("http://otel-collector:4317")
    );
    assert_eq!(
        otel.resource.attributes["deployment.environment"],
        "production"
    );
    assert_eq!(otel.resource.attributes["k8s.pod.name"], "shop-7f9c");

    let prometheus = &config.observability.prometheus;
    assert_eq!(prometheus.endpoint, "/metrics");
    assert!(prometheus.authentication.enabled);
    assert_eq!(prometheus.authentication.method, AuthMethod::BearerToken);
    assert_eq!(
        prometheus.authentication.token_env.as_deref(),
        Some("METRICS_TOKEN")
    );
    assert_eq!(prometheus.authentication.required_scopes, ["metrics:read"]);
    assert_eq!(prometheus.authentication.rate_limit.requests_per_minute, 60);
    assert_eq!(prometheus.authentication.rate_limit.burst_size, 10);
    assert_eq!(prometheus.metrics.http.histogram_buckets.len(), 11);
    assert!(!prometheus.metrics.database.track_queries);
    assert_eq!(
        prometheus.metrics.business.custom_gauges,
        ["active_users", "inventory_levels"]
    );

    let logging = &config.observability.logging;
    assert_eq!(logging.level, "info");
    assert_eq!(logging.format, LogFormat::Json);
    assert!(logging.include_spans && logging.include_targets);
    assert!(!logging.include_thread_ids && !logging.include_line_numbers);
    assert_eq!(logging.sampling, None);

    let health = &config.observability.health;
    assert_eq!(health.checks.len(), 3);
    assert_eq!(health.checks[0].kind, HealthCheckKind::Database);
    assert_eq!(health.checks[0].name, "database");
    assert_eq!(health.checks[0].timeout, Duration::from_secs(5));
    assert_eq!(
        health.checks[1].url.as_deref(),
        Some("http://auth-service/health")
    );
    assert_eq!(health.checks[1].timeout, Duration::from_secs(3));
    assert_eq!(
        health.checks[2].handler.as_deref(),
        Some("check_business_health")
    );

    let scaling = &config.scaling;
    assert!(scaling.enabled);
    assert_eq!(scaling.load_balancer.algorithm, LoadBalancing::RoundRobin);
    assert_eq!(scaling.service_discovery.method, DiscoveryMethod::Dns);
    assert_eq!(scaling.service_discovery.port, 3000);
    assert_eq!(scaling.instances.min_instances, 2);
    assert_eq!(scaling.instances.max_instances, 10);
    assert_eq!(scaling.instances.shutdown_timeout, Duration::from_secs(30));
    assert_eq!(scaling.instances.drain_timeout, Duration::from_secs(10));

    let custom = &config.custom_metrics;
    assert_eq!(custom.counters[1].name, "orders_total");
    assert_eq!(custom.counters[1].labels, ["status", "payment_method"]);
    assert_eq!(custom.gauges[1].name, "inventory_items");
    assert_eq!(
        custom.histograms[1].buckets.as_deref(),
        Some(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0][..])
    );
    assert_eq!(custom.histograms[0].path, "custom_metrics.histograms[0]");

    assert_eq!(config.alerts.len(), 3);
    assert_eq!(config.alerts[0].name, "high_error_rate");
    assert_eq!(config.alerts[1].duration, Duration::from_secs(600));
    assert_eq!(config.alerts[2].severity, "critical");
}

#[test]
fn the_reference_file_loads_without_its_variables_and_says_which_are_unset() {
    let config = Config::parse(&reference(), "rustform.full.yml", &|_| None).unwrap();
    let otel = &config.observability.opentelemetry;
    // Attributes that expand to nothing are left out, silently.
    assert!(!otel.resource.attributes.contains_key("k8s.pod.name"));
    let warnings: Vec<String> = config.warnings().iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        [
            "observability.opentelemetry.tracing.exporters[0].headers.authorization: ${JAEGER_TOKEN} \
          is not set, so it is replaced by nothing (give a default with ${JAEGER_TOKEN:-default})"
        ]
    );
}

#[test]
fn check_validates_a_file_without_installing() {
    let config = check(dir("rustform.full.yml")).unwrap();
    assert_eq!(config.observability.logging.format, LogFormat::Json);
    let err = check(dir("broken/01-sample-rate-out-of-range.yml")).unwrap_err();
    assert!(err.to_string().ends_with(
        "observability.opentelemetry.tracing.sample_rate: expected a number between 0.0 and 1.0, found 1.5"
    ));
    let missing = check(dir("no-such-file.yml")).unwrap_err();
    assert!(
        missing.to_string().contains("cannot open the file"),
        "{missing}"
    );
}

#[test]
fn no_file_means_working_defaults() {
    let config = Config::default();
    assert_eq!(config.observability.logging.level, "info");
    assert_eq!(config.observability.logging.format, LogFormat::Pretty);
    assert!(
        config
            .observability
            .opentelemetry
            .tracing
            .exporters
            .is_empty()
    );
    assert!(
        config
            .observability
            .opentelemetry
            .metrics
            .exporters
            .is_empty()
    );
    assert!(config.observability.prometheus.enabled);
    assert_eq!(config.observability.prometheus.endpoint, "/metrics");
    assert!(config.observability.opentelemetry.metrics.system_metrics);
    assert_eq!(Config::parse("", "empty.yml", &|_| None).unwrap(), config);
    assert_eq!(
        Config::parse("# only a comment\n", "empty.yml", &|_| None).unwrap(),
        config
    );
}

#[test]
fn the_endpoint_server_limits_have_defaults_and_the_header_timeout_follows_the_request_timeout() {
    let parse = |yaml: &str| {
        Config::parse(yaml, "rustform.yml", &|_| None)
            .unwrap()
            .observability
            .prometheus
    };
    let defaults = parse("");
    assert_eq!(defaults.request_timeout, Duration::from_secs(10));
    assert_eq!(defaults.header_timeout, Duration::from_secs(10));
    assert_eq!(defaults.max_connections, 512);
    assert_eq!(defaults, Prometheus::default());
    // Without a header_timeout of its own: the smaller of 10 s and request_timeout.
    let short = parse("observability:\n  prometheus:\n    request_timeout: 2s\n");
    assert_eq!(short.header_timeout, Duration::from_secs(2));
    let long = parse("observability:\n  prometheus:\n    request_timeout: 1m\n");
    assert_eq!(long.header_timeout, Duration::from_secs(10));
    let set = parse(
        "observability:\n  prometheus:\n    request_timeout: 2s\n    header_timeout: 30s\n    \
         max_connections: 32\n",
    );
    assert_eq!(set.header_timeout, Duration::from_secs(30));
    assert_eq!(set.max_connections, 32);
}

/// Every `tests/config/broken/*.yml` against its `.err` snapshot.
#[test]
fn broken_files_give_their_exact_messages() {
    let env = env_of(&[("SAMPLE_RATE", "lots")]);
    let bless = std::env::var_os("RUSTFORM_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir("broken"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "only {} broken files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(file).unwrap();
        let actual = match Config::parse_bytes(&bytes, &name, &env) {
            Ok(config) => format!("accepted: {config:?}"),
            Err(err) => format!("{err}\n"),
        };
        let expected_path = file.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            failures.push(format!(
                "{name}\n--- expected ---\n{expected}--- actual ---\n{actual}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} broken files changed their message (rerun with RUSTFORM_BLESS=1 if intended):\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn every_mistake_is_reported_at_once() {
    let text = std::fs::read_to_string(dir("broken/29-several-mistakes.yml")).unwrap();
    let err = Config::parse(&text, "rustform.yml", &|_| None).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "observability.logging.level",
            "observability.logging.format",
            "observability.logging.sampling.rate",
            "observability.prometheus.authentication.method",
            "observability.prometheus.authentication.rate_limit.requests_per_minute",
        ]
    );
}

#[test]
fn header_values_stay_out_of_debug_output() {
    let text = "observability:\n  opentelemetry:\n    tracing:\n      exporters:\n        \
                - type: otlp\n          headers: { authorization: \"Bearer ${TOKEN}\" }\n    \
                metrics:\n      exporters:\n        - type: otlp\n          \
                headers: { x-api-key: \"${TOKEN}\" }\n";
    let config = Config::parse(text, "rustform.yml", &env_of(&[("TOKEN", "s3cr3t")])).unwrap();
    let otel = &config.observability.opentelemetry;
    assert_eq!(
        otel.tracing.exporters[0].transport.headers["authorization"],
        "Bearer s3cr3t"
    );
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(
        debug.contains(r#"headers: {"authorization": <redacted>}"#),
        "{debug}"
    );
    assert!(
        debug.contains(r#"headers: {"x-api-key": <redacted>}"#),
        "{debug}"
    );
}

#[test]
fn secrets_are_never_repeated_in_messages() {
    let text = std::fs::read_to_string(dir("broken/28-token-in-token-env.yml")).unwrap();
    let err = Config::parse(&text, "rustform.yml", &|_| None).unwrap_err();
    assert!(!err.to_string().contains("s3cr3t"), "{err}");
    let mut config = Config::default();
    config.apply_env(&env_of(&[(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=Bearer%zzs3cr3t",
    )]));
    let warnings = format!("{:?}", config.warnings());
    assert!(
        warnings.contains("OTEL_EXPORTER_OTLP_HEADERS"),
        "{warnings}"
    );
    assert!(!warnings.contains("s3cr3t"), "{warnings}");
}

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(0x5eed);
    let alphabet = b"ab:-[]{}\"'&*!|>%@`#,?\n\t ${}0123456789.\\";
    for round in 0..3_000 {
        let len = (rng.next() % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    rng.next() as u8
                } else {
                    alphabet[(rng.next() as usize) % alphabet.len()]
                }
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        let _ = Config::parse(&text, "fuzz.yml", &|_| None);
    }
}

/// One random change to a file, as an editor slip or a bad merge would make it.
#[derive(Debug)]
enum Mutation {
    /// Removes `len` bytes at `at`.
    Delete { at: usize, len: usize },
    /// Inserts `bytes` at `at`: any byte (not UTF-8 too), a tab, a colon, a quote or
    /// another character YAML gives a meaning to.
    Insert { at: usize, bytes: Vec<u8> },
    /// Writes `line` (from 0) twice.
    DuplicateLine { line: usize },
    /// Adds (or, when negative, removes) spaces before `line`.
    Indent { line: usize, by: isize },
}

impl Mutation {
    fn random(rng: &mut Lcg, bytes: &[u8]) -> Mutation {
        let at = (rng.next() as usize) % bytes.len();
        let lines = bytes.iter().filter(|&&b| b == b'\n').count();
        let line = (rng.next() as usize) % lines.max(1);
        const SPECIAL: &[u8] = b"\t:\"'-[]{}#&*!|>%@`,?\n ";
        match rng.next() % 8 {
            0 => Mutation::Delete {
                at,
                len: 1 + (rng.next() % 8) as usize,
            },
            1 => Mutation::Insert {
                at,
                bytes: vec![rng.next() as u8],
            },
            2 => Mutation::Insert {
                at,
                bytes: vec![0x80 | (rng.next() as u8)],
            },
            3 => Mutation::Insert {
                at,
                bytes: vec![SPECIAL[(rng.next() as usize) % SPECIAL.len()]],
            },
            4 => Mutation::Insert {
                at,
                bytes: [b"\t", &b": "[..], b":", b"\"", b"'", b"- "][(rng.next() % 6) as usize]
                    .to_vec(),
            },
            5 => Mutation::DuplicateLine { line },
            _ => Mutation::Indent {
                line,
                by: [-4, -2, -1, 1, 2, 4][(rng.next() % 6) as usize],
            },
        }
    }

    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let line_range = |line: usize| {
            let start = bytes
                .split_inclusive(|&b| b == b'\n')
                .take(line)
                .map(<[u8]>::len)
                .sum::<usize>();
            let len = bytes[start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len() - start, |i| i + 1);
            start..start + len
        };
        match self {
            Mutation::Delete { at, len } => {
                out.drain(*at..(at + len).min(bytes.len()));
            }
            Mutation::Insert { at, bytes } => {
                out.splice(*at..*at, bytes.iter().copied());
            }
            Mutation::DuplicateLine { line } => {
                let range = line_range(*line);
                let copy = bytes[range.clone()].to_vec();
                out.splice(range.end..range.end, copy);
            }
            Mutation::Indent { line, by } => {
                let start = line_range(*line).start;
                if *by > 0 {
                    out.splice(start..start, std::iter::repeat_n(b' ', *by as usize));
                } else {
                    let spaces = bytes[start..].iter().take_while(|&&b| b == b' ').count();
                    out.drain(start..start + spaces.min(by.unsigned_abs()));
                }
            }
        }
        out
    }
}

/// The messages for `bytes` that do not say where the problem is (`None` if the file is
/// accepted): every message needs a line and a column, and a path unless its line is
/// written at column 1, where no key encloses it (a top-level key, or the document as a
/// whole).
fn unplaced(bytes: &[u8]) -> Option<Vec<String>> {
    let err = Config::parse_bytes(bytes, "mutated.yml", &|_| None).err()?;
    let shown = err.to_string();
    assert_eq!(shown.lines().count(), err.problems().len(), "{shown}");
    let top_level = |line: u64| {
        bytes
            .split(|&b| b == b'\n')
            .nth(usize::try_from(line - 1).unwrap())
            .is_none_or(|l| !l.starts_with(b" ") && !l.starts_with(b"\t"))
    };
    err.problems()
        .iter()
        .zip(shown.lines())
        .filter(|(problem, line)| match problem.at {
            Some(at) if at.line > 0 && at.column > 0 => {
                !line.starts_with(&format!("mutated.yml:{at}: "))
                    || (problem.path.is_empty() && !top_level(at.line))
            }
            _ => true,
        })
        .map(|(_, line)| line.to_owned())
        .collect::<Vec<_>>()
        .into()
}

/// Parses `cases` variants of the reference file, each with 1 to `most` mutations, on a
/// thread of its own, so that a case that never ends fails the test (naming the case)
/// instead of hanging it. Returns how many were rejected and the messages that do not
/// say where the problem is.
fn mutate(cases: usize, most: u64) -> (usize, Vec<String>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, mpsc};

    let current = Arc::new(AtomicUsize::new(0));
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn({
        let current = Arc::clone(&current);
        move || {
            let reference = reference().into_bytes();
            let mut rng = Lcg(42);
            let (mut rejected, mut unplaced_messages) = (0, Vec::new());
            for case in 0..cases {
                current.store(case, Ordering::Relaxed);
                let count = if most == 1 { 1 } else { 1 + rng.next() % most };
                let mut bytes = reference.clone();
                let mut changes = Vec::new();
                for _ in 0..count {
                    let change = Mutation::random(&mut rng, &bytes);
                    bytes = change.apply(&bytes);
                    changes.push(change);
                }
                let started = std::time::Instant::now();
                let result = std::panic::catch_unwind(|| unplaced(&bytes));
                let took = started.elapsed();
                let messages =
                    result.unwrap_or_else(|_| panic!("case {case}: {changes:?} panicked"));
                assert!(
                    took < Duration::from_secs(5),
                    "case {case}: {changes:?} took {took:?}"
                );
                let Some(messages) = messages else { continue };
                rejected += 1;
                unplaced_messages.extend(
                    messages
                        .into_iter()
                        .map(|m| format!("case {case}: {changes:?}: {m}")),
                );
            }
            let _ = done.send(());
            (rejected, unplaced_messages)
        }
    });
    if finished.recv_timeout(Duration::from_secs(120)).is_err() && !worker.is_finished() {
        panic!("case {} did not finish", current.load(Ordering::Relaxed));
    }
    worker
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// 3,000 single mutations of the reference file (deletions; insertions of any byte,
/// bytes that are not UTF-8, tabs, colons, quotes; duplicated lines; changed
/// indentation), the same on every run: none panics or hangs, and every message says
/// where the problem is, with a line, a column and the path of the keys around it.
#[test]
fn every_mutation_of_the_reference_file_is_reported_with_its_place() {
    let (rejected, unplaced) = mutate(3_000, 1);
    assert!(
        rejected > 1_500,
        "only {rejected} of 3000 mutations were rejected"
    );
    assert!(
        unplaced.is_empty(),
        "{} messages do not say where:\n{}",
        unplaced.len(),
        unplaced.join("\n")
    );
}

/// The same with up to eight mutations at once.
#[test]
fn several_mutations_at_once_are_reported_with_their_place() {
    let (_, unplaced) = mutate(500, 8);
    assert!(unplaced.is_empty(), "{}", unplaced.join("\n"));
}

#[test]
fn deep_and_huge_documents_are_refused_without_exhausting_anything() {
    let deep_flow = format!("a: {}", "[".repeat(200_000));
    let err = Config::parse(&deep_flow, "deep.yml", &|_| None).unwrap_err();
    assert!(err.to_string().contains("not valid YAML"), "{err}");

    let deep_block: String = (0..5_000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    assert!(Config::parse(&deep_block, "deep.yml", &|_| None).is_err());

    let huge = format!("name: \"{}\"\n", "x".repeat(2 << 20));
    let err = Config::parse(&huge, "huge.yml", &|_| None).unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");

    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..15 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(Config::parse(&bomb, "bomb.yml", &|_| None).is_err());

    let wide: String = (0..50_000).map(|i| format!("k{i}: {i}\n")).collect();
    let err = Config::parse(&wide, "wide.yml", &|_| None).unwrap_err();
    assert!(!err.problems().is_empty());
}

#[test]
fn variables_expand_in_any_string_value() {
    let text = "observability:\n  opentelemetry:\n    service_name: ${SERVICE:-shop}\n    \
                tracing:\n      sample_rate: ${RATE:-0.5}\n      exporters:\n        - type: otlp\n          \
                endpoint: \"http://${HOST}:4317\"\n          timeout: ${TIMEOUT:-2s}\n  logging:\n    \
                include_spans: ${SPANS}\n    format: $$json\n";
    let err = Config::parse(text, "rustform.yml", &env_of(&[("HOST", "collector")])).unwrap_err();
    // `$$` is a literal dollar: "$json" is not a format.
    assert_eq!(
        err.to_string(),
        "rustform.yml:12:13: observability.logging.format: expected one of \"json\", \"pretty\", \
         \"compact\", found \"$json\" — did you mean \"json\"?"
    );
    let text = text.replace("$$json", "json");
    let config = Config::parse(
        &text,
        "rustform.yml",
        &env_of(&[("HOST", "collector"), ("RATE", "0.25"), ("SPANS", "false")]),
    )
    .unwrap();
    let otel = &config.observability.opentelemetry;
    assert_eq!(otel.service_name.as_deref(), Some("shop"));
    assert_eq!(otel.tracing.sampler, Sampler::ratio(0.25));
    let exporter = &otel.tracing.exporters[0];
    assert_eq!(
        exporter.transport.endpoint.as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(exporter.transport.timeout, Duration::from_secs(2));
    assert!(!config.observability.logging.include_spans);
    // An unset variable in a typed value leaves the default.
    let config = Config::parse(&text, "rustform.yml", &env_of(&[("HOST", "h")])).unwrap();
    assert!(config.observability.logging.include_spans);
}

#[test]
fn environment_precedence_follows_opentelemetry() {
    let file = "name: app\nobservability:\n  opentelemetry:\n    service_name: from-file\n    \
                tracing:\n      sample_rate: 0.5\n      exporters:\n        - type: otlp\n          \
                endpoint: \"http://file:4317\"\n  logging:\n    level: warn\n";
    let parse = |pairs: &[(&str, &str)]| {
        let mut config = Config::parse(file, "rustform.yml", &|_| None).unwrap();
        config.apply_env(&env_of(pairs));
        config
    };

    // The file, when nothing is set.
    let config = parse(&[]);
    assert_eq!(config.service_name(), Some("from-file"));
    assert_eq!(config.observability.logging.level, "warn");

    // OTEL_SERVICE_NAME beats service.name in OTEL_RESOURCE_ATTRIBUTES, which beats the file.
    let config = parse(&[(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=attr,team=pay%20ments",
    )]);
    assert_eq!(config.service_name(), Some("attr"));
    assert_eq!(
        config.observability.opentelemetry.resource.attributes["team"],
        "pay ments"
    );
    let config = parse(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr"),
        ("OTEL_SERVICE_NAME", "env"),
    ]);
    assert_eq!(config.service_name(), Some("env"));

    // An empty value is unset.
    let config = parse(&[("OTEL_SERVICE_NAME", ""), ("RUST_LOG", "")]);
    assert_eq!(config.service_name(), Some("from-file"));
    assert_eq!(config.observability.logging.level, "warn");

    // RUST_LOG over the file's level; an invalid one is ignored with a warning.
    let config = parse(&[("RUST_LOG", "debug,hyper=warn")]);
    assert_eq!(config.observability.logging.level, "debug,hyper=warn");
    let config = parse(&[("RUST_LOG", "loud")]);
    assert_eq!(config.observability.logging.level, "warn");
    assert_eq!(config.warnings().len(), 1);
    assert_eq!(config.warnings()[0].path, "RUST_LOG");

    // A resource attribute list that does not decode is discarded as a whole.
    let config = parse(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,service.name=%ZZ")]);
    assert_eq!(config.service_name(), Some("from-file"));
    assert!(
        !config
            .observability
            .opentelemetry
            .resource
            .attributes
            .contains_key("a")
    );
    assert_eq!(config.warnings()[0].path, "OTEL_RESOURCE_ATTRIBUTES");

    // Samplers.
    let tracing = |c: &Config| c.observability.opentelemetry.tracing.sampler;
    assert_eq!(tracing(&parse(&[])), Sampler::ratio(0.5));
    let config = parse(&[("OTEL_TRACES_SAMPLER", "always_off")]);
    assert_eq!(tracing(&config).root, RootSampler::AlwaysOff);
    assert!(!tracing(&config).parent_based);
    let config = parse(&[
        ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
    ]);
    assert_eq!(tracing(&config).root, RootSampler::TraceIdRatio(0.1));
    let config = parse(&[("OTEL_TRACES_SAMPLER", "sometimes")]);
    assert_eq!(tracing(&config), Sampler::ratio(0.5));
    assert_eq!(config.warnings()[0].path, "OTEL_TRACES_SAMPLER");

    // OTEL_SDK_DISABLED: only a case-insensitive "true" disables.
    assert!(
        !parse(&[("OTEL_SDK_DISABLED", "TRUE")])
            .observability
            .opentelemetry
            .enabled
    );
    assert!(
        parse(&[("OTEL_SDK_DISABLED", "false")])
            .observability
            .opentelemetry
            .enabled
    );
    let config = parse(&[("OTEL_SDK_DISABLED", "1")]);
    assert!(config.observability.opentelemetry.enabled);
    assert_eq!(config.warnings()[0].path, "OTEL_SDK_DISABLED");

    // OTLP settings: per-signal over generic; the generic endpoint gets the signal path
    // over HTTP; headers are merged and percent-decoded.
    let exporter = |c: &Config| c.observability.opentelemetry.tracing.exporters[0].clone();
    let config = parse(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318")]);
    assert_eq!(
        exporter(&config).transport.endpoint.as_deref(),
        Some("http://generic:4318/v1/traces")
    );
    let config = parse(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=1,b=2"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=3,c=x%3Dy"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
    ]);
    let e = exporter(&config);
    assert_eq!(e.transport.endpoint.as_deref(), Some("http://traces:4317"));
    assert_eq!(
        effective_protocol(e.transport.endpoint.as_deref(), e.transport.protocol),
        Protocol::Grpc
    );
    assert_eq!(e.transport.headers["a"], "1");
    assert_eq!(e.transport.headers["b"], "3");
    assert_eq!(e.transport.headers["c"], "x=y");
    assert_eq!(e.transport.timeout, Duration::from_millis(2500));
    assert_eq!(e.transport.compression, Some(Compression::Gzip));
    // The metrics exporter list gains an OTLP exporter for the generic endpoint.
    let metrics = &config.observability.opentelemetry.metrics.exporters;
    assert_eq!(metrics.len(), 1);
    assert_eq!(
        metrics[0].transport.endpoint.as_deref(),
        Some("http://generic:4318/v1/metrics")
    );

    // OTEL_TRACES_EXPORTER chooses exporters, keeping the file's settings.
    let config = parse(&[("OTEL_TRACES_EXPORTER", "otlp,console")]);
    let kinds: Vec<_> = config
        .observability
        .opentelemetry
        .tracing
        .exporters
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [TraceExporterKind::Otlp, TraceExporterKind::Console]);
    assert_eq!(
        exporter(&config).transport.endpoint.as_deref(),
        Some("http://file:4317")
    );
    let config = parse(&[("OTEL_TRACES_EXPORTER", "none")]);
    assert!(
        config
            .observability
            .opentelemetry
            .tracing
            .exporters
            .is_empty()
    );

    // Batch and limits.
    let config = parse(&[
        ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "500"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "64"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ("OTEL_PROPAGATORS", "baggage"),
    ]);
    let tracing = &config.observability.opentelemetry.tracing;
    assert_eq!(tracing.batch.max_queue_size, 100);
    assert_eq!(tracing.batch.max_export_batch_size, 100);
    assert_eq!(tracing.batch.scheduled_delay, Duration::from_millis(250));
    assert_eq!(tracing.max_attributes_per_span, 64);
    assert_eq!(tracing.propagators, [Propagator::Baggage]);
    assert_eq!(
        config.observability.opentelemetry.metrics.export_interval,
        Duration::from_secs(15)
    );
    let config = parse(&[("OTEL_METRIC_EXPORT_INTERVAL", "soon")]);
    assert_eq!(
        config.observability.opentelemetry.metrics.export_interval,
        Duration::from_secs(60)
    );
    assert_eq!(config.warnings()[0].path, "OTEL_METRIC_EXPORT_INTERVAL");
}

#[test]
fn code_overrides_beat_the_environment_and_the_file() {
    let observability = rustform::Observability::builder()
        .config_yaml("observability:\n  opentelemetry:\n    service_name: file\n  logging:\n    level: warn\n")
        .env(env_of(&[("OTEL_SERVICE_NAME", "env"), ("RUST_LOG", "debug")]))
        .service_name("code")
        .log_level("error")
        .build()
        .unwrap();
    assert_eq!(observability.config().service_name(), Some("code"));
    assert_eq!(observability.config().observability.logging.level, "error");

    let observability = rustform::Observability::builder()
        .config_yaml("observability:\n  opentelemetry:\n    service_name: file\n")
        .env(env_of(&[("OTEL_SERVICE_NAME", "env")]))
        .build()
        .unwrap();
    assert_eq!(observability.config().service_name(), Some("env"));

    let err = rustform::Observability::builder()
        .config_yaml("observability:\n  logging:\n    level: loud\n")
        .build()
        .unwrap_err();
    assert!(matches!(err, rustform::Error::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("observability.logging.level"),
        "{err}"
    );

    // RUSTFORM_CONFIG names the file; a named file must exist.
    let observability = rustform::Observability::builder()
        .env(env_of(&[(
            "RUSTFORM_CONFIG",
            dir("rustform.full.yml").to_str().unwrap(),
        )]))
        .build()
        .unwrap();
    assert_eq!(
        observability.config().service_name(),
        Some("my-observed-app")
    );
    let err = rustform::Observability::from_config(dir("missing.yml")).unwrap_err();
    assert!(err.to_string().contains("missing.yml"), "{err}");
}
