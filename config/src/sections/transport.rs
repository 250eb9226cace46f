//! How an exporter reaches its receiver (`endpoint`, `protocol`, `headers`,
//! `compression`, `timeout`), and the `tls` a client uses to verify an `https://` server,
//! shared by the exporters and the external health checks.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{MS, choice, decode, duration, some, string_map};
use crate::decode::{Decoder, Fields};

/// How an exporter reaches its receiver. Its `Debug` output names the headers but never
/// shows their values, which often hold credentials.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Transport {
    /// `endpoint`: a URL (a path for the Prometheus exporter).
    pub endpoint: Option<String>,
    /// `protocol`: grpc or http/protobuf; by default from the endpoint's port
    /// (see [`effective_protocol`](crate::effective_protocol)).
    pub protocol: Option<Protocol>,
    /// `headers`, sent with every export.
    pub headers: BTreeMap<String, String>,
    /// `compression`: gzip or none.
    pub compression: Option<Compression>,
    /// `timeout` (default 10 s) for one export, retries included.
    pub timeout: Duration,
    /// `tls`: how an `https://` endpoint is verified, and the client's certificate.
    pub tls: ClientTls,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            endpoint: None,
            protocol: None,
            headers: BTreeMap::new(),
            compression: None,
            timeout: Duration::from_secs(10),
            tls: ClientTls::default(),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        struct HeaderNames<'a>(&'a BTreeMap<String, String>);
        impl std::fmt::Debug for HeaderNames<'_> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_map()
                    .entries(self.0.keys().map(|k| (k, format_args!("<redacted>"))))
                    .finish()
            }
        }
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &HeaderNames(&self.headers))
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

impl Transport {
    /// Reads the keys every exporter shares out of the exporter's `fields`. The endpoint
    /// is a URL, or (`url` false: the Prometheus exporter) the path it is served at,
    /// and only a URL has `tls`.
    pub(crate) fn read(d: &mut Decoder<'_>, fields: &mut Fields<'_>, url: bool) -> Transport {
        let mut out = Transport::default();
        let endpoint = if url { Decoder::url } else { Decoder::url_path };
        fields.set(d, "endpoint", &mut out.endpoint, some(endpoint));
        fields.set(d, "protocol", &mut out.protocol, some(choice(PROTOCOLS)));
        fields.set(
            d,
            "compression",
            &mut out.compression,
            some(choice(COMPRESSIONS)),
        );
        fields.set(d, "timeout", &mut out.timeout, duration(MS));
        fields.set(d, "headers", &mut out.headers, string_map);
        if url {
            out.tls = ClientTls::read(d, fields);
        }
        out
    }
}

/// The OTLP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// gRPC (port 4317).
    Grpc,
    /// Protobuf over HTTP (port 4318).
    HttpProtobuf,
}

const PROTOCOLS: &[(&str, Protocol)] = &[
    ("grpc", Protocol::Grpc),
    ("http/protobuf", Protocol::HttpProtobuf),
    ("http", Protocol::HttpProtobuf),
];

/// Export compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// gzip.
    Gzip,
    /// None.
    None,
}

const COMPRESSIONS: &[(&str, Compression)] =
    &[("gzip", Compression::Gzip), ("none", Compression::None)];

section! {
    /// `tls` of an exporter or an external health check: how rustform verifies an
    /// `https://` server, and the certificate it presents for mutual TLS. Empty (the
    /// default), the system's root certificates verify the server and no client certificate
    /// is sent.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub struct ClientTls {
        /// `ca_file`: trust the CA certificates in this PEM file instead of the system's
        /// roots (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
        pub ca_file: Option<String> = None => some(Decoder::string),
        /// `cert_file`: the client certificate chain, PEM, leaf first, for servers that
        /// require one (`OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`); needs `key_file`.
        pub cert_file: Option<String> = None => some(Decoder::string),
        /// `key_file`: its private key, PEM (`OTEL_EXPORTER_OTLP_CLIENT_KEY`).
        pub key_file: Option<String> = None => some(Decoder::string),
    }
}

impl ClientTls {
    /// The `tls` key of a client's `fields`; a certificate needs its key, and a key its
    /// certificate.
    pub(crate) fn read(d: &mut Decoder<'_>, fields: &mut Fields<'_>) -> ClientTls {
        let Some((node, path)) = fields.get("tls") else {
            return ClientTls::default();
        };
        let tls: ClientTls = decode(d, node, &path);
        let missing = match (&tls.cert_file, &tls.key_file) {
            (Some(_), None) => {
                "missing key \"key_file\": a client certificate needs its private key (PEM)"
            }
            (None, Some(_)) => {
                "missing key \"cert_file\": a client key needs its certificate chain (PEM)"
            }
            _ => return tls,
        };
        d.error(&path, node.at, missing);
        tls
    }
}
