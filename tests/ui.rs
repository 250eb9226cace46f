//! Compile-time behaviour of the macros: every accepted form compiles and runs, every
//! mistake is a compile error with the checked-in message and span.
//!
//! The cases live in `tests/ui/<macro>/pass/<kind>/` and `tests/ui/<macro>/fail/<kind>/`,
//! where `<kind>` says what a case exercises (`options`, `labels`, `signature`, ...), so the
//! cases about one mistake sit together and a new case has an obvious home.
//!
//! This is its own test binary because trybuild builds every case as a crate of its own,
//! which takes minutes; run alone (`cargo test --test ui`), it leaves the other tests fast.

/// The folders of cases that compile and run, under `tests/ui/`.
const PASS: &[&str] = &[
    "observed/pass/options",
    "observed/pass/signature",
    "observed/pass/methods",
    "observed/pass/hygiene",
    "app_metrics/pass",
    "app_metrics_file/pass",
    "error_label/pass",
    "label_set/pass",
    "label_value/pass",
];

/// The folders of cases that must not compile, under `tests/ui/`: each `.rs` has the
/// expected compiler output in the `.stderr` beside it.
const FAIL: &[&str] = &[
    "observed/fail/options",
    "observed/fail/buckets",
    "observed/fail/labels",
    "observed/fail/objective",
    "observed/fail/item",
    "observed/fail/impl_block",
    "observed/fail/body",
    "app_metrics/fail/item",
    "app_metrics/fail/fields",
    "app_metrics/fail/names",
    "app_metrics/fail/help",
    "app_metrics/fail/buckets",
    "app_metrics/fail/options",
    "app_metrics_file/fail/file",
    "app_metrics_file/fail/input",
    "app_metrics_file/fail/use",
    "error_label/fail",
    "label_set/fail",
    "label_value/fail",
];

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    for folder in PASS {
        t.pass(format!("tests/ui/{folder}/*.rs"));
    }
    for folder in FAIL {
        t.compile_fail(format!("tests/ui/{folder}/*.rs"));
    }
}
