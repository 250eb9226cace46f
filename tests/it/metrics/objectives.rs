//! Objectives: `#[observed(objective = ...)]` labels the function's series as autometrics
//! does, for any percentile; the catalog lists the objective and reads back from JSON.

use std::time::Duration;

use rustform::catalog::Catalog;
use rustform::metrics::{MetricValue, default_registry};
use rustform::{Objective, observed};

const API: Objective = Objective::new("api")
    .success_rate(99.9)
    .latency(Duration::from_millis(250), 99.0);

/// An odd percentile and a threshold from the function's own buckets.
const BATCH: Objective = Objective::new("batch")
    .success_rate(97.3)
    .latency(Duration::from_millis(1500), 99.5);

const AVAILABILITY: Objective = Objective::new("availability").success_rate(99.95);

const FAST: Objective = Objective::new("fast").latency(Duration::from_millis(50), 90.0);

#[observed(objective = API)]
fn get_user(id: u32) -> Result<u32, std::fmt::Error> {
    if id == 0 {
        Err(std::fmt::Error)
    } else {
        Ok(id)
    }
}

#[observed(objective = BATCH, buckets = [0.5, 1.5, 3.0])]
fn nightly_batch() {}

#[observed(objective = AVAILABILITY)]
fn ping() {}

#[observed(objective = FAST)]
fn lookup() {}

struct Orders;

#[observed(objective = API)]
impl Orders {
    fn create(&self) {}

    #[observed(objective = AVAILABILITY)]
    fn cancel(&self) {}
}

fn pairs<'a>(function: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut pairs = vec![
        ("function", function),
        ("module", module_path!()),
        ("service_name", "rustform-tests"),
    ];
    pairs.extend_from_slice(extra);
    pairs
}

fn count(snapshot: &rustform::metrics::Snapshot, labels: &[(&str, &str)]) -> Option<u64> {
    match snapshot.get("function_calls_total", labels) {
        Some(MetricValue::Counter(n)) => Some(*n),
        other => panic!("{labels:?}: {other:?}"),
    }
}

fn histogram_count(snapshot: &rustform::metrics::Snapshot, labels: &[(&str, &str)]) -> u64 {
    match snapshot.get("function_calls_duration_seconds", labels) {
        Some(MetricValue::Histogram(h)) => h.count,
        other => panic!("{labels:?}: {other:?}"),
    }
}

