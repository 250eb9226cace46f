//! The generated deployment files against their consumers: `promtool check config`
//! accepts the scrape configuration and the compose stack's `prometheus.yml` (with the
//! token and rules files they name), `amtool check-config` accepts the Alertmanager
//! example, and the Kubernetes manifests and the compose file parse and agree with each
//! other (selectors and labels, probe and Service ports, ServiceMonitor and Service,
//! autoscaler and Deployment, mounted files and generated files).
//!
//! The inputs are the reference `rustform.yml` (bearer token from `METRICS_TOKEN`, two to
//! ten instances, 30 s shutdown) and a catalog with two objectives.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use rustform::catalog::Catalog;
use rustform::config::Config;
use rustform_generate::{
    self, GeneratedFile, Kind, Options, Service, alert_rules, alertmanager, compose, kubernetes,
    scrape_config,
};
use serde_json::{Value, json};
use testkit::run;

const TOKEN: &str = "reference-file-token-0123456789";

/// The reference configuration with `prometheus_keys` added under
/// `observability.prometheus` (lines indented by four spaces).
fn config_with(prometheus_keys: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config/rustform.full.yml");
    let text = std::fs::read_to_string(&path).expect("the reference configuration");
    let text = text.replacen(
        "  prometheus:\n    enabled: true\n",
        &format!("  prometheus:\n    enabled: true\n{prometheus_keys}"),
        1,
    );
    let env = |name: &str| match name {
        "METRICS_TOKEN" => Some(TOKEN.to_owned()),
        "JAEGER_TOKEN" => Some("jaeger-token".to_owned()),
        "ENVIRONMENT" => Some("production".to_owned()),
        "K8S_NAMESPACE" => Some("shop".to_owned()),
        "K8S_POD_NAME" => Some("shop-0".to_owned()),
        _ => None,
    };
    let config = Config::parse(&text, "rustform.full.yml", &env).expect("it loads");
    assert!(config.warnings().is_empty(), "{:?}", config.warnings());
    config
}

fn reference_config() -> Config {
    config_with("")
}

/// Two objectives, as `GET /catalog` serves them.
fn catalog() -> Catalog {
    serde_json::from_str(
        r#"{
            "service": "shop",
            "functions": [
                {"function": "get_user", "module": "shop::api", "objective":
                    {"name": "api", "success_rate": 99.9,
                     "latency": {"threshold_seconds": 0.25, "percentile": 99.0}}},
                {"function": "pay", "module": "shop::checkout", "objective":
                    {"name": "checkout", "success_rate": 99.5}}
            ]
        }"#,
    )
    .expect("a catalog")
}

/// Options whose credentials file is `dir/secrets/metrics-token`, holding a token.
fn options_in(dir: &Path) -> Options {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).unwrap();
    let token = secrets.join("metrics-token");
    std::fs::write(&token, TOKEN).unwrap();
    let mut options = Options::default();
    options.credentials_file = token.to_str().unwrap().to_owned();
    options.image = "registry.example/shop:1.0.0".to_owned();
    options.namespace = "shop".to_owned();
    options
}

fn write(dir: &Path, relative: &str, contents: &str) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap();
    path
}

fn promtool_check_config(path: &Path) -> String {
    let (ok, output) = run(Command::new(testkit::promtool())
        .args(["check", "config"])
        .arg(path));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        ok,
        "promtool check config {}:\n{output}\n--- file ---\n{text}",
        path.display()
    );
    assert!(output.contains("SUCCESS"), "{output}");
    output
}

/// The `amtool` binary of the Debian package `prometheus-alertmanager`. Panics with the
/// install command when it is missing: the test checks against the real tool and must
/// never pass without it.
fn amtool() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("amtool"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`amtool` was not found on PATH. This test checks the Alertmanager \
                 configuration with the real tool: install the Debian package with \
                 `apt-get install prometheus-alertmanager`"
            )
        })
}

/// Every document of a (possibly multi-document) YAML file.
fn documents(file: &GeneratedFile) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(&file.contents)
        .unwrap_or_else(|e| {
            panic!(
                "{} is not valid YAML: {e}\n{}",
                file.path.display(),
                file.contents
            )
        })
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

