//! Axum service: a user's "shop" service with `ObserveLayer` on its router and
//! `#[observed]` handlers, which calls a second service, "inventory", through
//! `rustform::http::ClientMiddleware`. Each order is one trace across both services: the
//! shop's server span, the `create_order` span, the client span of the call, the
//! inventory's server span and its `reserve_stock` span, printed on standard error by
//! the console span exporter. Beside the service, `rustform::init()` serves the secured
//! endpoint (`/metrics` and the health checks) behind a freshly generated bearer token.
//!
//! The program calls itself a few times a second, so there is something to see: users
//! found and not found, orders placed and orders refused because the inventory is out of
//! stock.
//!
//! Run it with `cargo run --example axum_service`; it stops after `AXUM_SERVICE_SECONDS`
//! (default 60) or on SIGTERM or Ctrl-C, shutting down gracefully: both servers are
//! served with `with_graceful_shutdown(guard.shutdown_signal())`. `AXUM_SERVICE_LISTEN` (default
//! 127.0.0.1:3000) and `AXUM_SERVICE_METRICS_LISTEN` (default 127.0.0.1:9464) change the
//! addresses.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rustform::http::reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use rustform::http::{ClientMiddleware, ObserveLayer, UrlTemplate};
use rustform::{ErrorLabel, observed};

// ---------------------------------------------------------------------------------------
// The shop: the user's service
// ---------------------------------------------------------------------------------------

/// What the shop's handlers share: a client whose requests carry the trace, and where
/// the inventory service is.
struct Shop {
    client: ClientWithMiddleware,
    inventory: String,
}

/// Why a user lookup failed: each variant becomes the `error` label of
/// `function_calls_total`.
#[derive(Debug, ErrorLabel)]
enum UserError {
    NotFound,
}

impl IntoResponse for UserError {
    fn into_response(self) -> Response {
        (StatusCode::NOT_FOUND, "no such user").into_response()
    }
}

#[observed]
async fn get_user(Path(id): Path<u32>) -> Result<String, UserError> {
    if id % 7 == 0 {
        return Err(UserError::NotFound);
    }
    tracing::info!(id, "user found");
    Ok(format!("user {id}"))
}

/// Why an order failed.
#[derive(Debug, ErrorLabel)]
enum OrderError {
    /// The inventory has none left.
    OutOfStock,
    /// The inventory did not answer, or answered with an error.
    #[label(rename = "inventory_unavailable")]
    Inventory,
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        match self {
            OrderError::OutOfStock => (StatusCode::CONFLICT, "out of stock").into_response(),
            OrderError::Inventory => {
                (StatusCode::BAD_GATEWAY, "the inventory is unavailable").into_response()
            }
        }
    }
}

/// Reserves the item in the inventory service, through the client middleware: the call
/// is a client span under this function's span, and the inventory continues the trace.
#[observed]
async fn create_order(
    State(shop): State<Arc<Shop>>,
    Path(sku): Path<String>,
) -> Result<String, OrderError> {
    let response = shop
        .client
        .post(format!("{}/stock/{sku}/reserve", shop.inventory))
        .with_extension(UrlTemplate("/stock/{sku}/reserve"))
        .send()
        .await
        .map_err(|_| OrderError::Inventory)?;
    match response.status().as_u16() {
        200 => {
            tracing::info!(%sku, "order placed");
            Ok(format!("order placed for {sku}"))
        }
        409 => Err(OrderError::OutOfStock),
        _ => Err(OrderError::Inventory),
    }
}

/// Not `#[observed]`: load balancers call it every few seconds, and the layer already
/// counts it in `http_server_request_duration_seconds`.
async fn health() -> &'static str {
    "ok"
}

fn shop(state: Arc<Shop>) -> Router {
    Router::new()
        .route("/users/{id}", get(get_user))
        .route("/orders/{sku}", post(create_order))
        .route("/health", get(health))
        .layer(ObserveLayer::new())
        .with_state(state)
}

// ---------------------------------------------------------------------------------------
// The inventory: the service the shop calls
// ---------------------------------------------------------------------------------------

#[derive(Debug, ErrorLabel)]
enum StockError {
    OutOfStock,
}

impl IntoResponse for StockError {
    fn into_response(self) -> Response {
        (StatusCode::CONFLICT, "out of stock").into_response()
    }
}

#[observed]
async fn reserve_stock(Path(sku): Path<String>) -> Result<&'static str, StockError> {
    tokio::time::sleep(Duration::from_millis(3)).await;
    if sku == "sold-out-lamp" {
        return Err(StockError::OutOfStock);
    }
    Ok("reserved")
}

fn inventory() -> Router {
    Router::new()
        .route("/stock/{sku}/reserve", post(reserve_stock))
        .layer(ObserveLayer::new())
}

