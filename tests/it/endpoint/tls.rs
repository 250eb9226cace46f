//! The endpoint's own server over TLS: a real rustls client completes the handshake
//! (TLS 1.3, and TLS 1.2 when it offers only that), checks the certificate against the
//! test's own authority, and gets its answer; a plain-HTTP request gets none.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A probe serving on TLS with a fresh self-signed certificate for `localhost`.
struct TlsProbe {
    child: Child,
    address: SocketAddr,
    certificate: CertificateDer<'static>,
    _dir: tempfile::TempDir,
}

impl TlsProbe {
    fn start() -> TlsProbe {
        let dir = tempfile::tempdir().unwrap();
        let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let cert_file = dir.path().join("cert.pem");
        let key_file = dir.path().join("key.pem");
        std::fs::write(&cert_file, issued.cert.pem()).unwrap();
        std::fs::write(&key_file, issued.signing_key.serialize_pem()).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
            .arg("serve")
            .env_clear()
            .env("PROBE_TLS_CERT", &cert_file)
            .env("PROBE_TLS_KEY", &key_file)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let (address, _) = super::listening(child.stderr.take().unwrap());
        TlsProbe {
            child,
            address,
            certificate: CertificateDer::from_pem_slice(issued.cert.pem().as_bytes()).unwrap(),
            _dir: dir,
        }
    }

    /// `GET path` over TLS with the given protocol versions; the response head.
    fn get(&self, path: &str, versions: &[&'static rustls::SupportedProtocolVersion]) -> String {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.certificate.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server = ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
        let socket = TcpStream::connect(self.address).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut stream = rustls::StreamOwned::new(connection, socket);
        let request =
            format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    }
}

impl Drop for TlsProbe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_endpoint_serves_tls_1_3_and_1_2_with_its_certificate() {
    let probe = TlsProbe::start();
    let tls13 = probe.get("/healthz", &[&rustls::version::TLS13]);
    assert!(tls13.starts_with("HTTP/1.1 200"), "{tls13}");
    let tls12 = probe.get("/metrics", &[&rustls::version::TLS12]);
    assert!(tls12.starts_with("HTTP/1.1 200"), "{tls12}");
    assert!(tls12.contains("function_calls_total"), "{tls12}");
}

#[test]
fn plain_http_on_the_tls_port_gets_no_answer() {
    let probe = TlsProbe::start();
    let mut socket = TcpStream::connect(probe.address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    socket
        .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .unwrap();
    let mut response = Vec::new();
    let _ = socket.read_to_end(&mut response);
    assert!(
        !String::from_utf8_lossy(&response).contains("function_calls_total"),
        "metrics went out in the clear"
    );
}

#[test]
fn a_missing_certificate_stops_init_with_the_yaml_path() {
    let output = Command::new(env!("CARGO_BIN_EXE_rustform-endpoint-probe"))
        .arg("serve")
        .env_clear()
        .env("PROBE_TLS_CERT", "/nonexistent/cert.pem")
        .env("PROBE_TLS_KEY", "/nonexistent/key.pem")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("observability.prometheus.tls.cert_file"),
        "{stderr}"
    );
}