fn yaml(file: &GeneratedFile) -> Value {
    let mut docs = documents(file);
    assert_eq!(docs.len(), 1, "{}", file.path.display());
    docs.remove(0)
}

fn find<'f>(files: &'f [GeneratedFile], path: &str) -> &'f GeneratedFile {
    files
        .iter()
        .find(|f| f.path == Path::new(path))
        .unwrap_or_else(|| {
            let paths: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
            panic!("no {path} among {paths:?}")
        })
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, found {value}"))
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// prometheus/scrape-config.yml
// ---------------------------------------------------------------------------------------

/// The scrape configuration passes `promtool check config` with the credentials file
/// and the rules file it names (a placeholder here: the rules have tests of their own).
#[test]
fn promtool_accepts_the_scrape_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config();
    let catalog = catalog();
    let service = Service::new(&config, &catalog).with_options(options_in(dir.path()));
    let text = scrape_config(&service).expect("a scrape configuration");
    assert!(!text.contains(TOKEN), "the token is read from its file");
    write(dir.path(), "rules/shop.rules.yml", "groups: []\n");
    let path = write(dir.path(), "prometheus/scrape-config.yml", &text);
    promtool_check_config(&path);

    let document: Value = serde_saphyr::from_str(&text).unwrap();
    let job = &document["scrape_configs"][0];
    assert_eq!(job["job_name"], "shop");
    assert_eq!(job["metrics_path"], "/metrics");
    assert_eq!(job["authorization"]["type"], "Bearer");
    assert_eq!(
        job["authorization"]["credentials_file"],
        service.options.credentials_file.as_str()
    );
    assert_eq!(
        strings(&job["static_configs"][0]["targets"]),
        ["my-observed-app:3000"],
        "the service-discovery name, at the application's port"
    );
}

/// With a listener of its own and TLS, the job scrapes over HTTPS with a CA file, and
/// promtool still accepts it; an open endpoint's job has no credential.
#[test]
fn promtool_accepts_the_https_and_the_open_scrape_configs() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog();
    let tls = config_with(
        "    listen: 0.0.0.0:9464\n    tls:\n      cert_file: /etc/tls/tls.crt\n      key_file: /etc/tls/tls.key\n",
    );
    let service = Service::new(&tls, &catalog).with_options(options_in(dir.path()));
    let text = scrape_config(&service).unwrap();
    let document: Value = serde_saphyr::from_str(&text).unwrap();
    let job = &document["scrape_configs"][0];
    assert_eq!(job["scheme"], "https");
    assert_eq!(
        strings(&job["static_configs"][0]["targets"]),
        ["my-observed-app:9464"]
    );
    let ca = job["tls_config"]["ca_file"].as_str().unwrap();
    assert_eq!(Path::new(ca), dir.path().join("secrets/ca.crt"));
    // promtool checks that the CA file exists; Prometheus reads it when it scrapes.
    std::fs::write(ca, "").unwrap();
    write(dir.path(), "rules/shop.rules.yml", "groups: []\n");
    let path = write(dir.path(), "prometheus/scrape-config.yml", &text);
    promtool_check_config(&path);

    let open = Config::default();
    let text = scrape_config(&Service::new(&open, &catalog)).unwrap();
    let path = write(dir.path(), "prometheus/open.yml", &text);
    promtool_check_config(&path);
    assert!(!text.contains("authorization"), "{text}");
}

/// `rustform_generate::write(Kind::All, …)` lays the files out so that the scrape
/// configuration's `rule_files` finds the generated rules: promtool checks both.
#[test]
fn the_written_tree_passes_promtool_with_the_generated_rules() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config();
    let catalog = catalog();
    let out = dir.path().join("generated");
    let service = Service::new(&config, &catalog).with_options(options_in(dir.path()));
    let written =
        rustform_generate::write(Kind::All, &service, &out).expect("every file is generated");
    for expected in [
        "rules/shop.rules.yml",
        "prometheus/scrape-config.yml",
        "alertmanager/alertmanager.yml",
        "k8s/deployment.yaml",
        "compose/docker-compose.yml",
    ] {
        assert!(written.contains(&out.join(expected)), "{expected}");
    }
    let output = promtool_check_config(&out.join("prometheus/scrape-config.yml"));
    assert!(
        output.contains("rules found"),
        "the rules are checked too:\n{output}"
    );
}

