//! The docker-compose stack: the service with an OpenTelemetry Collector, Jaeger,
//! Prometheus (the generated rules) and Grafana (the generated dashboards).

use serde_json::{Map, Value, json};

use super::{
    Credential, MetricsEndpoint, commented, prometheus_config, rules_file, rules_path, scrape_job,
    seconds,
};
use crate::{GenerateError, GeneratedFile, Service, to_yaml};
use rustform::config::AuthMethod;

/// The images of the stack, pinned (the versions `examples/full_stack` runs).
const COLLECTOR_IMAGE: &str = "otel/opentelemetry-collector-contrib:0.156.0";
const JAEGER_IMAGE: &str = "jaegertracing/jaeger:2.20.0";
const PROMETHEUS_IMAGE: &str = "prom/prometheus:v3.13.2";
const GRAFANA_IMAGE: &str = "grafana/grafana:12.3.3";

/// The stack's own services, and the host ports they publish.
const STACK: [(&str, &[u16]); 4] = [
    ("otel-collector", &[4317, 4318]),
    ("jaeger", &[16686]),
    ("prometheus", &[9090]),
    ("grafana", &[3000]),
];

/// Where Grafana reads the dashboards in its container.
const GRAFANA_DASHBOARDS: &str = "/var/lib/grafana/dashboards";

/// The docker-compose stack, under `compose/`:
///
/// | file | what |
/// | --- | --- |
/// | `docker-compose.yml` | the OpenTelemetry Collector, Jaeger, Prometheus, Grafana, and the service from [`Options::image`](crate::Options::image) (else `<service>:latest`) |
/// | `otel-collector.yml` | OTLP in (gRPC 4317, HTTP 4318); spans to Jaeger, metrics to the collector's log |
/// | `prometheus.yml` | scrapes the service's endpoint with the token, and loads the rules |
/// | `rules/<service>.rules.yml` | the rules of [`alert_rules`](crate::alert_rules) |
/// | `grafana/provisioning/datasources/datasources.yml` | Prometheus (uid `prometheus`, the default) and Jaeger (uid `jaeger`) |
/// | `grafana/provisioning/dashboards/dashboards.yml` | the provider of the dashboards below |
/// | `grafana/dashboards/*.json` | the dashboards of [`dashboards`](crate::dashboards()) |
///
/// The token is never written: the service and Prometheus both get it from the
/// `METRICS_TOKEN` variable (the `token_env` of the configuration) of the shell that
/// runs `docker compose up`, Prometheus as a compose secret at
/// [`Options::credentials_file`](crate::Options::credentials_file). The
/// service's metrics reach Prometheus once, by the scrape; the collector logs the
/// metrics it receives over OTLP rather than exposing them again.
///
/// ```
/// use rustform::catalog::Catalog;
/// use rustform::config::Config;
/// use rustform_generate::{Service, compose};
///
/// let config = Config::default();
/// let catalog = Catalog::empty("shop");
/// let files = compose(&Service::new(&config, &catalog))?;
/// let stack = files
///     .iter()
///     .find(|f| f.path.ends_with("docker-compose.yml"))
///     .expect("the compose file");
/// assert!(stack.contents.contains("image: shop:latest"));
/// assert!(files.iter().any(|f| f.path.starts_with("compose/grafana/dashboards")));
/// # Ok::<(), rustform_generate::GenerateError>(())
/// ```
///
/// # Errors
///
/// What [`scrape_config`](crate::scrape_config) refuses, an endpoint on a
/// loopback address, TLS files at relative paths, and the errors of
/// [`alert_rules`](crate::alert_rules) and
/// [`dashboards`](crate::dashboards()).
pub fn compose(service: &Service<'_>) -> Result<Vec<GeneratedFile>, GenerateError> {
    let rules = rules_file(service, "compose")?;
    let dashboards = crate::dashboards(service)?;
    stack(service, rules, dashboards)
}

