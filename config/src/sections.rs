//! The sections of `rustform.yml`, each in its own module with its types and its decoder.
//!
//! A section is declared once with `section!`: every field with its type, its default
//! and, when it is a key of the file, the reader of its value. The key is the field's name
//! unless the field names another (`sampler @ "sample_rate"`), and keys are read in the
//! order the fields are written, the order the unknown-key message lists them in. What
//! spans several keys (timeouts that must nest, a value that follows from another) is
//! [`Section::complete`]; sections whose keys depend on each other's values (an
//! exporter's `type`, a JWT's `algorithm`) keep a decoder of their own.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::decode::{Decoder, Fields};
use crate::node::Node;

/// Declares a section: its struct, its `Default` from each field's `= default`, and
/// [`Section::read_keys`] from each field's `=> reader`, with the key after `@` when the
/// field's name is not its key. What follows the struct goes into the `Section` impl,
/// for a [`Section::complete`].
///
/// ```text
/// section! {
///     /// `scaling.service_discovery`.
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct ServiceDiscovery {
///         /// `port` (default 3000).
///         pub port: u16 = 3000 => whole(1, 65_535),
///     }
/// }
/// ```
macro_rules! section {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[$field_attr:meta])*
                $field_vis:vis $field:ident $(@ $key:literal)?: $ty:ty = $default:expr
                    $(=> $read:expr)?,
            )*
        }
        $($complete:tt)*
    ) => {
        $(#[$attr])*
        $vis struct $name {
            $($(#[$field_attr])* $field_vis $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                $name {
                    $($field: $default,)*
                }
            }
        }

        impl $crate::sections::Section for $name {
            fn read_keys(
                &mut self,
                d: &mut $crate::decode::Decoder<'_>,
                fields: &mut $crate::decode::Fields<'_>,
            ) {
                $(section!(@read self, d, fields, $field, [$($key)?], [$($read)?]);)*
            }

            $($complete)*
        }
    };
    (@read $self:ident, $d:ident, $fields:ident, $field:ident, [$($key:literal)?], []) => {};
    (@read $self:ident, $d:ident, $fields:ident, $field:ident, [], [$read:expr]) => {
        $fields.set($d, stringify!($field), &mut $self.$field, $read)
    };
    (@read $self:ident, $d:ident, $fields:ident, $field:ident, [$key:literal], [$read:expr]) => {
        $fields.set($d, $key, &mut $self.$field, $read)
    };
}

mod alerts;
mod authentication;
mod custom_metrics;
mod document;
mod health;
mod logging;
mod metrics;
mod opentelemetry;
mod prometheus;
mod scaling;
mod tracing;
mod transport;

pub use alerts::Alert;
pub use authentication::{AuthMethod, Authentication, Jwt, JwtAlgorithm, RateLimit};
pub use custom_metrics::{CustomMetrics, MetricDeclaration};
pub use document::{Config, Observability};
pub use health::{Health, HealthCheck, HealthCheckKind};
pub(crate) use logging::level_problem;
pub use logging::{LogFormat, LogOutput, Logging};
pub use metrics::{Metrics, MetricsExporter, MetricsExporterKind};
pub use opentelemetry::{OpenTelemetry, Resource};
pub use prometheus::{
    BusinessMetrics, DEFAULT_HEADER_TIMEOUT, DatabaseMetrics, HTTP_DURATION_BUCKETS, HttpMetrics,
    Prometheus, PrometheusMetrics, Tls,
};
pub use scaling::{
    DiscoveryMethod, Instances, LoadBalancer, LoadBalancing, Scaling, ScalingStrategy,
    ServiceDiscovery,
};
pub(crate) use tracing::PROPAGATORS;
pub use tracing::{
    Batch, Propagator, RootSampler, Sampler, TraceExporter, TraceExporterKind, Tracing,
};
pub use transport::{ClientTls, Compression, Protocol, Transport};

/// The whole document.
pub(crate) fn config(d: &mut Decoder<'_>, root: &Node) -> Config {
    decode(d, root, "")
}

