//! The endpoint's own server, when `prometheus.listen` names an address: one thread with
//! a Tokio runtime, HTTP/1.1 and HTTP/2, plain or over TLS, and a graceful shutdown.
//!
//! Whoever reaches the port can open connections, so each one is bounded:
//!
//! - **A request head within `header_timeout`.** While a connection has no request in
//!   progress, a complete request head must arrive within `prometheus.header_timeout`,
//!   counted from the moment the connection is accepted (the TLS handshake included) or
//!   from the end of its previous request. A connection that never completes a head (it
//!   says nothing, sends only the HTTP/2 preface and SETTINGS, or stalls in the
//!   handshake) is dropped; one that has served requests and then idles is closed
//!   gracefully (GOAWAY over HTTP/2) and dropped if it has not finished
//!   `request_timeout` later. The timer is the server's own: hyper's HTTP/1 header timer
//!   starts only once the protocol detection of `auto::Builder` has read the first
//!   bytes, and HTTP/2 has none. hyper's HTTP/1 timer still bounds each head once it
//!   begins, and HTTP/2 pings left unanswered for `header_timeout` close the connection.
//! - **At most `max_connections` at once.** Past it, a new connection is closed as soon
//!   as it is accepted and counted in `rustform_endpoint_connections_refused_total`;
//!   `rustform_endpoint_connections` is the number open. The cap keeps the endpoint
//!   below the process's descriptor limit, so a flood of connections cannot make
//!   `accept` fail for the scrapers; should it fail anyway (out of descriptors), the
//!   loop waits 10 ms rather than spin.
//! - **A head of at most 16 KiB** (431 past it over HTTP/1.1), and **an answer within
//!   `request_timeout`** (503 past it).
//!
//! Silent connections are therefore gone `header_timeout` after they arrive, and a valid
//! scrape gets a slot again within that time however many an attacker opens.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use super::Endpoint;
use crate::Error;
use crate::metrics::{Counter, Gauge};

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
    /// Binds `address` and serves `endpoint` there, with the timeouts, connection limit
    /// and TLS of `config`, until [`stop`](Server::stop).
    pub(crate) fn start(
        endpoint: &Endpoint,
        address: SocketAddr,
        config: &crate::config::Prometheus,
    ) -> Result<Server, Error> {
        let request_timeout = config.request_timeout;
        let limits = Limits {
            header_timeout: config.header_timeout,
            request_timeout,
            max_connections: config.max_connections.max(1),
        };
        let tls = config.tls.as_ref();
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
        // The server's own series exist from the start, at zero.
        LazyLock::force(&CONNECTIONS);
        LazyLock::force(&REFUSED);
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
                    serve(listener, router, stopped, limits, tls).await;
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

/// How long a connection may go without a request head, take to close, and how many
/// may be open at once.
#[derive(Clone, Copy, Debug)]
struct Limits {
    header_timeout: Duration,
    request_timeout: Duration,
    max_connections: u32,
}

/// The accept loop.
async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    mut stopped: watch::Receiver<Option<Instant>>,
    limits: Limits,
    tls: Option<Acceptor>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // hyper's own timer bounds a head that arrives slowly; `connection` bounds the wait
    // for it to begin, which hyper does not (see the module's documentation).
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .keep_alive_timeout(limits.header_timeout)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let deadline = loop {
        tokio::select! {
            deadline = stopping(&mut stopped) => break deadline,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors or similar: wait a little rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let accepted = tokio::time::Instant::now();
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    // Over `max_connections`: closed at once, so the descriptor is back.
                    REFUSED.inc();
                    drop(stream);
                    continue;
                };
                let open = Open::new(slot);
                let _ = stream.set_nodelay(true);
                let router = router.clone();
                let builder = builder.clone();
                let stopped = stopped.clone();
                match &tls {
                    None => {
                        tokio::spawn(async move {
                            let _open = open;
                            let opened = Opened { peer, accepted, limits };
                            connection(&builder, stream, router, opened, stopped).await;
                        });
                    }
                    #[cfg(not(feature = "tls"))]
                    Some(never) => match *never {},
                    #[cfg(feature = "tls")]
                    Some(acceptor) => {
                        let handshake = acceptor.accept(stream);
                        tokio::spawn(async move {
                            let _open = open;
                            let mut stopped = stopped;
                            // The handshake counts in the time to the first request head.
                            let stream = tokio::select! {
                                stream = tokio::time::timeout_at(accepted + limits.header_timeout, handshake) => stream,
                                _ = stopping(&mut stopped) => return,
                            };
                            let Ok(Ok(stream)) = stream else {
                                return;
                            };
                            let opened = Opened { peer, accepted, limits };
                            connection(&builder, stream, router, opened, stopped).await;
                        });
                    }
                }
            }
        }
    };
    drop(listener);
    // Every connection holds a slot until it closes: all of them back means all closed.
    let _ = tokio::time::timeout_at(deadline, slots.acquire_many(limits.max_connections)).await;
}