// ---------------------------------------------------------------------------------------

/// Serves `app` until shutdown begins, then lets its in-flight requests finish.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("a server stopped: {error}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A token store for the demo, and a token for the scraper (in production:
    // `rustform metrics generate-token --scopes "metrics:read" --expires-in 30d`).
    let store_path = std::env::temp_dir()
        .join("rustform-axum-service")
        .join("tokens.json");
    let store = rustform::auth::TokenStore::open(&store_path)?;
    let issued = store.create(&["metrics:read"], Some(Duration::from_secs(86_400)))?;
    let metrics_listen =
        std::env::var("AXUM_SERVICE_METRICS_LISTEN").unwrap_or_else(|_| "127.0.0.1:9464".into());
    let config = format!(
        "name: shop\n\
         observability:\n  \
           logging:\n    level: \"warn,axum_service=info\"\n    format: compact\n  \
           opentelemetry:\n    \
             service_name: shop\n    \
             tracing:\n      \
               batch:\n        scheduled_delay: 500ms\n      \
               exporters:\n        \
                 - type: console\n  \
           prometheus:\n    \
             listen: \"{metrics_listen}\"\n    \
             authentication:\n      \
               enabled: true\n      \
               method: bearer_token\n      \
               token_store: \"{}\"\n      \
               required_scopes: [\"metrics:read\"]\n",
        store_path.display()
    );
    let guard = rustform::Observability::builder()
        .config_yaml(config)
        .install()?;
    let endpoint = guard
        .endpoint_address()
        .ok_or("the endpoint is not served")?;

    let inventory_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let inventory_address = inventory_listener.local_addr()?;
    let inventory_server = tokio::spawn(serve(
        inventory_listener,
        inventory(),
        guard.shutdown_signal(),
    ));

    // One client for the whole program: the middleware is built after `init()`, so it
    // uses the configured buckets.
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(ClientMiddleware::new())
        .build();
    let state = Arc::new(Shop {
        client: client.clone(),
        inventory: format!("http://{inventory_address}"),
    });
    let listen = std::env::var("AXUM_SERVICE_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let shop_listener = tokio::net::TcpListener::bind(&listen).await?;
    let shop_address = shop_listener.local_addr()?;
    let shop_server = tokio::spawn(serve(shop_listener, shop(state), guard.shutdown_signal()));

    println!("The shop serves http://{shop_address} (the inventory: http://{inventory_address})");
    println!("  curl -i http://{shop_address}/users/1");
    println!("  curl -i -X POST http://{shop_address}/orders/desk-lamp");
    println!("  curl -i -X POST http://{shop_address}/orders/sold-out-lamp");
    println!(
        "/metrics and the health checks are on http://{endpoint}, behind a token (valid for a \
         day, shown once):\n\n  curl -H \"Authorization: Bearer {}\" http://{endpoint}/metrics\n",
        issued.token()
    );
    println!("Each request below is one trace; its spans are printed on standard error.\n");

    let seconds = std::env::var("AXUM_SERVICE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60u64);
    let until = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let base = format!("http://{shop_address}");
    let mut shutdown = std::pin::pin!(guard.shutdown_signal());
    let mut round = 0u32;
    while tokio::time::Instant::now() < until {
        round += 1;
        let calls = [
            ("GET", format!("/users/{round}"), "/users/{id}"),
            ("POST", "/orders/desk-lamp".to_owned(), "/orders/{sku}"),
            ("POST", "/orders/sold-out-lamp".to_owned(), "/orders/{sku}"),
        ];
        for (method, path, template) in calls {
            let request = match method {
                "GET" => client.get(format!("{base}{path}")),
                _ => client.post(format!("{base}{path}")),
            };
            match request.with_extension(UrlTemplate(template)).send().await {
                Ok(response) => {
                    let id = response
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    println!("{method} {path} -> {status}: {body} (x-request-id {id})");
                }
                Err(error) => println!("{method} {path} failed: {error}"),
            }
        }
        if round == 3 {
            let text = rustform::metrics::default_registry().render();
            println!("\nThe calls counted so far, as /metrics shows them:");
            for line in text
                .lines()
                .filter(|l| l.starts_with("http_client_request_duration_seconds_count"))
            {
                println!("  {line}");
            }
            println!();
        }
        // SIGTERM or Ctrl-C: readiness turns off and the servers drain.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
            () = &mut shutdown => break,
        }
    }
    // When the time is up, shut down as a signal would.
    guard.begin_shutdown();
    guard
        .drain(async {
            let _ = tokio::join!(shop_server, inventory_server);
        })
        .await;
    // rustform's endpoint stops and the exporters flush.
    drop(guard);
    Ok(())
}
