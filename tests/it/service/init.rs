//! `rustform::init()` end to end: each test runs the probe program (`tests/probe/rustform_probe.rs`)
//! in its own process with a configuration file and environment, as a service would
//! start, and checks what it logged and exposed.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// Runs the probe with `scenario`, `yaml` as its `rustform.yml` (in a fresh working
/// directory) and `env` on top of an empty environment. `expect_success` says how it
/// must exit.
fn run_expecting(
    scenario: &str,
    yaml: Option<&str>,
    env: &[(&str, &str)],
    expect_success: bool,
) -> Output {
    let dir = tempfile::tempdir().unwrap();
    if let Some(yaml) = yaml {
        std::fs::write(dir.path().join("rustform.yml"), yaml).unwrap();
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_rustform-probe"));
    command.arg(scenario).current_dir(dir.path()).env_clear();
    command.envs(env.iter().copied());
    let output = command.output().expect("the probe runs");
    assert_eq!(
        output.status.success(),
        expect_success,
        "probe {scenario} exited {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run(scenario: &str, yaml: Option<&str>, env: &[(&str, &str)]) -> Output {
    run_expecting(scenario, yaml, env, true)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

fn message(line: &Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

/// The metrics part of the probe's stderr.
fn exposition(output: &Output) -> String {
    stderr(output)
        .lines()
        .filter(|l| {
            l.starts_with('#')
                || l.starts_with(|c: char| c.is_ascii_alphabetic()) && !l.contains(": ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

const JSON_LOGS: &str = "observability:\n  logging:\n    format: json\n    include_spans: true\n";

#[test]
fn json_logs_carry_the_ids_of_the_span_they_were_written_in() {
    let output = run("logs", Some(JSON_LOGS), &[]);
    let lines = json_lines(&output);
    let by_message = |m: &str| {
        lines
            .iter()
            .find(|l| message(l) == m)
            .unwrap_or_else(|| panic!("no line {m:?} in {lines:#?}"))
    };
    let outside = by_message("outside any span");
    assert!(outside.get("trace_id").is_none(), "{outside}");
    let placing = by_message("placing order");
    let checking = by_message("checking stock");
    let trace_id = placing["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert_eq!(checking["trace_id"], placing["trace_id"]);
    assert_ne!(checking["span_id"], placing["span_id"]);
    assert_eq!(placing["span"]["name"], "place_order");
    assert_eq!(checking["span"]["name"], "check_stock");
    assert_eq!(checking["fields"]["order_id"], 7);
    // The ids in the log are the ids the code sees.
    let seen = stderr(&output);
    let expected = format!(
        "check_stock ids: {}/{}",
        trace_id,
        checking["span_id"].as_str().unwrap()
    );
    assert!(seen.contains(&expected), "{seen}\nexpected {expected}");
    let after = by_message("after the order");
    assert_eq!(after["level"], "WARN");
    assert!(after.get("span_id").is_none());
    // Libraries logging through the `log` crate reach the same logs, filtered alike.
    let legacy = by_message("from the log crate");
    assert_eq!(legacy["target"], "legacy");
    assert_eq!(legacy["level"], "INFO");
    assert_eq!(legacy["fields"].as_object().unwrap().len(), 1, "{legacy}");
    assert!(lines.iter().all(|l| message(l) != "filtered out at info"));
}

#[test]
fn without_a_file_logs_are_pretty_at_info() {
    let output = run("logs", None, &[]);
    let out = stdout(&output);
    assert!(out.contains("placing order"), "{out}");
    assert!(serde_json::from_str::<Value>(out.lines().next().unwrap_or("")).is_err());
}

#[test]
fn rust_log_overrides_the_files_level() {
    let quiet = "observability:\n  logging:\n    format: json\n    level: warn\n";
    let output = run("logs", Some(quiet), &[]);
    let messages: Vec<String> = json_lines(&output)
        .iter()
        .map(|l| message(l).to_owned())
        .collect();
    assert_eq!(messages, ["after the order"]);
    let output = run("logs", Some(quiet), &[("RUST_LOG", "info")]);
    assert!(
        json_lines(&output)
            .iter()
            .any(|l| message(l) == "placing order")
    );
}

#[test]
fn configuration_warnings_are_logged_after_install() {
    let yaml = "observability:\n  logging:\n    format: json\n  opentelemetry:\n    \
                tracing:\n      exporters:\n        - type: otlp\n          \
                headers: { authorization: \"Bearer ${TOKEN}\" }\n";
    let output = run("logs", Some(yaml), &[("OTEL_TRACES_SAMPLER", "sometimes")]);
    let lines = json_lines(&output);
    let warnings: Vec<&str> = lines
        .iter()
        .filter(|l| l["target"] == "rustform::config")
        .map(message)
        .collect();
    assert_eq!(warnings.len(), 2, "{lines:#?}");
    assert!(warnings[0].contains("${TOKEN} is not set"), "{warnings:?}");
    assert!(
        warnings[1].starts_with("OTEL_TRACES_SAMPLER: "),
        "{warnings:?}"
    );
}

#[test]
fn install_layer_joins_the_programs_own_registry_with_metrics_and_notes() {
    let yaml = "observability:\n  logging:\n    format: json\n  opentelemetry:\n    \
                tracing:\n      exporters:\n        - type: otlp\n          \
                headers: { authorization: \"Bearer ${TOKEN}\" }\n";
    let output = run("own-registry", Some(yaml), &[]);
    let lines = json_lines(&output);
    // The program's events are written by rustform's log layer, in its format.
    assert!(
        lines.iter().any(|l| message(l) == "from the program"),
        "{lines:#?}"
    );
    // The configuration's warning reached the program's subscriber.
    assert!(
        lines.iter().any(
            |l| l["target"] == "rustform::config" && message(l).contains("${TOKEN} is not set")
        ),
        "{lines:#?}"
    );
    // Everything else init() does is done: observed functions and process metrics.
    let exposition = stderr(&output);
    assert!(
        exposition.contains("function_calls_total{function=\"place_order\""),
        "{exposition}"
    );
    assert!(
        exposition.contains("process_start_time_seconds"),
        "{exposition}"
    );
}

#[test]
fn a_broken_file_stops_the_program_with_the_yaml_path() {
    let output = run_expecting(
        "logs",
        Some("observability:\n  opentelemetry:\n    tracing:\n      sample_rate: 1.5\n"),
        &[],
        false,
    );
    let err = stderr(&output);
    assert!(
        err.contains(
            "rustform.yml:4:20: observability.opentelemetry.tracing.sample_rate: expected a number \
             between 0.0 and 1.0, found 1.5"
        ),
        "{err}"
    );
}

#[test]
fn rustform_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("service.yml");
    std::fs::write(&path, JSON_LOGS).unwrap();
    let output = run("logs", None, &[("RUSTFORM_CONFIG", path.to_str().unwrap())]);
    assert!(!json_lines(&output).is_empty());
    let missing = run_expecting(
        "logs",
        None,
        &[("RUSTFORM_CONFIG", "/nonexistent/rustform.yml")],
        false,
    );
    assert!(
        stderr(&missing).contains("/nonexistent/rustform.yml"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_second_init_is_an_error_not_a_panic() {
    let output = run("twice", Some(JSON_LOGS), &[]);
    assert!(
        stderr(&output).contains("second init: rustform is already initialized in this process"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_guard_shuts_down_once() {
    let output = run("shutdown", Some(JSON_LOGS), &[]);
    let err = stderr(&output);
    assert!(err.contains("first shutdown: true"), "{err}");
    assert!(err.contains("second shutdown: false"), "{err}");
    assert!(err.contains("shut down: true"), "{err}");
    assert!(
        json_lines(&output)
            .iter()
            .any(|l| message(l) == "still logging after shutdown")
    );
}

#[test]
fn built_in_metrics_are_installed_and_accepted_by_promtool() {
    let yaml = "observability:\n  opentelemetry:\n    service_name: probe-service\n    \
                service_version: \"2.4.1\"\n  logging:\n    format: json\n";
    let output = run("metrics", Some(yaml), &[]);
    let exposition = exposition(&output);
    for family in testkit::PROCESS_FAMILIES {
        assert!(
            exposition.contains(&format!("\n{family} ")),
            "{family} missing:\n{exposition}"
        );
    }
    assert!(
        exposition.contains(
            r#"build_info{version="2.4.1",commit="",branch="",service_name="probe-service"} 1"#
        ),
        "{exposition}"
    );
    assert!(
        exposition.contains(r#"function="place_order""#),
        "{exposition}"
    );
    assert!(
        exposition.contains(
            r#"function_calls_total{function="place_order",module="rustform_probe",service_name="probe-service",result="ok"} 1"#
        ),
        "{exposition}"
    );
    testkit::assert_promtool_accepts(&exposition);
}

#[test]
fn build_info_falls_back_to_the_crate_version_and_system_metrics_can_be_off() {
    let output = run("metrics", Some(JSON_LOGS), &[]);
    let exposition = exposition(&output);
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        exposition.contains(&format!(
            r#"build_info{{version="{version}",commit="",branch="",service_name="rustform-tests"}} 1"#
        )),
        "{exposition}"
    );
    let off = "observability:\n  opentelemetry:\n    metrics:\n      system_metrics: false\n  \
               logging:\n    format: json\n";
    let exposition = exposition_of(&run("metrics", Some(off), &[]));
    assert!(!exposition.contains("process_"), "{exposition}");
    assert!(!exposition.contains("build_info"), "{exposition}");
}

fn exposition_of(output: &Output) -> String {
    exposition(output)
}

#[test]
fn metrics_declared_in_the_file_are_registered_and_reachable_by_name() {
    let yaml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/rustform.full.yml"),
    )
    .unwrap();
    // The file's endpoint wants a token from METRICS_TOKEN: init() refuses to start
    // without it.
    let output = run(
        "custom",
        Some(&yaml),
        &[("METRICS_TOKEN", "reference-file-token-0123456789")],
    );
    let err = stderr(&output);
    assert!(
        err.contains(r#"orders_total{status="completed",payment_method="card"} 2"#),
        "{err}"
    );
    assert!(
        err.contains(r#"active_users{session_type="web"} 3"#),
        "{err}"
    );
    assert!(
        err.contains(
            r#"request_duration_seconds_bucket{method="GET",endpoint="/users",status="200",le="0.5"} 1"#
        ),
        "{err}"
    );
    assert!(
        err.contains("# HELP orders_total Total number of orders processed"),
        "{err}"
    );
    assert!(
        err.contains("wrong name: no counter named \"orderz_total\""),
        "{err}"
    );
    assert!(
        err.contains("wrong count: metric \"orders_total\" has 2 label(s)"),
        "{err}"
    );
    testkit::assert_promtool_accepts(&exposition(&output));

    // The rest of the reference file reached the running pieces too: its JSON logs, its
    // service name and version, its business metrics (with the one name that cannot be
    // exposed reported, not fatal).
    let lines = json_lines(&output);
    assert!(
        lines.iter().any(|l| l["target"] == "rustform::config"
            && message(l).contains("\"orders_created\"")),
        "{lines:#?}"
    );
    assert!(
        err.contains(
            r#"build_info{version="1.0.0",commit="",branch="",service_name="my-observed-app"} 1"#
        ),
        "{err}"
    );
    assert!(
        err.contains(
            r#"function="place_order",module="rustform_probe",service_name="my-observed-app""#
        ),
        "{err}"
    );
}

#[test]
fn log_sampling_keeps_the_fraction_below_warn_and_every_warning() {
    let yaml = "observability:\n  logging:\n    format: json\n    sampling:\n      enabled: true\n      rate: 0.1\n";
    let output = run("sampling", Some(yaml), &[]);
    let lines = json_lines(&output);
    let count = |m: &str| lines.iter().filter(|l| message(l) == m).count();
    assert_eq!(count("routine"), 100);
    assert_eq!(count("unusual"), 10);
    assert_eq!(count("broken"), 1);
    let exposition = exposition(&output);
    assert!(
        exposition.contains(r#"rustform_log_events_dropped_total{reason="sampling"} 900"#),
        "{exposition}"
    );
}

#[test]
fn build_info_takes_commit_and_branch_from_code() {
    let yaml = "observability:\n  opentelemetry:\n    service_name: shop\n    \
                service_version: \"9.9.9\"\n  logging:\n    format: json\n";
    let exposition = exposition(&run("build-info", Some(yaml), &[]));
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        exposition.contains(&format!(
            r#"build_info{{version="{version}",commit="4f2a9c1",branch="main",service_name="shop"}} 1"#
        )),
        "{exposition}"
    );
}

#[test]
fn an_endpoint_whose_token_is_missing_stops_init_and_says_which_variable() {
    let yaml = "observability:\n  prometheus:\n    authentication:\n      enabled: true\n      \
                method: bearer_token\n      token_env: SCRAPE_TOKEN\n";
    let output = run_expecting("metrics", Some(yaml), &[], false);
    let err = stderr(&output);
    assert!(err.contains("SCRAPE_TOKEN"), "{err}");
    assert!(err.contains("not set"), "{err}");
}

#[test]
fn a_router_taken_before_init_answers_503_then_serves_the_installed_configuration() {
    let yaml = "observability:\n  logging:\n    format: json\n  prometheus:\n    \
                authentication:\n      enabled: true\n      method: bearer_token\n      \
                token_env: METRICS_TOKEN\n";
    let token = "early-router-token-0123456789abcdef";
    let output = run(
        "router-before-init",
        Some(yaml),
        &[("METRICS_TOKEN", token)],
    );
    let stderr = stderr(&output);
    assert!(
        stderr.contains("before init: metrics 503 healthz 503"),
        "{stderr}"
    );
    assert!(
        stderr.contains("after init: metrics 401 with the token 200 healthz 200"),
        "{stderr}"
    );
    // Said once, once there is a subscriber to say it to.
    let errors: Vec<String> = json_lines(&output)
        .iter()
        .filter(|l| l["level"] == "ERROR")
        .map(|l| message(l).to_owned())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("router() was asked before rustform::init()")
            && errors[0].contains("(2 refused)"),
        "{errors:?}"
    );
}
