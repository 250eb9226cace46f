//! "checkout": a small instrumented service for the stack in `examples/full_stack/`
//! (OpenTelemetry Collector, Jaeger, Prometheus, Grafana; see the README there).
//!
//! Workers place simulated orders for `FULL_STACK_SECONDS` seconds (default 30).
//! `handle_checkout` validates the cart, calls `reserve_stock`, then `charge_card`, which
//! calls the card network and retries once on a timeout; a failed charge releases the
//! stock. Every step is `#[observed]`, so each order is one trace of nested spans and
//! every function has its `function_calls_*` metrics. Some orders fail (out of stock, card
//! declined, card network timeout) and a few are abandoned by a client timeout, counted as
//! `result="cancelled"`. Business metrics come from an `AppMetrics` struct, from the
//! `custom_metrics` section of `rustform.yml` (`app_metrics!`), and from its
//! `prometheus.metrics.business` lists (`metrics::custom()`).
//!
//! The configuration is `RUSTFORM_CONFIG`, else `examples/full_stack/rustform.yml` of this
//! workspace. `install()` serves rustform's endpoint on its `prometheus.listen`,
//! `FULL_STACK_METRICS_ADDR` (default `0.0.0.0:9464`): `/metrics` for Prometheus,
//! `/healthz`, `/readyz` and `/health` for load balancers and probes.
//!
//! Run it from the workspace root with `cargo run --example full_stack`. With `--catalog`
//! it prints its catalog (observed functions, objectives, metrics) as JSON instead and
//! exits: the input of `rustform generate` for the files in `generated/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustform::metrics::{
    Counter, CounterVec, Gauge, Histogram, HistogramVec, LabelValue as _, custom,
};
use rustform::{AppMetrics, ErrorLabel, LabelSet, LabelValue, Objective, observed};

/// How long the load runs unless `FULL_STACK_SECONDS` says otherwise.
const DEFAULT_SECONDS: u64 = 30;
/// Concurrent clients placing orders.
const WORKERS: u64 = 4;
/// How long a client waits for a checkout before it gives up.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(800);
const WAREHOUSES: [&str; 3] = ["eu-west", "us-east", "ap-south"];
const INITIAL_STOCK: i64 = 20_000;

// ---------------------------------------------------------------------------------------
// The domain
// ---------------------------------------------------------------------------------------

/// Why a checkout failed: each variant becomes the `error` label of
/// `function_calls_total`.
#[derive(Debug, Clone, Copy, PartialEq, ErrorLabel)]
enum CheckoutError {
    /// The cart is empty or too large.
    InvalidCart,
    /// The warehouse cannot cover the order.
    OutOfStock,
    /// The card network refused the charge.
    CardDeclined,
    /// The card network did not answer, even after a retry.
    #[label(rename = "card_network_timeout")]
    NetworkTimeout,
}

impl std::fmt::Display for CheckoutError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CheckoutError::InvalidCart => "the cart is empty or has too many items",
            CheckoutError::OutOfStock => "not enough stock in the warehouse",
            CheckoutError::CardDeclined => "the card was declined",
            CheckoutError::NetworkTimeout => "the card network did not answer",
        })
    }
}

impl std::error::Error for CheckoutError {}

#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum CardNetwork {
    Visa,
    Mastercard,
    Amex,
}

#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum Channel {
    Web,
    Mobile,
    Api,
}

/// How an order ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum Outcome {
    Paid,
    InvalidCart,
    OutOfStock,
    CardDeclined,
    CardNetworkTimeout,
    /// The client stopped waiting.
    Abandoned,
}

impl From<CheckoutError> for Outcome {
    fn from(error: CheckoutError) -> Outcome {
        match error {
            CheckoutError::InvalidCart => Outcome::InvalidCart,
            CheckoutError::OutOfStock => Outcome::OutOfStock,
            CheckoutError::CardDeclined => Outcome::CardDeclined,
            CheckoutError::NetworkTimeout => Outcome::CardNetworkTimeout,
        }
    }
}

