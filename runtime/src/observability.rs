//! `rustform::init()`: one call that installs what the configuration asks for.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::{Config, LogFormat};
use crate::{Error, metrics};

/// Names the configuration file when set; otherwise `rustform.yml` in the working
/// directory is read if it exists.
pub const CONFIG_ENV: &str = "RUSTFORM_CONFIG";

/// Whether rustform has been installed in this process (it can be, once).
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Reads `rustform.yml` (or the file named by `RUSTFORM_CONFIG`), applies the `OTEL_*`
/// and `RUST_LOG` variables, and installs logging, the built-in metrics and the metrics
/// the file declares. Keep the returned [`Guard`] until the end of `main`: dropping it
/// shuts down what was installed.
///
/// Call it first in `main`: observed functions take their `service_name` label when the
/// default registry is first used, so metrics touched before `init()` keep the crate name.
///
/// Without a file, the defaults apply: pretty logs at `info`, the built-in metrics, no
/// exporters. A file with mistakes is an [`Error::Config`] listing each one with its
/// line and YAML path; a second call in the same process is
/// [`Error::AlreadyInitialized`].
///
/// ```no_run
/// fn main() -> Result<(), rustform::Error> {
///     let _guard = rustform::init()?;
///     tracing::info!("ready");
///     Ok(())
/// }
/// ```
pub fn init() -> Result<Guard, Error> {
    Observability::builder().install()
}

/// A resolved configuration, ready to [`install`](Observability::install).
///
/// ```
/// let observability = rustform::Observability::builder()
///     .config_yaml("observability:\n  logging:\n    format: json\n")
///     .service_name("checkout")
///     .build()?;
/// assert_eq!(observability.config().service_name(), Some("checkout"));
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Debug)]
pub struct Observability {
    config: Config,
    build: Option<metrics::BuildInfo>,
}

impl Observability {
    /// Reads the file at `path` (which must exist) and applies the environment.
    pub fn from_config(path: impl AsRef<Path>) -> Result<Observability, Error> {
        Observability::builder().config_file(path).build()
    }

    /// A builder: a file or YAML text, then code overrides, which take precedence over
    /// the environment and the file.
    pub fn builder() -> ObservabilityBuilder {
        ObservabilityBuilder::default()
    }

    /// The configuration that [`install`](Observability::install) will apply.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The `tracing` subscriber [`install`](Observability::install) would set — logs and
    /// OpenTelemetry export as configured — without making anything global: for a
    /// program that sets its subscriber itself (`tracing::subscriber::set_global_default`,
    /// or `with_default` in a test or a benchmark). The [`Guard`] flushes and stops its
    /// exporters. Metrics are not registered, and propagators are not installed.
    ///
    /// ```
    /// let (subscriber, guard) = rustform::Observability::builder()
    ///     .config_yaml("observability:\n  logging:\n    format: json\n")
    ///     .build()?
    ///     .subscriber()?;
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// guard.shutdown(std::time::Duration::from_secs(1));
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub fn subscriber(&self) -> Result<(Box<dyn tracing::Subscriber + Send + Sync>, Guard), Error> {
        let name = service_name(&self.config).unwrap_or_else(unknown_service);
        let export = crate::export::install(&self.config, &name)?;
        let subscriber = crate::trace::subscriber(
            &self.config.observability.logging,
            export.as_ref().and_then(crate::export::Export::layer),
        )?;
        Ok((
            subscriber,
            Guard {
                shutdown_timeout: self.config.scaling.instances.shutdown_timeout,
                drain_timeout: self.config.scaling.instances.drain_timeout,
                endpoint: None,
                state: Arc::new(Mutex::new(Some(Installed {
                    export,
                    server: None,
                }))),
            },
        ))
    }

