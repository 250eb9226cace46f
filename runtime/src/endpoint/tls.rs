//! TLS for the endpoint's own server: rustls with the `ring` provider, TLS 1.2 and 1.3
//! only, a certificate chain and key from PEM files, HTTP/2 and HTTP/1.1 by ALPN.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::Error;
use crate::config::Tls;

/// The acceptor for `tls`: its files are read now, so a mistake stops `init()`.
pub(crate) fn acceptor(tls: &Tls) -> Result<TlsAcceptor, Error> {
    let error = |key: &str, reason: String| Error::Install {
        what: "the endpoint",
        reason: format!("observability.prometheus.tls.{key}: {reason}"),
    };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&tls.cert_file)
        .map_err(|e| error("cert_file", format!("cannot read {}: {e}", tls.cert_file)))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            error(
                "cert_file",
                format!("{} is not PEM certificates: {e}", tls.cert_file),
            )
        })?;
    if certificates.is_empty() {
        return Err(error(
            "cert_file",
            format!("{} holds no certificate", tls.cert_file),
        ));
    }
    // The key's contents are never shown: only whether it could be read.
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).map_err(|_| {
        error(
            "key_file",
            format!(
                "{} is not a readable PEM private key (PKCS#8, PKCS#1 or SEC1)",
                tls.key_file
            ),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| error("cert_file", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certificates, key)
        .map_err(|e| {
            error(
                "key_file",
                format!("the key does not fit the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
