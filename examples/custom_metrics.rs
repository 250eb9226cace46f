//! Custom business metrics, declared once as a struct: registrations by method and user
//! type, orders by status and payment method, active users by session type, inventory by
//! category and warehouse, order values, processing times and database query durations.
//!
//! Run it with `cargo run --example custom_metrics`; it simulates a little traffic and
//! prints the metrics in the Prometheus text format, then their description.

use std::time::Duration;

use rustform::metrics::{CounterVec, GaugeVec, Histogram, HistogramVec, Registry};
use rustform::{AppMetrics, LabelSet, LabelValue};

#[derive(Clone, Copy, LabelValue)]
enum RegistrationMethod {
    Email,
    Google,
    Github,
}

#[derive(Clone, Copy, LabelValue)]
enum UserType {
    Free,
    Premium,
}

#[derive(Clone, LabelSet)]
struct RegistrationLabels {
    registration_method: RegistrationMethod,
    user_type: UserType,
}

#[derive(Clone, Copy, LabelValue)]
enum OrderStatus {
    Pending,
    Paid,
    Shipped,
    Cancelled,
}

#[derive(Clone, Copy, LabelValue)]
enum PaymentMethod {
    Card,
    Paypal,
    BankTransfer,
}

#[derive(Clone, LabelSet)]
struct OrderLabels {
    status: OrderStatus,
    payment_method: PaymentMethod,
}

#[derive(Clone, Copy, LabelValue)]
enum SessionType {
    Web,
    Mobile,
    Api,
}

#[derive(Clone, LabelSet)]
struct SessionLabels {
    session_type: SessionType,
}

/// Product categories and warehouses come from data, so they are strings: the metric
/// keeps at most `cardinality_limit` series of them.
#[derive(Clone, LabelSet)]
struct InventoryLabels {
    product_category: String,
    warehouse: String,
}

#[derive(Clone, Copy, LabelValue)]
enum Stage {
    Validation,
    Payment,
    Fulfillment,
}

#[derive(Clone, LabelSet)]
struct StageLabels {
    stage: Stage,
}

#[derive(Clone, Copy, LabelValue)]
enum QueryType {
    Select,
    Insert,
    Update,
}

#[derive(Clone, LabelSet)]
struct QueryLabels {
    query_type: QueryType,
    table: &'static str,
}

#[derive(AppMetrics)]
#[metrics(prefix = "shop")]
struct ShopMetrics {
    /// Total number of user registrations
    user_registrations: CounterVec<RegistrationLabels>,
    /// Total number of orders processed
    orders: CounterVec<OrderLabels>,
    /// Number of currently active users
    active_users: GaugeVec<SessionLabels>,
    /// Current inventory levels
    #[metric(cardinality_limit = 500)]
    inventory_items: GaugeVec<InventoryLabels>,
    /// Order values in dollars
    #[metric(buckets = [10.0, 50.0, 100.0, 500.0, 1000.0], unit = "dollars")]
    order_values: Histogram,
    /// Time spent in each stage of order processing
    #[metric(buckets = exponential(0.005, 2.0, 10), unit = "seconds")]
    processing_time: HistogramVec<StageLabels>,
    /// Database query execution time
    #[metric(buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0])]
    database_query_duration_seconds: HistogramVec<QueryLabels>,
}

fn main() -> Result<(), rustform::Error> {
    let registry = Registry::new();
    let metrics = ShopMetrics::register(&registry)?;

    let registrations = [
        (RegistrationMethod::Email, UserType::Free),
        (RegistrationMethod::Google, UserType::Premium),
        (RegistrationMethod::Github, UserType::Free),
        (RegistrationMethod::Email, UserType::Free),
    ];
    for (registration_method, user_type) in registrations {
        metrics
            .user_registrations
            .with(&RegistrationLabels {
                registration_method,
                user_type,
            })
            .inc();
    }

    let orders = [
        (OrderStatus::Paid, PaymentMethod::Card, 129.0),
        (OrderStatus::Paid, PaymentMethod::Paypal, 42.5),
        (OrderStatus::Pending, PaymentMethod::BankTransfer, 980.0),
        (OrderStatus::Cancelled, PaymentMethod::Card, 15.0),
        (OrderStatus::Shipped, PaymentMethod::Card, 310.0),
    ];
    for (status, payment_method, value) in orders {
        metrics
            .orders
            .with(&OrderLabels {
                status,
                payment_method,
            })
            .inc();
        metrics.order_values.observe(value);
        for (stage, millis) in [
            (Stage::Validation, 4),
            (Stage::Payment, 120),
            (Stage::Fulfillment, 35),
        ] {
            metrics
                .processing_time
                .with(&StageLabels { stage })
                .observe_duration(Duration::from_millis(millis));
        }
    }

    metrics
        .active_users
        .with(&SessionLabels {
            session_type: SessionType::Web,
        })
        .set(1_200);
    metrics
        .active_users
        .with(&SessionLabels {
            session_type: SessionType::Mobile,
        })
        .set(860);
    metrics
        .active_users
        .with(&SessionLabels {
            session_type: SessionType::Api,
        })
        .set(45);

    for (category, warehouse, items) in [
        ("books", "eu-west", 5_400),
        ("games", "eu-west", 820),
        ("books", "us-east", 3_100),
    ] {
        let labels = InventoryLabels {
            product_category: category.into(),
            warehouse: warehouse.into(),
        };
        metrics.inventory_items.with(&labels).set(items);
    }

    for (query_type, table, seconds) in [
        (QueryType::Select, "orders", 0.004),
        (QueryType::Insert, "orders", 0.012),
        (QueryType::Update, "inventory", 0.002),
    ] {
        metrics
            .database_query_duration_seconds
            .with(&QueryLabels { query_type, table })
            .observe(seconds);
    }

    println!("{}", registry.render());
    println!("--- declared metrics ---");
    for m in ShopMetrics::describe() {
        println!(
            "{:<40} {:<9} labels {:?}{}  — {}",
            m.sample_name(),
            m.metric_type.as_str(),
            m.labels,
            m.unit.map(|u| format!(" unit {u}")).unwrap_or_default(),
            m.help
        );
    }
    Ok(())
}
