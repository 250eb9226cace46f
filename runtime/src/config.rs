//! `rustform.yml`: the schema, `${VAR}` expansion, the `OTEL_*` and `RUST_LOG`
//! variables over the file, and errors that name the YAML path.
//!
//! ```
//! use rustform::config::Config;
//!
//! let config = Config::parse(
//!     "observability:\n  opentelemetry:\n    tracing:\n      sample_rate: 0.25\n",
//!     "rustform.yml",
//!     &|_| None,
//! )
//! .unwrap();
//! assert_eq!(config.observability.opentelemetry.tracing.sampler.root,
//!            rustform::config::RootSampler::TraceIdRatio(0.25));
//! ```

pub use rustform_config::*;
