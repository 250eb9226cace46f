//! `observability.opentelemetry`: whether the SDK runs, the service's identity and its
//! resource, and the tracing and metrics pipelines (each in its own module).

use std::collections::BTreeMap;

use super::{Metrics, Tracing, nested, some};
use crate::decode::Decoder;
use crate::node::Node;

section! {
    /// `observability.opentelemetry`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct OpenTelemetry {
        /// `enabled` (default true); `OTEL_SDK_DISABLED=true` turns it off.
        pub enabled: bool = true => Decoder::bool,
        /// `service_name`; `OTEL_SERVICE_NAME` and `service.name` in
        /// `OTEL_RESOURCE_ATTRIBUTES` take precedence.
        pub service_name: Option<String> = None => some(Decoder::string),
        /// `service_version`.
        pub service_version: Option<String> = None => some(Decoder::string),
        /// `tracing`.
        pub tracing: Tracing = Tracing::default() => nested,
        /// `metrics`.
        pub metrics: Metrics = Metrics::default() => nested,
        /// `resource`.
        pub resource: Resource = Resource::default() => nested,
    }
}

section! {
    /// `observability.opentelemetry.resource`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Resource {
        /// `attributes`, merged with `OTEL_RESOURCE_ATTRIBUTES` (which wins).
        pub attributes: BTreeMap<String, String> = BTreeMap::new() => attributes,
    }
}

/// Resource attributes; those that expand to nothing are left out, without a warning:
/// `k8s.pod.name: ${K8S_POD_NAME}` outside Kubernetes is expected, not a mistake.
fn attributes(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<BTreeMap<String, String>> {
    let warnings = d.warnings.len();
    let attributes = d
        .string_map(node, path)
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    d.warnings.truncate(warnings);
    Some(attributes)
}
