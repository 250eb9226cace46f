//! Certificates made by the test: a CA of its own and certificates it issues, for the
//! TLS tests of the endpoint, the exporters and the health checks.

/// A CA of the test's own, a server certificate for 127.0.0.1 and a client certificate,
/// all issued by it, written as PEM files: `ca.pem`, `server.pem` and `server.key`,
/// `client.pem` and `client.key` under [`path`](Pki::path).
pub struct Pki {
    dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    server: (rcgen::Certificate, rcgen::KeyPair),
}

impl Default for Pki {
    fn default() -> Pki {
        Pki::new()
    }
}

impl Pki {
    /// Makes the CA and issues the certificates into a fresh temporary folder.
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let issue = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
            (params.signed_by(&key, &issuer).unwrap(), key)
        };
        let server = issue("127.0.0.1");
        let client = issue("rustform-client");
        let pki = Pki { dir, ca, server };
        std::fs::write(pki.path("ca.pem"), pki.ca.pem()).unwrap();
        std::fs::write(pki.path("server.pem"), pki.server.0.pem()).unwrap();
        std::fs::write(pki.path("server.key"), pki.server.1.serialize_pem()).unwrap();
        std::fs::write(pki.path("client.pem"), client.0.pem()).unwrap();
        std::fs::write(pki.path("client.key"), client.1.serialize_pem()).unwrap();
        pki
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.path().join(file).to_str().unwrap().to_owned()
    }

    pub fn ca_der(&self) -> rustls::pki_types::CertificateDer<'static> {
        self.ca.der().clone()
    }

    /// A server's TLS with the certificate for 127.0.0.1, and with
    /// `require_client_certificates`, client certificates required and verified against
    /// the CA.
    pub fn server_config(&self, require_client_certificates: bool) -> rustls::ServerConfig {
        use rustls::pki_types::PrivateKeyDer;
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_certificates {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::try_from(self.server.1.serialize_der()).unwrap();
        builder
            .with_single_cert(vec![self.server.0.der().clone()], key)
            .unwrap()
    }
}
