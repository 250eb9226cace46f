//! TLS, one way for the whole crate: rustls with one crypto provider for the endpoint's
//! server and for every connection rustform makes (OTLP over gRPC and HTTP, Zipkin,
//! external health checks).
//!
//! The provider is the process's default when the program installed one
//! (`CryptoProvider::install_default`), else aws-lc-rs, rustls' own default (with
//! post-quantum key exchange); rustform never installs a process default itself. TLS 1.2
//! is the minimum. A client verifies servers against the system's root certificates, or
//! against the CAs of `tls.ca_file` instead, and presents `tls.cert_file` and
//! `tls.key_file` to servers that require a client certificate.
//!
//! Files are read when rustform is installed, so a missing or malformed one stops
//! `init()` with the YAML path; a private key's contents are never shown.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;
use crate::config::ClientTls;
#[cfg(feature = "endpoint")]
use crate::config::Tls;

/// The crypto provider: the program's process default, else aws-lc-rs.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    match CryptoProvider::get_default() {
        Some(provider) => provider.clone(),
        None => Arc::new(rustls::crypto::aws_lc_rs::default_provider()),
    }
}

/// TLS 1.3 and 1.2, nothing older.
const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// An error about the setting `key` under `path`.
fn error(what: &'static str, path: &str, key: &str, reason: String) -> Error {
    Error::Install {
        what,
        reason: format!("{path}.{key}: {reason}"),
    }
}

/// The certificates of a PEM file, at least one.
fn certificates(
    file: &str,
    what: &'static str,
    path: &str,
    key: &str,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .map_err(|e| error(what, path, key, format!("cannot read {file}: {e}")))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            error(
                what,
                path,
                key,
                format!("{file} is not PEM certificates: {e}"),
            )
        })?;
    if certificates.is_empty() {
        return Err(error(
            what,
            path,
            key,
            format!("{file} holds no certificate"),
        ));
    }
    Ok(certificates)
}

/// The private key of a PEM file. Its contents are never shown: only whether it could
/// be read.
fn private_key(
    file: &str,
    what: &'static str,
    path: &str,
    key: &str,
) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(file).map_err(|_| {
        error(
            what,
            path,
            key,
            format!("{file} is not a readable PEM private key (PKCS#8, PKCS#1 or SEC1)"),
        )
    })
}

