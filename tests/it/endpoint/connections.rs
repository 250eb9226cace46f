//! The connections of the endpoint's own server are bounded: one that sends no complete
//! request head within `header_timeout` of being accepted is closed, over HTTP/1.1,
//! HTTP/2 and TLS; idle keep-alive connections are closed too; past `max_connections`
//! new connections are refused and counted; and with the process limited to 64
//! descriptors, 80 silent connections do not keep a valid scrape out.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame: the rest of a client's connection preface.
const SETTINGS: &[u8] = &[0, 0, 0, 0x4, 0, 0, 0, 0, 0];
const TOKEN: &str = "connections-2c9d4e7f1a8b6053";

/// The endpoint probe serving until it is killed, with `server` as more keys of
/// `prometheus` (see `PROBE_SERVER` in the probe).
struct Probe {
    child: Child,
    address: SocketAddr,
    /// Its certificate (PEM), over TLS.
    certificate: Option<String>,
    _dir: tempfile::TempDir,
}

/// How the probe runs.
#[derive(Default)]
struct Options<'a> {
    server: &'a str,
    /// Over TLS with a self-signed certificate for `localhost`.
    tls: bool,
    /// `ulimit -n`.
    descriptors: Option<u32>,
}

impl Probe {
    fn start(options: Options<'_>) -> Probe {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("token");
        std::fs::write(&token_file, TOKEN).unwrap();
        let probe = env!("CARGO_BIN_EXE_rustform-endpoint-probe");
        let mut command = match options.descriptors {
            Some(limit) => {
                let mut shell = Command::new("/bin/sh");
                shell
                    .arg("-c")
                    .arg(format!("ulimit -n {limit} && exec \"$0\" serve"))
                    .arg(probe);
                shell
            }
            None => {
                let mut command = Command::new(probe);
                command.arg("serve");
                command
            }
        };
        command
            .env_clear()
            .env("PROBE_SERVER", options.server)
            .env("PROBE_TOKEN_FILE", &token_file)
            .stderr(Stdio::piped())
            .stdout(Stdio::null());
        let mut certificate = None;
        if options.tls {
            let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
            let cert_file = dir.path().join("cert.pem");
            let key_file = dir.path().join("key.pem");
            std::fs::write(&cert_file, issued.cert.pem()).unwrap();
            std::fs::write(&key_file, issued.signing_key.serialize_pem()).unwrap();
            command
                .env("PROBE_TLS_CERT", &cert_file)
                .env("PROBE_TLS_KEY", &key_file);
            certificate = Some(issued.cert.pem());
        }
        let mut child = command.spawn().unwrap();
        let (address, lines) = super::listening(child.stderr.take().unwrap());
        // Its own setup done, so only the endpoint runs out of descriptors.
        let serving = lines.map_while(Result::ok).any(|line| line == "serving");
        assert!(serving, "the probe serves");
        Probe {
            child,
            address,
            certificate,
            _dir: dir,
        }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        stream
    }

