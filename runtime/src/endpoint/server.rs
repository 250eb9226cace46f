//! The endpoint's own server, when `prometheus.listen` names an address: one thread with
//! a Tokio runtime, HTTP/1.1 and HTTP/2, a header-read timeout and a header size limit
//! so a slow or huge request cannot tie it up, a timeout on every request, and a
//! graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::watch;

use super::Endpoint;
use crate::Error;

/// Largest request head accepted, in bytes (HTTP/1.1 buffer; HTTP/2 header list).
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// A running endpoint server.
pub(crate) struct Server {
    /// Where it listens (the port chosen when the configuration said 0).
    pub(crate) address: SocketAddr,
    stop: watch::Sender<Option<Instant>>,
    in_flight: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("address", &self.address)
            .finish()
    }
}

impl Server {
    /// Binds `address` and serves `endpoint` there until [`stop`](Server::stop).
    pub(crate) fn start(
        endpoint: &Endpoint,
        address: SocketAddr,
        request_timeout: Duration,
        tls: Option<&crate::config::Tls>,
    ) -> Result<Server, Error> {
        #[cfg(feature = "tls")]
        let tls = match tls {
            Some(tls) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                crate::tls::server_config(tls)?,
            ))),
            None => None,
        };
        #[cfg(not(feature = "tls"))]
        let tls: Option<Acceptor> = match tls {
            Some(_) => {
                return Err(Error::missing_feature(
                    "observability.prometheus.tls",
                    "TLS for the endpoint's server",
                    "tls",
                ));
            }
            None => None,
        };
        let error = |reason: String| Error::Install {
            what: "the endpoint",
            reason: format!("observability.prometheus.listen: {reason}"),
        };
        let listener = std::net::TcpListener::bind(address)
            .map_err(|e| error(format!("cannot listen on {address}: {e}")))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| error(e.to_string()))?;
        let bound = listener.local_addr().map_err(|e| error(e.to_string()))?;
        let in_flight = Arc::new(AtomicUsize::new(0));
        let counter = in_flight.clone();
        let router =
            endpoint
                .router()
                .layer(middleware::from_fn(move |request: Request, next: Next| {
                    let counter = counter.clone();
                    async move {
                        // Counted until answered, or until the client goes away and
                        // the request is dropped.
                        let _in_flight = InFlight::enter(counter);
                        let response =
                            tokio::time::timeout(request_timeout, next.run(request)).await;
                        response.unwrap_or_else(|_| {
                            (StatusCode::SERVICE_UNAVAILABLE, "the request timed out\n")
                                .into_response()
                        })
                    }
                }));
        let (stop, stopped) = watch::channel(None);
        let (ready, started) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rustform-endpoint".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(e.to_string()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready.send(Ok(()));
                    serve(listener, router, stopped, request_timeout, tls).await;
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })
            .map_err(|e| error(e.to_string()))?;
        started
            .recv()
            .map_err(|e| error(e.to_string()))?
            .map_err(error)?;
        Ok(Server {
            address: bound,
            stop,
            in_flight,
            thread: Some(thread),
        })
    }

    /// Lets in-flight requests finish (until `drain` at most), then stops accepting and
    /// closes every connection; returns by `deadline` at the latest.
    pub(crate) fn stop(&mut self, drain: Instant, deadline: Instant) {
        let drain = drain.min(deadline);
        // Still serving (so probes see /readyz answer 503) while requests finish.
        while self.in_flight.load(Ordering::Acquire) > 0 && Instant::now() < drain {
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.stop.send(Some(deadline));
        if let Some(thread) = self.thread.take() {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let now = Instant::now();
        self.stop(now, now + Duration::from_secs(1));
    }
}

/// One request in flight, counted for the drain.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: Arc<AtomicUsize>) -> InFlight {
        counter.fetch_add(1, Ordering::AcqRel);
        InFlight(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What accepts TLS connections, in a build with the `tls` feature.
#[cfg(feature = "tls")]
type Acceptor = tokio_rustls::TlsAcceptor;
#[cfg(not(feature = "tls"))]
type Acceptor = std::convert::Infallible;

/// The accept loop.
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stopped: watch::Receiver<Option<Instant>>,
    request_timeout: Duration,
    tls: Option<Acceptor>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(request_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let deadline = loop {
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() {
                    break Instant::now();
                }
                if let Some(deadline) = *stopped.borrow() {
                    break deadline;
                }
            }
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors or similar: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    let mut router = router.clone();
                    async move {
                        use tower::Service;
                        router.call(request.map(axum::body::Body::new)).await
                    }
                });
                match &tls {
                    None => {
                        let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                        let connection = graceful.watch(connection.into_owned());
                        tokio::spawn(async move {
                            let _ = connection.await;
                        });
                    }
                    #[cfg(not(feature = "tls"))]
                    Some(never) => match *never {},
                    #[cfg(feature = "tls")]
                    Some(acceptor) => {
                        // The handshake has the request timeout too: a client that
                        // connects and says nothing cannot hold a task for ever.
                        let handshake = tokio::time::timeout(request_timeout, acceptor.accept(stream));
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let Ok(Ok(stream)) = handshake.await else {
                                return;
                            };
                            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                            let _ = watcher.watch(connection.into_owned()).await;
                        });
                    }
                }
            }
        }
    };
    drop(listener);
    let remaining = deadline.saturating_duration_since(Instant::now());
    let _ = tokio::time::timeout(remaining, graceful.shutdown()).await;
}