/// A section declared with `section!`.
pub(crate) trait Section: Default {
    /// Reads the declared keys out of `fields`, each into its field.
    fn read_keys(&mut self, d: &mut Decoder<'_>, fields: &mut Fields<'_>);

    /// Checks what spans several keys and sets what follows from them, once they are
    /// read; the keys are still at hand in `fields`.
    fn complete(&mut self, _d: &mut Decoder<'_>, _fields: &mut Fields<'_>) {}
}

/// Decodes the section at `node`: its defaults, overridden by the keys that are written
/// and valid, with every unknown key reported.
pub(crate) fn decode<T: Section>(d: &mut Decoder<'_>, node: &Node, path: &str) -> T {
    let mut out = T::default();
    let mut fields = d.map(node, path);
    out.read_keys(d, &mut fields);
    out.complete(d, &mut fields);
    fields.finish(d);
    out
}

// The readers below turn a value into a field: each returns `None` (after reporting
// why) when the value cannot be used, and the field keeps its default.

/// A nested section.
pub(crate) fn nested<T: Section>(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<T> {
    Some(decode(d, node, path))
}

/// An optional value read by `read`.
pub(crate) fn some<'e, 'n, T>(
    read: impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<Option<T>> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| read(d, node, path).map(Some)
}

/// A list whose items are read by `item`; the items that cannot be used are left out.
pub(crate) fn list<'e, 'n, T>(
    item: impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<Vec<T>> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| {
        let items = d.list(node, path);
        Some(
            items
                .into_iter()
                .filter_map(|(node, path)| item(d, node, &path))
                .collect(),
        )
    }
}

/// A whole number in `min..=max`, which the field's type holds.
pub(crate) fn whole<'e, 'n, T: TryFrom<u64>>(
    min: u64,
    max: u64,
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<T> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| {
        d.whole(node, path, min, max)
            .and_then(|n| T::try_from(n).ok())
    }
}

/// A duration of at least `min`.
pub(crate) fn duration<'e, 'n>(
    min: Duration,
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<Duration> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| d.duration(node, path, min)
}

/// One of the words of `options`.
pub(crate) fn choice<'e, 'n, T: Copy>(
    options: &'static [(&'static str, T)],
) -> impl Fn(&mut Decoder<'e>, &'n Node, &str) -> Option<T> {
    move |d: &mut Decoder<'e>, node: &'n Node, path: &str| d.choice(node, path, options)
}

/// A mapping of names to strings.
pub(crate) fn string_map(
    d: &mut Decoder<'_>,
    node: &Node,
    path: &str,
) -> Option<BTreeMap<String, String>> {
    Some(d.string_map(node, path))
}

/// The shortest duration a timeout or an interval may be.
const MS: Duration = Duration::from_millis(1);

#[cfg(test)]
mod tests {
    use crate::Config;

    fn problems(text: &str) -> String {
        Config::parse(text, "rustform.yml", &|_| None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn keys_are_listed_once_in_the_order_they_are_declared() {
        assert_eq!(
            problems("scaling:\n  instances:\n    zzz: 1\n"),
            "rustform.yml:3:5: scaling.instances: unknown key \"zzz\"; the keys here are \
             \"min_instances\", \"max_instances\", \"target_cpu_utilization\", \
             \"target_memory_utilization\", \"shutdown_timeout\", \"drain_timeout\""
        );
    }

    #[test]
    fn a_field_is_read_under_the_key_it_names() {
        let config = Config::parse(
            "observability:\n  opentelemetry:\n    tracing:\n      sample_rate: 0.25\n",
            "rustform.yml",
            &|_| None,
        )
        .unwrap();
        let sampler = config.observability.opentelemetry.tracing.sampler;
        assert_eq!(sampler, crate::Sampler::ratio(0.25));
        assert_eq!(
            problems("observability:\n  opentelemetry:\n    tracing:\n      sampler: 1\n"),
            "rustform.yml:4:7: observability.opentelemetry.tracing: unknown key \"sampler\" \
             — did you mean \"sample_rate\"?"
        );
    }
}