/// The stack with `rules` (at `compose/rules/…`) and `dashboards` (at `dashboards/…`).
pub(super) fn stack(
    service: &Service<'_>,
    rules: GeneratedFile,
    dashboards: Vec<GeneratedFile>,
) -> Result<Vec<GeneratedFile>, GenerateError> {
    let endpoint = MetricsEndpoint::of(service)?;
    endpoint.check_reachable("Prometheus in another container")?;
    let stack = Stack::new(service, endpoint);
    let mut files = vec![
        GeneratedFile::new("compose/docker-compose.yml", stack.compose_file()?),
        GeneratedFile::new("compose/otel-collector.yml", collector()),
        GeneratedFile::new("compose/prometheus.yml", stack.prometheus()),
        rules,
        GeneratedFile::new(
            "compose/grafana/provisioning/datasources/datasources.yml",
            datasources(),
        ),
        GeneratedFile::new(
            "compose/grafana/provisioning/dashboards/dashboards.yml",
            stack.dashboard_provider(),
        ),
    ];
    for dashboard in dashboards {
        let name = dashboard
            .path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "dashboard.json".to_owned());
        files.push(GeneratedFile::new(
            format!("compose/grafana/dashboards/{name}"),
            dashboard.contents,
        ));
    }
    Ok(files)
}

struct Stack<'s, 'a> {
    service: &'s Service<'a>,
    endpoint: MetricsEndpoint<'a>,
    /// The service's name in compose: its slug, unless a service of the stack has it.
    name: String,
}

impl<'s, 'a> Stack<'s, 'a> {
    fn new(service: &'s Service<'a>, endpoint: MetricsEndpoint<'a>) -> Stack<'s, 'a> {
        let slug = service.slug();
        let name = if STACK.iter().any(|(name, _)| *name == slug) {
            format!("{slug}-app")
        } else {
            slug
        };
        Stack {
            service,
            endpoint,
            name,
        }
    }

    /// The shell variable the token comes from.
    fn token_variable(&self) -> String {
        let auth = &self.service.config.observability.prometheus.authentication;
        match auth.method {
            AuthMethod::Jwt => "METRICS_JWT".to_owned(),
            _ => auth
                .token_env
                .clone()
                .unwrap_or_else(|| "METRICS_TOKEN".to_owned()),
        }
    }

