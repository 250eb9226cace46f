//! The Kubernetes manifests: Deployment, Service, ServiceMonitor, PrometheusRule and
//! HorizontalPodAutoscaler.

use serde_json::{Value, json};

use super::{Credential, MetricsEndpoint, SCRAPE_INTERVAL, SCRAPE_TIMEOUT, commented, seconds};
use crate::{GenerateError, GeneratedFile, Service, to_yaml};
use rustform::config::AuthMethod;

/// How long the `preStop` hook sleeps before the container gets SIGTERM, in seconds:
/// the time for the endpoint controller, kube-proxy and ingress controllers to stop
/// sending new requests to a terminating Pod.
const PRE_STOP_SECONDS: u64 = 5;
/// Added to the shutdown to make `terminationGracePeriodSeconds`, in seconds.
const GRACE_MARGIN_SECONDS: u64 = 5;

/// The Kubernetes manifests, one object per file under `k8s/`:
///
/// | file | object |
/// | --- | --- |
/// | `deployment.yaml` | `Deployment`: `min_instances` replicas of [`Options::image`](crate::Options::image) (else `<service>:latest`), the token from the Secret of [`Options::token_secret`](crate::Options::token_secret), probes on `/healthz` and `/readyz`, the graceful-shutdown timings |
/// | `service.yaml` | `Service`: the ports `http` and, when rustform serves the endpoint on `prometheus.listen`, `metrics` |
/// | `servicemonitor.yaml` | Prometheus Operator `ServiceMonitor`: scrapes the endpoint with the token from the same Secret |
/// | `prometheusrule.yaml` | Prometheus Operator `PrometheusRule`: the rules of [`alert_rules`](crate::alert_rules) |
/// | `hpa.yaml` | `HorizontalPodAutoscaler` (`autoscaling/v2`) on CPU and memory utilization and on HTTP requests per second per Pod ([`Options::requests_per_second`](crate::Options::requests_per_second)), when `max_instances` is above `min_instances` |
///
/// With the request rate, `prometheus-adapter/values.yaml` (outside `k8s/`: it is not a
/// manifest) holds the prometheus-adapter rule that serves it to the autoscaler, as
/// Helm values: `helm upgrade --install prometheus-adapter
/// prometheus-community/prometheus-adapter -f prometheus-adapter/values.yaml`.
///
/// Every object carries the labels `app.kubernetes.io/name` and
/// `app.kubernetes.io/instance` (the service's slug; the Deployment's and the Service's
/// selector) and `app.kubernetes.io/version` when the configuration gives a version.
/// No file holds a credential: the Deployment's comments give the `kubectl create
/// secret` command.
///
/// Shutdown: when a Pod terminates, the `preStop` hook sleeps 5 s while Kubernetes
/// takes the Pod out of the Service's endpoints; then SIGTERM makes `/readyz` answer 503,
/// in-flight requests get `drain_timeout` and the process exits within
/// `shutdown_timeout`; `terminationGracePeriodSeconds` is the sleep, the shutdown
/// timeout and 5 s more.
///
/// ```
/// use rustform::catalog::Catalog;
/// use rustform::config::Config;
/// use rustform_generate::{Service, kubernetes};
///
/// let config = Config::parse_str(
///     "name: shop\nscaling:\n  instances:\n    min_instances: 2\n    max_instances: 6\n",
/// )?;
/// let catalog = Catalog::empty("shop");
/// let files = kubernetes(&Service::new(&config, &catalog))?;
/// let paths: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
/// assert_eq!(
///     paths,
///     [
///         "k8s/deployment.yaml",
///         "k8s/service.yaml",
///         "k8s/servicemonitor.yaml",
///         "k8s/prometheusrule.yaml",
///         "k8s/hpa.yaml",
///         "prometheus-adapter/values.yaml",
///     ],
/// );
/// assert!(files[0].contents.contains("replicas: 2"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// What [`scrape_config`](crate::scrape_config) refuses, an endpoint on a
/// loopback address (neither the probes nor Prometheus reach it), TLS files at relative
/// paths, and the errors of [`alert_rules`](crate::alert_rules).
pub fn kubernetes(service: &Service<'_>) -> Result<Vec<GeneratedFile>, GenerateError> {
    let rules = crate::alert_rules(service)?;
    manifests(service, &rules)
}

