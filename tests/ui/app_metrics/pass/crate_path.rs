//! `#[metrics(crate = path)]` and `#[label(crate = path)]`: the expansions reach the
//! runtime through the given path, for a crate that renames `rustform` or re-exports it
//! from a facade.

#![deny(warnings)]

extern crate rustform as renamed;

use renamed::metrics::{Counter, CounterVec, Registry};

/// A facade over `rustform` with a default registry of its own, to show that `global()`
/// goes through the path given with `crate`.
mod facade {
    pub use renamed::*;

    pub mod metrics {
        pub use renamed::metrics::*;

        pub fn default_registry() -> &'static Registry {
            static REGISTRY: std::sync::LazyLock<Registry> =
                std::sync::LazyLock::new(Registry::new);
            &REGISTRY
        }
    }
}

#[derive(Clone, Copy, renamed::LabelValue)]
#[label(crate = renamed)]
enum Outcome {
    Paid,
    Declined,
}

#[derive(renamed::LabelSet)]
#[label(crate = renamed)]
struct Payment {
    outcome: Outcome,
}

#[derive(renamed::AppMetrics)]
#[metrics(crate = renamed, prefix = "renamed")]
struct Renamed {
    /// Payments by outcome
    payments: CounterVec<Payment>,
}

#[derive(renamed::AppMetrics)]
#[metrics(crate = crate::facade, prefix = "facade")]
struct ThroughFacade {
    /// Visits
    visits: Counter,
}

fn main() {
    let registry = Registry::new();
    let m = Renamed::register(&registry).unwrap();
    m.payments
        .with(&Payment {
            outcome: Outcome::Declined,
        })
        .inc();
    assert_eq!(
        registry.render(),
        "# HELP renamed_payments_total Payments by outcome\n\
         # TYPE renamed_payments_total counter\n\
         renamed_payments_total{outcome=\"paid\"} 0\n\
         renamed_payments_total{outcome=\"declined\"} 1\n"
    );

    ThroughFacade::global().visits.inc();
    assert_eq!(
        facade::metrics::default_registry().render(),
        "# HELP facade_visits_total Visits\n\
         # TYPE facade_visits_total counter\n\
         facade_visits_total 1\n"
    );
    let default = renamed::metrics::default_registry().render();
    assert!(!default.contains("facade_visits"), "{default}");
}