    fn compose_file(&self) -> Result<String, GenerateError> {
        let service = self.service;
        let options = &service.options;
        let config = service.config;
        let auth = &config.observability.prometheus.authentication;
        let endpoint = &self.endpoint;
        let name = &self.name;
        let secured = endpoint.credential != Credential::None;
        let variable = self.token_variable();

        let mut taken: Vec<u16> = STACK
            .iter()
            .flat_map(|(_, ports)| ports.iter().copied())
            .collect();
        let mut ports = vec![published(options.app_port, &mut taken)];
        if endpoint.listen.is_some() {
            ports.push(published(endpoint.port, &mut taken));
        }

        let mut environment = Map::new();
        environment.insert("OTEL_SERVICE_NAME".into(), json!(service.name()));
        environment.insert(
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            json!("http://otel-collector:4317"),
        );
        environment.insert("OTEL_EXPORTER_OTLP_PROTOCOL".into(), json!("grpc"));
        let mut app_secrets = Vec::new();
        let mut top_secrets = Map::new();
        if secured {
            top_secrets.insert("metrics_token".into(), json!({"environment": variable}));
            match auth.method {
                AuthMethod::Jwt => {
                    if let Some(jwt) = &auth.jwt
                        && let Some(secret) = &jwt.secret_env
                    {
                        environment.insert(
                            secret.clone(),
                            json!(format!(
                                "${{{secret}:?set {secret}: the JWT signing secret}}"
                            )),
                        );
                    }
                }
                _ => {
                    if let Some(token_env) = &auth.token_env {
                        environment.insert(
                            token_env.clone(),
                            json!(format!(
                                "${{{variable}:?set {variable}: the metrics token}}"
                            )),
                        );
                    }
                    if let Some(file) = &auth.token_file {
                        absolute(file, "authentication.token_file")?;
                        app_secrets.push(json!({"source": "metrics_token", "target": file}));
                    }
                }
            }
        }
        let mut prometheus_secrets = Vec::new();
        if secured {
            prometheus_secrets.push(json!({
                "source": "metrics_token",
                "target": options.credentials_file,
            }));
        }
        if let Some(tls) = endpoint.tls {
            absolute(&tls.cert_file, "tls.cert_file")?;
            absolute(&tls.key_file, "tls.key_file")?;
            top_secrets.insert("metrics_tls_cert".into(), json!({"file": "./tls/tls.crt"}));
            top_secrets.insert("metrics_tls_key".into(), json!({"file": "./tls/tls.key"}));
            top_secrets.insert("metrics_tls_ca".into(), json!({"file": "./tls/ca.crt"}));
            app_secrets.push(json!({"source": "metrics_tls_cert", "target": tls.cert_file}));
            app_secrets.push(json!({"source": "metrics_tls_key", "target": tls.key_file}));
            prometheus_secrets.push(json!({
                "source": "metrics_tls_ca",
                "target": super::ca_file(&options.credentials_file),
            }));
        }

        let image = if options.image.is_empty() {
            format!("{}:latest", service.slug())
        } else {
            options.image.clone()
        };
        let grace = seconds(config.scaling.instances.shutdown_timeout) + 5;
        let mut app = json!({
            "image": image,
            "environment": environment,
            "ports": ports,
        });
        if !app_secrets.is_empty() {
            app["secrets"] = json!(app_secrets);
        }
        app["depends_on"] = json!({"otel-collector": {"condition": "service_started"}});
        app["init"] = json!(true);
        app["stop_grace_period"] = json!(format!("{grace}s"));
        app["restart"] = json!("unless-stopped");

        let mut prometheus = json!({
            "image": PROMETHEUS_IMAGE,
            "command": [
                "--config.file=/etc/prometheus/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                "--storage.tsdb.retention.time=2d",
                "--enable-feature=exemplar-storage",
            ],
            "volumes": [
                "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
                "./rules:/etc/prometheus/rules:ro",
            ],
        });
        if !prometheus_secrets.is_empty() {
            prometheus["secrets"] = json!(prometheus_secrets);
        }
        prometheus["ports"] = json!(["9090:9090"]);
        prometheus["healthcheck"] = json!({
            "test": ["CMD", "wget", "--quiet", "--tries=1", "--spider", "http://localhost:9090/-/ready"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 12,
            "start_period": "5s",
        });
        prometheus["restart"] = json!("unless-stopped");

        let mut services = Map::new();
        services.insert(
            "otel-collector".into(),
            json!({
                "image": COLLECTOR_IMAGE,
                "command": ["--config=/etc/otelcol-contrib/config.yaml"],
                "volumes": ["./otel-collector.yml:/etc/otelcol-contrib/config.yaml:ro"],
                "ports": ["4317:4317", "4318:4318"],
                "depends_on": {"jaeger": {"condition": "service_healthy"}},
                "restart": "unless-stopped",
            }),
        );
        services.insert(
            "jaeger".into(),
            json!({
                "image": JAEGER_IMAGE,
                "ports": ["16686:16686"],
                "healthcheck": {
                    "test": ["CMD-SHELL", "wget --no-verbose --tries=1 --spider http://localhost:13133/status || exit 1"],
                    "interval": "5s",
                    "timeout": "3s",
                    "retries": 12,
                    "start_period": "5s",
                },
                "restart": "unless-stopped",
            }),
        );
        services.insert("prometheus".into(), prometheus);
        services.insert(
            "grafana".into(),
            json!({
                "image": GRAFANA_IMAGE,
                "environment": {
                    "GF_AUTH_ANONYMOUS_ENABLED": "true",
                    "GF_AUTH_ANONYMOUS_ORG_ROLE": "Admin",
                    "GF_AUTH_DISABLE_LOGIN_FORM": "true",
                },
                "volumes": [
                    "./grafana/provisioning:/etc/grafana/provisioning:ro",
                    format!("./grafana/dashboards:{GRAFANA_DASHBOARDS}:ro"),
                ],
                "ports": ["3000:3000"],
                "depends_on": {
                    "prometheus": {"condition": "service_healthy"},
                    "jaeger": {"condition": "service_healthy"},
                },
                "restart": "unless-stopped",
            }),
        );
        services.insert(name.clone(), app);

        let mut document = json!({
            "name": format!("{}-observability", service.slug()),
            "services": services,
        });
        if !top_secrets.is_empty() {
            document["secrets"] = Value::Object(top_secrets);
        }

        let mut header = format!(
            "The observability stack of {display}, generated by rustform from rustform.yml:\n\
             an OpenTelemetry Collector, Jaeger, Prometheus with the generated rules, Grafana\n\
             with the generated dashboards, and the service ({name}) itself.\n\
             \n",
            display = service.name(),
        );
        if secured {
            header.push_str(&format!(
                "\x20 export {variable}=\"$(openssl rand -hex 32)\"   # shared by the service and Prometheus\n"
            ));
        }
        header.push_str(&format!(
            "\x20 docker compose up -d\n\
             \n\
             Jaeger http://localhost:16686, Prometheus http://localhost:9090, Grafana\n\
             http://localhost:3000 (anonymous admin: for a local machine only).\n\
             The service stops with SIGTERM and gets stop_grace_period ({grace}s: its\n\
             shutdown_timeout and 5s) before SIGKILL.\n"
        ));
        if auth.method == AuthMethod::Jwt && secured {
            header.push_str(&format!(
                "Method jwt: {variable} holds a JWT for Prometheus, signed with the service's key.\n"
            ));
        }
        if endpoint.tls.is_some() {
            header.push_str(&format!(
                "TLS: put the endpoint's certificate, key and CA in ./tls (tls.crt, tls.key,\n\
                 ca.crt); the certificate must be valid for the host name {name}.\n"
            ));
        }
        Ok(commented(&header, &to_yaml(&document)))
    }

    fn prometheus(&self) -> String {
        let service = self.service;
        let target = format!("{}:{}", self.name, self.endpoint.port);
        let job = scrape_job(
            service,
            &self.endpoint,
            &[target],
            &service.options.credentials_file,
        );
        let document = prometheus_config(&rules_path(service), vec![job]);
        let header = format!(
            "Prometheus in the compose stack of {name}: scrapes the service's endpoint and\n\
             loads the generated rules (./rules, mounted at /etc/prometheus/rules). Check it\n\
             with `promtool check config prometheus.yml`.\n\
             {credential}",
            name = service.name(),
            credential = if self.endpoint.credential == Credential::None {
                String::new()
            } else {
                format!(
                    "The token is the compose secret metrics_token, from ${}.",
                    self.token_variable()
                )
            },
        );
        commented(&header, &to_yaml(&document))
    }

    fn dashboard_provider(&self) -> String {
        let document = json!({
            "apiVersion": 1,
            "providers": [{
                "name": "rustform",
                "folder": self.service.name(),
                "type": "file",
                "disableDeletion": true,
                "allowUiUpdates": false,
                "updateIntervalSeconds": 30,
                "options": {"path": GRAFANA_DASHBOARDS},
            }],
        });
        commented(
            "Grafana dashboard provider: the generated dashboards, mounted from\n\
             ./grafana/dashboards. Regenerate them rather than editing them in Grafana.",
            &to_yaml(&document),
        )
    }
}

/// `"host:container"`, on the same host port unless the stack publishes it already,
/// else on the first free port from 8080.
fn published(port: u16, taken: &mut Vec<u16>) -> String {
    let mut host = port;
    if taken.contains(&host) {
        host = (8080..=u16::MAX)
            .find(|p| !taken.contains(p))
            .unwrap_or(port);
    }
    taken.push(host);
    format!("{host}:{port}")
}

fn absolute(path: &str, what: &str) -> Result<(), GenerateError> {
    if path.starts_with('/') {
        Ok(())
    } else {
        Err(GenerateError::Invalid(format!(
            "observability.prometheus.{what} is {path:?}: the compose stack mounts it as a \
             secret, which needs an absolute file path"
        )))
    }
}

/// The collector: OTLP in, spans to Jaeger, metrics to its log.
fn collector() -> String {
    let document = json!({
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "receivers": {
            "otlp": {"protocols": {
                "grpc": {"endpoint": "0.0.0.0:4317"},
                "http": {"endpoint": "0.0.0.0:4318"},
            }},
        },
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": 80,
                "spike_limit_percentage": 25,
            },
            "batch": {"timeout": "1s"},
        },
        "exporters": {
            "otlp_grpc/jaeger": {"endpoint": "jaeger:4317", "tls": {"insecure": true}},
            "debug": {"verbosity": "basic"},
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["otlp_grpc/jaeger", "debug"],
                },
                "metrics": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "batch"],
                    "exporters": ["debug"],
                },
            },
        },
    });
    commented(
        "OpenTelemetry Collector of the compose stack, generated by rustform. Receives the\n\
         service's OTLP (gRPC 4317, HTTP 4318) and sends the spans to Jaeger. The metrics\n\
         the service pushes go to the log only (`docker compose logs otel-collector`):\n\
         Prometheus scrapes the same series from the service's endpoint, and one copy\n\
         keeps the rules and dashboards from counting twice.",
        &to_yaml(&document),
    )
}