    /// Installs logging (a global `tracing` subscriber), the built-in metrics and the
    /// declared metrics into the [default registry](metrics::default_registry).
    ///
    /// Fails with [`Error::AlreadyInitialized`] if rustform is already installed, and
    /// with [`Error::Install`] if another global `tracing` subscriber is set.
    pub fn install(self) -> Result<Guard, Error> {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyInitialized);
        }
        match install(&self.config, self.build.as_ref()) {
            Ok(guard) => Ok(guard),
            Err(error) => {
                // The global subscriber is set last, so a failed install leaves logging
                // to whatever the program sets up instead.
                INSTALLED.store(false, Ordering::Release);
                Err(error)
            }
        }
    }
}

fn install(config: &Config, build: Option<&metrics::BuildInfo>) -> Result<Guard, Error> {
    // The service name first: the default registry's first use (below, or in the
    // subscriber's sampling counter) gives every observed function its labels.
    if let Some(name) = config.service_name() {
        crate::set_service_name(name);
    }
    // Fallible steps next; the global subscriber, which cannot be undone, last.
    let resource_name = service_name(config).unwrap_or_else(unknown_service);
    let export = crate::export::install(config, &resource_name)?;
    let subscriber = crate::trace::subscriber(
        &config.observability.logging,
        export.as_ref().and_then(crate::export::Export::layer),
    )?;
    let registry = metrics::default_registry();
    let metrics_config = &config.observability.opentelemetry.metrics;
    if metrics_config.custom_metrics {
        metrics::declare_all(registry, &config.custom_metrics)?;
    }
    // The business lists are names only; one that cannot be exposed (say, a counter
    // `orders_created` beside `orders_total`, whose OpenMetrics `_created` sample has that
    // name) is reported once logging is up, and the others are registered.
    let mut business_problem = None;
    let business = &config.observability.prometheus.metrics.business;
    if metrics_config.custom_metrics && business.enabled {
        business_problem = metrics::declare_business(registry, business).err();
    }
    if metrics_config.system_metrics {
        metrics::register_process_metrics(registry)?;
        build_info(config, build).register(registry)?;
    }
    // The endpoint: its credentials and checks are read now, its address bound now, so
    // a mistake stops `init()`.
    let prometheus = &config.observability.prometheus;
    let endpoint = if prometheus.enabled {
        Some(crate::endpoint::Endpoint::from_config(config)?)
    } else {
        None
    };
    let server = match (&endpoint, prometheus.listen) {
        (Some(endpoint), Some(address)) => Some(crate::endpoint::Server::start(
            endpoint,
            address,
            prometheus.request_timeout,
            prometheus.tls.as_ref(),
        )?),
        _ => None,
    };
    let log_level = subscriber.max_level_hint();
    tracing::subscriber::set_global_default(subscriber).map_err(|_| Error::Install {
        what: "logging",
        reason: "another global tracing subscriber is already set; remove its \
                 initialisation (rustform installs one from logging in rustform.yml)"
            .to_owned(),
    })?;
    crate::trace::use_as_exemplar_source();
    crate::export::set_logs(tracing::dispatcher::get_default(Clone::clone));
    let otel = &config.observability.opentelemetry;
    match &export {
        Some(export) => export.activate(&otel.tracing.propagators),
        None if otel.enabled => crate::export::install_propagators(&otel.tracing.propagators),
        None => {}
    }
    // Libraries that log through the `log` crate reach the same logs, up to the most
    // verbose level the filter lets through.
    let log_bridge = log_level
        .map(|level| tracing_log::AsLog::as_log(&level))
        .unwrap_or(tracing_log::log::LevelFilter::Trace);
    if tracing_log::LogTracer::builder()
        .with_max_level(log_bridge)
        .init()
        .is_err()
    {
        tracing::warn!(
            target: "rustform",
            "a `log` logger is already set, so records of the `log` crate go to it, not to these logs"
        );
    }
    for warning in config.warnings() {
        tracing::warn!(target: "rustform::config", "{warning}");
    }
    if let Some(problem) = business_problem {
        tracing::warn!(target: "rustform::config", "{problem}");
    }
    tracing::debug!(
        target: "rustform",
        service_name = config.service_name().unwrap_or_default(),
        "rustform installed"
    );
    if let Some(endpoint) = &endpoint {
        endpoint.install();
    }
    // `ObserveLayer::new()` reads `prometheus.metrics.http` from here.
    crate::http::install(config);
    let address = server.as_ref().map(|s| s.address);
    if let Some(address) = address {
        tracing::info!(target: "rustform::endpoint", %address, path = %prometheus.endpoint, "serving metrics and health checks");
    }
    let instances = &config.scaling.instances;
    let state = Arc::new(Mutex::new(Some(Installed { export, server })));
    if address.is_some() {
        // With its own server, the process shuts down gracefully on SIGTERM and SIGINT.
        crate::endpoint::on_signal(
            state.clone(),
            instances.shutdown_timeout,
            instances.drain_timeout,
        );
    }
    Ok(Guard {
        shutdown_timeout: instances.shutdown_timeout,
        drain_timeout: instances.drain_timeout,
        endpoint: address,
        state,
    })
}