/// The server configuration of `prometheus.tls`: its files are read now, so a mistake
/// stops `init()`. HTTP/2 and HTTP/1.1 by ALPN.
#[cfg(feature = "endpoint")]
pub(crate) fn server_config(tls: &Tls) -> Result<rustls::ServerConfig, Error> {
    const WHAT: &str = "the endpoint";
    const PATH: &str = "observability.prometheus.tls";
    let chain = certificates(&tls.cert_file, WHAT, PATH, "cert_file")?;
    let key = private_key(&tls.key_file, WHAT, PATH, "key_file")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| error(WHAT, PATH, "cert_file", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            error(
                WHAT,
                PATH,
                "key_file",
                format!("the key does not fit the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The client configuration of `tls` (the setting at YAML path `path`): the system's
/// roots or `ca_file`'s CAs, and `cert_file` with `key_file` for mutual TLS.
///
/// ```
/// let tls = rustform::config::ClientTls::default();
/// let config = rustform::tls::client_config(&tls, "observability.opentelemetry.tracing.exporters[0].tls")?;
/// assert!(config.alpn_protocols.is_empty());
/// # Ok::<(), rustform::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Install`] naming `path` when a file cannot be read, holds no certificate or
/// no usable key, the key does not fit the certificate, or no system root could be
/// loaded.
pub fn client_config(tls: &ClientTls, path: &str) -> Result<rustls::ClientConfig, Error> {
    const WHAT: &str = "TLS";
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(file) => {
            for certificate in certificates(file, WHAT, path, "ca_file")? {
                roots.add(certificate).map_err(|e| {
                    error(
                        WHAT,
                        path,
                        "ca_file",
                        format!("{file}: not a CA certificate: {e}"),
                    )
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _ignored) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(error(
                    WHAT,
                    path,
                    "ca_file",
                    format!(
                        "no root certificate of the system could be loaded{why}; install the \
                         system's CA bundle (Debian: ca-certificates) or name one in ca_file"
                    ),
                ));
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| error(WHAT, path, "ca_file", e.to_string()))?
        .with_root_certificates(roots);
    match (&tls.cert_file, &tls.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = certificates(cert_file, WHAT, path, "cert_file")?;
            let key = private_key(key_file, WHAT, path, "key_file")?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                error(
                    WHAT,
                    path,
                    "key_file",
                    format!("the key does not fit the certificate: {e}"),
                )
            })
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(_), None) => Err(error(
            WHAT,
            path,
            "key_file",
            "a client certificate needs its private key".to_owned(),
        )),
        (None, Some(_)) => Err(error(
            WHAT,
            path,
            "cert_file",
            "a client key needs its certificate chain".to_owned(),
        )),
    }
}

/// A reqwest client's builder with `tls` for `https://` URLs.
#[cfg(any(feature = "endpoint", feature = "otlp"))]
pub(crate) fn reqwest(
    builder: reqwest::ClientBuilder,
    tls: &ClientTls,
    path: &str,
) -> Result<reqwest::ClientBuilder, Error> {
    Ok(builder.tls_backend_preconfigured(client_config(tls, path)?))
}

/// A connector for tonic's channels that speaks TLS with `config` (HTTP/2 by ALPN), for
/// `https://` endpoints; tonic's own TLS features are not used, so the provider and the
/// roots are the ones above.
#[cfg(feature = "otlp")]
#[derive(Clone)]
pub(crate) struct GrpcConnector {
    config: Arc<rustls::ClientConfig>,
}

#[cfg(feature = "otlp")]
impl GrpcConnector {
    pub(crate) fn new(mut config: rustls::ClientConfig) -> GrpcConnector {
        config.alpn_protocols = vec![b"h2".to_vec()];
        GrpcConnector {
            config: Arc::new(config),
        }
    }
}

#[cfg(feature = "otlp")]
impl tower::Service<http::Uri> for GrpcConnector {
    type Response = hyper_util::rt::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type Error = std::io::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.config.clone();
        Box::pin(async move {
            use std::io::{Error as IoError, ErrorKind};
            let host = uri
                .host()
                .ok_or_else(|| IoError::new(ErrorKind::InvalidInput, "the endpoint has no host"))?;
            // An IPv6 literal comes in brackets.
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let stream = tokio::net::TcpStream::connect((host.as_str(), port)).await?;
            let _ = stream.set_nodelay(true);
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|e| IoError::new(ErrorKind::InvalidInput, e))?;
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(hyper_util::rt::TokioIo::new(stream))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(ca: Option<&str>, cert: Option<&str>, key: Option<&str>) -> ClientTls {
        let mut tls = ClientTls::default();
        tls.ca_file = ca.map(str::to_owned);
        tls.cert_file = cert.map(str::to_owned);
        tls.key_file = key.map(str::to_owned);
        tls
    }

    #[test]
    fn a_missing_ca_file_names_its_path() {
        let error = client_config(&tls(Some("/no/such/ca.pem"), None, None), "x.tls")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("x.tls.ca_file: cannot read /no/such/ca.pem"),
            "{error}"
        );
    }

    #[test]
    fn a_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("empty.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let file = file.to_str().unwrap();
        let error = client_config(&tls(Some(file), None, None), "x.tls")
            .unwrap_err()
            .to_string();
        assert!(error.contains("holds no certificate"), "{error}");
    }

    #[test]
    fn a_key_without_its_certificate_is_refused() {
        let error = client_config(&tls(None, None, Some("/k.pem")), "x.tls")
            .unwrap_err()
            .to_string();
        assert!(error.contains("x.tls.cert_file"), "{error}");
    }
}
