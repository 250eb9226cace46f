//! The catalog: observed functions and AppMetrics structs are known from startup,
//! without being called or registered.
//!
//! A test binary of its own: the catalog lists every observed function linked into the
//! process, and these tests check that list exactly.

use rustform::metrics::{Counter, MetricValue, default_registry};
use rustform::{AppMetrics, observed};

#[observed]
fn never_called() -> Result<(), std::io::Error> {
    Ok(())
}

mod billing {
    use rustform::observed;

    #[observed(buckets = [0.1, 1.0], track_concurrency, labels(team = "payments"))]
    pub async fn charge(_cents: u64) {}

    pub struct Ledger;

    #[observed]
    impl Ledger {
        pub fn post(&self) {}
    }

    pub struct Lone;

    impl Lone {
        #[observed]
        pub fn method(&self) {}
    }
}

/// Declared, never registered.
#[derive(AppMetrics)]
#[metrics(prefix = "catalog")]
struct CatalogMetrics {
    /// Things catalogued
    things: Counter,
}

#[test]
fn observed_functions_show_at_zero_before_their_first_call() {
    let snapshot = default_registry().snapshot();
    for function in ["never_called", "charge", "Ledger::post"] {
        let module = if function == "never_called" {
            "catalog"
        } else {
            "catalog::billing"
        };
        let mut labels = vec![
            ("function", function),
            ("module", module),
            ("service_name", "rustform-tests"),
            ("result", "ok"),
        ];
        if function == "charge" {
            labels.push(("team", "payments"));
        }
        assert_eq!(
            snapshot.get("function_calls_total", &labels),
            Some(&MetricValue::Counter(0)),
            "{function} at zero before its first call"
        );
    }
    let gauge = snapshot.get(
        "function_calls_concurrent",
        &[
            ("function", "charge"),
            ("module", "catalog::billing"),
            ("service_name", "rustform-tests"),
            ("team", "payments"),
        ],
    );
    assert_eq!(gauge, Some(&MetricValue::Gauge(0)));
    let _ = (never_called, billing::charge, billing::Ledger::post);
}

#[test]
fn the_catalog_lists_functions_and_metric_groups() {
    let catalog = rustform::catalog();
    let names: Vec<(&str, &str)> = catalog
        .functions
        .iter()
        .filter(|f| !f.function.ends_with("method"))
        .map(|f| (f.module.as_str(), f.function.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("catalog", "never_called"),
            ("catalog::billing", "Ledger::post"),
            ("catalog::billing", "charge")
        ]
    );
    let charge = catalog
        .functions
        .iter()
        .find(|f| f.function == "charge")
        .unwrap();
    assert_eq!(charge.buckets, [0.1, 1.0]);
    assert!(charge.track_concurrency);
    assert_eq!(
        charge.labels,
        [("team".to_owned(), "payments".to_owned())].into()
    );
    let never = catalog
        .functions
        .iter()
        .find(|f| f.function == "never_called")
        .unwrap();
    assert_eq!(never.buckets, rustform::metrics::FUNCTION_BUCKETS);

    let group = catalog
        .metric_groups
        .iter()
        .find(|g| g.name == "CatalogMetrics")
        .unwrap();
    assert_eq!(group.module, "catalog");
    assert_eq!(group.metrics[0].name, "catalog_things");
    assert_eq!(group.metrics[0].help, "Things catalogued");
    // Listed without being registered in the default registry.
    assert!(
        default_registry()
            .snapshot()
            .family("catalog_things")
            .is_none()
    );
    let own = CatalogMetrics::register(&rustform::metrics::Registry::new()).unwrap();
    own.things.inc();
    assert_eq!(own.things.get(), 1);
}

/// The only test that calls the lone method, so the others run in parallel safely.
#[test]
fn a_lone_method_is_named_and_shown_after_its_first_call() {
    // Named after `Self` on its first call: until then the catalog has its bare name,
    // unresolved, and `/metrics` no series for it.
    let listed = |name: &str| {
        rustform::catalog()
            .functions
            .into_iter()
            .find(|f| f.function == name)
    };
    let before = listed("method").expect("listed before any call");
    assert!(!before.resolved);
    let lone = |s: &rustform::metrics::Snapshot| {
        s.get(
            "function_calls_total",
            &[
                ("function", "Lone::method"),
                ("module", "catalog::billing"),
                ("service_name", "rustform-tests"),
                ("result", "ok"),
            ],
        )
        .cloned()
    };
    assert_eq!(lone(&default_registry().snapshot()), None);
    billing::Lone.method();
    assert!(
        listed("Lone::method")
            .expect("renamed after the call")
            .resolved
    );
    assert_eq!(
        lone(&default_registry().snapshot()),
        Some(MetricValue::Counter(1))
    );
}