/// Resolves with the shutdown deadline once the server is told to stop (at once if the
/// server is gone).
async fn stopping(stopped: &mut watch::Receiver<Option<Instant>>) -> tokio::time::Instant {
    match stopped.wait_for(Option::is_some).await {
        Ok(deadline) => {
            deadline.map_or_else(tokio::time::Instant::now, tokio::time::Instant::from_std)
        }
        Err(_) => tokio::time::Instant::now(),
    }
}

/// An accepted connection: who, when, under which limits.
struct Opened {
    peer: SocketAddr,
    accepted: tokio::time::Instant,
    limits: Limits,
}

/// Serves one connection until the client closes it, or it goes `header_timeout` without
/// a request in progress and a head, or the server stops.
///
/// A connection that never completed a request head is dropped; one that has served
/// requests is closed gracefully (HTTP/2 GOAWAY; HTTP/1.1 after the answer being
/// written) and dropped if it has not finished `request_timeout` later.
async fn connection<S>(
    builder: &auto::Builder<TokioExecutor>,
    stream: S,
    router: Router,
    opened: Opened,
    mut stopped: watch::Receiver<Option<Instant>>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Opened {
        peer,
        accepted,
        limits,
    } = opened;
    // Requests in progress: the service counts them, the timer watches the count.
    let busy = Arc::new(watch::Sender::new(0usize));
    let mut changes = busy.subscribe();
    let counter = busy.clone();
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        // Called once a request head has arrived (HTTP/1.1) or a stream has opened
        // (HTTP/2).
        let working = Working::start(&counter);
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        async move {
            let _working = working;
            use tower::Service;
            router.call(request.map(axum::body::Body::new)).await
        }
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let mut idle_since = accepted;
    let mut served = false;
    let finish_by = loop {
        let idle = *changes.borrow_and_update() == 0;
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = changes.changed() => {
                served = true;
                if *changes.borrow() == 0 {
                    idle_since = tokio::time::Instant::now();
                }
            }
            () = tokio::time::sleep_until(idle_since + limits.header_timeout), if idle => {
                if !served {
                    return;
                }
                break tokio::time::Instant::now() + limits.request_timeout;
            }
            deadline = stopping(&mut stopped) => break deadline,
        }
    };
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout_at(finish_by, connection).await;
}

/// A request in progress on its connection, until its answer is ready (or it is dropped).
struct Working(Arc<watch::Sender<usize>>);

impl Working {
    fn start(count: &Arc<watch::Sender<usize>>) -> Working {
        count.send_modify(|n| *n += 1);
        Working(count.clone())
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// An open connection: one of the `max_connections` slots, counted in
/// `rustform_endpoint_connections` until it closes.
struct Open {
    _slot: OwnedSemaphorePermit,
}

impl Open {
    fn new(slot: OwnedSemaphorePermit) -> Open {
        CONNECTIONS.inc();
        Open { _slot: slot }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        CONNECTIONS.dec();
    }
}

static CONNECTIONS: LazyLock<Gauge> = LazyLock::new(|| {
    let gauge = Gauge::new();
    super::register(
        "rustform_endpoint_connections",
        "Connections open on the endpoint's own server",
        gauge.clone(),
    );
    gauge
});

static REFUSED: LazyLock<Counter> = LazyLock::new(|| {
    let counter = Counter::default();
    super::register(
        "rustform_endpoint_connections_refused",
        "Connections to the endpoint's own server closed as soon as accepted, for going over prometheus.max_connections",
        counter.clone(),
    );
    counter
});
