//! `service_name` comes from `OTEL_SERVICE_NAME`, else the crate's name; an empty or
//! blank value counts as unset (the OpenTelemetry rule). Each case runs this test binary
//! again as a child process with the variable set, since the name is read once per
//! process.

use rustform::metrics::{MetricValue, default_registry};
use rustform::observed;

#[observed]
fn checkout() {}

const CHILD: &str = "RUSTFORM_SERVICE_NAME_CHILD";

/// In a child, calls the function and checks the label against `RUSTFORM_EXPECTED`.
#[test]
fn child() {
    let Ok(expected) = std::env::var(CHILD) else {
        return;
    };
    checkout();
    let snapshot = default_registry().snapshot();
    let value = snapshot.get(
        "function_calls_total",
        &[
            ("function", "checkout"),
            ("module", module_path!()),
            ("service_name", &expected),
            ("result", "ok"),
        ],
    );
    assert_eq!(
        value,
        Some(&MetricValue::Counter(1)),
        "{:#?}",
        snapshot.family("function_calls_total")
    );
}

fn run_child(otel_service_name: Option<&str>, expected: &str) {
    let (passed, output) = testkit::rerun_test(
        module_path!(),
        "child",
        &[
            (CHILD, Some(expected)),
            ("OTEL_SERVICE_NAME", otel_service_name),
        ],
        &["--nocapture"],
    );
    assert!(passed, "OTEL_SERVICE_NAME={otel_service_name:?}: {output}");
}

#[test]
fn otel_service_name_names_the_service() {
    run_child(Some("checkout-api"), "checkout-api");
}

#[test]
fn without_it_the_crate_name_does() {
    run_child(None, "rustform-tests");
}

#[test]
fn an_empty_or_blank_value_counts_as_unset() {
    run_child(Some(""), "rustform-tests");
    run_child(Some("   "), "rustform-tests");
}
