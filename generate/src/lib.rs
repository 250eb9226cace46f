//! Alert rules, Grafana dashboards and deployment files, generated from the program's own
//! declarations: the [catalog](rustform::catalog()) (every `#[observed]` function, its
//! [objective](rustform::Objective), every `AppMetrics` struct) and `rustform.yml`.
//!
//! | function | output |
//! | --- | --- |
//! | [`alert_rules`] | a Prometheus rules file: multi-window, multi-burn-rate SLO alerts with their recording rules, and the file's `alerts:` |
//! | [`dashboards()`] | Grafana dashboards (JSON): service overview, one per `AppMetrics` struct, HTTP server, SLOs |
//! | [`scrape_config`] | a Prometheus scrape job for the secured endpoint |
//! | [`kubernetes`] | Deployment, Service, ServiceMonitor, PrometheusRule, HorizontalPodAutoscaler |
//! | [`alertmanager`] | an Alertmanager route example |
//! | [`compose`] | a docker-compose observability stack with the generated rules and dashboards |
//!
//! Each takes a [`Service`]: the configuration and a catalog. Without a catalog
//! ([`Catalog::empty`]) they produce everything the configuration alone defines. The
//! `rustform generate` command writes the same files; a `build.rs` or an `xtask` can call
//! [`write()`] directly. This crate is a build-time tool: a service depends on `rustform`,
//! and only its CLI, build script or xtask on `rustform-generate`, so none of the
//! generators ends up in the service binary.
//!
//! ```no_run
//! use rustform_generate::{self as generate, Kind, Service};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = rustform::config::Config::load("rustform.yml")?;
//! let catalog = rustform::catalog();
//! let service = Service::new(&config, &catalog);
//! let written = generate::write(Kind::All, &service, "deploy/generated".as_ref())?;
//! for path in written {
//!     println!("wrote {}", path.display());
//! }
//! # Ok(()) }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod alerts;
mod dashboards;
mod deploy;
mod promql;
mod yaml;

use std::fmt;
use std::path::{Path, PathBuf};

pub use alerts::{BurnRateWindow, alert_rules};
pub use dashboards::dashboards;
pub use deploy::{alertmanager, compose, kubernetes, scrape_config};
pub use yaml::to_yaml;

use rustform::catalog::Catalog;
use rustform::config::Config;

/// What the generators read: the configuration, a catalog, and the choices the two do
/// not make.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Service<'a> {
    /// The configuration (`rustform.yml` with its defaults).
    pub config: &'a Config,
    /// The program's observed functions and metric groups.
    pub catalog: &'a Catalog,
    /// The choices with defaults.
    pub options: Options,
}

impl<'a> Service<'a> {
    /// A service described by `config` and `catalog`, with the default [`Options`].
    pub fn new(config: &'a Config, catalog: &'a Catalog) -> Service<'a> {
        Service {
            config,
            catalog,
            options: Options::default(),
        }
    }

    /// The same service with `options`.
    pub fn with_options(mut self, options: Options) -> Service<'a> {
        self.options = options;
        self
    }

    /// The service name: the catalog's, else the configuration's
    /// (`opentelemetry.service_name`, then `name`), else `"app"`.
    pub fn name(&self) -> &str {
        if !self.catalog.service.is_empty() {
            return &self.catalog.service;
        }
        self.config.service_name().unwrap_or("app")
    }

    /// The service name as a Kubernetes object name and Prometheus job name:
    /// lowercase letters, digits and `-`.
    pub fn slug(&self) -> String {
        slug(self.name())
    }
}

/// The choices the configuration and the catalog do not make.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Options {
    /// The burn-rate windows of the SLO alerts; by default the Google SRE workbook's
    /// ([`BurnRateWindow::sre_workbook`]).
    pub burn_rate_windows: Vec<BurnRateWindow>,
    /// The container image of the Kubernetes Deployment and the compose service.
    pub image: String,
    /// The Kubernetes namespace.
    pub namespace: String,
    /// The port the service's application traffic listens on (the Service's `http`
    /// port); the metrics endpoint's port comes from `prometheus.listen`.
    pub app_port: u16,
    /// Where Prometheus reads the scrape token (`authorization.credentials_file`).
    pub credentials_file: String,
    /// The Kubernetes Secret (and key) holding the token.
    pub token_secret: (String, String),
    /// The HTTP requests per second per Pod the HorizontalPodAutoscaler aims at, besides
    /// CPU and memory: a `Pods` metric, `http_server_requests_per_second`, which
    /// prometheus-adapter serves from the `ObserveLayer`'s series with the rule in
    /// `prometheus-adapter/values.yaml`. `None` leaves both out. 100 by default.
    pub requests_per_second: Option<f64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            burn_rate_windows: BurnRateWindow::sre_workbook(),
            image: String::new(),
            namespace: "default".to_owned(),
            app_port: 3000,
            credentials_file: "/etc/prometheus/secrets/metrics-token".to_owned(),
            token_secret: ("metrics-token".to_owned(), "token".to_owned()),
            requests_per_second: Some(100.0),
        }
    }
}