#[derive(Clone, LabelSet)]
struct OrderLabels {
    outcome: Outcome,
    channel: Channel,
}

#[derive(Clone, LabelSet)]
struct NetworkLabels {
    card_network: CardNetwork,
}

/// The service's own metrics, declared in code.
#[derive(AppMetrics)]
#[metrics(prefix = "checkout")]
struct CheckoutMetrics {
    /// Orders by how they ended and the channel they came from
    orders: CounterVec<OrderLabels>,
    /// Value of paid orders
    #[metric(buckets = [10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0], unit = "dollars")]
    order_value: Histogram,
    /// Items reserved for orders whose payment is under way
    reserved_items: Gauge,
    /// Time the card network took to answer a charge
    #[metric(buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0], unit = "seconds")]
    payment_duration: HistogramVec<NetworkLabels>,
}

// The metrics declared under `custom_metrics:` in rustform.yml, typed: a misspelt metric
// or a wrong number of label values does not compile.
rustform::app_metrics!(struct DeclaredMetrics = "examples/full_stack/rustform.yml");

/// The label-less metrics listed under `observability.prometheus.metrics.business`,
/// found by name once `init` has registered them.
struct BusinessMetrics {
    abandoned_carts: &'static Counter,
    open_carts: &'static Gauge,
    session_duration: &'static Histogram,
}

impl BusinessMetrics {
    fn lookup() -> Result<BusinessMetrics, rustform::Error> {
        let table = custom();
        Ok(BusinessMetrics {
            abandoned_carts: table.counter("checkout_abandoned_carts")?.with(&[])?,
            open_carts: table.gauge("checkout_open_carts")?.with(&[])?,
            session_duration: table
                .histogram("checkout_session_duration_seconds")?
                .with(&[])?,
        })
    }
}

#[derive(Debug, Clone)]
struct Order {
    id: u64,
    items: u32,
    value_dollars: f64,
    channel: Channel,
    card_network: CardNetwork,
    warehouse: &'static str,
}

impl Order {
    /// The next simulated order: its fields follow from its id, so a run is repeatable.
    fn next() -> Order {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let r = roll(id, 0);
        Order {
            id,
            // Mostly 1 to 6 items; now and then an empty cart.
            items: if r.is_multiple_of(97) {
                0
            } else {
                1 + (r % 6) as u32
            },
            value_dollars: 5.0 + (roll(id, 1) % 90_000) as f64 / 100.0,
            channel: [Channel::Web, Channel::Mobile, Channel::Api][(r >> 8) as usize % 3],
            card_network: [
                CardNetwork::Visa,
                CardNetwork::Mastercard,
                CardNetwork::Amex,
            ][(r >> 16) as usize % 3],
            warehouse: WAREHOUSES[(r >> 24) as usize % WAREHOUSES.len()],
        }
    }
}

/// A deterministic pseudo-random number for `(id, salt)` (SplitMix64).
fn roll(id: u64, salt: u64) -> u64 {
    let mut z = id
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A percentage roll: true `percent` times in a hundred.
fn chance(id: u64, salt: u64, percent: u64) -> bool {
    roll(id, salt) % 100 < percent
}

// ---------------------------------------------------------------------------------------
// The observed call tree: handle_checkout → validate_cart, reserve_stock, charge_card →
// call_card_network (and release_stock when the charge fails)
// ---------------------------------------------------------------------------------------

struct Receipt {
    order_id: u64,
    payment_id: u64,
}

/// Items of an order held in `checkout_reserved_items` while its payment runs; released
/// when dropped, also when the client gives up mid-payment.
struct Held(i64);

impl Held {
    fn new(items: u32) -> Held {
        CheckoutMetrics::global().reserved_items.add(items.into());
        Held(items.into())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        CheckoutMetrics::global().reserved_items.sub(self.0);
    }
}

/// The checkout's service-level objective: 99 % of checkouts succeed, and 95 % finish
/// within 250 ms (a bucket boundary of the default buckets, checked while compiling).
/// `rustform generate alerts` turns it into burn-rate alerts; see `generated/`.
const CHECKOUT_SLO: Objective = Objective::new("checkout")
    .success_rate(99.0)
    .latency(Duration::from_millis(250), 95.0);

#[observed(
    callers,
    track_concurrency,
    objective = CHECKOUT_SLO,
    fields(order_id = order.id, items = order.items)
)]
async fn handle_checkout(order: &Order) -> Result<Receipt, CheckoutError> {
    validate_cart(order)?;
    reserve_stock(order).await?;
    let held = Held::new(order.items);
    let charged = charge_card(order).await;
    drop(held);
    match charged {
        Ok(payment_id) => {
            CheckoutMetrics::global()
                .order_value
                .observe(order.value_dollars);
            Ok(Receipt {
                order_id: order.id,
                payment_id,
            })
        }
        Err(error) => {
            release_stock(order).await;
            Err(error)
        }
    }
}

