//! `observability.health`: the health endpoint and the checks behind readiness (the
//! database, an external service over HTTP, or a check registered in code).

use std::time::Duration;

use super::{ClientTls, MS, choice, duration};
use crate::decode::{Decoder, join};
use crate::node::Node;

section! {
    /// `observability.health`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Health {
        /// `enabled` (default true).
        pub enabled: bool = true => Decoder::bool,
        /// `endpoint` (default `/health`).
        pub endpoint: String = "/health".to_owned() => Decoder::url_path,
        /// `require_authentication` (default false): whether `/health` needs the same
        /// credentials as `/metrics` (`/healthz` and `/readyz` never do: probes carry none).
        pub require_authentication: bool = false => Decoder::bool,
        /// `checks`.
        pub checks: Vec<HealthCheck> = Vec::new() => checks,
    }
}

/// `checks`: each with its own name; a check that cannot be used is left out.
fn checks(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Vec<HealthCheck>> {
    let mut out: Vec<HealthCheck> = Vec::new();
    for (node, path) in d.list(node, path) {
        let Some(check) = HealthCheck::decode(d, node, &path) else {
            continue;
        };
        if let Some(first) = out.iter().find(|c| c.name == check.name) {
            let name = first.name.clone();
            d.error(
                &join(&path, "name"),
                node.at,
                format!("a check named {name:?} is already declared; give each check its own name"),
            );
        } else {
            out.push(check);
        }
    }
    Some(out)
}

/// `health.checks[]`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthCheck {
    /// `type`.
    pub kind: HealthCheckKind,
    /// `name` (default: the type for `database`).
    pub name: String,
    /// `url` (external_service).
    pub url: Option<String>,
    /// `handler` (custom; default: the name): the check registered in code.
    pub handler: Option<String>,
    /// `timeout` (default 5 s).
    pub timeout: Duration,
    /// `critical` (default true): whether readiness depends on it.
    pub critical: bool,
    /// `tls` (external_service): how an `https://` URL is verified.
    pub tls: ClientTls,
}

impl HealthCheck {
    /// An item of `checks`, whose required keys depend on its `type`.
    fn decode(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<HealthCheck> {
        let mut f = d.map(node, path);
        let kind = f.required(
            d,
            "type",
            "database, external_service or custom",
            choice(HEALTH_CHECKS),
        );
        let name = f.read(d, "name", Decoder::string);
        let url = f.read(d, "url", Decoder::url);
        let handler = f.read(d, "handler", Decoder::string);
        let timeout = f
            .read(d, "timeout", duration(MS))
            .unwrap_or(Duration::from_secs(5));
        let critical = f.read(d, "critical", Decoder::bool).unwrap_or(true);
        let tls = ClientTls::read(d, &mut f);
        f.finish(d);
        let kind = kind?;
        let name = match (kind, name) {
            (_, Some(name)) => name,
            (HealthCheckKind::Database, None) => "database".to_owned(),
            (_, None) => {
                d.error(
                    path,
                    node.at,
                    "missing key \"name\": give the check a name, like name: \"auth_service\"",
                );
                return None;
            }
        };
        if kind == HealthCheckKind::ExternalService && url.is_none() {
            d.error(
                path,
                node.at,
                "missing key \"url\": an external_service check needs the URL to call, like url: \"http://auth/health\"",
            );
            return None;
        }
        Some(HealthCheck {
            kind,
            name,
            url,
            handler,
            timeout,
            critical,
            tls,
        })
    }
}

/// `health.checks[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckKind {
    /// The application's database, checked by a check registered in code.
    Database,
    /// An HTTP GET that must answer 2xx.
    ExternalService,
    /// A check registered in code.
    Custom,
}

const HEALTH_CHECKS: &[(&str, HealthCheckKind)] = &[
    ("database", HealthCheckKind::Database),
    ("external_service", HealthCheckKind::ExternalService),
    ("custom", HealthCheckKind::Custom),
];