/// Shuts down what `state` holds on a signal, then ends the process as the signal would
/// have: exit status 128 + its number.
pub(crate) fn shut_down_on_signal(
    state: &Mutex<Option<Installed>>,
    signal: i32,
    timeout: Duration,
    drain: Duration,
) -> ! {
    tracing::info!(target: "rustform", signal, "shutting down gracefully");
    shut_down(state, timeout, drain);
    std::process::exit(128 + signal)
}

/// The service name rustform resolved: set in code, else the configuration's (after
/// the environment), else the name of the only crate with observed functions.
fn service_name(config: &Config) -> Option<String> {
    crate::SERVICE_NAME
        .get()
        .cloned()
        .or_else(|| config.service_name().map(str::to_owned))
        .or_else(only_crate_name)
}

/// `unknown_service:<executable>`, the OpenTelemetry default service name.
fn unknown_service() -> String {
    let executable = std::env::current_exe()
        .ok()
        .and_then(|path| Some(path.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_default();
    format!("unknown_service:{executable}")
}

/// `build_info`'s labels: what code gave (`build_info!`), else the version from the
/// configuration, else the version of the crate whose observed functions name the service.
fn build_info(config: &Config, build: Option<&metrics::BuildInfo>) -> metrics::BuildInfo {
    let service_name = service_name(config).unwrap_or_default();
    let given = build.cloned().unwrap_or_default();
    let version = Some(given.version)
        .filter(|v| !v.is_empty())
        .or_else(|| config.service_version().map(str::to_owned))
        .or_else(|| crate_version(&service_name))
        .unwrap_or_default();
    metrics::BuildInfo {
        version,
        commit: given.commit,
        branch: given.branch,
        service_name: Some(given.service_name)
            .filter(|n| !n.is_empty())
            .unwrap_or(service_name),
    }
}

/// The crate name of the observed functions, if they all come from one crate.
fn only_crate_name() -> Option<String> {
    let mut names = crate::catalog::OBSERVED_FUNCTIONS
        .iter()
        .map(|site| site.info().crate_name);
    let first = names.next()?;
    names.all(|n| n == first).then(|| first.to_owned())
}

/// The version of the crate whose observed functions carry `service_name`, or of the
/// only crate with observed functions.
fn crate_version(service_name: &str) -> Option<String> {
    let infos: Vec<_> = crate::catalog::OBSERVED_FUNCTIONS
        .iter()
        .map(|site| site.info())
        .collect();
    let matching = infos
        .iter()
        .find(|info| info.crate_name.replace('-', "_") == service_name.replace('-', "_"));
    let chosen = matching.or_else(|| {
        let first = infos.first()?;
        infos
            .iter()
            .all(|info| info.crate_name == first.crate_name)
            .then_some(first)
    })?;
    Some(chosen.crate_version.to_owned())
}

/// Builds an [`Observability`]: where the configuration comes from, and what code
/// overrides. Precedence: code, then `OTEL_*`/`RUST_LOG`, then the file, then defaults.
///
/// ```
/// use rustform::config::LogFormat;
///
/// let observability = rustform::Observability::builder()
///     .config_yaml("observability:\n  logging:\n    level: info\n")
///     .env(|name| (name == "RUST_LOG").then(|| "debug".to_owned()))
///     .log_format(LogFormat::Json)
///     .configure(|config| config.observability.logging.include_thread_ids = true)
///     .build()?;
/// let logging = &observability.config().observability.logging;
/// assert_eq!(logging.level, "debug"); // RUST_LOG over the file
/// assert_eq!(logging.format, LogFormat::Json); // code over both
/// assert!(logging.include_thread_ids);
/// # Ok::<(), rustform::Error>(())
/// ```
#[derive(Default)]
#[must_use = "a builder does nothing until `build` or `install`"]
pub struct ObservabilityBuilder {
    source: Source,
    build: Option<metrics::BuildInfo>,
    env: Option<Lookup>,
    overrides: Vec<Override>,
}

/// Reads an environment variable.
type Lookup = Box<dyn Fn(&str) -> Option<String>>;

/// A change made in code.
type Override = Box<dyn FnOnce(&mut Config)>;

#[derive(Default)]
enum Source {
    /// `RUSTFORM_CONFIG`, else `rustform.yml` if it exists, else defaults.
    #[default]
    Default,
    File(PathBuf),
    Yaml(String),
}

impl fmt::Debug for ObservabilityBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservabilityBuilder")
            .field("overrides", &self.overrides.len())
            .finish_non_exhaustive()
    }
}

