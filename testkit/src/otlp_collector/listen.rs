//! The listening side, shared by the gRPC and the HTTP port: loopback sockets bound with
//! `SO_REUSEADDR`, so [`Collector::come_back`](super::Collector::come_back) can take the
//! same port again at once, and one accept loop that serves HTTP/1.1 and HTTP/2 (with TLS
//! when configured) and owns its connections, so that stopping it closes them all.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use super::REBIND_DEADLINE;
use super::records::Shared;

/// Binds `127.0.0.1:port` with `SO_REUSEADDR`, non-blocking, ready for tokio.
pub(super) fn bind(port: u16) -> io::Result<StdTcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// [`bind`], retried for at most [`REBIND_DEADLINE`].
pub(super) fn bind_retrying(port: u16) -> io::Result<StdTcpListener> {
    let deadline = Instant::now() + REBIND_DEADLINE;
    loop {
        match bind(port) {
            Ok(listener) => return Ok(listener),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Accepts connections and serves each with `app` (HTTP/1.1 or HTTP/2, detected). The
/// connection tasks live in a `JoinSet` owned by this future, so aborting the task closes
/// the listener and every connection at once.
pub(super) async fn serve(
    listener: StdTcpListener,
    app: Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    alive: Arc<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let service = TowerToHyperService::new(app.clone());
                    let alive = alive.clone();
                    let tls = tls.clone();
                    let shared = shared.clone();
                    connections.spawn(async move {
                        let _alive = alive;
                        let builder = auto::Builder::new(TokioExecutor::new());
                        // A client that goes away mid-request is not the collector's error.
                        match tls {
                            None => {
                                let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                            }
                            Some(acceptor) => match acceptor.accept(stream).await {
                                Ok(stream) => {
                                    let _ = builder.serve_connection(TokioIo::new(stream), service).await;
                                }
                                Err(_) => {
                                    shared
                                        .handshake_failures
                                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            },
                        }
                    });
                }
                // E.g. too many open files: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