#[observed(callers)]
fn validate_cart(order: &Order) -> Result<(), CheckoutError> {
    match order.items {
        1..=20 => Ok(()),
        _ => Err(CheckoutError::InvalidCart),
    }
}

#[observed(callers, fields(warehouse = order.warehouse))]
async fn reserve_stock(order: &Order) -> Result<(), CheckoutError> {
    let declared = DeclaredMetrics::global();
    let wait = Duration::from_micros(500 + roll(order.id, 2) % 4_000);
    tokio::time::sleep(wait).await;
    declared
        .checkout_reservation_wait_seconds
        .with([order.warehouse])
        .observe(wait.as_secs_f64());
    if chance(order.id, 3, 4) {
        return Err(CheckoutError::OutOfStock);
    }
    declared
        .checkout_stock_items
        .with([order.warehouse])
        .sub(order.items.into());
    Ok(())
}

#[observed(callers, fields(warehouse = order.warehouse))]
async fn release_stock(order: &Order) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    DeclaredMetrics::global()
        .checkout_stock_items
        .with([order.warehouse])
        .add(order.items.into());
}

#[observed(callers, buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5])]
async fn charge_card(order: &Order) -> Result<u64, CheckoutError> {
    match call_card_network(order, 1).await {
        Err(CheckoutError::NetworkTimeout) => {
            order.card_network.with_str(|network| {
                DeclaredMetrics::global()
                    .checkout_payment_retries_total
                    .with([network])
                    .inc()
            });
            call_card_network(order, 2).await
        }
        result => result,
    }
}

#[observed(callers, args(attempt), fields(card_network = ?order.card_network))]
async fn call_card_network(order: &Order, attempt: u64) -> Result<u64, CheckoutError> {
    let labels = NetworkLabels {
        card_network: order.card_network,
    };
    let _timer = CheckoutMetrics::global()
        .payment_duration
        .with(&labels)
        .start_timer();
    let salt = 10 * attempt;
    // Mostly 20 to 120 ms; one call in fifty hangs until the network's own 300 ms
    // deadline, and one in a hundred is slow enough that the client gives up.
    if chance(order.id, salt, 2) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        return Err(CheckoutError::NetworkTimeout);
    }
    let millis = if chance(order.id, salt + 1, 1) {
        1_000
    } else {
        20 + roll(order.id, salt + 2) % 100
    };
    tokio::time::sleep(Duration::from_millis(millis)).await;
    if chance(order.id, salt + 3, 6) {
        return Err(CheckoutError::CardDeclined);
    }
    Ok(roll(order.id, salt + 4) >> 16)
}

// ---------------------------------------------------------------------------------------
// The load and main
// ---------------------------------------------------------------------------------------

