//! The files of `examples/full_stack/` that other programs read: `prometheus.yml` and the
//! alert rules of `rustform.yml` checked by the real `promtool`, `rustform.yml` loaded by
//! `rustform::config::check`, and `docker-compose.yml`, `otel-collector.yml` and the
//! Grafana datasources parsed as YAML and checked for what their consumers need and for
//! agreeing with each other (hosts, ports, paths). Nothing is started.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustform::config::{
    Config, LogFormat, MetricsExporterKind, Protocol, TraceExporterKind, check,
};
use serde_json::{Value, json};
use testkit::run;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/full_stack")
}

fn read(name: &str) -> String {
    let path = dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses a YAML file of the example into a JSON value (duplicate keys are errors).
fn yaml(name: &str) -> Value {
    serde_saphyr::from_str(&read(name)).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

fn map<'a>(value: &'a Value, what: &str) -> &'a serde_json::Map<String, Value> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("{what}: expected a mapping, found {value}"))
}

fn strings(value: &Value, what: &str) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{what}: expected a list, found {value}"))
        .iter()
        .map(|v| {
            v.as_str()
                .unwrap_or_else(|| panic!("{what}: expected strings, found {v}"))
                .to_owned()
        })
        .collect()
}

/// `host:port` of an endpoint written `host:port` or `scheme://host:port[/path]`.
fn host_port(endpoint: &str) -> (String, u16) {
    let rest = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap();
    let (host, port) = authority
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{endpoint:?} has no port"));
    (host.to_owned(), port.parse().unwrap())
}

fn compose_services() -> serde_json::Map<String, Value> {
    let compose = yaml("docker-compose.yml");
    map(&compose["services"], "docker-compose.yml: services").clone()
}

// ---------------------------------------------------------------------------------------
// Prometheus
// ---------------------------------------------------------------------------------------

#[test]
fn promtool_accepts_the_prometheus_configuration() {
    let path = dir().join("prometheus.yml");
    let (ok, output) = run(Command::new(testkit::promtool())
        .args(["check", "config"])
        .arg(&path));
    assert!(ok, "promtool check config {}:\n{output}", path.display());
    assert!(output.contains("SUCCESS"), "{output}");
}

#[test]
fn prometheus_scrapes_the_collector_exporter_and_the_service() {
    let prometheus = yaml("prometheus.yml");
    assert_eq!(prometheus["global"]["scrape_interval"], "15s");
    let services = compose_services();
    let extra_hosts = strings(
        &services["prometheus"]["extra_hosts"],
        "services.prometheus.extra_hosts",
    );
    let mut targets = BTreeSet::new();
    for job in prometheus["scrape_configs"].as_array().unwrap() {
        for group in job["static_configs"].as_array().unwrap() {
            for target in strings(&group["targets"], "static_configs.targets") {
                let (host, _) = host_port(&target);
                assert!(
                    services.contains_key(&host)
                        || extra_hosts
                            .iter()
                            .any(|h| h.starts_with(&format!("{host}:"))),
                    "the target {target} is neither a compose service nor an extra host of prometheus"
                );
                targets.insert(target);
            }
        }
    }

    let collector = yaml("otel-collector.yml");
    let exporter = collector["exporters"]["prometheus"]["endpoint"]
        .as_str()
        .unwrap();
    let collector_target = format!("otel-collector:{}", host_port(exporter).1);
    assert!(targets.contains(&collector_target), "{targets:?}");

    let service_port = ports(&services["checkout"])[0].1;
    assert!(
        targets.contains(&format!("checkout:{service_port}")),
        "{targets:?}"
    );
    assert_eq!(
        service_port, 9464,
        "main.rs serves /metrics on 9464 by default"
    );
}

/// The alert rules of rustform.yml, written as a Prometheus rules file, pass
/// `promtool check rules`: every condition is valid PromQL.
#[test]
fn promtool_accepts_the_generated_rules() {
    let rules = dir().join("generated/rules/checkout.rules.yml");
    let (ok, output) = run(Command::new(testkit::promtool())
        .args(["check", "rules"])
        .arg(&rules));
    assert!(ok, "promtool check rules:\n{output}");
    // 2 × (7 recording rules, objective, budget, 4 alerts) and the file's 3 alerts.
    assert!(output.contains("29 rules found"), "{output}");
}

