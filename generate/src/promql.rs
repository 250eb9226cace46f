//! PromQL as the alert rules and the dashboards write it: string literals, durations and
//! numbers, the matchers of `#[observed]`'s series, the `le` matcher of a bucket bound,
//! and the ratio and quantile expressions built from them.
//!
//! Both generators write their queries with these, so an alert and the dashboard panel
//! showing the same objective select the same series. The `le` label is where that
//! matters most: a bound reaches Prometheus as the text the runtime writes (`0.00001`,
//! `1`), and Prometheus 3 rewrites it on ingestion into the OpenMetrics form (`1e-05`,
//! `1.0`). [`le_values`] names both, and every `le` matcher accepts both, so a rule or a
//! panel finds its bucket on either server.

use std::time::Duration;

use rustform::catalog::ObservedFunction;
use rustform::config::names::observed::{FUNCTION, MODULE, OBJECTIVE_LATENCY_THRESHOLD};
use rustform::config::names::observed::{OBJECTIVE_NAME, OBJECTIVE_PERCENTILE, RESULT};

/// Calls of every `#[observed]` function, by `result`; calls in progress of the functions
/// with `track_concurrency`.
pub(crate) use rustform::config::names::observed::{CALLS, CONCURRENT};
/// The buckets of `#[observed]`'s duration histogram.
pub(crate) const DURATION_BUCKET: &str = "function_calls_duration_seconds_bucket";
/// The observation count of `#[observed]`'s duration histogram.
pub(crate) const DURATION_COUNT: &str = "function_calls_duration_seconds_count";

/// A PromQL string literal: `"` with `\`, `"` and line feeds escaped.
pub(crate) fn string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `label="value"`.
pub(crate) fn equal(label: &str, value: &str) -> String {
    format!("{label}={}", string(value))
}

/// A duration in Prometheus' syntax: the largest units first (`d`, `h`, `m`, `s`, `ms`),
/// rounded to the millisecond: `5m`, `1h30m`, `1m30s`, `500ms`; `0s` for zero.
pub(crate) fn duration(duration: Duration) -> String {
    const UNITS: [(&str, u128); 5] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut millis = (duration.as_nanos() + 500_000) / 1_000_000;
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in UNITS {
        let n = millis / size;
        if n > 0 {
            out.push_str(&n.to_string());
            out.push_str(unit);
            millis -= n * size;
        }
    }
    out
}