/// Grafana's datasources: Prometheus (default) and Jaeger; exemplars link to traces.
fn datasources() -> String {
    let document = json!({
        "apiVersion": 1,
        "datasources": [
            {
                "name": "Prometheus",
                "uid": "prometheus",
                "type": "prometheus",
                "access": "proxy",
                "url": "http://prometheus:9090",
                "isDefault": true,
                "editable": false,
                "jsonData": {
                    "httpMethod": "POST",
                    "exemplarTraceIdDestinations": [
                        {"name": "trace_id", "datasourceUid": "jaeger"},
                    ],
                },
            },
            {
                "name": "Jaeger",
                "uid": "jaeger",
                "type": "jaeger",
                "access": "proxy",
                "url": "http://jaeger:16686",
                "editable": false,
            },
        ],
    });
    commented(
        "Grafana datasources of the compose stack, generated by rustform. The URLs are the\n\
         compose service names; an exemplar on a Prometheus series opens its trace in Jaeger.",
        &to_yaml(&document),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, reference, reference_with};
    use super::*;
    use rustform::catalog::Catalog;

    fn files(config: &rustform::config::Config) -> Vec<GeneratedFile> {
        let catalog = Catalog::empty("");
        let service = Service::new(config, &catalog);
        let rules = GeneratedFile::new(format!("compose/{}", rules_path(&service)), "groups: []\n");
        let dashboards = vec![GeneratedFile::new("dashboards/overview.json", "{}")];
        stack(&service, rules, dashboards).unwrap()
    }

    fn find<'f>(files: &'f [GeneratedFile], path: &str) -> &'f GeneratedFile {
        files
            .iter()
            .find(|f| f.path.to_str() == Some(path))
            .unwrap_or_else(|| panic!("no {path}"))
    }

    #[test]
    fn every_mounted_file_is_generated() {
        let files = files(&reference());
        let compose = parse(&find(&files, "compose/docker-compose.yml").contents);
        let services = compose["services"].as_object().unwrap();
        assert_eq!(
            services.keys().collect::<Vec<_>>(),
            [
                "otel-collector",
                "jaeger",
                "prometheus",
                "grafana",
                "my-observed-app"
            ]
        );
        for (name, service) in services {
            for volume in service["volumes"].as_array().into_iter().flatten() {
                let source = volume.as_str().unwrap().split(':').next().unwrap();
                let source = source.strip_prefix("./").expect("a relative source");
                let path = format!("compose/{source}");
                assert!(
                    files.iter().any(|f| f.path.starts_with(&path)),
                    "{name} mounts {source}, which is not generated"
                );
            }
        }
        assert!(
            files
                .iter()
                .any(|f| f.path.to_str() == Some("compose/grafana/dashboards/overview.json"))
        );
        assert!(
            files
                .iter()
                .any(|f| f.path.to_str() == Some("compose/rules/my-observed-app.rules.yml"))
        );
    }

    #[test]
    fn the_token_is_shared_through_a_secret() {
        let files = files(&reference());
        let compose = parse(&find(&files, "compose/docker-compose.yml").contents);
        assert_eq!(
            compose["secrets"]["metrics_token"],
            json!({"environment": "METRICS_TOKEN"})
        );
        let app = &compose["services"]["my-observed-app"];
        assert_eq!(
            app["environment"]["METRICS_TOKEN"],
            "${METRICS_TOKEN:?set METRICS_TOKEN: the metrics token}"
        );
        assert_eq!(app["stop_grace_period"], "35s");
        // Grafana publishes 3000 already.
        assert_eq!(app["ports"], json!(["8080:3000"]));
        let prometheus = &compose["services"]["prometheus"];
        assert_eq!(
            prometheus["secrets"],
            json!([{"source": "metrics_token", "target": "/etc/prometheus/secrets/metrics-token"}])
        );
        let config = parse(&find(&files, "compose/prometheus.yml").contents);
        assert_eq!(
            config["rule_files"],
            json!(["rules/my-observed-app.rules.yml"])
        );
        let job = &config["scrape_configs"][0];
        assert_eq!(
            job["static_configs"][0]["targets"],
            json!(["my-observed-app:3000"])
        );
        assert_eq!(
            job["authorization"]["credentials_file"],
            "/etc/prometheus/secrets/metrics-token"
        );
        for file in &files {
            assert!(!file.contents.contains("reference-file-token"));
        }
    }

    #[test]
    fn a_listener_of_its_own_is_published() {
        let files = files(&reference_with("    listen: 0.0.0.0:9464\n"));
        let compose = parse(&find(&files, "compose/docker-compose.yml").contents);
        assert_eq!(
            compose["services"]["my-observed-app"]["ports"],
            json!(["8080:3000", "9464:9464"])
        );
        let config = parse(&find(&files, "compose/prometheus.yml").contents);
        assert_eq!(
            config["scrape_configs"][0]["static_configs"][0]["targets"],
            json!(["my-observed-app:9464"])
        );
    }

    #[test]
    fn the_collector_pipelines_use_defined_components() {
        let collector = parse(&collector());
        for (_, pipeline) in collector["service"]["pipelines"].as_object().unwrap() {
            for section in ["receivers", "processors", "exporters"] {
                for component in pipeline[section].as_array().unwrap() {
                    let component = component.as_str().unwrap();
                    assert!(
                        collector[section].get(component).is_some(),
                        "{section} {component}"
                    );
                }
            }
        }
        let datasources = parse(&datasources());
        assert_eq!(datasources["datasources"][0]["uid"], "prometheus");
    }

    #[test]
    fn host_ports_do_not_collide() {
        let mut taken = vec![3000, 8080];
        assert_eq!(published(3000, &mut taken), "8081:3000");
        assert_eq!(published(9464, &mut taken), "9464:9464");
        assert_eq!(published(9464, &mut taken), "8082:9464");
    }
}
