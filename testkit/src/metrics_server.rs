//! A minimal HTTP server on loopback that serves a rustform registry, for a real
//! Prometheus server to scrape in tests. (The product's endpoint is `rustform::endpoint`;
//! this one only needs to answer `GET /metrics`.)

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rustform::metrics::{Format, Registry};

/// Serves `registry` at `http://127.0.0.1:<port>/metrics` until dropped, in OpenMetrics
/// when the client's `Accept` asks for it, else in the 0.0.4 text format.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl MetricsServer {
    pub fn start(registry: Registry) -> MetricsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => serve(stream, &registry),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        MetricsServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:<port>`, for a scrape config's `targets`.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, registry: &Registry) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream);
    let mut openmetrics = false;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {
                let lower = line.to_ascii_lowercase();
                if lower.starts_with("accept:") && lower.contains("application/openmetrics-text") {
                    openmetrics = true;
                }
            }
        }
    }
    let format = if openmetrics {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    let mut body = String::new();
    registry.encode(format, &mut body);
    let mut stream = reader.into_inner();
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        format.content_type(),
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()));
}