/// One client: places orders until `deadline`, and returns how many it placed.
async fn client(deadline: Instant, business: &BusinessMetrics) -> u64 {
    let metrics = CheckoutMetrics::global();
    let mut placed = 0;
    while Instant::now() < deadline {
        let order = Order::next();
        placed += 1;
        business.open_carts.inc();
        let session = Duration::from_millis(1_000 + roll(order.id, 5) % 9_000);
        let outcome = match tokio::time::timeout(CLIENT_TIMEOUT, handle_checkout(&order)).await {
            Ok(Ok(receipt)) => {
                tracing::debug!(
                    order_id = receipt.order_id,
                    payment_id = receipt.payment_id,
                    "order paid"
                );
                business.session_duration.observe_duration(session);
                Outcome::Paid
            }
            Ok(Err(error)) => {
                tracing::warn!(order_id = order.id, %error, "checkout failed");
                Outcome::from(error)
            }
            Err(_elapsed) => {
                // Dropping the future counts handle_checkout as result="cancelled".
                tracing::warn!(order_id = order.id, "client gave up waiting");
                business.abandoned_carts.inc();
                Outcome::Abandoned
            }
        };
        business.open_carts.dec();
        metrics
            .orders
            .with(&OrderLabels {
                outcome,
                channel: order.channel,
            })
            .inc();
        tokio::time::sleep(Duration::from_millis(50 + roll(order.id, 6) % 150)).await;
    }
    placed
}

/// `RUSTFORM_CONFIG`, else this example's `rustform.yml` in the workspace.
fn config_path() -> PathBuf {
    match std::env::var_os(rustform::CONFIG_ENV).filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/full_stack/rustform.yml"),
    }
}

/// Prints the catalog, under the service name of the configuration, without starting
/// anything.
fn print_catalog() -> Result<(), Box<dyn std::error::Error>> {
    let config = rustform::config::Config::load(config_path())?;
    if let Some(name) = config.service_name() {
        rustform::set_service_name(name);
    }
    println!("{}", serde_json::to_string_pretty(&rustform::catalog())?);
    Ok(())
}

fn seconds_to_run() -> u64 {
    std::env::var("FULL_STACK_SECONDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(DEFAULT_SECONDS)
}

#[tokio::main(worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--catalog") {
        return print_catalog();
    }
    // First in main: observed functions take their service_name when metrics are first used.
    let guard = rustform::Observability::builder()
        .config_file(config_path())
        .build_info(rustform::build_info!())
        .install()?;

    // The `custom` health check of rustform.yml: the card network answers.
    rustform::health::register("check_payment_provider", || async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(())
    });
    let business: &'static BusinessMetrics = Box::leak(Box::new(BusinessMetrics::lookup()?));
    for warehouse in WAREHOUSES {
        DeclaredMetrics::global()
            .checkout_stock_items
            .with([warehouse])
            .set(INITIAL_STOCK);
    }
    if let Some(address) = guard.endpoint_address() {
        tracing::info!(%address, "serving /metrics, /healthz, /readyz and /health");
    }

    let seconds = seconds_to_run();
    tracing::info!(seconds, workers = WORKERS, "placing orders");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let clients: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(client(deadline, business)))
        .collect();
    // The clients run until their deadline; SIGTERM (as `docker compose stop` sends it)
    // or Ctrl-C turns readiness off and ends the load early.
    let load = async {
        let mut placed = 0;
        for client in clients {
            placed += client.await.unwrap_or(0);
        }
        placed
    };
    let placed = tokio::select! {
        placed = load => placed,
        () = guard.shutdown_signal() => {
            tracing::info!("shutting down before the load finished");
            0
        }
    };

    let orders = &CheckoutMetrics::global().orders;
    let count = |outcome| {
        [Channel::Web, Channel::Mobile, Channel::Api]
            .into_iter()
            .map(|channel| orders.with(&OrderLabels { outcome, channel }).get())
            .sum::<u64>()
    };
    tracing::info!(
        placed,
        paid = count(Outcome::Paid),
        abandoned = count(Outcome::Abandoned),
        "load finished"
    );
    // Stops rustform's endpoint and flushes the exporters (within
    // scaling.instances.shutdown_timeout); main returns normally.
    drop(guard);
    Ok(())
}
