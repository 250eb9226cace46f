//! The `rustform.yml` schema: parsing with [serde-saphyr], `${VAR}` and
//! `${VAR:-default}` expansion, durations like `500ms` and `30d`, the standard `OTEL_*`
//! and `RUST_LOG` variables over the file, and errors that name the YAML path, the bad
//! value and what is allowed.
//!
//! Users reach this crate as `rustform::config`; the `rustform::app_metrics!` macro
//! reads the same schema at compile time.
//!
//! ```
//! use rustform_config::{Config, LogFormat};
//!
//! let config = Config::parse(
//!     "observability:\n  logging:\n    level: ${LEVEL:-debug}\n    format: json\n",
//!     "rustform.yml",
//!     &|_| None,
//! )
//! .unwrap();
//! assert_eq!(config.observability.logging.level, "debug");
//! assert_eq!(config.observability.logging.format, LogFormat::Json);
//!
//! let err = Config::parse("observability:\n  loging: {}\n", "rustform.yml", &|_| None).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "rustform.yml:2:3: observability: unknown key \"loging\" — did you mean \"logging\"?"
//! );
//! ```
//!
//! [serde-saphyr]: https://docs.rs/serde-saphyr

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod decode;
mod duration;
mod env;
mod error;
mod expand;
mod ip_net;
pub mod names;
mod node;
mod outline;
mod sections;

use std::path::Path;

pub use duration::parse_duration;
pub use env::effective_protocol;
pub use error::{ConfigError, Problem};
pub use ip_net::IpNet;
pub use node::Position;
pub use sections::*;

/// The file `rustform::init()` reads when `RUSTFORM_CONFIG` does not name another.
pub const DEFAULT_PATH: &str = "rustform.yml";

impl Config {
    /// Parses `text`, expanding `${VAR}` with `lookup`; `origin` names the text in
    /// messages (usually the file's path). The environment's `OTEL_*` variables are
    /// not applied: see [`Config::apply_env`].
    pub fn parse(
        text: &str,
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::decode(text, origin, lookup, true)
    }

    /// Parses the bytes of a file like [`Config::parse`]. A byte that is not UTF-8 is
    /// reported with the path of the keys open there, at line 1 + the newlines before it
    /// and column 1 + the characters (not bytes) before it on its line, the way the
    /// parser counts columns.
    ///
    /// ```
    /// use rustform_config::Config;
    ///
    /// let bytes = b"observability:\n  logging:\n    level: inf\xFFo\n";
    /// let err = Config::parse_bytes(bytes, "rustform.yml", &|_| None).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "rustform.yml:3:15: observability.logging.level: not UTF-8 text: the byte 0xFF \
    ///      does not begin a valid character; save the file as UTF-8"
    /// );
    /// ```
    pub fn parse_bytes(
        bytes: &[u8],
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let text = node::text(bytes).map_err(|problem| ConfigError::new(origin, vec![problem]))?;
        Self::parse(text, origin, lookup)
    }

    /// Parses `text` as `rustform.yml`, expanding `${VAR}` from the process
    /// environment.
    pub fn parse_str(text: &str) -> Result<Config, ConfigError> {
        Self::parse(text, DEFAULT_PATH, &process_env)
    }

    /// Parses the bytes of a file for use at compile time: `${VAR}` takes its default or
    /// becomes empty, without warnings, since the build's environment is not the
    /// service's.
    #[doc(hidden)]
    pub fn parse_for_build(bytes: impl AsRef<[u8]>, origin: &str) -> Result<Config, ConfigError> {
        let text = node::text(bytes.as_ref())
            .map_err(|problem| ConfigError::new(origin, vec![problem]))?;
        Self::decode(text, origin, &|_| None, false)
    }