// ---------------------------------------------------------------------------------------
// k8s/
// ---------------------------------------------------------------------------------------

/// What consumers of the manifests read, checked for the reference configuration and
/// for one whose endpoint has its own listener with TLS.
#[test]
fn the_kubernetes_manifests_agree_with_each_other() {
    let catalog = catalog();
    for config in [
        reference_config(),
        config_with(
            "    listen: 0.0.0.0:9464\n    tls:\n      cert_file: /etc/tls/tls.crt\n      key_file: /etc/tls/tls.key\n",
        ),
    ] {
        let mut options = Options::default();
        options.namespace = "shop".to_owned();
        let service = Service::new(&config, &catalog).with_options(options);
        let files = kubernetes(&service).expect("the manifests");
        check_manifests(&service, &files);
    }
}

fn check_manifests(service: &Service<'_>, files: &[GeneratedFile]) {
    let own_listener = service.config.observability.prometheus.listen.is_some();
    for file in files {
        assert!(
            !file.contents.contains(TOKEN),
            "{} holds the token",
            file.path.display()
        );
        // Every file under k8s/ is a manifest (`kubectl apply -f k8s/`); the adapter's
        // Helm values are kept out of it.
        if !file.path.starts_with("k8s") {
            assert_eq!(file.path, Path::new("prometheus-adapter/values.yaml"));
            continue;
        }
        for document in documents(file) {
            for key in ["apiVersion", "kind"] {
                assert!(
                    document[key].is_string(),
                    "{}: no {key}",
                    file.path.display()
                );
            }
            assert_eq!(
                document["metadata"]["name"],
                "shop",
                "{}",
                file.path.display()
            );
            assert_eq!(document["metadata"]["namespace"], "shop");
        }
    }

    // Deployment: the selector matches the template, probes name container ports.
    let deployment = yaml(find(files, "k8s/deployment.yaml"));
    assert_eq!(deployment["kind"], "Deployment");
    assert_eq!(deployment["apiVersion"], "apps/v1");
    let selector = deployment["spec"]["selector"]["matchLabels"]
        .as_object()
        .expect("matchLabels");
    assert!(!selector.is_empty());
    let template = &deployment["spec"]["template"];
    for (key, value) in selector {
        assert_eq!(&template["metadata"]["labels"][key], value, "{key}");
    }
    assert_eq!(deployment["spec"]["replicas"], 2, "min_instances");
    let pod = &template["spec"];
    let grace = pod["terminationGracePeriodSeconds"].as_u64().unwrap();
    assert!(grace > 30, "more than shutdown_timeout: {grace}");
    let container = &pod["containers"][0];
    let sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .unwrap();
    assert!(
        sleep + 30 <= grace,
        "the preStop sleep counts in the grace period"
    );
    let container_ports: BTreeSet<String> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    let metrics_port = if own_listener { "metrics" } else { "http" };
    let scheme = if own_listener { "HTTPS" } else { "HTTP" };
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &container[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["port"], metrics_port, "{probe}");
        assert!(container_ports.contains(metrics_port));
        assert_eq!(get["scheme"], scheme, "{probe}");
    }
    let env = container["env"].as_array().unwrap();
    let token = env
        .iter()
        .find(|e| e["name"] == "METRICS_TOKEN")
        .expect("the token variable of token_env");
    assert_eq!(
        token["valueFrom"]["secretKeyRef"],
        json!({"name": "metrics-token", "key": "token"})
    );
    assert!(
        env.iter()
            .any(|e| e["name"] == "OTEL_SERVICE_NAME" && e["value"] == "shop")
    );

    // Service: selects the Pods, targets named container ports.
    let k8s_service = yaml(find(files, "k8s/service.yaml"));
    assert_eq!(k8s_service["kind"], "Service");
    assert_eq!(
        k8s_service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let mut service_ports = BTreeSet::new();
    for port in k8s_service["spec"]["ports"].as_array().unwrap() {
        let target = port["targetPort"].as_str().unwrap();
        assert!(container_ports.contains(target), "{target}");
        service_ports.insert(port["name"].as_str().unwrap().to_owned());
    }

    // ServiceMonitor: selects the Service, scrapes one of its named ports.
    let monitor = yaml(find(files, "k8s/servicemonitor.yaml"));
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(monitor["kind"], "ServiceMonitor");
    for (key, value) in monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap()
    {
        assert_eq!(&k8s_service["metadata"]["labels"][key], value, "{key}");
    }
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert!(service_ports.contains(endpoint["port"].as_str().unwrap()));
    assert_eq!(endpoint["port"], metrics_port);
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["scheme"], scheme.to_ascii_lowercase());
    assert_eq!(
        endpoint["authorization"],
        json!({"type": "Bearer", "credentials": {"name": "metrics-token", "key": "token"}})
    );

    // PrometheusRule: the generated rules, unchanged.
    let rule = yaml(find(files, "k8s/prometheusrule.yaml"));
    assert_eq!(rule["kind"], "PrometheusRule");
    let groups = rule["spec"]["groups"].as_array().expect("spec.groups");
    assert!(!groups.is_empty());
    let rules: Value = serde_saphyr::from_str(&alert_rules(service).unwrap()).unwrap();
    assert_eq!(rule["spec"], rules);

    // HorizontalPodAutoscaler: scales the Deployment between the instance bounds.
    let hpa = yaml(find(files, "k8s/hpa.yaml"));
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(
        hpa["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "shop"})
    );
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    let cpu = &hpa["spec"]["metrics"][0]["resource"];
    assert_eq!(cpu["name"], "cpu");
    assert_eq!(cpu["target"]["averageUtilization"], 70);
    // The request rate: a Pods metric that prometheus-adapter serves with the generated
    // rule, whose query, filled in as the adapter does, is PromQL promtool accepts.
    let pods = hpa["spec"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["type"] == "Pods")
        .expect("a Pods metric");
    let metric = pods["pods"]["metric"]["name"].as_str().unwrap();
    let values = yaml(find(files, "prometheus-adapter/values.yaml"));
    let rule = &values["rules"]["custom"][0];
    assert_eq!(rule["name"]["as"], metric);
    let series = rule["seriesQuery"].as_str().unwrap();
    let counter = series.split('{').next().unwrap();
    assert_eq!(counter, "http_server_request_duration_seconds_count");
    let query = rule["metricsQuery"]
        .as_str()
        .unwrap()
        .replace("<<.Series>>", counter)
        .replace(
            "<<.LabelMatchers>>",
            r#"namespace="default",pod=~"shop-.*""#,
        )
        .replace("<<.GroupBy>>", "pod");
    let rules = json!({"groups": [{"name": "adapter", "rules": [
        {"record": "pod:http_server_requests:rate2m", "expr": query},
    ]}]});
    let file = tempfile::Builder::new().suffix(".yml").tempfile().unwrap();
    std::fs::write(file.path(), rules.to_string()).unwrap();
    let (ok, output) = run(Command::new(testkit::promtool())
        .args(["check", "rules"])
        .arg(file.path()));
    assert!(ok, "{query}: {output}");
    assert!(
        container["resources"]["requests"]["cpu"].is_string(),
        "utilization needs a CPU request"
    );
}