/// The manifests, with `rules` (a Prometheus rules file) in the PrometheusRule.
pub(super) fn manifests(
    service: &Service<'_>,
    rules: &str,
) -> Result<Vec<GeneratedFile>, GenerateError> {
    let endpoint = MetricsEndpoint::of(service)?;
    endpoint.check_reachable("the kubelet's probes and Prometheus")?;
    let k8s = Manifests { service, endpoint };
    let mut files = vec![
        GeneratedFile::new("k8s/deployment.yaml", k8s.deployment()?),
        GeneratedFile::new("k8s/service.yaml", k8s.service()),
        GeneratedFile::new("k8s/servicemonitor.yaml", k8s.service_monitor()),
        GeneratedFile::new("k8s/prometheusrule.yaml", k8s.prometheus_rule(rules)),
    ];
    if let Some(hpa) = k8s.autoscaler() {
        files.push(GeneratedFile::new("k8s/hpa.yaml", hpa));
        if service.options.requests_per_second.is_some() {
            files.push(GeneratedFile::new(
                "prometheus-adapter/values.yaml",
                k8s.adapter_values(),
            ));
        }
    }
    Ok(files)
}

struct Manifests<'s, 'a> {
    service: &'s Service<'a>,
    endpoint: MetricsEndpoint<'a>,
}

impl Manifests<'_, '_> {
    fn slug(&self) -> String {
        self.service.slug()
    }

    /// The labels that select the service's Pods; never changed, as a Deployment's
    /// selector cannot be.
    fn selector(&self) -> Value {
        let slug = self.slug();
        json!({
            "app.kubernetes.io/name": slug,
            "app.kubernetes.io/instance": slug,
        })
    }

    /// The selector's labels and the version.
    fn labels(&self) -> Value {
        let mut labels = self.selector();
        if let Some(version) = self.service.config.service_version()
            && is_label_value(version)
        {
            labels["app.kubernetes.io/version"] = json!(version);
        }
        labels
    }

    fn metadata(&self) -> Value {
        json!({
            "name": self.slug(),
            "namespace": self.service.options.namespace,
            "labels": self.labels(),
        })
    }

