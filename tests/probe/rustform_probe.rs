//! A program that calls `rustform::init()` the way a service does, for the tests in
//! `tests/it/service/init.rs`: `init()` installs process-wide state once, so each scenario runs in
//! its own process. The scenario is the first argument; the configuration comes from
//! `RUSTFORM_CONFIG` or the working directory, as in a real service. Logs go to stdout;
//! what the scenario reports goes to stderr.

use std::time::Duration;

use rustform::metrics::{custom, default_registry};
use rustform::observed;

#[observed]
fn place_order(id: u32) -> Result<u32, std::io::Error> {
    tracing::info!(order_id = id, "placing order");
    check_stock(id)?;
    Ok(id)
}

#[observed]
fn check_stock(id: u32) -> Result<(), std::io::Error> {
    tracing::info!(order_id = id, "checking stock");
    if let Some(context) = rustform::trace::current() {
        eprintln!(
            "check_stock ids: {}/{}",
            hex(&context.trace_id),
            hex(&context.span_id)
        );
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether an event of `rustform::config` reached the program's subscriber.
static CONFIG_NOTE_SEEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The program's own layer: notes when rustform's configuration notes arrive.
struct ConfigNotes;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ConfigNotes {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() == "rustform::config" {
            CONFIG_NOTE_SEEN.store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Serves `router` on loopback from a thread of its own, with client addresses.
fn serve(router: axum::Router) -> std::io::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::spawn(move || {
        runtime.block_on(async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
                let _ = axum::serve(listener, service).await;
            }
        });
    });
    Ok(address)
}

/// The status of `GET path`, with a bearer token when given (0 when none came).
fn status(address: std::net::SocketAddr, path: &str, token: Option<&str>) -> u16 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(address) else {
        return 0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let authorization = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: probe\r\n{authorization}connection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return 0;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::args().nth(1).unwrap_or_default();
    // A program that builds its app, endpoint routes included, before init().
    let early = if scenario == "router-before-init" {
        let address = serve(rustform::endpoint::router())?;
        eprintln!(
            "before init: metrics {} healthz {}",
            status(address, "/metrics", None),
            status(address, "/healthz", None)
        );
        Some(address)
    } else {
        None
    };
    let guard = if scenario == "build-info" {
        rustform::Observability::builder()
            .build_info(rustform::metrics::BuildInfo {
                commit: "4f2a9c1".into(),
                branch: "main".into(),
                ..rustform::build_info!()
            })
            .install()?
    } else if scenario == "own-registry" {
        // The program's own subscriber, with rustform's layer in it.
        use tracing_subscriber::layer::SubscriberExt;
        let (layer, guard) = rustform::Observability::builder()
            .build()?
            .install_layer()?;
        tracing::subscriber::set_global_default(
            tracing_subscriber::registry().with(layer).with(ConfigNotes),
        )?;
        guard
    } else {
        rustform::init()?
    };
    match scenario.as_str() {
        "logs" => {
            tracing::info!("outside any span");
            place_order(7)?;
            tracing::warn!(reason = "low stock", "after the order");
            log::info!(target: "legacy", "from the log crate");
            log::debug!(target: "legacy", "filtered out at info");
        }
        "own-registry" => {
            tracing::warn!("from the program");
            place_order(1)?;
            eprint!("{}", default_registry().render());
            // The configuration's notes are logged from a thread of rustform's once the
            // subscriber is set: wait for them, within a bound.
            let until = std::time::Instant::now() + Duration::from_secs(30);
            while !CONFIG_NOTE_SEEN.load(std::sync::atomic::Ordering::Acquire)
                && std::time::Instant::now() < until
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        "router-before-init" => {
            let address = early.ok_or("no early router")?;
            let token = std::env::var("METRICS_TOKEN")?;
            eprintln!(
                "after init: metrics {} with the token {} healthz {}",
                status(address, "/metrics", None),
                status(address, "/metrics", Some(&token)),
                status(address, "/healthz", None)
            );
        }
        "twice" => match rustform::init() {
            Ok(_) => eprintln!("second init: accepted"),
            Err(err) => eprintln!("second init: {err}"),
        },
        "metrics" | "build-info" => {
            place_order(1)?;
            eprint!("{}", default_registry().render());
        }
        "custom" => {
            let orders = custom().counter("orders_total")?;
            orders.with(&["completed", "card"])?.inc();
            orders.with(&["completed", "card"])?.inc();
            custom().gauge("active_users")?.with(&["web"])?.set(3);
            custom()
                .histogram("request_duration_seconds")?
                .with(&["GET", "/users", "200"])?
                .observe(0.3);
            match custom().counter("orderz_total") {
                Ok(_) => eprintln!("wrong name: accepted"),
                Err(err) => eprintln!("wrong name: {err}"),
            }
            match orders.with(&["completed"]) {
                Ok(_) => eprintln!("wrong count: accepted"),
                Err(err) => eprintln!("wrong count: {err}"),
            }
            eprint!("{}", default_registry().render());
        }
        "sampling" => {
            for i in 0..1_000 {
                tracing::info!(i, "routine");
            }
            for i in 0..10 {
                tracing::warn!(i, "unusual");
            }
            tracing::error!("broken");
            eprint!("{}", default_registry().render());
        }
        "shutdown" => {
            eprintln!("first shutdown: {}", guard.shutdown(Duration::from_secs(1)));
            eprintln!(
                "second shutdown: {}",
                guard.shutdown(Duration::from_secs(1))
            );
            eprintln!("shut down: {}", guard.is_shut_down());
            tracing::info!("still logging after shutdown");
        }
        other => eprintln!("unknown scenario {other:?}"),
    }
    drop(guard);
    Ok(())
}