// ---------------------------------------------------------------------------------------
// alertmanager/alertmanager.yml
// ---------------------------------------------------------------------------------------

#[test]
fn amtool_accepts_the_alertmanager_configuration() {
    let config = reference_config();
    let catalog = catalog();
    let text = alertmanager(&Service::new(&config, &catalog)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "alertmanager.yml", &text);
    let (ok, output) = run(Command::new(amtool()).arg("check-config").arg(&path));
    assert!(ok, "amtool check-config:\n{output}\n--- file ---\n{text}");
    assert!(output.contains("SUCCESS"), "{output}");

    // Every receiver a route names exists, and every severity of the generated rules
    // reaches a route of its own.
    let document: Value = serde_saphyr::from_str(&text).unwrap();
    let receivers: BTreeSet<String> = document["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    let route = &document["route"];
    assert!(receivers.contains(route["receiver"].as_str().unwrap()));
    let routes = route["routes"].as_array().unwrap();
    for sub in routes {
        assert!(receivers.contains(sub["receiver"].as_str().unwrap()));
    }
    let rules = alert_rules(&Service::new(&config, &catalog)).unwrap();
    let rules: Value = serde_saphyr::from_str(&rules).unwrap();
    let severities: BTreeSet<String> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .filter_map(|r| r["labels"]["severity"].as_str())
        .map(str::to_owned)
        .collect();
    assert!(
        severities.contains("page") && severities.contains("ticket"),
        "{severities:?}"
    );
    for severity in &severities {
        assert!(
            routes.iter().any(|r| strings(&r["matchers"])
                .iter()
                .any(|m| m.contains(severity.as_str()))),
            "no route for severity {severity}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// compose/
// ---------------------------------------------------------------------------------------

/// Every file the compose stack mounts is generated, every dependency and secret is
/// defined, and the scrape target is the service.
#[test]
fn the_compose_stack_references_its_own_files() {
    let config = reference_config();
    let catalog = catalog();
    let service = Service::new(&config, &catalog);
    let files = compose(&service).expect("the compose stack");
    for file in &files {
        assert!(file.path.starts_with("compose"), "{}", file.path.display());
        assert!(!file.contents.contains(TOKEN));
        if file.path.extension().is_some_and(|e| e == "yml") {
            documents(file);
        }
    }
    let stack = yaml(find(&files, "compose/docker-compose.yml"));
    let services = stack["services"].as_object().unwrap();
    for name in ["otel-collector", "jaeger", "prometheus", "grafana", "shop"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    let secrets = stack["secrets"].as_object().cloned().unwrap_or_default();
    for (name, definition) in services {
        assert!(definition["image"].is_string(), "{name} has no image");
        for volume in definition["volumes"].as_array().into_iter().flatten() {
            let source = volume.as_str().unwrap().split(':').next().unwrap();
            let source = source.strip_prefix("./").expect("a path in the stack");
            let path = Path::new("compose").join(source);
            assert!(
                files.iter().any(|f| f.path.starts_with(&path)),
                "{name} mounts {source}, which is not generated"
            );
        }
        for dependency in definition["depends_on"].as_object().into_iter().flatten() {
            assert!(
                services.contains_key(dependency.0),
                "{name} depends on {}",
                dependency.0
            );
        }
        for secret in definition["secrets"].as_array().into_iter().flatten() {
            let source = secret["source"].as_str().unwrap();
            assert!(
                secrets.contains_key(source),
                "{name} uses the secret {source}"
            );
        }
    }
    assert_eq!(services["shop"]["image"], "shop:latest");

    let prometheus = yaml(find(&files, "compose/prometheus.yml"));
    let job = &prometheus["scrape_configs"][0];
    for target in strings(&job["static_configs"][0]["targets"]) {
        let (host, _) = target.split_once(':').unwrap();
        assert!(services.contains_key(host), "{target}");
    }
    for rule_file in strings(&prometheus["rule_files"]) {
        find(&files, &format!("compose/{rule_file}"));
    }
    let grafana = strings(&services["grafana"]["volumes"]);
    assert!(
        grafana
            .iter()
            .any(|v| v.starts_with("./grafana/provisioning:"))
    );
    find(
        &files,
        "compose/grafana/provisioning/datasources/datasources.yml",
    );
    let provider = yaml(find(
        &files,
        "compose/grafana/provisioning/dashboards/dashboards.yml",
    ));
    let dashboards_dir = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    assert!(
        grafana
            .iter()
            .any(|v| v == &format!("./grafana/dashboards:{dashboards_dir}:ro")),
        "{grafana:?}"
    );
    let dashboards: Vec<_> = files
        .iter()
        .filter(|f| f.path.starts_with("compose/grafana/dashboards"))
        .collect();
    assert!(!dashboards.is_empty());
    for dashboard in dashboards {
        serde_json::from_str::<Value>(&dashboard.contents)
            .unwrap_or_else(|e| panic!("{}: {e}", dashboard.path.display()));
    }
}

/// The stack's `prometheus.yml` passes `promtool check config`, which also checks the
/// generated rules it loads.
#[test]
fn promtool_accepts_the_compose_prometheus_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = reference_config();
    let catalog = catalog();
    let service = Service::new(&config, &catalog).with_options(options_in(dir.path()));
    let out = dir.path().join("out");
    rustform_generate::write(Kind::Compose, &service, &out).expect("the compose stack");
    let output = promtool_check_config(&out.join("compose/prometheus.yml"));
    assert!(output.contains("rules found"), "{output}");
}