impl ObservabilityBuilder {
    /// Reads this file, which must exist.
    pub fn config_file(mut self, path: impl AsRef<Path>) -> Self {
        self.source = Source::File(path.as_ref().to_owned());
        self
    }

    /// Uses this YAML text instead of a file.
    pub fn config_yaml(mut self, yaml: impl Into<String>) -> Self {
        self.source = Source::Yaml(yaml.into());
        self
    }

    /// Reads environment variables (for `${VAR}` and `OTEL_*`) through `lookup`
    /// instead of the process environment.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + 'static) -> Self {
        self.env = Some(Box::new(lookup));
        self
    }

    /// Sets the service name, over `OTEL_SERVICE_NAME` and the file.
    pub fn service_name(self, name: impl Into<String>) -> Self {
        let name = name.into();
        self.configure(move |c| c.observability.opentelemetry.service_name = Some(name))
    }

    /// Sets the service version, over the environment and the file.
    pub fn service_version(self, version: impl Into<String>) -> Self {
        let version = version.into();
        self.configure(move |c| c.observability.opentelemetry.service_version = Some(version))
    }

    /// Sets the log filter (`info`, `my_crate=debug,hyper=warn`), over `RUST_LOG`.
    pub fn log_level(self, directives: impl Into<String>) -> Self {
        let directives = directives.into();
        self.configure(move |c| c.observability.logging.level = directives)
    }

    /// Sets the log format.
    pub fn log_format(self, format: LogFormat) -> Self {
        self.configure(move |c| c.observability.logging.format = format)
    }

    /// Sets `build_info`'s version, commit and branch, usually from
    /// [`build_info!`](crate::build_info): the version given here beats the configured
    /// one.
    pub fn build_info(mut self, info: metrics::BuildInfo) -> Self {
        self.build = Some(info);
        self
    }

    /// Turns the built-in `process_*` and `build_info` metrics on or off.
    pub fn system_metrics(self, on: bool) -> Self {
        self.configure(move |c| c.observability.opentelemetry.metrics.system_metrics = on)
    }

    /// Changes anything in the configuration, after the file and the environment.
    pub fn configure(mut self, change: impl FnOnce(&mut Config) + 'static) -> Self {
        self.overrides.push(Box::new(change));
        self
    }

    /// Reads the configuration and applies the environment and the overrides.
    pub fn build(self) -> Result<Observability, Error> {
        let lookup: &dyn Fn(&str) -> Option<String> = match &self.env {
            Some(lookup) => lookup.as_ref(),
            None => &crate::config::process_env,
        };
        let mut config = match self.source {
            Source::Yaml(text) => Config::parse(&text, crate::config::DEFAULT_PATH, lookup)?,
            Source::File(path) => load(&path, lookup)?,
            Source::Default => match lookup(CONFIG_ENV).filter(|p| !p.is_empty()) {
                Some(path) => load(Path::new(&path), lookup)?,
                None if Path::new(crate::config::DEFAULT_PATH).exists() => {
                    load(Path::new(crate::config::DEFAULT_PATH), lookup)?
                }
                None => Config::default(),
            },
        };
        config.apply_env(lookup);
        for change in self.overrides {
            change(&mut config);
        }
        Ok(Observability {
            config,
            build: self.build,
        })
    }

    /// Builds and installs: see [`Observability::install`].
    pub fn install(self) -> Result<Guard, Error> {
        self.build()?.install()
    }
}