    fn deployment(&self) -> Result<String, GenerateError> {
        let service = self.service;
        let options = &service.options;
        let config = service.config;
        let instances = &config.scaling.instances;
        let endpoint = &self.endpoint;
        let slug = self.slug();
        let image = if options.image.is_empty() {
            format!("{slug}:latest")
        } else {
            options.image.clone()
        };
        let (secret_name, secret_key) = &options.token_secret;

        let mut ports = vec![json!({
            "name": "http",
            "containerPort": options.app_port,
            "protocol": "TCP",
        })];
        if endpoint.listen.is_some() {
            ports.push(json!({
                "name": "metrics",
                "containerPort": endpoint.port,
                "protocol": "TCP",
            }));
        }

        let mut env = vec![
            json!({"name": "OTEL_SERVICE_NAME", "value": service.name()}),
            field_env("K8S_POD_NAME", "metadata.name"),
            field_env("K8S_NAMESPACE", "metadata.namespace"),
            field_env("K8S_POD_UID", "metadata.uid"),
            json!({
                "name": "OTEL_RESOURCE_ATTRIBUTES",
                "value": "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE),service.instance.id=$(K8S_POD_UID)",
            }),
        ];
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        let auth = &config.observability.prometheus.authentication;
        if endpoint.credential != Credential::None {
            match auth.method {
                AuthMethod::Jwt => {
                    if let Some(jwt) = &auth.jwt
                        && let Some(variable) = &jwt.secret_env
                    {
                        env.push(secret_env(variable, &format!("{slug}-jwt"), "secret"));
                    }
                }
                _ => {
                    if let Some(variable) = &auth.token_env {
                        env.push(secret_env(variable, secret_name, secret_key));
                    }
                    if let Some(file) = &auth.token_file {
                        let (dir, name) = split_absolute(file, "authentication.token_file")?;
                        volumes.push(json!({
                            "name": "metrics-token",
                            "secret": {
                                "secretName": secret_name,
                                "items": [{"key": secret_key, "path": name}],
                            },
                        }));
                        mounts.push(json!({
                            "name": "metrics-token",
                            "mountPath": dir,
                            "readOnly": true,
                        }));
                    }
                }
            }
        }
        if let Some(tls) = endpoint.tls {
            let (cert_dir, cert_name) = split_absolute(&tls.cert_file, "tls.cert_file")?;
            let (key_dir, key_name) = split_absolute(&tls.key_file, "tls.key_file")?;
            let secret = format!("{slug}-metrics-tls");
            // One volume per directory, so each file keeps its name and a renewed
            // certificate reaches the Pod (subPath mounts are never updated).
            if cert_dir == key_dir {
                volumes.push(json!({
                    "name": "metrics-tls",
                    "secret": {
                        "secretName": secret,
                        "items": [
                            {"key": "tls.crt", "path": cert_name},
                            {"key": "tls.key", "path": key_name},
                        ],
                    },
                }));
                mounts
                    .push(json!({"name": "metrics-tls", "mountPath": cert_dir, "readOnly": true}));
            } else {
                for (volume, key, dir, name) in [
                    ("metrics-tls-cert", "tls.crt", cert_dir, cert_name),
                    ("metrics-tls-key", "tls.key", key_dir, key_name),
                ] {
                    volumes.push(json!({
                        "name": volume,
                        "secret": {"secretName": secret, "items": [{"key": key, "path": name}]},
                    }));
                    mounts.push(json!({"name": volume, "mountPath": dir, "readOnly": true}));
                }
            }
        }

        let scheme = endpoint.scheme().to_ascii_uppercase();
        let port = endpoint.port_name();
        // /readyz runs the critical checks: it may take as long as the slowest one.
        let check_seconds = config
            .observability
            .health
            .checks
            .iter()
            .filter(|check| check.critical)
            .map(|check| seconds(check.timeout))
            .max()
            .unwrap_or(0);
        let readiness_timeout = check_seconds + 1;
        let shutdown = seconds(instances.shutdown_timeout);
        let grace = PRE_STOP_SECONDS + shutdown + GRACE_MARGIN_SECONDS;

        let mut container = json!({
            "name": slug,
            "image": image,
            "ports": ports,
            "env": env,
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": port, "scheme": scheme},
                "periodSeconds": 10,
                "timeoutSeconds": 2,
                "failureThreshold": 3,
            },
            "readinessProbe": {
                "httpGet": {"path": "/readyz", "port": port, "scheme": scheme},
                "periodSeconds": readiness_timeout.max(5),
                "timeoutSeconds": readiness_timeout,
                "failureThreshold": 2,
                "successThreshold": 1,
            },
            "lifecycle": {
                "preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}},
            },
            "resources": {
                "requests": {"cpu": "100m", "memory": "128Mi"},
                "limits": {"memory": "256Mi"},
            },
            "securityContext": {
                "allowPrivilegeEscalation": false,
                "capabilities": {"drop": ["ALL"]},
            },
        });
        if !mounts.is_empty() {
            container["volumeMounts"] = json!(mounts);
        }
        let mut pod_spec = json!({
            "terminationGracePeriodSeconds": grace,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [container],
        });
        if !volumes.is_empty() {
            pod_spec["volumes"] = json!(volumes);
        }
        let document = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": self.metadata(),
            "spec": {
                "replicas": instances.min_instances,
                "selector": {"matchLabels": self.selector()},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                },
                "template": {
                    "metadata": {"labels": self.labels()},
                    "spec": pod_spec,
                },
            },
        });

        let drain = seconds(instances.drain_timeout);
        let namespace = &options.namespace;
        let mut header = format!(
            "Deployment of {name}. Generated by rustform from rustform.yml.\n\
             \n\
             Shutdown, in the order Kubernetes runs it:\n\
             - t=0: the Pod is Terminating. Kubernetes removes it from the Service's\n\
             \x20 endpoints while the preStop hook sleeps {PRE_STOP_SECONDS}s, so proxies and load balancers\n\
             \x20 stop sending new requests before the process is asked to stop.\n\
             - t={PRE_STOP_SECONDS}s: SIGTERM. /readyz answers 503 at once, requests in flight get\n\
             \x20 drain_timeout ({drain}s) to finish, the exporters flush, and the process exits\n\
             \x20 within shutdown_timeout ({shutdown}s).\n\
             - t={grace}s: terminationGracePeriodSeconds ({PRE_STOP_SECONDS}s + {shutdown}s + {GRACE_MARGIN_SECONDS}s margin): SIGKILL\n\
             \x20 if it still runs.\n\
             The preStop sleep action needs Kubernetes 1.30 or later; on older clusters use\n\
             `exec: {{command: [sleep, \"{PRE_STOP_SECONDS}\"]}}` with an image that has sleep.\n",
            name = service.name(),
        );
        if endpoint.listen.is_none() {
            header.push_str(
                "rustform handles SIGTERM itself only when it serves the endpoint on\n\
                 prometheus.listen; here the application's server mounts it, so the application\n\
                 must stop on SIGTERM: axum's graceful shutdown, then drop rustform's guard.\n",
            );
        }
        header.push_str(&format!(
            "\n\
             Probes: liveness on /healthz, readiness on /readyz (timeout: the slowest critical\n\
             health check, {check_seconds}s, plus 1s), port {port}, {scheme}.\n\
             \n\
             The CPU request is what the HorizontalPodAutoscaler's utilization is measured\n\
             against: set requests and limits to what the service needs.\n"
        ));
        if endpoint.credential != Credential::None {
            header.push_str(&format!(
                "\n\
                 The metrics token is read from the Secret {secret_name} (key {secret_key}), which\n\
                 this directory does not contain. Create it from a file, so the token stays out\n\
                 of manifests and shell history (a static token: 16 characters or more, no spaces):\n\
                 \x20 umask 077; openssl rand -hex 32 | tr -d '\\n' > metrics-token\n\
                 \x20 kubectl create secret generic {secret_name} --namespace {namespace} \\\n\
                 \x20   --from-file={secret_key}=metrics-token\n\
                 The ServiceMonitor presents the same Secret to the endpoint.\n"
            ));
            if auth.method == AuthMethod::Jwt {
                header.push_str(&format!(
                    "Method jwt: the Secret {slug}-jwt (key secret) holds the HS256 secret; mount\n\
                     a public_key_file or jwks_file yourself. The Secret {secret_name} holds a\n\
                     JWT for Prometheus, which something must renew before it expires.\n"
                ));
            }
            if auth.token_env.is_none() && auth.token_file.is_none() {
                header.push_str(
                    "The endpoint accepts the tokens of its token_store only: mount that file.\n",
                );
            }
        }
        if endpoint.tls.is_some() {
            header.push_str(&format!(
                "\n\
                 TLS: the Secret {slug}-metrics-tls (type kubernetes.io/tls, as cert-manager\n\
                 writes it: tls.crt, tls.key, ca.crt) holds the endpoint's certificate, valid\n\
                 for {slug}.{namespace}.svc.\n"
            ));
        }
        Ok(commented(&header, &to_yaml(&document)))
    }

    fn service(&self) -> String {
        let mut ports = vec![json!({
            "name": "http",
            "port": self.service.options.app_port,
            "targetPort": "http",
            "protocol": "TCP",
        })];
        if self.endpoint.listen.is_some() {
            ports.push(json!({
                "name": "metrics",
                "port": self.endpoint.port,
                "targetPort": "metrics",
                "protocol": "TCP",
            }));
        }
        let document = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self.metadata(),
            "spec": {
                "type": "ClusterIP",
                "selector": self.selector(),
                "ports": ports,
            },
        });
        let header = format!(
            "Service of {name}: the application's port (http){metrics}.\n\
             Generated by rustform from rustform.yml.",
            name = self.service.name(),
            metrics = if self.endpoint.listen.is_some() {
                " and the /metrics endpoint (metrics)"
            } else {
                ", which also serves /metrics"
            },
        );
        commented(&header, &to_yaml(&document))
    }

    fn service_monitor(&self) -> String {
        let endpoint = &self.endpoint;
        let (secret_name, secret_key) = &self.service.options.token_secret;
        let slug = self.slug();
        let mut scrape = json!({
            "port": endpoint.port_name(),
            "path": endpoint.path,
            "scheme": endpoint.scheme(),
            "interval": SCRAPE_INTERVAL,
            "scrapeTimeout": SCRAPE_TIMEOUT,
        });
        if endpoint.credential == Credential::Bearer {
            scrape["authorization"] = json!({
                "type": "Bearer",
                "credentials": {"name": secret_name, "key": secret_key},
            });
        }
        if endpoint.tls.is_some() {
            scrape["tlsConfig"] = json!({
                "ca": {"secret": {"name": format!("{slug}-metrics-tls"), "key": "ca.crt"}},
                "serverName": format!("{slug}.{}.svc", self.service.options.namespace),
            });
        }
        let document = json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": self.metadata(),
            "spec": {
                "selector": {"matchLabels": self.selector()},
                "endpoints": [scrape],
            },
        });
        let mut header = format!(
            "ServiceMonitor (Prometheus Operator) for {name}: the Service's {port} port, {path}.\n\
             Generated by rustform from rustform.yml. The Prometheus resource selects\n\
             ServiceMonitors by label (kube-prometheus-stack: release: <its Helm release>):\n\
             add the label it expects.",
            name = self.service.name(),
            port = endpoint.port_name(),
            path = endpoint.path,
        );
        match endpoint.credential {
            Credential::None => {}
            Credential::Bearer => header.push_str(&format!(
                "\nThe token comes from the Secret {secret_name} (key {secret_key}) in the same namespace."
            )),
            Credential::ApiKey(name) => header.push_str(&format!(
                "\nA ServiceMonitor cannot send the {name} header the endpoint wants: add the job\n\
                 of prometheus/scrape-config.yml to the Prometheus resource's\n\
                 additionalScrapeConfigs instead of applying this file."
            )),
        }
        commented(&header, &to_yaml(&document))
    }

    fn prometheus_rule(&self, rules: &str) -> String {
        let head = to_yaml(&json!({
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": self.metadata(),
        }));
        let header = format!(
            "PrometheusRule (Prometheus Operator) for {name}: the rules of\n\
             rules/{slug}.rules.yml, as spec. Generated by rustform. The Prometheus resource\n\
             selects rules by label (kube-prometheus-stack: release: <its Helm release>).",
            name = self.service.name(),
            slug = self.slug(),
        );
        commented(&header, &format!("{head}spec:\n{}", indent_document(rules)))
    }

    fn autoscaler(&self) -> Option<String> {
        let instances = &self.service.config.scaling.instances;
        if instances.max_instances <= instances.min_instances
            || self.service.config.scaling.strategy != rustform::config::ScalingStrategy::Horizontal
        {
            return None;
        }
        let slug = self.slug();
        let mut metrics = vec![json!({
            "type": "Resource",
            "resource": {
                "name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": instances.target_cpu_utilization},
            },
        })];
        if instances.target_memory_utilization > 0 {
            metrics.push(json!({
                "type": "Resource",
                "resource": {
                    "name": "memory",
                    "target": {"type": "Utilization", "averageUtilization": instances.target_memory_utilization},
                },
            }));
        }
        let rate = self.service.options.requests_per_second;
        if let Some(rate) = rate {
            metrics.push(json!({
                "type": "Pods",
                "pods": {
                    "metric": {"name": REQUESTS_PER_SECOND},
                    "target": {"type": "AverageValue", "averageValue": quantity(rate)},
                },
            }));
        }
        let document = json!({
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": self.metadata(),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": slug},
                "minReplicas": instances.min_instances.max(1),
                "maxReplicas": instances.max_instances,
                "metrics": metrics,
                "behavior": {
                    "scaleDown": {
                        "stabilizationWindowSeconds": 300,
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                    },
                },
            },
        });
        let mut header = format!(
            "HorizontalPodAutoscaler of {name}: {min} to {max} replicas on CPU ({cpu}%) and\n\
             memory utilization of the Deployment's requests (metrics-server provides them)",
            name = self.service.name(),
            min = instances.min_instances.max(1),
            max = instances.max_instances,
            cpu = instances.target_cpu_utilization,
        );
        match rate {
            Some(rate) => header.push_str(&format!(
                ",\nand on {} HTTP requests per second per Pod: {REQUESTS_PER_SECOND}, served\n\
                 by prometheus-adapter with the rule in prometheus-adapter/values.yaml. While a\n\
                 metric is missing the autoscaler still scales up on the others, but never down.",
                quantity(rate)
            )),
            None => header.push('.'),
        }
        header.push_str(
            "\nScale-down removes one Pod a minute at most, after 5 minutes of lower load, so\n\
             each drains in turn. Generated by rustform from rustform.yml.",
        );
        Some(commented(&header, &to_yaml(&document)))
    }

    /// The Helm values of prometheus-adapter with the rule behind the autoscaler's
    /// request rate: the per-Pod rate of the `ObserveLayer`'s request counter.
    fn adapter_values(&self) -> String {
        let series = format!("{HTTP_REQUESTS}{{namespace!=\"\",pod!=\"\"}}");
        let document = json!({
            "rules": {
                "default": true,
                "custom": [{
                    "seriesQuery": series,
                    "resources": {
                        "overrides": {
                            "namespace": {"resource": "namespace"},
                            "pod": {"resource": "pod"},
                        },
                    },
                    "name": {"matches": format!("^{HTTP_REQUESTS}$"), "as": REQUESTS_PER_SECOND},
                    "metricsQuery": "sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[2m]))",
                }],
            },
        });
        let header = format!(
            "prometheus-adapter rule for the HorizontalPodAutoscaler of {name}\n\
             (k8s/hpa.yaml): {REQUESTS_PER_SECOND} per Pod, the rate of the\n\
             requests rustform's HTTP layer counts, from the Prometheus that scrapes the\n\
             ServiceMonitor (its series carry the namespace and pod labels). Install with\n\
             \x20 helm upgrade --install prometheus-adapter prometheus-community/prometheus-adapter \\\n\
             \x20   -f prometheus-adapter/values.yaml --set prometheus.url=http://<prometheus>.<namespace>.svc\n\
             or merge the rule into an adapter's own configuration. Generated by rustform.",
            name = self.service.name(),
        );
        commented(&header, &to_yaml(&document))
    }
}

