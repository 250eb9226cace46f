//! The top of the document: the application's `name` and the sections under it, and
//! `observability`, which groups the four sections that make a service observable.

use super::alerts::alerts;
use super::{
    Alert, CustomMetrics, Health, Logging, OpenTelemetry, Prometheus, Scaling, nested, some,
};
use crate::decode::Decoder;

section! {
    /// The whole configuration: `rustform.yml` with its defaults, and, once
    /// [applied](crate::Config::apply_env), the `OTEL_*` and `RUST_LOG` variables.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Config {
        /// `name`: the application's name; the service name when nothing else gives one.
        pub name: Option<String> = None => some(Decoder::string),
        /// `observability`.
        pub observability: Observability = Observability::default() => nested,
        /// `scaling`: how the service is run; read by the deployment generators and for
        /// the graceful-shutdown timings.
        pub scaling: Scaling = Scaling::default() => nested,
        /// `custom_metrics`: metrics declared in the file.
        pub custom_metrics: CustomMetrics = CustomMetrics::default() => nested,
        /// `alerts`: alert rules to generate.
        pub alerts: Vec<Alert> = Vec::new() => alerts,
        /// Values that were accepted with a caveat: unset `${VAR}`s, ignored environment
        /// variables.
        pub(crate) warnings: Vec<crate::Problem> = Vec::new(),
    }
}

section! {
    /// `observability`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Observability {
        /// `observability.opentelemetry`.
        pub opentelemetry: OpenTelemetry = OpenTelemetry::default() => nested,
        /// `observability.prometheus`: the `/metrics` endpoint.
        pub prometheus: Prometheus = Prometheus::default() => nested,
        /// `observability.logging`.
        pub logging: Logging = Logging::default() => nested,
        /// `observability.health`.
        pub health: Health = Health::default() => nested,
    }
}
