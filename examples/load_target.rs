//! A small axum service to load-test, with or without rustform, for `scripts/bench-load`:
//! what does instrumentation cost a request when a load generator keeps the server busy?
//!
//! ```text
//! load_target <mode> [--otlp ENDPOINT] [--work-rounds N]
//! load_target collector
//! ```
//!
//! The router is the same in every mode, and so are the handlers' bodies:
//!
//! - `GET /work`: about 1 ms of CPU work (a fixed number of xorshift rounds, the same
//!   in every run, standing in for an in-process query such as SQLite's), then one log
//!   line at INFO, as a service that logs what each request did;
//! - `GET /log`: no work, one log line at INFO;
//! - `GET /empty`: nothing at all, the worst case for instrumentation's share.
//!
//! The modes add rustform one part at a time, so the script can tell what each part costs:
//!
//! - `bare`: no rustform at all: no `init()`, no `ObserveLayer`, handlers without
//!   `#[observed]`. The `tracing::info!` lines find no subscriber and do nothing.
//! - `metrics`: `rustform::init()`, `ObserveLayer` on the router, `#[observed]` handlers,
//!   logging level `off`: the HTTP and function metrics only (no span is built).
//! - `spans`: as `metrics`, with logs at INFO in JSON on standard output, but the
//!   handlers' log lines filtered out: the spans of `ObserveLayer` and `#[observed]`
//!   are built (their fields kept for the log lines), nothing is written.
//! - `logs`: as `spans`, with the handlers' log lines written.
//! - `instrumented`: as `logs`, with spans exported over OTLP/gRPC to `--otlp`, one
//!   trace in ten sampled (`sample_rate: 0.1`): the whole pipeline.
//!
//! Every mode but `bare` serves rustform's endpoint (`/metrics`, without authentication)
//! on an ephemeral loopback port; nothing scrapes it during a run. Logs go to standard output, one `write` per line: the script sends
//! them to a file, as a container runtime would collect them.
//!
//! The server listens on an ephemeral loopback port and prints `listening: ADDR` on
//! standard error; its runtime has one worker thread per core it may run on (the script
//! pins it to one core with `taskset`). On SIGTERM or SIGINT it stops, drops rustform's
//! guard (which flushes the exporters) and prints the export counters on standard error
//! (`rustform_exporter_spans_*`): a run whose spans were dropped is visible.
//!
//! `load_target collector` runs the OTLP collector of `rustform-testkit` (`testkit::otlp_collector`) in a process of
//! its own (so decoding the spans costs the server nothing), prints `otlp: ENDPOINT` on
//! standard output, and on SIGTERM prints `spans received: N` and exits.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::get;

/// Rounds of [`spin`] in `/work`: about 1 ms on the machine of BENCHMARKS.md.
const WORK_ROUNDS: u64 = 550_000;

/// How long the exporters get to flush at shutdown.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// What rustform adds, from nothing to everything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Bare,
    Metrics,
    Spans,
    Logs,
    Instrumented,
}

impl Mode {
    const ALL: [(&'static str, Mode); 5] = [
        ("bare", Mode::Bare),
        ("metrics", Mode::Metrics),
        ("spans", Mode::Spans),
        ("logs", Mode::Logs),
        ("instrumented", Mode::Instrumented),
    ];

    fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// `logging.level` for this mode.
    fn log_level(self) -> &'static str {
        match self {
            Mode::Bare | Mode::Metrics => "off",
            Mode::Spans => "info,load_target::access=off",
            Mode::Logs | Mode::Instrumented => "info",
        }
    }
}

/// The command line.
struct Args {
    mode: Mode,
    otlp: Option<String>,
    work_rounds: u64,
}

const USAGE: &str = "usage: load_target <bare|metrics|spans|logs|instrumented> \
                     [--otlp ENDPOINT] [--work-rounds N]\n       load_target collector";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mode = args.next().ok_or(USAGE)?;
    let mode = Mode::from_name(&mode).ok_or_else(|| format!("unknown mode {mode:?}\n{USAGE}"))?;
    let mut parsed = Args {
        mode,
        otlp: None,
        work_rounds: WORK_ROUNDS,
    };
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--otlp" => parsed.otlp = Some(value),
            "--work-rounds" => {
                parsed.work_rounds = value
                    .parse()
                    .map_err(|_| format!("--work-rounds: {value:?} is not a number"))?;
            }
            _ => return Err(format!("unknown option {flag:?}\n{USAGE}")),
        }
    }
    if mode == Mode::Instrumented && parsed.otlp.is_none() {
        return Err(format!(
            "instrumented needs --otlp ENDPOINT (run `load_target collector`)\n{USAGE}"
        ));
    }
    Ok(parsed)
}