/// The per-Pod metric the autoscaler reads from prometheus-adapter.
const REQUESTS_PER_SECOND: &str = "http_server_requests_per_second";
/// The counter behind it: the request count of `rustform::http::ObserveLayer`'s duration
/// histogram.
const HTTP_REQUESTS: &str = "http_server_request_duration_seconds_count";

/// A Kubernetes quantity for `value`: an integer as is, else in thousandths (`2500m`).
fn quantity(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{}m", (value * 1000.0).round() as i64)
    }
}

/// An environment variable from a field of the Pod.
fn field_env(name: &str, field: &str) -> Value {
    json!({"name": name, "valueFrom": {"fieldRef": {"fieldPath": field}}})
}

/// An environment variable from a key of a Secret.
fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
}

/// `/a/b/c` → (`/a/b`, `c`); an error naming `what` for a relative path or a directory.
fn split_absolute<'p>(path: &'p str, what: &str) -> Result<(&'p str, &'p str), GenerateError> {
    match path.rsplit_once('/') {
        Some((dir, name)) if path.starts_with('/') && !name.is_empty() => {
            Ok((if dir.is_empty() { "/" } else { dir }, name))
        }
        _ => Err(GenerateError::Invalid(format!(
            "observability.prometheus.{what} is {path:?}: the Kubernetes manifests mount it \
             from a Secret, which needs an absolute file path"
        ))),
    }
}