fn load(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let origin = path.display().to_string();
    let text = std::fs::read(path).map_err(|e| Error::Install {
        what: "configuration",
        reason: format!("cannot read {origin}: {e}"),
    })?;
    let text = String::from_utf8(text).map_err(|_| Error::Install {
        what: "configuration",
        reason: format!("{origin} is not UTF-8 text"),
    })?;
    Ok(Config::parse(&text, &origin, lookup)?)
}

/// What was installed, until shutdown.
pub(crate) struct Installed {
    /// The exporters, when OpenTelemetry export is configured.
    export: Option<crate::export::Export>,
    /// The endpoint's server, when `prometheus.listen` names an address.
    server: Option<crate::endpoint::Server>,
}

/// Keeps rustform installed. Dropping it, or calling [`shutdown`](Guard::shutdown),
/// flushes and shuts down what was installed, once; logging stays on so messages
/// written after shutdown are not lost.
#[must_use = "dropping the guard shuts rustform down: bind it, `let _guard = rustform::init()?;`"]
pub struct Guard {
    shutdown_timeout: Duration,
    drain_timeout: Duration,
    endpoint: Option<std::net::SocketAddr>,
    state: Arc<Mutex<Option<Installed>>>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl Guard {
    /// Exports what is pending (spans, then a last push of the metrics) and stops the
    /// exporters, all within `timeout`; spans that cannot be sent by then are dropped and
    /// counted. Returns `false` if it was already shut down (a second call does nothing).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        shut_down(&self.state, timeout, self.drain_timeout)
    }

    /// The address the endpoint's own server listens on, when `prometheus.listen` named
    /// one (with the port chosen by the system when it said 0).
    pub fn endpoint_address(&self) -> Option<std::net::SocketAddr> {
        self.endpoint
    }

    /// Exports every ended span and the current metrics now, waiting at most
    /// `timeout`, and keeps running: before a risky step, or at the end of a batch job
    /// that keeps the process alive. Returns `false` after shutdown.
    pub fn flush(&self, timeout: Duration) -> bool {
        let state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(installed) = state.as_ref() else {
            return false;
        };
        if let Some(export) = &installed.export {
            export.flush(Instant::now() + timeout);
        }
        flush_output();
        true
    }

    /// Whether [`shutdown`](Guard::shutdown) has run.
    pub fn is_shut_down(&self) -> bool {
        match self.state.lock() {
            Ok(state) => state.is_none(),
            Err(poisoned) => poisoned.into_inner().is_none(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.shutdown(self.shutdown_timeout);
    }
}

/// The graceful shutdown, once: `/readyz` answers 503, in-flight requests get
/// `drain` to finish, the server stops, then the exporters flush; all within `timeout`.
fn shut_down(state: &Mutex<Option<Installed>>, timeout: Duration, drain: Duration) -> bool {
    let installed = match state.lock() {
        Ok(mut state) => state.take(),
        Err(poisoned) => poisoned.into_inner().take(),
    };
    let Some(installed) = installed else {
        return false;
    };
    let start = Instant::now();
    let deadline = start + timeout;
    crate::health::set_ready(false);
    if let Some(mut server) = installed.server {
        server.stop(start + drain, deadline);
    }
    if let Some(export) = installed.export {
        export.shutdown(deadline);
    }
    flush_output();
    tracing::debug!(
        target: "rustform",
        remaining_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
        "rustform shut down"
    );
    true
}

fn flush_output() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