#[test]
fn calls_carry_the_success_labels_and_durations_the_latency_labels() {
    get_user(1).unwrap();
    get_user(2).unwrap();
    get_user(0).unwrap_err();
    let snapshot = default_registry().snapshot();
    let success = [("objective_name", "api"), ("objective_percentile", "99.9")];
    let ok = pairs("get_user", &[("result", "ok"), success[0], success[1]]);
    let error = pairs("get_user", &[("result", "error"), success[0], success[1]]);
    assert_eq!(count(&snapshot, &ok), Some(2));
    assert_eq!(count(&snapshot, &error), Some(1));
    let latency = pairs(
        "get_user",
        &[
            ("objective_name", "api"),
            ("objective_percentile", "99"),
            ("objective_latency_threshold", "0.25"),
        ],
    );
    assert_eq!(histogram_count(&snapshot, &latency), 3);

    let text = default_registry().render();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("function_calls_total{")
                && l.contains(r#"function="get_user""#)
                && l.contains(r#"result="ok""#)
        })
        .expect("a get_user line");
    assert!(
        line.contains(r#"objective_name="api",objective_percentile="99.9""#),
        "{line}"
    );
    assert!(
        text.contains(r#"objective_latency_threshold="0.25",le="0.25"}"#),
        "the threshold is a bucket bound: {text}"
    );
}

#[test]
fn any_percentile_and_partial_objectives_label_only_what_they_set() {
    nightly_batch();
    ping();
    lookup();
    let snapshot = default_registry().snapshot();
    let batch_calls = pairs(
        "nightly_batch",
        &[
            ("result", "ok"),
            ("objective_name", "batch"),
            ("objective_percentile", "97.3"),
        ],
    );
    assert_eq!(count(&snapshot, &batch_calls), Some(1));
    let batch_latency = pairs(
        "nightly_batch",
        &[
            ("objective_name", "batch"),
            ("objective_percentile", "99.5"),
            ("objective_latency_threshold", "1.5"),
        ],
    );
    assert_eq!(histogram_count(&snapshot, &batch_latency), 1);

    // A success-rate objective alone: the histogram has no objective labels.
    let ping_calls = pairs(
        "ping",
        &[
            ("result", "ok"),
            ("objective_name", "availability"),
            ("objective_percentile", "99.95"),
        ],
    );
    assert_eq!(count(&snapshot, &ping_calls), Some(1));
    assert_eq!(histogram_count(&snapshot, &pairs("ping", &[])), 1);

    // A latency objective alone: the counters have none.
    assert_eq!(
        count(&snapshot, &pairs("lookup", &[("result", "ok")])),
        Some(1)
    );
    let fast = pairs(
        "lookup",
        &[
            ("objective_name", "fast"),
            ("objective_percentile", "90"),
            ("objective_latency_threshold", "0.05"),
        ],
    );
    assert_eq!(histogram_count(&snapshot, &fast), 1);
}

#[test]
fn an_impl_block_objective_applies_to_its_methods_unless_one_has_its_own() {
    Orders.create();
    Orders.cancel();
    let snapshot = default_registry().snapshot();
    let create = pairs(
        "Orders::create",
        &[
            ("result", "ok"),
            ("objective_name", "api"),
            ("objective_percentile", "99.9"),
        ],
    );
    assert_eq!(count(&snapshot, &create), Some(1));
    let cancel = pairs(
        "Orders::cancel",
        &[
            ("result", "ok"),
            ("objective_name", "availability"),
            ("objective_percentile", "99.95"),
        ],
    );
    assert_eq!(count(&snapshot, &cancel), Some(1));
}

#[test]
fn the_catalog_lists_objectives_and_reads_back_from_json() {
    let catalog = rustform::catalog();
    let get_user = catalog
        .functions
        .iter()
        .find(|f| f.function == "get_user")
        .unwrap();
    let objective = get_user.objective.as_ref().expect("an objective");
    assert_eq!(objective.name, "api");
    assert_eq!(objective.success_rate, Some(99.9));
    assert_eq!(objective.success_label().as_deref(), Some("99.9"));
    assert_eq!(
        objective.latency_labels(),
        Some(("99".to_owned(), "0.25".to_owned()))
    );
    assert_eq!(catalog.service, "rustform-tests");

    let json = serde_json::to_string_pretty(&catalog).unwrap();
    let back: Catalog = serde_json::from_str(&json).unwrap();
    assert_eq!(back, catalog);
    assert!(catalog.check_objectives().is_ok());
}

#[test]
fn a_catalog_from_a_file_is_checked_at_startup_of_the_generators() {
    let json = r#"{
        "service": "shop",
        "functions": [{
            "function": "checkout", "module": "shop",
            "buckets": [0.1, 0.25, 0.5],
            "objective": {"name": "api", "latency": {"threshold_seconds": 0.3, "percentile": 99.0}}
        }]
    }"#;
    let catalog: Catalog = serde_json::from_str(json).unwrap();
    let error = catalog.check_objectives().unwrap_err();
    assert_eq!(
        error.to_string(),
        "objective `api`: the latency threshold 0.3 s is not a bucket bound of the function's \
         duration histogram (bounds: 0.1, 0.25, 0.5); use one of them, or add 0.3 to the \
         function's `buckets`"
    );
    // Defaults fill what a hand-written catalog leaves out.
    let minimal: Catalog =
        serde_json::from_str(r#"{"functions": [{"function": "f", "module": "m"}]}"#).unwrap();
    assert_eq!(
        minimal.functions[0].buckets,
        rustform::metrics::FUNCTION_BUCKETS
    );
    assert!(minimal.functions[0].resolved);
}