/// Whether `value` is a valid label value: at most 63 characters, alphanumerics and
/// `-_.` inside.
fn is_label_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && value
            .bytes()
            .next()
            .is_none_or(|b| b.is_ascii_alphanumeric())
        && value
            .bytes()
            .last()
            .is_none_or(|b| b.is_ascii_alphanumeric())
}

/// A YAML document (a block mapping) indented by two spaces, to nest under a key.
fn indent_document(text: &str) -> String {
    let text = text.strip_prefix("---\n").unwrap_or(text);
    if text.trim().is_empty() {
        return "  groups: []\n".to_owned();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{parse, reference, reference_with};
    use super::*;
    use rustform::catalog::Catalog;

    const RULES: &str = "groups:\n  - name: slo\n    rules:\n      - alert: Burn\n        expr: |-\n          sum(rate(a[5m]))\n\n          > 1\n        labels:\n          severity: page\n";

    /// The entries of the map `value` as (key, value) pairs.
    fn pairs(value: &Value) -> Vec<(String, String)> {
        value
            .as_object()
            .expect("a mapping")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    fn files(config: &rustform::config::Config) -> Vec<GeneratedFile> {
        let catalog = Catalog::empty("");
        manifests(&Service::new(config, &catalog), RULES).unwrap()
    }

    fn document(files: &[GeneratedFile], path: &str) -> Value {
        let file = files
            .iter()
            .find(|f| f.path.to_str() == Some(path))
            .unwrap_or_else(|| panic!("no {path}"));
        parse(&file.contents)
    }

    #[test]
    fn the_deployment_selects_its_pods_and_probes_the_endpoint() {
        let files = files(&reference());
        let paths: Vec<_> = files.iter().map(|f| f.path.display().to_string()).collect();
        assert_eq!(
            paths,
            [
                "k8s/deployment.yaml",
                "k8s/service.yaml",
                "k8s/servicemonitor.yaml",
                "k8s/prometheusrule.yaml",
                "k8s/hpa.yaml",
                "prometheus-adapter/values.yaml",
            ]
        );
        let deployment = document(&files, "k8s/deployment.yaml");
        assert_eq!(deployment["metadata"]["name"], "my-observed-app");
        assert_eq!(deployment["metadata"]["namespace"], "default");
        assert_eq!(deployment["spec"]["replicas"], 2);
        let template = &deployment["spec"]["template"];
        for (key, value) in pairs(&deployment["spec"]["selector"]["matchLabels"]) {
            assert_eq!(template["metadata"]["labels"][&key], value.as_str());
        }
        assert_eq!(
            template["metadata"]["labels"]["app.kubernetes.io/version"],
            "1.0.0"
        );
        let pod = &template["spec"];
        // 5 s preStop + 30 s shutdown_timeout + 5 s margin.
        assert_eq!(pod["terminationGracePeriodSeconds"], 40);
        let container = &pod["containers"][0];
        assert_eq!(container["image"], "my-observed-app:latest");
        assert_eq!(container["lifecycle"]["preStop"]["sleep"]["seconds"], 5);
        // Without prometheus.listen the application's port serves the endpoint.
        assert_eq!(
            container["ports"],
            json!([{"name": "http", "containerPort": 3000, "protocol": "TCP"}])
        );
        let liveness = &container["livenessProbe"]["httpGet"];
        assert_eq!(liveness["path"], "/healthz");
        assert_eq!(liveness["port"], "http");
        let readiness = &container["readinessProbe"];
        assert_eq!(readiness["httpGet"]["path"], "/readyz");
        assert_eq!(readiness["httpGet"]["scheme"], "HTTP");
        // The slowest check of the reference file (database) takes 5 s.
        assert_eq!(readiness["timeoutSeconds"], 6);
        let env = container["env"].as_array().unwrap();
        let token = env.iter().find(|e| e["name"] == "METRICS_TOKEN").unwrap();
        assert_eq!(
            token["valueFrom"]["secretKeyRef"],
            json!({"name": "metrics-token", "key": "token"})
        );
        assert!(
            env.iter()
                .any(|e| e["name"] == "OTEL_SERVICE_NAME" && e["value"] == "my-observed-app")
        );
        for file in &files {
            assert!(
                !file.contents.contains("reference-file-token"),
                "{} holds the token",
                file.path.display()
            );
        }
    }

    #[test]
    fn the_service_monitor_scrapes_a_port_of_the_service() {
        let files = files(&reference());
        let service = document(&files, "k8s/service.yaml");
        let monitor = document(&files, "k8s/servicemonitor.yaml");
        let names: Vec<&str> = service["spec"]["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["http"]);
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert!(names.contains(&endpoint["port"].as_str().unwrap()));
        assert_eq!(endpoint["path"], "/metrics");
        assert_eq!(
            endpoint["authorization"],
            json!({"type": "Bearer", "credentials": {"name": "metrics-token", "key": "token"}})
        );
        assert_eq!(
            monitor["spec"]["selector"]["matchLabels"],
            service["spec"]["selector"]
        );
    }

    #[test]
    fn an_own_listener_gets_a_metrics_port_and_tls() {
        let config = reference_with(
            "    listen: 0.0.0.0:9464\n    tls:\n      cert_file: /etc/tls/tls.crt\n      key_file: /etc/tls/private/tls.key\n",
        );
        let files = files(&config);
        let deployment = document(&files, "k8s/deployment.yaml");
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["ports"][1]["name"], "metrics");
        assert_eq!(container["ports"][1]["containerPort"], 9464);
        assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");
        assert_eq!(container["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
        let mounts: Vec<&str> = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["mountPath"].as_str().unwrap())
            .collect();
        assert_eq!(mounts, ["/etc/tls", "/etc/tls/private"]);
        let service = document(&files, "k8s/service.yaml");
        assert_eq!(service["spec"]["ports"][1]["name"], "metrics");
        assert_eq!(service["spec"]["ports"][1]["port"], 9464);
        let monitor = document(&files, "k8s/servicemonitor.yaml");
        let endpoint = &monitor["spec"]["endpoints"][0];
        assert_eq!(endpoint["port"], "metrics");
        assert_eq!(endpoint["scheme"], "https");
        assert_eq!(
            endpoint["tlsConfig"]["serverName"],
            "my-observed-app.default.svc"
        );
    }

    #[test]
    fn loopback_listeners_are_refused() {
        let config = reference_with("    listen: 127.0.0.1:9464\n");
        let catalog = Catalog::empty("");
        let error = manifests(&Service::new(&config, &catalog), RULES).unwrap_err();
        assert!(error.to_string().contains("0.0.0.0:9464"), "{error}");
    }

    #[test]
    fn the_prometheus_rule_holds_the_rules() {
        let files = files(&reference());
        let rule = document(&files, "k8s/prometheusrule.yaml");
        assert_eq!(rule["kind"], "PrometheusRule");
        assert_eq!(rule["spec"], parse(RULES));
        assert_eq!(
            rule["spec"]["groups"][0]["rules"][0]["expr"],
            "sum(rate(a[5m]))\n\n> 1"
        );
        assert_eq!(indent_document(""), "  groups: []\n");
    }

    #[test]
    fn the_autoscaler_scales_the_deployment() {
        let files = files(&reference());
        let hpa = document(&files, "k8s/hpa.yaml");
        assert_eq!(hpa["apiVersion"], "autoscaling/v2");
        assert_eq!(
            hpa["spec"]["scaleTargetRef"],
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "my-observed-app"})
        );
        assert_eq!(hpa["spec"]["minReplicas"], 2);
        assert_eq!(hpa["spec"]["maxReplicas"], 10);
        assert_eq!(
            hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
            70
        );
        let pods = &hpa["spec"]["metrics"][2];
        assert_eq!(pods["type"], "Pods");
        assert_eq!(
            pods["pods"],
            json!({
                "metric": {"name": "http_server_requests_per_second"},
                "target": {"type": "AverageValue", "averageValue": "100"},
            })
        );
        // The adapter serves that metric from the HTTP layer's request counter.
        let values = document(&files, "prometheus-adapter/values.yaml");
        let rule = &values["rules"]["custom"][0];
        assert_eq!(rule["name"]["as"], "http_server_requests_per_second");
        assert_eq!(
            rule["seriesQuery"],
            r#"http_server_request_duration_seconds_count{namespace!="",pod!=""}"#
        );
        assert_eq!(values["rules"]["default"], true);

        // Without a request rate: CPU and memory only, and no adapter rule.
        let config = reference();
        let catalog = Catalog::empty("shop");
        let options = crate::Options {
            requests_per_second: None,
            ..crate::Options::default()
        };
        let service = Service::new(&config, &catalog).with_options(options);
        let files = manifests(&service, RULES).unwrap();
        let hpa = document(&files, "k8s/hpa.yaml");
        assert_eq!(hpa["spec"]["metrics"].as_array().unwrap().len(), 2);
        assert!(
            files
                .iter()
                .all(|f| !f.path.starts_with("prometheus-adapter"))
        );

        // One instance at most: nothing to scale.
        let config = rustform::config::Config::default();
        let catalog = Catalog::empty("shop");
        let files = manifests(&Service::new(&config, &catalog), RULES).unwrap();
        assert!(files.iter().all(|f| f.path.to_str() != Some("k8s/hpa.yaml")
            && !f.path.starts_with("prometheus-adapter")));
    }

    #[test]
    fn quantities_are_integers_or_thousandths() {
        assert_eq!(quantity(100.0), "100");
        assert_eq!(quantity(2.5), "2500m");
        assert_eq!(quantity(0.125), "125m");
    }

    #[test]
    fn label_values_are_checked() {
        assert!(is_label_value("1.0.0"));
        assert!(is_label_value(""));
        assert!(!is_label_value("1.0.0+build"));
        assert!(!is_label_value("-1"));
        assert!(split_absolute("tls.crt", "tls.cert_file").is_err());
        assert_eq!(split_absolute("/tls.crt", "x").unwrap(), ("/", "tls.crt"));
    }
}