// ---------------------------------------------------------------------------------------
// The handlers
// ---------------------------------------------------------------------------------------

/// Rounds set at startup from `--work-rounds`.
static ROUNDS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// Deterministic CPU work: `rounds` steps of a xorshift generator, each depending on the
/// last, so the compiler can neither skip nor vectorise them.
fn spin(rounds: u64) -> u64 {
    let mut x = 0x9E37_79B9_7F4A_7C15_u64;
    for _ in 0..std::hint::black_box(rounds) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// The body of `/work`, shared by both sets of handlers.
fn work_body() -> String {
    let rounds = ROUNDS.get().copied().unwrap_or(WORK_ROUNDS);
    let checksum = spin(rounds);
    tracing::info!(target: "load_target::access", rounds, "work done");
    format!("{checksum:016x}\n")
}

/// The body of `/log`.
fn log_body() -> &'static str {
    tracing::info!(target: "load_target::access", "nothing done");
    ""
}

/// The handlers of the bare service.
mod bare {
    pub async fn work() -> String {
        super::work_body()
    }

    pub async fn log() -> &'static str {
        super::log_body()
    }

    pub async fn empty() -> &'static str {
        ""
    }
}

/// The same handlers, observed: a span and the function metrics for each call.
mod observed {
    use rustform::observed;

    #[observed]
    pub async fn work() -> String {
        super::work_body()
    }

    #[observed]
    pub async fn log() -> &'static str {
        super::log_body()
    }

    #[observed]
    pub async fn empty() -> &'static str {
        ""
    }
}

fn router(mode: Mode) -> Router {
    if mode == Mode::Bare {
        return Router::new()
            .route("/work", get(bare::work))
            .route("/log", get(bare::log))
            .route("/empty", get(bare::empty));
    }
    Router::new()
        .route("/work", get(observed::work))
        .route("/log", get(observed::log))
        .route("/empty", get(observed::empty))
        .layer(rustform::http::ObserveLayer::new())
}

// ---------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------

/// The configuration of an instrumented mode.
fn config(mode: Mode, otlp: Option<&str>) -> String {
    let exporters = match (mode, otlp) {
        (Mode::Instrumented, Some(endpoint)) => {
            format!(
                "\n        - type: otlp\n          endpoint: \"{endpoint}\"\n          protocol: grpc"
            )
        }
        _ => " []".to_owned(),
    };
    format!(
        "name: load-target\n\
         observability:\n  \
           logging:\n    level: \"{level}\"\n    format: json\n    output: stdout\n  \
           opentelemetry:\n    \
             service_name: load-target\n    \
             tracing:\n      \
               sample_rate: 0.1\n      \
               exporters:{exporters}\n  \
           prometheus:\n    \
             listen: \"127.0.0.1:0\"\n    \
             authentication:\n      enabled: false\n",
        level = mode.log_level(),
    )
}

/// Resolves on SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("cannot listen for signals; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

async fn serve(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let guard = match args.mode {
        Mode::Bare => None,
        mode => Some(
            rustform::Observability::builder()
                .config_yaml(config(mode, args.otlp.as_deref()))
                .install()?,
        ),
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    // One write, so a reader never sees half an address.
    std::io::stderr().write_all(format!("listening: {}\n", listener.local_addr()?).as_bytes())?;
    axum::serve(listener, router(args.mode))
        .with_graceful_shutdown(stop_signal())
        .await?;
    if let Some(guard) = guard {
        let flushed = guard.shutdown(FLUSH_TIMEOUT);
        drop(guard);
        eprintln!("flushed: {flushed}");
        let exposition = rustform::metrics::default_registry().render();
        for line in exposition.lines().filter(|l| {
            l.starts_with("rustform_exporter_spans_") || l.starts_with("rustform_log_events_")
        }) {
            eprintln!("{line}");
        }
    }
    Ok(())
}

/// `load_target collector`.
fn collect() -> Result<(), Box<dyn std::error::Error>> {
    let collector = testkit::otlp_collector::Collector::start();
    let mut stdout = std::io::stdout();
    stdout.write_all(format!("otlp: {}\n", collector.grpc_endpoint()).as_bytes())?;
    stdout.flush()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(stop_signal());
    println!("spans received: {}", collector.span_count());
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().map(String::as_str) == Some("collector") {
        return collect();
    }
    let args = match parse_args(argv) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let _ = ROUNDS.set(args.work_rounds);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(serve(args))
}
