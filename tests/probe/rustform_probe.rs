//! A program that calls `rustform::init()` the way a service does, for the tests in
//! `tests/init.rs`: `init()` installs process-wide state once, so each scenario runs in
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scenario = std::env::args().nth(1).unwrap_or_default();
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
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
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
            // subscriber is set: give it a moment (a bound, not a timing).
            std::thread::sleep(std::time::Duration::from_millis(500));
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
