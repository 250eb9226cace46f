//! Installing rustform: [`init()`], one call that installs what the configuration asks
//! for; the [`Observability`] builder it stands for; and the [`Guard`] that shuts it all
//! down.
//!
//! This is the top layer and the only module that wires the others together (logs,
//! metrics, exporters, endpoint, shutdown), so none of them has to know about another
//! above it, and the order of installation and of shutdown is written in one place.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::Subscriber;
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogFormat};
use crate::shutdown::Begun;
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
    writer: Option<SharedWriter>,
}

/// Where log lines go when code says, shared by every layer built from one
/// [`Observability`].
#[derive(Clone)]
struct SharedWriter(Arc<tracing_subscriber::fmt::writer::BoxMakeWriter>);

impl fmt::Debug for SharedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedWriter")
    }
}

impl<'a> crate::trace::MakeWriter<'a> for SharedWriter {
    type Writer = Box<dyn std::io::Write + 'a>;

    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        self.0.make_writer_for(meta)
    }
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

    /// rustform's logs, OpenTelemetry export and span skipping as one `tracing` layer,
    /// for a subscriber the program builds itself, beside layers of its own (sentry,
    /// tokio-console, `tracing-error`'s `ErrorLayer`). The [`Guard`] flushes and stops its
    /// exporters. Nothing is made global: metrics are not registered, no server starts
    /// and no propagator is installed; [`install_layer`](Observability::install_layer)
    /// does all of that and returns the same layer.
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let (layer, guard) = rustform::Observability::builder()
    ///     .config_yaml("observability:\n  logging:\n    format: json\n")
    ///     .build()?
    ///     .layer()?;
    /// // Beside the program's own layers: `.with(sentry_tracing::layer())`, …
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// tracing::subscriber::with_default(subscriber, || tracing::info!("hello"));
    /// guard.shutdown(std::time::Duration::from_secs(1));
    /// # Ok::<(), rustform::Error>(())
    /// ```
    pub fn layer<S>(&self) -> Result<(impl Layer<S> + Send + Sync + 'static, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        let name = service_name(&self.config).unwrap_or_else(unknown_service);
        #[cfg(feature = "otlp")]
        let export = crate::export::install(&self.config, &name)?;
        #[cfg(not(feature = "otlp"))]
        check_export(&self.config, &name)?;
        let layers = logs(
            &self.config,
            self.writer.as_ref(),
            #[cfg(feature = "otlp")]
            export.as_ref(),
        )?;
        let guard = Guard::new(
            &self.config,
            Installed {
                #[cfg(feature = "otlp")]
                export,
                #[cfg(feature = "endpoint")]
                server: None,
            },
            None,
        );
        Ok((layers, guard))
    }

    /// The `tracing` subscriber [`install`](Observability::install) would set — a
    /// [`Registry`] with [`layer`](Observability::layer) — without making anything global:
    /// for a program that sets its subscriber itself (`with_default` in a test or a
    /// benchmark). As with `layer`, metrics are not registered, and propagators are not
    /// installed.
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
    pub fn subscriber(&self) -> Result<(Box<dyn Subscriber + Send + Sync>, Guard), Error> {
        let (layer, guard) = self.layer::<Registry>()?;
        Ok((Box::new(Registry::default().with(layer)), guard))
    }

    /// Installs logging (a global `tracing` subscriber), the built-in metrics and the
    /// declared metrics into the [default registry](metrics::default_registry), the
    /// exporters and the endpoint's server.
    ///
    /// Fails with [`Error::AlreadyInitialized`] if rustform is already installed, and
    /// with [`Error::Install`] if another global `tracing` subscriber is set.
    pub fn install(self) -> Result<Guard, Error> {
        let (layers, guard, notes) = self.install_parts::<Registry>()?;
        let subscriber = Registry::default().with(layers);
        let log_level = subscriber.max_level_hint();
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            // Nothing global is left behind: the guard stops the server and exporters.
            drop(guard);
            INSTALLED.store(false, Ordering::Release);
            return Err(Error::Install {
                what: "logging",
                reason: "another global tracing subscriber is already set; remove its \
                         initialisation (rustform installs one from logging in rustform.yml), \
                         or add Observability::install_layer() to it instead"
                    .to_owned(),
            });
        }
        notes.publish();
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
        Ok(guard)
    }

    /// Installs everything [`install`](Observability::install) does but the global
    /// subscriber, and returns rustform's [`layer`](Observability::layer) for the
    /// subscriber the program builds and sets itself. The configuration's warnings are
    /// logged, and the exporters report their failures, through that subscriber once it
    /// exists.
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt;
    /// use tracing_subscriber::util::SubscriberInitExt;
    ///
    /// let (layer, _guard) = rustform::Observability::builder().build()?.install_layer()?;
    /// tracing_subscriber::registry().with(layer).init();
    /// # Ok::<(), rustform::Error>(())
    /// ```
    ///
    /// Fails with [`Error::AlreadyInitialized`] if rustform is already installed.
    pub fn install_layer<S>(self) -> Result<(impl Layer<S> + Send + Sync + 'static, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        let (layers, guard, notes) = self.install_parts::<S>()?;
        // Said once the program has set its global subscriber (within a minute), from a
        // thread of its own, where the global subscriber is the default.
        let _ = std::thread::Builder::new()
            .name("rustform-notes".into())
            .spawn(move || {
                let until = Instant::now() + Duration::from_secs(60);
                while !crate::trace::has_global_subscriber() && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if crate::trace::has_global_subscriber() {
                    notes.publish();
                }
            });
        Ok((layers, guard))
    }

    /// Everything but the subscriber, once per process.
    fn install_parts<S>(self) -> Result<(Vec<crate::trace::BoxedLayer<S>>, Guard, Notes), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            return Err(Error::AlreadyInitialized);
        }
        let installed = install(self.config, self.build, self.writer);
        if installed.is_err() {
            INSTALLED.store(false, Ordering::Release);
        }
        installed
    }
}