    fn decode(
        text: &str,
        origin: &str,
        lookup: &dyn Fn(&str) -> Option<String>,
        warn_unset: bool,
    ) -> Result<Config, ConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let root = node::parse(text).map_err(|problem| ConfigError::new(origin, vec![problem]))?;
        let mut decoder = decode::Decoder::new(text, lookup, warn_unset);
        decoder.duplicate_keys(&root, "");
        let mut config = sections::config(&mut decoder, &root);
        if decoder.problems.is_empty() {
            config.warnings = decoder.warnings;
            Ok(config)
        } else {
            let mut problems = decoder.problems;
            problems.sort_by_key(|p| p.at.map(|at| (at.line, at.column)));
            Err(ConfigError::new(origin, problems))
        }
    }

    /// Reads and parses the file at `path`, expanding `${VAR}` from the process
    /// environment.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let bytes = read(path).map_err(|message| {
            ConfigError::new(
                &origin,
                vec![Problem {
                    path: String::new(),
                    at: None,
                    message,
                }],
            )
        })?;
        Self::parse_bytes(&bytes, &origin, &process_env)
    }

    /// Applies the standard variables (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
    /// `OTEL_SDK_DISABLED`, `OTEL_TRACES_SAMPLER(_ARG)`, `OTEL_TRACES_EXPORTER`,
    /// `OTEL_METRICS_EXPORTER`, `OTEL_EXPORTER_OTLP_*`, `OTEL_BSP_*`,
    /// `OTEL_METRIC_EXPORT_*`, `OTEL_SPAN_*_COUNT_LIMIT`, `OTEL_PROPAGATORS`, `RUST_LOG`)
    /// read through `lookup`. A value that cannot be used is ignored and recorded in
    /// [`warnings`](Config::warnings).
    ///
    /// ```
    /// use rustform_config::Config;
    ///
    /// let mut config = Config::parse(
    ///     "observability:\n  opentelemetry:\n    service_name: from-file\n",
    ///     "rustform.yml",
    ///     &|_| None,
    /// )
    /// .unwrap();
    /// config.apply_env(&|name| match name {
    ///     "OTEL_RESOURCE_ATTRIBUTES" => Some("service.name=from-attributes".into()),
    ///     "OTEL_SERVICE_NAME" => Some("from-env".into()),
    ///     "OTEL_TRACES_SAMPLER_ARG" => Some("2".into()),
    ///     _ => None,
    /// });
    /// assert_eq!(config.service_name(), Some("from-env"));
    /// assert!(config.warnings().is_empty()); // the argument is read only with a ratio sampler
    /// ```
    pub fn apply_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        let warnings = env::apply(self, lookup);
        self.warnings.extend(warnings);
    }

    /// Values accepted with a caveat: `${VAR}`s that were unset, environment variables
    /// that were ignored.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// The service's name: `opentelemetry.service_name` (after the environment), else
    /// `service.name` among the resource attributes, else the top-level `name`.
    pub fn service_name(&self) -> Option<&str> {
        let otel = &self.observability.opentelemetry;
        otel.service_name
            .as_deref()
            .or(otel
                .resource
                .attributes
                .get("service.name")
                .map(String::as_str))
            .or(self.name.as_deref())
    }

    /// The service's version: `opentelemetry.service_version`, else `service.version`
    /// among the resource attributes.
    pub fn service_version(&self) -> Option<&str> {
        let otel = &self.observability.opentelemetry;
        otel.service_version.as_deref().or(otel
            .resource
            .attributes
            .get("service.version")
            .map(String::as_str))
    }
}

/// Loads the file at `path` and applies the process environment, as `rustform::init()`
/// would, without installing anything: for a CI step or a `--check` flag.
///
/// ```no_run
/// if let Err(err) = rustform_config::check("rustform.yml") {
///     eprintln!("{err}");
///     std::process::exit(1);
/// }
/// ```
pub fn check(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
    let mut config = Config::load(path)?;
    config.apply_env(&process_env);
    Ok(config)
}

/// Reads a variable of the process environment (`None` when unset or not Unicode).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The file's bytes, up to one more than a configuration file may have, so that a
/// larger file is refused at the place where it passes the limit.
fn read(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let mut bytes = Vec::new();
    file.take(node::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok(bytes)
}