/// One generated file: a path relative to the output directory, and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Where the file goes, relative to the output directory.
    pub path: PathBuf,
    /// Its contents.
    pub contents: String,
}

impl GeneratedFile {
    /// A file at `path` with `contents`.
    pub fn new(path: impl Into<PathBuf>, contents: impl Into<String>) -> GeneratedFile {
        GeneratedFile {
            path: path.into(),
            contents: contents.into(),
        }
    }
}

/// Which files [`write()`] and [`files()`] produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// `rules/<service>.rules.yml`.
    Alerts,
    /// `dashboards/*.json`.
    Dashboards,
    /// `prometheus/scrape-config.yml`.
    ScrapeConfig,
    /// `k8s/*.yaml`, and `prometheus-adapter/values.yaml` for the autoscaler's request
    /// rate.
    Kubernetes,
    /// `alertmanager/alertmanager.yml`.
    Alertmanager,
    /// `compose/`: docker-compose.yml and the configurations it mounts.
    Compose,
    /// Every one of the above.
    All,
}

impl Kind {
    /// The kind named on the command line: `alerts`, `dashboards`, `scrape-config`,
    /// `k8s`, `alertmanager`, `compose` or `all`.
    pub fn from_name(name: &str) -> Option<Kind> {
        Some(match name {
            "alerts" => Kind::Alerts,
            "dashboards" => Kind::Dashboards,
            "scrape-config" => Kind::ScrapeConfig,
            "k8s" | "kubernetes" => Kind::Kubernetes,
            "alertmanager" => Kind::Alertmanager,
            "compose" => Kind::Compose,
            "all" => Kind::All,
            _ => return None,
        })
    }
}

/// Why generation failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GenerateError {
    /// An objective's latency threshold is not a bound of its function's buckets.
    Objective(rustform::objective::ThresholdError),
    /// The inputs cannot make a valid file: what and why.
    Invalid(String),
    /// Writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error's message.
        message: String,
    },
}

impl fmt::Display for GenerateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenerateError::Objective(e) => e.fmt(f),
            GenerateError::Invalid(why) => f.write_str(why),
            GenerateError::Io { path, message } => {
                write!(f, "cannot write {}: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for GenerateError {}

impl From<rustform::objective::ThresholdError> for GenerateError {
    fn from(e: rustform::objective::ThresholdError) -> GenerateError {
        GenerateError::Objective(e)
    }
}

/// The files of `kind`, in memory.
pub fn files(kind: Kind, service: &Service<'_>) -> Result<Vec<GeneratedFile>, GenerateError> {
    service.catalog.check_objectives()?;
    let slug = service.slug();
    let mut out = Vec::new();
    let all = kind == Kind::All;
    if all || kind == Kind::Alerts {
        out.push(GeneratedFile::new(
            format!("rules/{slug}.rules.yml"),
            alert_rules(service)?,
        ));
    }
    if all || kind == Kind::Dashboards {
        out.extend(dashboards(service)?);
    }
    if all || kind == Kind::ScrapeConfig {
        out.push(GeneratedFile::new(
            "prometheus/scrape-config.yml",
            scrape_config(service)?,
        ));
    }
    if all || kind == Kind::Kubernetes {
        out.extend(kubernetes(service)?);
    }
    if all || kind == Kind::Alertmanager {
        out.push(GeneratedFile::new(
            "alertmanager/alertmanager.yml",
            alertmanager(service)?,
        ));
    }
    if all || kind == Kind::Compose {
        out.extend(compose(service)?);
    }
    Ok(out)
}

/// Writes the files of `kind` under `out`, creating directories; returns their paths.
pub fn write(kind: Kind, service: &Service<'_>, out: &Path) -> Result<Vec<PathBuf>, GenerateError> {
    let mut written = Vec::new();
    for file in files(kind, service)? {
        let path = out.join(&file.path);
        let io = |e: std::io::Error| GenerateError::Io {
            path: path.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(&path, file.contents).map_err(io)?;
        written.push(path);
    }
    Ok(written)
}

/// `My Service_2` → `my-service-2`.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("app");
    }
    out.truncate(63);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_dns_labels() {
        assert_eq!(slug("my-observed-app"), "my-observed-app");
        assert_eq!(slug("My Service_2"), "my-service-2");
        assert_eq!(slug("__"), "app");
        assert_eq!(slug(&"a".repeat(80)).len(), 63);
    }

    #[test]
    fn kinds_have_command_line_names() {
        assert_eq!(Kind::from_name("scrape-config"), Some(Kind::ScrapeConfig));
        assert_eq!(Kind::from_name("k8s"), Some(Kind::Kubernetes));
        assert_eq!(Kind::from_name("rules"), None);
    }
}