/// Without the `otlp` feature: an exporter in the configuration is an error naming it.
#[cfg(not(feature = "otlp"))]
fn check_export(config: &Config, _service_name: &str) -> Result<(), Error> {
    let otel = &config.observability.opentelemetry;
    if !otel.enabled {
        return Ok(());
    }
    if otel.tracing.enabled
        && let Some(index) = otel.tracing.exporters.iter().position(|e| e.enabled)
    {
        return Err(Error::missing_feature(
            format!("observability.opentelemetry.tracing.exporters[{index}]"),
            "a span exporter",
            "otlp",
        ));
    }
    if otel.metrics.enabled
        && let Some(index) = otel
            .metrics
            .exporters
            .iter()
            .position(|e| e.enabled && e.kind != crate::config::MetricsExporterKind::Prometheus)
    {
        return Err(Error::missing_feature(
            format!("observability.opentelemetry.metrics.exporters[{index}]"),
            "a pushed metrics exporter",
            "otlp",
        ));
    }
    Ok(())
}

/// The layers of `logging` for a stack on `S`, the exported spans' first.
fn logs<S>(
    config: &Config,
    writer: Option<&SharedWriter>,
    #[cfg(feature = "otlp")] export: Option<&crate::export::Export>,
) -> Result<Vec<crate::trace::BoxedLayer<S>>, Error>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    #[cfg(feature = "otlp")]
    let exported = export
        .and_then(crate::export::Export::layer::<S>)
        .map(|layer| Box::new(layer) as crate::trace::BoxedLayer<S>);
    #[cfg(not(feature = "otlp"))]
    let exported = None;
    let logging = &config.observability.logging;
    match writer {
        Some(writer) => crate::trace::layers(logging, writer.clone(), false, exported),
        None => {
            let (writer, ansi) = crate::trace::output(logging);
            crate::trace::layers(logging, writer, ansi, exported)
        }
    }
}

