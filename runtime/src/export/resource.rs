//! The resource every exported span and metric carries: who produced it.

use std::collections::BTreeMap;

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

use crate::config::Config;

/// The OpenTelemetry SDK rustform builds on, for `telemetry.sdk.version`.
const SDK_VERSION: &str = "0.33";

/// The resource attributes: the configuration's (with `OTEL_RESOURCE_ATTRIBUTES`
/// already over the file), then `service.name`, `service.version`,
/// `service.instance.id` (random per process unless given), `host.name`, `process.pid`,
/// `telemetry.sdk.*` and `telemetry.distro.*`, none of which overrides a configured one
/// except `service.name`, which follows the service name rustform resolved.
pub(crate) fn attributes(config: &Config, service_name: &str) -> BTreeMap<String, String> {
    let otel = &config.observability.opentelemetry;
    let mut attributes = otel.resource.attributes.clone();
    attributes.insert("service.name".into(), service_name.to_owned());
    if let Some(version) = config.service_version() {
        attributes
            .entry("service.version".into())
            .or_insert_with(|| version.to_owned());
    }
    attributes
        .entry("service.instance.id".into())
        .or_insert_with(instance_id);
    if let Some(host) = host_name() {
        attributes.entry("host.name".into()).or_insert(host);
    }
    attributes
        .entry("process.pid".into())
        .or_insert_with(|| std::process::id().to_string());
    if let Some(name) = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
    {
        attributes
            .entry("process.executable.name".into())
            .or_insert(name);
    }
    for (key, value) in [
        ("telemetry.sdk.name", "opentelemetry"),
        ("telemetry.sdk.language", "rust"),
        ("telemetry.sdk.version", SDK_VERSION),
        ("telemetry.distro.name", "rustform"),
        ("telemetry.distro.version", env!("CARGO_PKG_VERSION")),
    ] {
        attributes.insert(key.into(), value.into());
    }
    attributes
}

/// The SDK resource of `attributes`.
pub(crate) fn sdk(attributes: &BTreeMap<String, String>) -> Resource {
    Resource::builder_empty()
        .with_attributes(
            attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}

/// The protobuf resource of `attributes`, for metric exports.
pub(crate) fn proto(
    attributes: &BTreeMap<String, String>,
) -> opentelemetry_proto::tonic::resource::v1::Resource {
    opentelemetry_proto::tonic::resource::v1::Resource {
        attributes: super::metrics::string_attributes(
            attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        dropped_attributes_count: 0,
        entity_refs: Vec::new(),
    }
}

/// A random UUID (version 4), as the semantic conventions suggest for
/// `service.instance.id` when nothing names the instance.
fn instance_id() -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&crate::trace::ids::next().to_be_bytes());
    bytes[8..].copy_from_slice(&crate::trace::ids::next().to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The host's name, from the kernel.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_are_version_4_uuids() {
        let a = instance_id();
        let b = instance_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn configured_attributes_win_except_the_service_name() {
        let mut config = Config::default();
        let attributes = &mut config.observability.opentelemetry.resource.attributes;
        attributes.insert("service.instance.id".into(), "pod-7".into());
        attributes.insert("service.name".into(), "from-file".into());
        attributes.insert("deployment.environment.name".into(), "prod".into());
        let resolved = super::attributes(&config, "checkout");
        assert_eq!(resolved["service.name"], "checkout");
        assert_eq!(resolved["service.instance.id"], "pod-7");
        assert_eq!(resolved["deployment.environment.name"], "prod");
        assert_eq!(resolved["telemetry.sdk.language"], "rust");
        assert_eq!(resolved["process.pid"], std::process::id().to_string());
    }
}