/// A number as PromQL and people write it, to nine decimals: `0.999`, `14.4`, `1`.
pub(crate) fn number(x: f64) -> String {
    let text = format!("{x:.9}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

/// `s` with the characters special to RE2 escaped.
pub(crate) fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The matchers of one function's series. A method whose type is only known after its
/// first call (`resolved: false`) is matched with or without its `Type::` prefix.
pub(crate) fn function_matchers(f: &ObservedFunction) -> String {
    let function = if f.resolved {
        equal(FUNCTION, &f.function)
    } else {
        let pattern = format!("(?:.+::)?{}", regex_escape(&f.function));
        format!("{FUNCTION}=~{}", string(&pattern))
    };
    format!("{function},{}", equal(MODULE, &f.module))
}

/// The matchers of the series under one objective target: its name, its percentile and,
/// for a latency target, its threshold (the label values of
/// [`percentile_label`](rustform::objective::percentile_label) and
/// [`threshold_label`](rustform::objective::threshold_label)).
pub(crate) fn objective_matchers(name: &str, percentile: &str, threshold: Option<&str>) -> String {
    let mut out = format!(
        "{},{}",
        equal(OBJECTIVE_NAME, name),
        equal(OBJECTIVE_PERCENTILE, percentile)
    );
    if let Some(threshold) = threshold {
        out.push(',');
        out.push_str(&equal(OBJECTIVE_LATENCY_THRESHOLD, threshold));
    }
    out
}

/// The calls that returned an error: `result="error"`.
pub(crate) fn failed() -> String {
    format!(r#"{RESULT}="error""#)
}

/// The calls that completed, with or without an error: `result=~"ok|error"`. A cancelled
/// call (`result="cancelled"`) is neither a success nor a failure.
pub(crate) fn completed() -> String {
    format!(r#"{RESULT}=~"ok|error""#)
}

/// The `le` label values a bucket bound is stored under: the text the runtime writes,
/// then, when it differs, the text Prometheus 3 stores instead (it rewrites `le` into
/// the OpenMetrics form on ingestion; Prometheus 2 keeps the text as written).
///
/// `0.25` → `["0.25"]`; `1` → `["1", "1.0"]`; `0.00001` → `["0.00001", "1e-05"]`;
/// `1000000` → `["1000000", "1e+06"]`.
pub(crate) fn le_values(bound: f64) -> Vec<String> {
    let written = exposition_float(bound);
    let stored = openmetrics_float(bound);
    if stored == written {
        vec![written]
    } else {
        vec![written, stored]
    }
}

/// A regular expression matching exactly the [`le_values`] of `bound`: `0\.25`,
/// `1|1\.0`, `0\.00001|1e-05`.
pub(crate) fn le_pattern(bound: f64) -> String {
    let values: Vec<String> = le_values(bound).iter().map(|v| regex_escape(v)).collect();
    values.join("|")
}

/// The `le` matcher of `bound`: `le="0.25"` when the bound has one stored form, else
/// `le=~` its [`le_pattern`] (`le=~"1|1\\.0"`).
pub(crate) fn le_matcher(bound: f64) -> String {
    match le_values(bound).as_slice() {
        [only] => equal("le", only),
        _ => format!("le=~{}", string(&le_pattern(bound))),
    }
}

/// `how by (labels) (inner)`, or `how(inner)` without labels.
pub(crate) fn aggregate(how: &str, by: &[&str], inner: &str) -> String {
    if by.is_empty() {
        format!("{how}({inner})")
    } else {
        format!("{how} by ({}) ({inner})", by.join(", "))
    }
}

/// `sum by (by) (rate(series[window]))`.
pub(crate) fn rate_sum(by: &[&str], series: &str, window: &str) -> String {
    aggregate("sum", by, &format!("rate({series}[{window}])"))
}

/// `sum by (by) (increase(series[window]))`.
pub(crate) fn increase_sum(by: &[&str], series: &str, window: &str) -> String {
    aggregate("sum", by, &format!("increase({series}[{window}])"))
}

/// `bad / (total > 0)`, one operand a line: no value at all where `total` is 0, so a
/// window without calls neither fires an alert nor reads as 0 % bad.
pub(crate) fn share(bad: &str, total: &str) -> String {
    format!("{bad}\n/\n({total} > 0)")
}

/// The rate of `bad` over the rate of `total` over `window`, summed `by`, reading 0 (not
/// nothing) for a group with calls but no bad series yet.
pub(crate) fn ratio_or_zero(bad: &str, total: &str, by: &[&str], window: &str) -> String {
    let total = rate_sum(by, total, window);
    format!("({} or {total} * 0) / {total}", rate_sum(by, bad, window))
}

/// The share of the calls of `function_calls_total{selector}` that returned an error,
/// summed `by`, over `window`; 0 for a group with calls but no errors yet.
pub(crate) fn error_ratio(selector: &str, by: &[&str], window: &str) -> String {
    ratio_or_zero(
        &format!("{CALLS}{{{selector},{}}}", failed()),
        &format!("{CALLS}{{{selector}}}"),
        by,
        window,
    )
}

/// `histogram_quantile(q, sum by (le, by...) (rate(bucket{selector}[window])))`.
pub(crate) fn quantile(q: f64, bucket: &str, selector: &str, by: &[&str], window: &str) -> String {
    let mut labels = vec!["le"];
    labels.extend_from_slice(by);
    format!(
        "histogram_quantile({}, {})",
        number(q),
        rate_sum(&labels, &format!("{bucket}{{{selector}}}"), window)
    )
}

/// A float as the runtime's exposition writes it: whole numbers below 10^15 without a
/// fraction; anything else in the shortest form that reads back exactly, positional from
/// 10^-5 to below 10^16 (a whole number with `.0`), with an exponent beyond (`1e-6`,
/// `1e16`).
fn exposition_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let (sign, digits, exponent) = shortest(x);
    if (-5..=15).contains(&exponent) {
        format!("{sign}{}", with_point(positional(&digits, exponent)))
    } else {
        format!("{sign}{}e{exponent}", mantissa(&digits))
    }
}

/// A float as Prometheus 3 stores an `le` value: Go's shortest `%g` (an exponent, signed
/// and of at least two digits, below 10^-4 and from 10^6 on), with `.0` added when that
/// has neither a point nor an exponent.
fn openmetrics_float(x: f64) -> String {
    let (sign, digits, exponent) = shortest(x);
    if (-4..6).contains(&exponent) {
        format!("{sign}{}", with_point(positional(&digits, exponent)))
    } else {
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        let power = exponent.unsigned_abs();
        format!("{sign}{}e{exponent_sign}{power:02}", mantissa(&digits))
    }
}

/// The sign, the shortest significant digits that read back as `x`, and the decimal
/// exponent of the first: `0.025` → `("", "25", -2)`.
fn shortest(x: f64) -> (&'static str, String, i32) {
    let sign = if x.is_sign_negative() && x != 0.0 {
        "-"
    } else {
        ""
    };
    let text = format!("{:e}", x.abs());
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let digits = mantissa.replace('.', "");
    (sign, digits, exponent.parse().unwrap_or(0))
}

/// `text` with `.0` when it has no point: `10` → `10.0`, `2.5` → `2.5`.
fn with_point(mut text: String) -> String {
    if !text.contains('.') {
        text.push_str(".0");
    }
    text
}

/// `digits` with a point after the first: `25` → `2.5`, `1` → `1`.
fn mantissa(digits: &str) -> String {
    match digits.split_at(1) {
        (first, "") => first.to_owned(),
        (first, rest) => format!("{first}.{rest}"),
    }
}

/// `digits × 10^(exponent − len + 1)` without an exponent: `25`, -2 → `0.025`;
/// `25`, 3 → `2500`.
fn positional(digits: &str, exponent: i32) -> String {
    if exponent < 0 {
        let zeros = "0".repeat(exponent.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    }
    let whole = exponent as usize + 1;
    if digits.len() <= whole {
        format!("{digits:0<whole$}")
    } else {
        format!("{}.{}", &digits[..whole], &digits[whole..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_series_belong_to_the_runtime_family() {
        use rustform::config::names::observed::DURATION;
        assert_eq!(DURATION_BUCKET, format!("{DURATION}_bucket"));
        assert_eq!(DURATION_COUNT, format!("{DURATION}_count"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(string("a\nb"), r#""a\nb""#);
    }

    #[test]
    fn durations_use_prometheus_units() {
        let minutes = |n: u64| Duration::from_secs(n * 60);
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(90), "1m30s"),
            (minutes(2), "2m"),
            (minutes(5), "5m"),
            (minutes(90), "1h30m"),
            (minutes(60 * 24), "1d"),
            (minutes(60 * 72), "3d"),
            (
                minutes(60 * 30) + Duration::from_millis(1_250),
                "1d6h1s250ms",
            ),
            // A duration parsed from `0.3s` is a nanosecond short; milliseconds round.
            (Duration::from_secs_f64(0.3), "300ms"),
            (Duration::from_micros(400), "0s"),
        ];
        for (d, expected) in cases {
            assert_eq!(duration(d), expected, "{d:?}");
        }
    }

    #[test]
    fn numbers_are_written_as_people_write_them() {
        assert_eq!(number(0.999), "0.999");
        assert_eq!(number(99.9 / 100.0), "0.999");
        assert_eq!(number(14.4), "14.4");
        assert_eq!(number(1.0), "1");
    }

    #[test]
    fn ratios_read_zero_without_bad_series() {
        assert_eq!(
            ratio_or_zero("e", "t", &["a"], "5m"),
            "(sum by (a) (rate(e[5m])) or sum by (a) (rate(t[5m])) * 0) / sum by (a) (rate(t[5m]))"
        );
        assert_eq!(share("b", "t"), "b\n/\n(t > 0)");
    }

    #[test]
    fn functions_are_matched_by_name_and_module() {
        let mut f = ObservedFunction::new("shop::jobs", "run");
        assert_eq!(
            function_matchers(&f),
            r#"function="run",module="shop::jobs""#
        );
        f.resolved = false;
        assert_eq!(
            function_matchers(&f),
            r#"function=~"(?:.+::)?run",module="shop::jobs""#
        );
    }

    /// Each bound: what the runtime writes for it, and what Prometheus 3 stores (Go's
    /// `strconv.FormatFloat(f, 'g', -1, 64)`, `.0` added to a bare integer).
    const BOUNDS: [(f64, &str, &str); 16] = [
        (1e-6, "1e-6", "1e-06"),
        (0.00001, "0.00001", "1e-05"),
        (0.000025, "0.000025", "2.5e-05"),
        (0.0001, "0.0001", "0.0001"),
        (0.005, "0.005", "0.005"),
        (0.1, "0.1", "0.1"),
        (0.25, "0.25", "0.25"),
        (1.0, "1", "1.0"),
        (2.5, "2.5", "2.5"),
        (10.0, "10", "10.0"),
        (123456.5, "123456.5", "123456.5"),
        (100000.0, "100000", "100000.0"),
        (1e6, "1000000", "1e+06"),
        (1234567.5, "1234567.5", "1.2345675e+06"),
        (1e15, "1000000000000000.0", "1e+15"),
        (1e16, "1e16", "1e+16"),
    ];

    /// The `le` value the runtime's text exposition writes for `bound`.
    fn runtime_le(bound: f64) -> String {
        use rustform::metrics::{Buckets, Histogram, Registry};
        let registry = Registry::new();
        let buckets = Buckets::new([bound]).expect("a valid bound");
        registry
            .register("h", "A histogram.", Histogram::new(buckets))
            .expect("registered");
        let text = registry.render();
        let start = text.find("h_bucket{le=\"").expect("a bucket") + "h_bucket{le=\"".len();
        let end = start + text[start..].find('"').expect("a closing quote");
        text[start..end].to_owned()
    }

    #[test]
    fn le_values_are_what_the_runtime_writes_and_prometheus_stores() {
        for (bound, written, stored) in BOUNDS {
            assert_eq!(runtime_le(bound), written, "the runtime's le for {bound}");
            let expected: Vec<&str> = if written == stored {
                vec![written]
            } else {
                vec![written, stored]
            };
            assert_eq!(le_values(bound), expected, "{bound}");
        }
    }

    #[test]
    fn le_matchers_compare_exactly_when_they_can() {
        assert_eq!(le_matcher(0.25), r#"le="0.25""#);
        assert_eq!(le_pattern(0.25), r"0\.25");
        assert_eq!(le_matcher(1.0), r#"le=~"1|1\\.0""#);
        assert_eq!(le_pattern(0.00001), r"0\.00001|1e-05");
        assert_eq!(le_pattern(1e6), r"1000000|1e\+06");
    }

    /// The `le` values the matchers in `expr` select, each matcher's in turn: `le="v"`
    /// selects `v`, and `le=~"a|b"`, an alternation of escaped literals, `a` and `b`.
    fn selected_le(expr: &str) -> Vec<Vec<String>> {
        let mut found = Vec::new();
        let mut rest = expr;
        while let Some(at) = rest.find("le=") {
            let preceded = rest[..at].chars().next_back();
            rest = &rest[at + 3..];
            if !matches!(preceded, Some(',' | '{')) {
                continue;
            }
            let regex = rest.starts_with('~');
            let literal = rest.trim_start_matches('~');
            let (value, after) = unquote(literal);
            rest = after;
            found.push(if regex {
                alternatives(&value)
            } else {
                vec![value]
            });
        }
        found
    }

    /// The PromQL string literal at the start of `text`, unescaped, and what follows it.
    fn unquote(text: &str) -> (String, &str) {
        let mut out = String::new();
        let mut chars = text.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => out.push(chars.next().expect("an escaped character").1),
                '"' => return (out, &text[i + 1..]),
                c => out.push(c),
            }
        }
        panic!("an unterminated string in {text}")
    }

    /// The literals of a regular expression made of escaped literals and `|`.
    fn alternatives(pattern: &str) -> Vec<String> {
        let mut out = vec![String::new()];
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.last_mut().unwrap().push(chars.next().expect("escaped")),
                '|' => out.push(String::new()),
                c => {
                    assert!(!"\\.+*?()[]{}^$".contains(c), "{c:?} in {pattern}");
                    out.last_mut().unwrap().push(c);
                }
            }
        }
        out
    }

    /// Every `expr` of a dashboard.
    fn expressions(json: &serde_json::Value) -> Vec<&str> {
        match json {
            serde_json::Value::Object(map) => map
                .iter()
                .flat_map(|(key, value)| match value.as_str() {
                    Some(expr) if key == "expr" => vec![expr],
                    _ => expressions(value),
                })
                .collect(),
            serde_json::Value::Array(list) => list.iter().flat_map(expressions).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn an_alert_and_its_dashboard_select_the_same_bucket() {
        use crate::{Service, alert_rules, dashboards};
        use rustform::catalog::{Catalog, CatalogLatency, CatalogObjective};
        use rustform::config::Config;

        let config = Config::parse_str("name: shop\n").unwrap();
        for (bound, _, stored) in BOUNDS {
            let mut f = ObservedFunction::new("shop::api", "get");
            f.buckets = vec![bound];
            f.objective = Some(CatalogObjective::new(
                "api",
                None,
                Some(CatalogLatency::new(bound, 99.0)),
            ));
            let mut catalog = Catalog::empty("shop");
            catalog.functions = vec![f];
            let service = Service::new(&config, &catalog);

            let rules: serde_json::Value =
                serde_saphyr::from_str(&alert_rules(&service).unwrap()).unwrap();
            let alert = rules["groups"][0]["rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|r| r["expr"].as_str())
                .flat_map(selected_le);
            let slo = dashboards(&service)
                .unwrap()
                .into_iter()
                .find(|d| d.path.ends_with("shop-slo.json"))
                .unwrap();
            let slo: serde_json::Value = serde_json::from_str(&slo.contents).unwrap();
            let dashboard = expressions(&slo).into_iter().flat_map(selected_le);

            let all: Vec<Vec<String>> = alert.chain(dashboard).collect();
            assert!(all.len() > 2, "{bound}: {all:?}");
            for selected in &all {
                assert_eq!(selected, &all[0], "{bound}: an alert and a panel disagree");
                let runtime = runtime_le(bound);
                assert!(selected.contains(&runtime), "{bound}: misses {runtime}");
                assert!(
                    selected.iter().any(|v| v == stored),
                    "{bound}: misses {stored}"
                );
            }
        }
    }
}