fn install<S>(
    config: Config,
    build: Option<metrics::BuildInfo>,
    writer: Option<SharedWriter>,
) -> Result<(Vec<crate::trace::BoxedLayer<S>>, Guard, Notes), Error>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
{
    // The service name first: the default registry's first use (below, or in the
    // subscriber's sampling counter) gives every observed function its labels.
    if let Some(name) = config.service_name() {
        crate::set_service_name(name);
    }
    let resource_name = service_name(&config).unwrap_or_else(unknown_service);
    #[cfg(feature = "otlp")]
    let export = crate::export::install(&config, &resource_name)?;
    #[cfg(not(feature = "otlp"))]
    check_export(&config, &resource_name)?;
    let layers = logs(
        &config,
        writer.as_ref(),
        #[cfg(feature = "otlp")]
        export.as_ref(),
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
    let build = build_info(&config, build.as_ref());
    if metrics_config.system_metrics {
        metrics::register_process_metrics(registry)?;
        build.register(registry)?;
    }
    // The endpoint: its credentials and checks are read now, its address bound now, so
    // a mistake stops `init()`.
    #[cfg(feature = "endpoint")]
    let (endpoint, server) = crate::endpoint::start(&config, &build.version)?;
    #[cfg(not(feature = "endpoint"))]
    if config.observability.prometheus.listen.is_some() {
        return Err(Error::missing_feature(
            "observability.prometheus.listen",
            "the endpoint's own server",
            "endpoint",
        ));
    }
    #[cfg(feature = "endpoint")]
    let address = server.as_ref().map(|s| s.address);
    #[cfg(not(feature = "endpoint"))]
    let address: Option<std::net::SocketAddr> = None;

    crate::trace::use_as_exemplar_source();
    #[cfg(feature = "otel")]
    {
        let otel = &config.observability.opentelemetry;
        #[cfg(feature = "otlp")]
        if let Some(export) = &export {
            export.activate(&otel.tracing.propagators);
        } else if otel.enabled {
            crate::trace::install_propagators(&otel.tracing.propagators);
        }
        #[cfg(not(feature = "otlp"))]
        if otel.enabled {
            crate::trace::install_propagators(&otel.tracing.propagators);
        }
    }
    #[cfg(feature = "endpoint")]
    let endpoint_notes = match &endpoint {
        Some(endpoint) => endpoint.install(server.is_some()),
        None => Vec::new(),
    };
    #[cfg(not(feature = "endpoint"))]
    let endpoint_notes = Vec::new();
    // `ObserveLayer::new()` reads `prometheus.metrics.http` from here.
    #[cfg(feature = "http")]
    crate::http::install(&config);

    // What is said once the program's subscriber exists: the configuration's warnings,
    // and where the endpoint listens. The exporters report through it too.
    let mut notes: Vec<String> = config.warnings().iter().map(|w| w.to_string()).collect();
    if let Some(problem) = business_problem {
        notes.push(problem.to_string());
    }
    let notes = Notes {
        warnings: notes,
        errors: endpoint_notes,
        service: config.service_name().unwrap_or_default().to_owned(),
        address,
        metrics_path: config.observability.prometheus.endpoint.clone(),
    };
    let guard = Guard::new(
        &config,
        Installed {
            #[cfg(feature = "otlp")]
            export,
            #[cfg(feature = "endpoint")]
            server,
        },
        address,
    );
    Ok((layers, guard, notes))
}

/// What is said once the program's subscriber exists: the configuration's warnings, and
/// where the endpoint listens.
struct Notes {
    warnings: Vec<String>,
    /// The endpoint's: a router refused requests before `init()`, authentication is
    /// not configured.
    errors: Vec<String>,
    service: String,
    address: Option<std::net::SocketAddr>,
    metrics_path: String,
}

impl Notes {
    /// Points the exporters' own messages at the global subscriber, then logs the notes
    /// there. Called on a thread without a subscriber of its own.
    fn publish(&self) {
        #[cfg(feature = "otlp")]
        crate::export::set_logs(&tracing::dispatcher::get_default(Clone::clone));
        self.log();
    }

    fn log(&self) {
        for warning in &self.warnings {
            tracing::warn!(target: "rustform::config", "{warning}");
        }
        for error in &self.errors {
            tracing::error!(target: "rustform::endpoint", "{error}");
        }
        tracing::debug!(target: "rustform", service_name = self.service, "rustform installed");
        if let Some(address) = self.address {
            tracing::info!(
                target: "rustform::endpoint",
                %address,
                path = %self.metrics_path,
                "serving metrics and health checks"
            );
        }
    }
}

/// The service name rustform resolved: set in code, else the configuration's (after
/// the environment), else the name of the only crate with observed functions.
fn service_name(config: &Config) -> Option<String> {
    crate::observed::SERVICE_NAME
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
    let mut names = crate::observed::OBSERVED_FUNCTIONS
        .iter()
        .map(|site| site.info().crate_name);
    let first = names.next()?;
    names.all(|n| n == first).then(|| first.to_owned())
}

/// The version of the crate whose observed functions carry `service_name`, or of the
/// only crate with observed functions.
fn crate_version(service_name: &str) -> Option<String> {
    let infos: Vec<_> = crate::observed::OBSERVED_FUNCTIONS
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
    writer: Option<SharedWriter>,
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

    /// Writes log lines through `writer` (anything that makes an `io::Write` per event,
    /// as [`MakeWriter`](crate::trace::MakeWriter) says: a file, a pipe, a buffer in a
    /// test) instead of to `logging.output`, without colours.
    pub fn log_writer<W>(mut self, writer: W) -> Self
    where
        W: for<'w> crate::trace::MakeWriter<'w> + Send + Sync + 'static,
    {
        self.writer = Some(SharedWriter(Arc::new(
            tracing_subscriber::fmt::writer::BoxMakeWriter::new(writer),
        )));
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
            writer: self.writer,
        })
    }

    /// Builds and installs: see [`Observability::install`].
    pub fn install(self) -> Result<Guard, Error> {
        self.build()?.install()
    }
}