// ---------------------------------------------------------------------------------------
// rustform.yml
// ---------------------------------------------------------------------------------------

#[test]
fn rustform_config_check_accepts_the_example_configuration() {
    let config = check(dir().join("rustform.yml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.service_name(), Some("checkout"));
}

/// Without any variable set, every `${VAR}` takes its default: no warnings, and the
/// exporters point at a collector on localhost, as for `cargo run` on the host.
#[test]
fn the_configuration_has_defaults_for_every_variable() {
    let config = Config::parse(&read("rustform.yml"), "rustform.yml", &|_| None).unwrap();
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());

    let otel = &config.observability.opentelemetry;
    assert!(otel.enabled && otel.tracing.enabled && otel.metrics.enabled);
    let traces = &otel.tracing.exporters;
    assert_eq!(
        traces.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [TraceExporterKind::Otlp, TraceExporterKind::Console]
    );
    assert_eq!(
        traces[0].transport.endpoint.as_deref(),
        Some("http://localhost:4317")
    );
    assert_eq!(traces[0].transport.protocol, Some(Protocol::Grpc));
    assert!(traces[1].enabled_in_dev);

    assert_eq!(otel.metrics.export_interval, Duration::from_secs(10));
    let metrics = &otel.metrics.exporters;
    assert_eq!(
        metrics.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [MetricsExporterKind::Prometheus, MetricsExporterKind::Otlp]
    );
    assert_eq!(metrics[0].transport.endpoint.as_deref(), Some("/metrics"));
    assert_eq!(
        metrics[1].transport.endpoint.as_deref(),
        Some("http://localhost:4317")
    );

    let attributes = &otel.resource.attributes;
    assert_eq!(attributes["deployment.environment.name"], "development");
    assert!(!attributes.contains_key("k8s.pod.name"), "{attributes:?}");

    assert_eq!(config.observability.logging.format, LogFormat::Json);
    assert!(!config.observability.prometheus.authentication.enabled);
    assert!(!config.observability.health.checks.is_empty());
    assert!(config.scaling.instances.drain_timeout <= config.scaling.instances.shutdown_timeout);
    let custom = &config.custom_metrics;
    assert!(!custom.counters.is_empty() && !custom.gauges.is_empty());
    assert!(!custom.histograms.is_empty());
}

/// In compose, the service gets OTEL_COLLECTOR_HOST=otel-collector: the endpoints name
/// the collector's service and the port its OTLP/gRPC receiver listens on.
#[test]
fn in_compose_the_exporters_reach_the_collector() {
    let services = compose_services();
    let environment = map(&services["checkout"]["environment"], "checkout.environment");
    let collector_host = environment["OTEL_COLLECTOR_HOST"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(services.contains_key(&collector_host), "{collector_host}");

    let lookup = move |name: &str| (name == "OTEL_COLLECTOR_HOST").then(|| collector_host.clone());
    let config = Config::parse(&read("rustform.yml"), "rustform.yml", &lookup).unwrap();
    let collector = yaml("otel-collector.yml");
    let grpc = collector["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"]
        .as_str()
        .unwrap();
    let receiver_port = host_port(grpc).1;
    let published: Vec<u16> = ports(&services["otel-collector"])
        .into_iter()
        .map(|(_, container)| container)
        .collect();
    assert!(published.contains(&receiver_port), "{published:?}");

    let otel = &config.observability.opentelemetry;
    let endpoints = otel
        .tracing
        .exporters
        .iter()
        .map(|e| &e.transport)
        .chain(otel.metrics.exporters.iter().map(|e| &e.transport))
        .filter_map(|t| t.endpoint.as_deref())
        .filter(|e| e.contains("://"));
    for endpoint in endpoints {
        assert_eq!(
            host_port(endpoint),
            ("otel-collector".to_owned(), receiver_port),
            "{endpoint}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml and the Dockerfile
// ---------------------------------------------------------------------------------------

/// `(host, container)` ports a compose service publishes.
fn ports(service: &Value) -> Vec<(u16, u16)> {
    strings(&service["ports"], "ports")
        .iter()
        .map(|p| {
            let (host, container) = p.split_once(':').unwrap_or((p, p));
            (host.parse().unwrap(), container.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_compose_service_has_a_pinned_image_or_a_build() {
    let services = compose_services();
    for name in [
        "otel-collector",
        "jaeger",
        "prometheus",
        "grafana",
        "checkout",
    ] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for (name, service) in &services {
        let build = service.get("build");
        let image = service.get("image").and_then(Value::as_str);
        assert!(
            build.is_some() || image.is_some(),
            "{name} has neither image nor build"
        );
        if build.is_none() {
            let image = image.unwrap();
            let (_, tag) = image
                .rsplit_once(':')
                .unwrap_or_else(|| panic!("{name}: the image {image} is not pinned to a tag"));
            assert!(
                tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
                "{name}: pin {image} to a version"
            );
        }
        if let Some(depends) = service.get("depends_on") {
            for dependency in map(depends, "depends_on").keys() {
                assert!(
                    services.contains_key(dependency),
                    "{name} depends on {dependency}, which is not a service"
                );
            }
        }
        for volume in service
            .get("volumes")
            .map(|v| strings(v, "volumes"))
            .unwrap_or_default()
        {
            let source = volume.split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(
                    dir().join(source).exists(),
                    "{name} mounts {source}, which is not in examples/full_stack"
                );
            }
        }
    }
    // Published on the host: what the README sends a user to.
    for (name, port) in [
        ("jaeger", 16686),
        ("prometheus", 9090),
        ("grafana", 3000),
        ("otel-collector", 4317),
    ] {
        assert!(
            ports(&services[name]).contains(&(port, port)),
            "{name} does not publish {port}"
        );
    }
    assert_eq!(
        strings(&services["checkout"]["profiles"], "profiles"),
        ["service"],
        "the service is optional"
    );
}

#[test]
fn the_service_is_built_from_the_workspace() {
    let services = compose_services();
    let build = &services["checkout"]["build"];
    let context = dir().join(build["context"].as_str().unwrap());
    assert!(
        context.join("Cargo.toml").is_file(),
        "the build context must be the workspace root"
    );
    let dockerfile = build["dockerfile"].as_str().unwrap();
    assert!(context.join(dockerfile).is_file(), "{dockerfile}");

    let text = read("Dockerfile");
    assert!(
        text.contains("cargo build --release --locked --example full_stack"),
        "{text}"
    );
    assert!(text.contains("COPY examples/full_stack/rustform.yml "));
    assert!(text.contains("RUSTFORM_CONFIG="));
    assert!(text.contains("EXPOSE 9464"));
    // The Rust image is at least the workspace's rust-version.
    let from = text
        .lines()
        .find_map(|l| l.strip_prefix("FROM rust:"))
        .expect("a rust build stage");
    let version: Vec<u32> = from
        .split(['-', ' '])
        .next()
        .unwrap()
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    let manifest = std::fs::read_to_string(context.join("Cargo.toml")).unwrap();
    let required: Vec<u32> = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .expect("rust-version in the workspace")
        .trim_end_matches('"')
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(
        version >= required,
        "rust:{from} is older than {required:?}"
    );
    // The context is the workspace root: its build output stays out of it.
    let ignore = read("Dockerfile.dockerignore");
    assert!(ignore.lines().any(|l| l.trim() == "target/"), "{ignore}");
}

// ---------------------------------------------------------------------------------------
// otel-collector.yml
// ---------------------------------------------------------------------------------------

#[test]
fn collector_pipelines_use_only_defined_components() {
    let collector = yaml("otel-collector.yml");
    let defined = |section: &str| -> BTreeSet<String> {
        map(&collector[section], section).keys().cloned().collect()
    };
    let service = &collector["service"];
    for extension in strings(&service["extensions"], "service.extensions") {
        assert!(defined("extensions").contains(&extension), "{extension}");
    }
    let pipelines = map(&service["pipelines"], "service.pipelines");
    assert_eq!(
        pipelines.keys().collect::<BTreeSet<_>>(),
        ["metrics", "traces"]
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
            .iter()
            .collect(),
        "one pipeline per signal the service sends"
    );
    for (pipeline, spec) in pipelines {
        for section in ["receivers", "processors", "exporters"] {
            let used = strings(&spec[section], &format!("{pipeline}.{section}"));
            assert!(!used.is_empty(), "{pipeline} has no {section}");
            for component in used {
                assert!(
                    defined(section).contains(&component),
                    "pipeline {pipeline} uses {section} {component:?}, which is not defined"
                );
            }
        }
        let processors = strings(&spec["processors"], "processors");
        assert_eq!(
            processors.first().map(String::as_str),
            Some("memory_limiter"),
            "memory_limiter comes first"
        );
        assert!(processors.contains(&"batch".to_owned()));
    }
    let traces = strings(&pipelines["traces"]["exporters"], "traces.exporters");
    assert!(
        traces.iter().any(|e| e.starts_with("otlp_grpc/")),
        "{traces:?}"
    );
    let metrics = strings(&pipelines["metrics"]["exporters"], "metrics.exporters");
    assert!(metrics.contains(&"prometheus".to_owned()), "{metrics:?}");
}

#[test]
fn collector_exporters_reach_jaeger_and_prometheus() {
    let collector = yaml("otel-collector.yml");
    let services = compose_services();

    let jaeger = &collector["exporters"]["otlp_grpc/jaeger"];
    let (host, port) = host_port(jaeger["endpoint"].as_str().unwrap());
    assert!(
        services.contains_key(&host),
        "{host} is not a compose service"
    );
    assert_eq!(port, 4317, "Jaeger's OTLP/gRPC receiver");
    assert_eq!(jaeger["tls"]["insecure"], true);

    let prometheus = &collector["exporters"]["prometheus"];
    assert_eq!(prometheus["endpoint"], "0.0.0.0:8889");
    assert_eq!(
        prometheus["resource_to_telemetry_conversion"]["enabled"],
        true
    );
    assert!(collector["exporters"].get("debug").is_some());

    let protocols = &collector["receivers"]["otlp"]["protocols"];
    assert_eq!(protocols["grpc"]["endpoint"], "0.0.0.0:4317");
    assert_eq!(protocols["http"]["endpoint"], "0.0.0.0:4318");
    let mounted = strings(&services["otel-collector"]["volumes"], "volumes");
    assert!(
        mounted
            .iter()
            .any(|v| v.starts_with("./otel-collector.yml:/etc/otelcol-contrib/config.yaml")),
        "{mounted:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Grafana
// ---------------------------------------------------------------------------------------

#[test]
fn grafana_has_prometheus_and_jaeger_datasources() {
    let file = yaml("grafana/provisioning/datasources/datasources.yml");
    assert_eq!(file["apiVersion"], 1);
    let services = compose_services();
    let datasources = file["datasources"].as_array().expect("datasources");
    let mut types = BTreeSet::new();
    let mut uids = BTreeSet::new();
    for datasource in datasources {
        let kind = datasource["type"].as_str().unwrap();
        types.insert(kind.to_owned());
        uids.insert(datasource["uid"].as_str().unwrap().to_owned());
        let (host, port) = host_port(datasource["url"].as_str().unwrap());
        assert!(
            services.contains_key(&host),
            "{kind}: {host} is not a compose service"
        );
        let expected = match kind {
            "prometheus" => 9090,
            "jaeger" => 16686,
            other => panic!("unexpected datasource type {other}"),
        };
        assert_eq!(port, expected, "{kind}");
    }
    assert_eq!(
        types,
        BTreeSet::from(["jaeger".to_owned(), "prometheus".to_owned()])
    );
    // Exemplars link to traces in a datasource that exists.
    for datasource in datasources {
        if let Some(links) = datasource["jsonData"]["exemplarTraceIdDestinations"].as_array() {
            for link in links {
                let uid = link["datasourceUid"].as_str().unwrap();
                assert!(uids.contains(uid), "{uid}");
            }
        }
    }
    let mounted = strings(&services["grafana"]["volumes"], "volumes");
    assert!(
        mounted
            .iter()
            .any(|v| v.starts_with("./grafana/provisioning:/etc/grafana/provisioning")),
        "{mounted:?}"
    );
}

// ---------------------------------------------------------------------------------------
// generated/: what `rustform generate all` writes from the example's catalog
// ---------------------------------------------------------------------------------------

/// The example's binary.
fn example_binary() -> PathBuf {
    testkit::example_binary("full_stack")
}

fn committed_catalog() -> rustform::catalog::Catalog {
    serde_json::from_str(&read("generated/catalog.json")).expect("generated/catalog.json")
}

/// Every file under `generated/`, relative to it.
fn committed_files(root: &Path) -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out
}

/// `generated/catalog.json` is what the example's code declares: the binary prints it
/// with `--catalog`.
#[test]
fn the_committed_catalog_is_the_examples_own() {
    let out = Command::new(example_binary())
        .arg("--catalog")
        .env(rustform::CONFIG_ENV, dir().join("rustform.yml"))
        .output()
        .expect("the example starts");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: rustform::catalog::Catalog =
        serde_json::from_slice(&out.stdout).expect("the example prints a catalog");
    assert_eq!(
        printed,
        committed_catalog(),
        "regenerate: cargo run --example full_stack -- --catalog > \
         examples/full_stack/generated/catalog.json"
    );
    let handler = printed
        .functions
        .iter()
        .find(|f| f.function == "handle_checkout")
        .expect("handle_checkout is observed");
    let objective = handler.objective.as_ref().expect("it has an objective");
    assert_eq!(objective.name, "checkout");
    assert_eq!(objective.success_rate, Some(99.0));
}

/// Every file under `generated/` is what the generators write today from the committed
/// catalog and `rustform.yml`, and nothing else is there.
#[test]
fn the_generated_files_are_current() {
    use rustform_generate::{Kind, Service, files};

    let config = Config::parse(
        &read("rustform.yml"),
        "examples/full_stack/rustform.yml",
        &|_| None,
    )
    .expect("rustform.yml loads");
    let catalog = committed_catalog();
    let generated = files(Kind::All, &Service::new(&config, &catalog)).expect("generation");
    let root = dir().join("generated");
    let regenerate = "regenerate: cargo run -p rustform-cli -- generate all --config \
                      examples/full_stack/rustform.yml --catalog \
                      examples/full_stack/generated/catalog.json --out \
                      examples/full_stack/generated";
    let mut expected: BTreeSet<PathBuf> = generated.iter().map(|f| f.path.clone()).collect();
    expected.insert(PathBuf::from("catalog.json"));
    assert_eq!(committed_files(&root), expected, "{regenerate}");
    for file in &generated {
        let committed = std::fs::read_to_string(root.join(&file.path)).unwrap();
        assert!(
            committed == file.contents,
            "generated/{} differs from what the generator writes; {regenerate}",
            file.path.display()
        );
    }
}

/// The stack loads the generated files: Prometheus the rules (prometheus.yml's
/// rule_files, relative to where compose mounts it), Grafana the dashboards (its
/// provider's path is where compose mounts them).
#[test]
fn the_stack_loads_the_generated_rules_and_dashboards() {
    let services = compose_services();
    let mounts = |service: &str| -> Vec<(String, String)> {
        strings(
            &services[service]["volumes"],
            &format!("{service}: volumes"),
        )
        .into_iter()
        .map(|volume| {
            let mut parts = volume.split(':');
            let host = parts.next().unwrap().to_owned();
            let container = parts.next().expect("host:container").to_owned();
            (host, container)
        })
        .collect()
    };

    let prometheus = mounts("prometheus");
    let config_dir = prometheus
        .iter()
        .find(|(host, _)| host == "./prometheus.yml")
        .map(|(_, container)| Path::new(container).parent().unwrap().to_path_buf())
        .expect("prometheus.yml is mounted");
    let rule_files = strings(&yaml("prometheus.yml")["rule_files"], "rule_files");
    assert_eq!(rule_files, ["generated/rules/*.yml"]);
    let rules_dir = prometheus
        .iter()
        .find(|(host, _)| host == "./generated/rules")
        .map(|(_, container)| PathBuf::from(container))
        .expect("generated/rules is mounted");
    assert_eq!(rules_dir, config_dir.join("generated/rules"));

    let provider = yaml("grafana/provisioning/dashboards/dashboards.yml");
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .expect("the provider's path");
    let grafana = mounts("grafana");
    assert!(
        grafana.contains(&("./generated/dashboards".to_owned(), path.to_owned())),
        "{grafana:?}"
    );
    // Each dashboard picks its Prometheus with a `datasource` variable: the provisioned
    // default datasource fills it.
    for name in committed_files(&dir().join("generated/dashboards")) {
        let dashboard: Value =
            serde_json::from_str(&read(&format!("generated/dashboards/{}", name.display())))
                .unwrap();
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        assert!(
            variables
                .iter()
                .any(|v| v["name"] == "datasource" && v["query"] == "prometheus"),
            "{}",
            name.display()
        );
    }
}

/// What the README says of the demo, held to the committed rules by `promtool test
/// rules`: at the example's simulated rates (11 checkouts in 100 fail, 2.5 in 100 take
/// longer than 250 ms) the success objective of 99 % burns at 11×, so the 6h/30m page
/// fires after its 15 minutes and the 1d/2h ticket after its hour; the 1h/5m page
/// (14.4×) does not, the latency objective (a budget of 5 %) never alerts, and neither
/// does the file's 20 % error-rate alert.
#[test]
fn at_the_demos_rates_the_success_objective_burns_and_latency_holds() {
    let rules_text = read("generated/rules/checkout.rules.yml");
    let rules: Value = serde_saphyr::from_str(&rules_text).unwrap();
    let slo = "checkout-success-rate-99";
    // The annotations of the alert with `window`, rendered for a value of 11 %.
    let annotations = |window: &str| -> Value {
        let rule = rules["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap())
            .find(|r| {
                r["alert"] == "ErrorBudgetBurn"
                    && r["labels"]["slo"] == slo
                    && r["labels"]["window"] == window
            })
            .unwrap_or_else(|| panic!("ErrorBudgetBurn over {window}"));
        let mut out = serde_json::Map::new();
        for (key, text) in map(&rule["annotations"], "annotations") {
            let text = text
                .as_str()
                .unwrap()
                .replace("{{ $value | humanizePercentage }}", "11%")
                .replace("{{ $labels.service_name }}", "checkout");
            out.insert(key.clone(), json!(text));
        }
        Value::Object(out)
    };
    let burn = |window: &str, short: &str, severity: &str| {
        json!({
            "exp_labels": {
                "service_name": "checkout",
                "objective_name": "checkout",
                "objective_percentile": "99",
                "slo": slo,
                "window": window,
                "short_window": short,
                "severity": severity,
            },
            "exp_annotations": annotations(window),
        })
    };
    let handler = r#"function="handle_checkout",module="full_stack",service_name="checkout""#;
    let success = r#"objective_name="checkout",objective_percentile="99""#;
    let latency =
        r#"objective_name="checkout",objective_percentile="95",objective_latency_threshold="0.25""#;
    // Two hours at 100 checkouts a minute.
    let series = |labels: String, per_minute: &str| json!({ "series": format!("{{{labels}}}"), "values": format!("0+{per_minute}x120") });
    let input = vec![
        series(
            format!(r#"__name__="function_calls_total",{handler},result="ok",{success}"#),
            "89",
        ),
        series(
            format!(
                r#"__name__="function_calls_total",{handler},result="error",error="card_declined",{success}"#
            ),
            "11",
        ),
        series(
            format!(r#"__name__="function_calls_duration_seconds_count",{handler},{latency}"#),
            "100",
        ),
        series(
            format!(
                r#"__name__="function_calls_duration_seconds_bucket",{handler},{latency},le="0.25""#
            ),
            "97.5",
        ),
    ];
    let case = |time: &str, alert: &str, firing: Vec<Value>| json!({ "eval_time": time, "alertname": alert, "exp_alerts": firing });
    let test = json!({
        "rule_files": [dir().join("generated/rules/checkout.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": input,
            "alert_rule_test": [
                case("10m", "ErrorBudgetBurn", vec![]),
                case("30m", "ErrorBudgetBurn", vec![burn("6h", "30m", "page")]),
                case(
                    "90m",
                    "ErrorBudgetBurn",
                    vec![burn("6h", "30m", "page"), burn("1d", "2h", "ticket")],
                ),
                case("90m", "LatencyBudgetBurn", vec![]),
                case("90m", "checkout_high_error_rate", vec![]),
            ],
            "promql_expr_test": [{
                "expr": format!(r#"slo:sli_error:ratio_rate1h{{slo="{slo}"}}"#),
                "eval_time": "90m",
                "exp_samples": [{
                    "labels": format!(
                        r#"slo:sli_error:ratio_rate1h{{service_name="checkout",{success},slo="{slo}",window="1h"}}"#
                    ),
                    "value": 0.11,
                }],
            }],
        }],
    });
    // JSON is YAML: promtool reads it as a test file.
    let file = tempfile::Builder::new()
        .suffix(".test.yml")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), test.to_string()).unwrap();
    let (ok, output) = run(Command::new(testkit::promtool())
        .args(["test", "rules"])
        .arg(file.path()));
    assert!(ok, "promtool test rules:\n{output}\n--- test ---\n{test:#}");
}