    /// `GET path` with the token on a connection of its own: the status (0 when the
    /// connection was closed without an answer) and the whole response.
    fn get(&self, path: &str) -> (u16, String) {
        let Ok(mut stream) = TcpStream::connect(self.address) else {
            return (0, String::new());
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nhost: probe\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n"
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return (0, String::new());
        }
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, response)
    }

    /// A valid scrape, retried every 100 ms for up to 30 s while it gets no answer.
    fn scrape(&self) -> (u16, String) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get("/metrics");
            if status != 0 || Instant::now() > until {
                return (status, body);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stream` (whose reads time out) until the peer closes it: how long that took
/// and what came before, or `None` when it is still open after `bound`.
fn closed_within(stream: &mut impl Read, bound: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < bound {
        match stream.read(&mut buffer) {
            Ok(0) => return (Some(started.elapsed()), received),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            // Reset, or a TLS connection closed without close_notify.
            Err(_) => return (Some(started.elapsed()), received),
        }
    }
    (None, received)
}

/// Reads `stream` (whose reads time out) into `received` until `done` says the answer
/// is complete; panics if the connection closes first or nothing completes in 10 s.
fn read_until(stream: &mut impl Read, received: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let started = Instant::now();
    let mut buffer = [0u8; 4096];
    while !done(received) {
        assert!(started.elapsed() < Duration::from_secs(10), "no answer");
        match stream.read(&mut buffer) {
            Ok(0) => panic!("closed before answering"),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("closed before answering: {e}"),
        }
    }
}

/// Asserts that the connection was closed about `timeout` after it began: not before
/// 80% of it, and no later than 3 s after it.
fn assert_closed_after(closed: Option<Duration>, timeout: Duration, case: &str) {
    let closed = closed.unwrap_or_else(|| panic!("{case}: still open after {timeout:?} + 3 s"));
    assert!(
        closed >= timeout.mul_f64(0.8) && closed <= timeout + Duration::from_secs(3),
        "{case}: closed after {closed:?}, for a timeout of {timeout:?}"
    );
}

/// HTTP/2 frames (type, flags, stream, payload) in `bytes`, the incomplete last one left
/// out.
fn frames(mut bytes: &[u8]) -> Vec<(u8, u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 9 {
        let length =
            usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        if bytes.len() < 9 + length {
            break;
        }
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        frames.push((bytes[3], bytes[4], stream, bytes[9..9 + length].to_vec()));
        bytes = &bytes[9 + length..];
    }
    frames
}

const HEADERS: u8 = 0x1;
const GOAWAY: u8 = 0x7;

#[test]
fn a_silent_http1_connection_is_closed_after_the_header_timeout() {
    // No header_timeout of its own: the request timeout's, 1 s.
    let probe = Probe::start(Options {
        server: "request_timeout: 1s",
        ..Options::default()
    });
    let mut silent = probe.connect();
    let (closed, received) = closed_within(&mut silent, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "silent");
    assert!(received.is_empty(), "{received:?}");

    // A head begun and never finished is closed too.
    let mut partial = probe.connect();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: pro")
        .unwrap();
    let (closed, _) = closed_within(&mut partial, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "partial head");

    // The server still answers.
    assert_eq!(probe.get("/healthz").0, 200);
}

#[test]
fn an_http2_connection_that_sends_only_its_preface_is_closed_after_the_header_timeout() {
    let probe = Probe::start(Options {
        server: "request_timeout: 1s",
        ..Options::default()
    });
    let mut preface = probe.connect();
    preface.write_all(PREFACE).unwrap();
    let (closed, _) = closed_within(&mut preface, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "preface");

    let mut settings = probe.connect();
    settings.write_all(&[PREFACE, SETTINGS].concat()).unwrap();
    let (closed, received) = closed_within(&mut settings, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "preface and SETTINGS");
    // It was HTTP/2: the server's SETTINGS came first.
    assert_eq!(frames(&received).first().map(|f| f.0), Some(0x4));
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_header_timeout() {
    let probe = Probe::start(Options {
        server: "header_timeout: 1s",
        ..Options::default()
    });

    // HTTP/1.1: one answer, then nothing.
    let mut http1 = probe.connect();
    http1
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: probe\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    read_until(&mut http1, &mut answer, |a| {
        a.ends_with(b"{\"status\":\"pass\"}")
    });
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    let (closed, _) = closed_within(&mut http1, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "HTTP/1.1 kept alive");

    // HTTP/2: GET /healthz on stream 1, then nothing (not even the SETTINGS ack).
    let mut http2 = probe.connect();
    let mut block = vec![0x82, 0x86, 0x04, 8]; // :method GET, :scheme http, :path …
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x01, 5]); // :authority …
    block.extend_from_slice(b"probe");
    let mut request = [PREFACE, SETTINGS].concat();
    request.extend_from_slice(&[0, 0, block.len() as u8, HEADERS, 0x5, 0, 0, 0, 1]);
    request.extend_from_slice(&block);
    http2.write_all(&request).unwrap();
    let mut received = Vec::new();
    // DATA or HEADERS ending stream 1.
    read_until(&mut http2, &mut received, |r| {
        frames(r)
            .iter()
            .any(|&(kind, flags, stream, _)| stream == 1 && flags & 0x1 != 0 && kind <= HEADERS)
    });
    let (closed, more) = closed_within(&mut http2, Duration::from_secs(4));
    received.extend(more);
    assert_closed_after(closed, Duration::from_secs(1), "HTTP/2 with no open stream");
    let frames = frames(&received);
    let status = frames
        .iter()
        .find(|f| f.0 == HEADERS && f.2 == 1)
        .map(|f| f.3[0]);
    assert_eq!(status, Some(0x88), "the answer is :status 200");
    // Closed gracefully, with GOAWAY.
    assert!(frames.iter().any(|f| f.0 == GOAWAY), "{frames:?}");
}

#[test]
fn a_silent_tls_connection_is_closed_with_the_handshake_counted_in_the_header_timeout() {
    let probe = Probe::start(Options {
        server: "header_timeout: 1s",
        tls: true,
        ..Options::default()
    });
    // No handshake at all.
    let mut silent = probe.connect();
    let (closed, _) = closed_within(&mut silent, Duration::from_secs(4));
    assert_closed_after(closed, Duration::from_secs(1), "no handshake");

    // A handshake, then no request: still 1 s from the connection's acceptance.
    let mut roots = rustls::RootCertStore::empty();
    let certificate = probe.certificate.as_deref().unwrap().as_bytes();
    roots
        .add(CertificateDer::from_pem_slice(certificate).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let started = Instant::now();
    let mut socket = TcpStream::connect(probe.address).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    while tls.is_handshaking() {
        tls.complete_io(&mut socket).unwrap();
    }
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut stream = rustls::StreamOwned::new(tls, socket);
    let (closed, _) = closed_within(&mut stream, Duration::from_secs(4));
    assert!(closed.is_some(), "still open after the handshake");
    assert_closed_after(
        Some(started.elapsed()),
        Duration::from_secs(1),
        "after the handshake",
    );
}

/// Opens 80 connections that say nothing.
fn silent_connections(probe: &Probe) -> Vec<TcpStream> {
    (0..80).map(|_| probe.connect()).collect()
}

/// Asserts that every one of `silent` has been closed by the server.
fn assert_all_closed(silent: Vec<TcpStream>) {
    for (i, mut stream) in silent.into_iter().enumerate() {
        let (closed, _) = closed_within(&mut stream, Duration::from_secs(10));
        assert!(closed.is_some(), "silent connection {i} is still open");
    }
}

/// The value of the sample `name` in an exposition.
fn sample(exposition: &str, name: &str) -> Option<u64> {
    exposition.lines().find_map(|line| {
        let (series, value) = line.split_once(' ')?;
        (series == name).then(|| value.trim().parse().ok())?
    })
}

#[test]
fn eighty_silent_connections_under_64_descriptors_do_not_keep_a_valid_scrape_out() {
    // The default max_connections (512) is above what the process can open: the
    // silent connections run it out of descriptors, and are closed after 2 s.
    let probe = Probe::start(Options {
        server: "request_timeout: 2s",
        descriptors: Some(64),
        ..Options::default()
    });
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", probe.child.id())).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        open_files.split_whitespace().nth(3),
        Some("64"),
        "{open_files}"
    );
    let silent = silent_connections(&probe);
    let (status, body) = probe.scrape();
    assert_eq!(status, 200, "{body}");
    assert_all_closed(silent);
    assert_eq!(probe.get("/metrics").0, 200);
}

#[test]
fn past_max_connections_new_connections_are_refused_and_counted() {
    let probe = Probe::start(Options {
        server: "header_timeout: 2s, max_connections: 32",
        descriptors: Some(64),
        ..Options::default()
    });
    // At zero from the start; the only connection open is the scrape's.
    let (status, exposition) = probe.get("/metrics");
    assert_eq!(status, 200, "{exposition}");
    assert_eq!(
        sample(&exposition, "rustform_endpoint_connections_refused_total"),
        Some(0)
    );
    assert_eq!(
        sample(&exposition, "rustform_endpoint_connections"),
        Some(1)
    );

    // 32 are held until their header timeout; the other 48 are closed at once.
    let silent = silent_connections(&probe);
    let (status, body) = probe.scrape();
    assert_eq!(status, 200, "{body}");
    assert_all_closed(silent);
    // A closed connection leaves the gauge a moment after its socket closes.
    let mut exposition = String::new();
    for _ in 0..20 {
        let (status, body) = probe.get("/metrics");
        assert_eq!(status, 200, "{body}");
        exposition = body;
        if sample(&exposition, "rustform_endpoint_connections") == Some(1) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        sample(&exposition, "rustform_endpoint_connections"),
        Some(1)
    );
    let refused = sample(&exposition, "rustform_endpoint_connections_refused_total").unwrap();
    assert!(refused >= 48, "{refused} refused");
}
