//! `scaling`: how the service is run, read by the deployment generators, and the
//! instance timings that graceful shutdown follows.

use std::time::Duration;

use super::{MS, choice, duration, nested, some, whole};
use crate::decode::{Decoder, Fields, show_duration};

section! {
    /// `scaling`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Scaling {
        /// `enabled` (default false).
        pub enabled: bool = false => Decoder::bool,
        /// `strategy` (default horizontal).
        pub strategy: ScalingStrategy = ScalingStrategy::Horizontal => choice(STRATEGIES),
        /// `load_balancer`.
        pub load_balancer: LoadBalancer = LoadBalancer::default() => nested,
        /// `service_discovery`.
        pub service_discovery: ServiceDiscovery = ServiceDiscovery::default() => nested,
        /// `instances`.
        pub instances: Instances = Instances::default() => nested,
    }
}

/// `scaling.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScalingStrategy {
    /// More instances.
    #[default]
    Horizontal,
    /// Bigger instances.
    Vertical,
}

const STRATEGIES: &[(&str, ScalingStrategy)] = &[
    ("horizontal", ScalingStrategy::Horizontal),
    ("vertical", ScalingStrategy::Vertical),
];

section! {
    /// `scaling.load_balancer`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct LoadBalancer {
        /// `algorithm` (default round_robin).
        pub algorithm: LoadBalancing = LoadBalancing::RoundRobin => choice(ALGORITHMS),
        /// `health_check_interval` (default 30 s).
        pub health_check_interval: Duration = Duration::from_secs(30) => duration(MS),
        /// `max_failures` (default 3).
        pub max_failures: u32 = 3 => whole(1, 1_000),
    }
}

/// `scaling.load_balancer.algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalancing {
    /// In turn.
    RoundRobin,
    /// To the least busy.
    LeastConnections,
    /// By client address.
    IpHash,
}

const ALGORITHMS: &[(&str, LoadBalancing)] = &[
    ("round_robin", LoadBalancing::RoundRobin),
    ("least_connections", LoadBalancing::LeastConnections),
    ("ip_hash", LoadBalancing::IpHash),
];

section! {
    /// `scaling.service_discovery`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct ServiceDiscovery {
        /// `method` (default kubernetes).
        pub method: DiscoveryMethod = DiscoveryMethod::Kubernetes => choice(DISCOVERY),
        /// `service_name`.
        pub service_name: Option<String> = None => some(Decoder::string),
        /// `port` (default 3000).
        pub port: u16 = 3000 => whole(1, 65_535),
    }
}

/// `scaling.service_discovery.method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryMethod {
    /// DNS records.
    Dns,
    /// Consul.
    Consul,
    /// Kubernetes services.
    Kubernetes,
}

const DISCOVERY: &[(&str, DiscoveryMethod)] = &[
    ("dns", DiscoveryMethod::Dns),
    ("consul", DiscoveryMethod::Consul),
    ("kubernetes", DiscoveryMethod::Kubernetes),
];

section! {
    /// `scaling.instances`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Instances {
        /// `min_instances` (default 1).
        pub min_instances: u32 = 1 => whole(1, 10_000),
        /// `max_instances` (default 1).
        pub max_instances: u32 = 1 => whole(1, 10_000),
        /// `target_cpu_utilization` percent (default 70).
        pub target_cpu_utilization: u32 = 70 => whole(1, 100),
        /// `target_memory_utilization` percent (default 80).
        pub target_memory_utilization: u32 = 80 => whole(1, 100),
        /// `shutdown_timeout` (default 30 s): the whole shutdown, flushes included.
        pub shutdown_timeout: Duration = Duration::from_secs(30) => duration(MS),
        /// `drain_timeout` (default 10 s): how long in-flight requests may finish.
        pub drain_timeout: Duration = Duration::from_secs(10) => duration(Duration::ZERO),
    }

    /// The maximum is at least the minimum, and draining fits within shutdown.
    fn complete(&mut self, d: &mut Decoder<'_>, fields: &mut Fields<'_>) {
        if self.max_instances < self.min_instances
            && let Some((node, path)) = fields.get("max_instances")
        {
            d.error(
                &path,
                node.at,
                format!(
                    "max_instances ({}) is below min_instances ({}); raise it or lower min_instances",
                    self.max_instances, self.min_instances
                ),
            );
        }
        if self.drain_timeout > self.shutdown_timeout {
            let (path, at) = fields.place("drain_timeout");
            d.error(
                &path,
                at,
                format!(
                    "drain_timeout ({}) must fit within shutdown_timeout ({}): draining is part of shutdown",
                    show_duration(self.drain_timeout),
                    show_duration(self.shutdown_timeout)
                ),
            );
        }
    }
}
