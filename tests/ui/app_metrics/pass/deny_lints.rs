//! A crate that denies missing docs and unsafe code: the metric derives add neither an
//! undocumented public item nor `unsafe`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(warnings)]

use rustform::metrics::{Counter, CounterVec, Histogram, Registry};
use rustform::{AppMetrics, LabelSet, LabelValue};

/// How a checkout ended.
#[derive(Clone, Copy, LabelValue)]
pub enum Outcome {
    /// Paid.
    Paid,
    /// Abandoned.
    Abandoned,
}

/// The labels of a checkout.
#[derive(LabelSet)]
pub struct Checkout {
    /// How it ended.
    pub outcome: Outcome,
}

/// The shop's metrics.
#[derive(AppMetrics)]
#[metrics(prefix = "linted")]
pub struct ShopMetrics {
    /// Checkouts by outcome
    pub checkouts: CounterVec<Checkout>,
    /// Orders placed
    pub orders: Counter,
    /// Order values
    #[metric(unit = "dollars", buckets = [10.0, 100.0])]
    pub order_values: Histogram,
}

fn main() {
    let registry = Registry::new();
    let m = ShopMetrics::register(&registry).unwrap();
    m.checkouts
        .with(&Checkout {
            outcome: Outcome::Abandoned,
        })
        .inc();
    m.orders.inc();
    m.order_values.observe(20.0);
    let text = registry.render();
    assert!(
        text.contains("linted_checkouts_total{outcome=\"abandoned\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("linted_orders_total 1\n"), "{text}");
    assert!(
        text.contains("linted_order_values_dollars_count 1\n"),
        "{text}"
    );
    assert!(std::ptr::eq(ShopMetrics::global(), ShopMetrics::global()));
}