fn load(path: &Path, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Config, Error> {
    let origin = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Error::Install {
        what: "configuration",
        reason: format!("cannot read {origin}: {e}"),
    })?;
    Ok(Config::parse_bytes(&bytes, &origin, lookup)?)
}

/// What was installed, until shutdown.
pub(crate) struct Installed {
    /// The exporters, when OpenTelemetry export is configured.
    #[cfg(feature = "otlp")]
    export: Option<crate::export::Export>,
    /// The endpoint's server, when `prometheus.listen` names an address.
    #[cfg(feature = "endpoint")]
    server: Option<crate::endpoint::Server>,
}

/// Keeps rustform installed. Dropping it, or calling [`shutdown`](Guard::shutdown),
/// flushes and shuts down what was installed, once; logging stays on so messages
/// written after shutdown are not lost.
///
/// rustform never ends the process and watches no signal unless asked: the program's
/// `main` decides. For a graceful shutdown on SIGTERM, give
/// [`shutdown_signal`](Guard::shutdown_signal) to the program's own server and let the
/// guard drop when it returns:
///
/// 1. on SIGTERM (or SIGINT; Ctrl-C off unix), readiness turns off: `/readyz` answers
///    503 while every other route keeps answering;
/// 2. the program's server drains its in-flight requests (within `drain_timeout` with
///    [`drain`](Guard::drain));
/// 3. the guard drops: rustform's own endpoint, which served the last scrapes, stops,
///    then the exporters flush, all within `shutdown_timeout` of the signal;
/// 4. `main` returns with the program's own exit code.
///
/// ```no_run
/// # #[cfg(feature = "endpoint")]
/// #[tokio::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let guard = rustform::init()?;
///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
///     let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
///     let server = axum::serve(listener, app).with_graceful_shutdown(guard.shutdown_signal());
///     guard.drain(server).await.transpose()?;
///     Ok(())
/// }
/// # #[cfg(not(feature = "endpoint"))]
/// # fn main() {}
/// ```
#[must_use = "dropping the guard shuts rustform down: bind it, `let _guard = rustform::init()?;`"]
pub struct Guard {
    shutdown_timeout: Duration,
    drain_timeout: Duration,
    endpoint: Option<std::net::SocketAddr>,
    state: Arc<Mutex<Option<Installed>>>,
    begun: Arc<Begun>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("drain_timeout", &self.drain_timeout)
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl Guard {
    fn new(config: &Config, installed: Installed, endpoint: Option<std::net::SocketAddr>) -> Guard {
        let instances = &config.scaling.instances;
        Guard {
            shutdown_timeout: instances.shutdown_timeout,
            drain_timeout: instances.drain_timeout,
            endpoint,
            state: Arc::new(Mutex::new(Some(installed))),
            begun: Arc::new(Begun::default()),
        }
    }

    /// A future that resolves when shutdown begins: on SIGTERM or SIGINT on unix, on
    /// Ctrl-C elsewhere, or when [`begin_shutdown`](Guard::begin_shutdown) is called.
    /// Readiness turns off before it resolves, so `/readyz` answers 503 while the
    /// server it stops drains. Give it to `axum::serve(..).with_graceful_shutdown(..)`
    /// (or hyper-util's `GracefulShutdown`); call it again for each server.
    ///
    /// It watches the signals only while it is polled, inside the program's Tokio
    /// runtime; a program that never asks for it keeps the default signal handling.
    #[cfg(feature = "signal")]
    pub fn shutdown_signal(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let begun = self.begun.clone();
        async move {
            tokio::select! {
                cause = crate::shutdown::termination() => {
                    begun.begin(cause);
                }
                () = begun.wait() => {}
            }
        }
    }

    /// Runs `server` (a server with graceful shutdown, such as
    /// `axum::serve(..).with_graceful_shutdown(guard.shutdown_signal())`) to its end, but
    /// no longer than `scaling.instances.drain_timeout` after shutdown begins: `None`
    /// when the drain ran out of time and the server was dropped with requests still in
    /// flight.
    #[cfg(feature = "signal")]
    pub async fn drain<F: std::future::IntoFuture>(&self, server: F) -> Option<F::Output> {
        let server = server.into_future();
        let mut server = std::pin::pin!(server);
        tokio::select! {
            output = &mut server => return Some(output),
            () = self.begun.wait() => {}
        }
        let output = tokio::time::timeout(self.drain_timeout, server).await.ok();
        if output.is_none() {
            tracing::warn!(
                target: "rustform",
                drain_timeout_ms = self.drain_timeout.as_millis() as u64,
                "requests still in flight at the end of the drain were dropped"
            );
        }
        output
    }

    /// Begins shutdown without a signal, as a signal would: readiness off, and every
    /// [`shutdown_signal`](Guard::shutdown_signal) future resolves. Returns `false` if
    /// shutdown had begun already.
    pub fn begin_shutdown(&self) -> bool {
        self.begun.begin("requested")
    }

    /// Shuts down now, within `timeout`: readiness off, rustform's endpoint drains and
    /// stops, then what is pending is exported (spans, and a last push of the metrics)
    /// and the exporters stop. Spans and metric points that cannot be sent by then are
    /// dropped and counted before this returns, in
    /// `rustform_exporter_spans_dropped_total` and
    /// `rustform_exporter_metric_points_dropped_total` (`reason="shutdown"`, or
    /// `export_failed` when their export failed): from then on `produced == exported +
    /// dropped` for each. Dropping the guard does the same. Returns `false` if it was
    /// already shut down (a second call does nothing).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        self.shut_down(Instant::now() + timeout)
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
        let Some(_installed) = state.as_ref() else {
            return false;
        };
        #[cfg(feature = "otlp")]
        if let Some(export) = &_installed.export {
            export.flush(Instant::now() + timeout);
        }
        #[cfg(not(feature = "otlp"))]
        let _ = timeout;
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

    /// The graceful shutdown, once: readiness off, rustform's endpoint keeps answering
    /// until its in-flight requests finish (within `drain_timeout` of the start), then
    /// stops; then the exporters flush; all by `deadline`.
    fn shut_down(&self, deadline: Instant) -> bool {
        let installed = match self.state.lock() {
            Ok(mut state) => state.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(_installed) = installed else {
            return false;
        };
        self.begun.begin("shutdown");
        #[cfg(feature = "endpoint")]
        if let Some(mut server) = _installed.server {
            let started = self.begun.at().unwrap_or_else(Instant::now);
            let drain = (started + self.drain_timeout).max(Instant::now());
            server.stop(drain, deadline);
        }
        #[cfg(feature = "otlp")]
        if let Some(export) = _installed.export {
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
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Within `shutdown_timeout` of the start of shutdown: after a signal, the
        // program's own drain has used part of it.
        let started = self.begun.at().unwrap_or_else(Instant::now);
        self.shut_down(started + self.shutdown_timeout);
    }
}

fn flush_output() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
