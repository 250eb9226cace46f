//! What a run of the checks found, and its JSON for `/health` and `/readyz`.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

/// A status in the words of the IETF health-check draft: `pass`, `warn` or `fail`.
///
/// ```
/// use rustform::health::Status;
///
/// assert_eq!(Status::Warn.as_str(), "warn");
/// assert_eq!(Status::Fail.to_string(), "fail");
/// ```
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy enough to serve: only non-critical checks fail.
    Warn,
    /// Unhealthy: a critical check fails (for a single check: it failed).
    Fail,
}

impl Status {
    /// `"pass"`, `"warn"` or `"fail"`.
    ///
    /// ```
    /// assert_eq!(rustform::health::Status::Pass.as_str(), "pass");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one check in a [`Report`].
///
/// ```
/// use rustform::health::{CheckReport, Status};
///
/// let check = CheckReport {
///     name: "auth_service".into(),
///     status: Status::Fail,
///     critical: true,
///     latency: std::time::Duration::from_millis(3),
///     message: Some("GET http://auth/health answered 503 Service Unavailable".into()),
/// };
/// assert_eq!(check.status, Status::Fail);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// The check's `name`.
    pub name: String,
    /// [`Status::Pass`] or [`Status::Fail`].
    pub status: Status,
    /// Whether readiness depends on it.
    pub critical: bool,
    /// How long it took; its timeout when it timed out.
    pub latency: Duration,
    /// Why it failed (`None` when it passed).
    pub message: Option<String>,
}

/// The result of one run of every check: see [`Checks::run`](super::Checks::run).
///
/// ```
/// use std::time::Duration;
/// use rustform::health::{CheckReport, Report, Status};
///
/// let report = Report::from_checks(vec![
///     CheckReport { name: "db".into(), status: Status::Pass, critical: true,
///                   latency: Duration::from_millis(2), message: None },
///     CheckReport { name: "cache".into(), status: Status::Fail, critical: false,
///                   latency: Duration::from_millis(1), message: Some("refused".into()) },
/// ]);
/// assert_eq!(report.status, Status::Warn);
/// assert!(report.ready());
/// assert!(report.failing().is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// [`Status::Fail`] when a critical check fails, else [`Status::Warn`] when a
    /// non-critical one does, else [`Status::Pass`].
    pub status: Status,
    /// Every check, in the order of the configuration, then those registered only in
    /// code, by name.
    pub checks: Vec<CheckReport>,
}

impl Report {
    /// A report of `checks`, its overall status derived from theirs.
    ///
    /// ```
    /// let report = rustform::health::Report::from_checks(Vec::new());
    /// assert_eq!(report.status, rustform::health::Status::Pass);
    /// ```
    pub fn from_checks(checks: Vec<CheckReport>) -> Report {
        let failed = |critical: bool| {
            checks
                .iter()
                .any(|c| c.critical == critical && c.status != Status::Pass)
        };
        let status = if failed(true) {
            Status::Fail
        } else if failed(false) {
            Status::Warn
        } else {
            Status::Pass
        };
        Report { status, checks }
    }

    /// Whether every critical check passed. A failing non-critical check does not
    /// matter; nor does the [`set_ready`](super::set_ready) switch, which `/readyz`
    /// consults besides (as [`readiness_json`](Report::readiness_json) does).
    ///
    /// ```
    /// assert!(rustform::health::Report::from_checks(Vec::new()).ready());
    /// ```
    pub fn ready(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !c.critical || c.status == Status::Pass)
    }

    /// The names of the failing critical checks, in report order.
    ///
    /// ```
    /// use rustform::health::{CheckReport, Report, Status};
    ///
    /// let report = Report::from_checks(vec![CheckReport {
    ///     name: "db".into(), status: Status::Fail, critical: true,
    ///     latency: Default::default(), message: Some("timed out after 5s".into()),
    /// }]);
    /// assert_eq!(report.failing(), ["db"]);
    /// ```
    pub fn failing(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| c.critical && c.status != Status::Pass)
            .map(|c| c.name.as_str())
            .collect()
    }

    /// The body of `/health`:
    /// `{"status", "version", "uptime_seconds", "checks": [{"name", "status", "critical",
    /// "latency_ms", "message"}]}`, statuses as `"pass"`, `"warn"` or `"fail"`,
    /// `uptime_seconds` in whole seconds, `latency_ms` with microsecond precision and
    /// `message` null when the check passed.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let report = rustform::health::Report::from_checks(Vec::new());
    /// let body: serde_json::Value =
    ///     serde_json::from_str(&report.to_json("1.4.2", Duration::from_secs(90))).unwrap();
    /// assert_eq!(body["status"], "pass");
    /// assert_eq!(body["version"], "1.4.2");
    /// assert_eq!(body["uptime_seconds"], 90);
    /// ```
    pub fn to_json(&self, version: &str, uptime: Duration) -> String {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "status": c.status.as_str(),
                    "critical": c.critical,
                    "latency_ms": millis(c.latency),
                    "message": c.message,
                })
            })
            .collect();
        json!({
            "status": self.status.as_str(),
            "version": version,
            "uptime_seconds": uptime.as_secs(),
            "checks": checks,
        })
        .to_string()
    }

    /// The body of `/readyz`: `{"status", "ready", "shutting_down", "failing": [names],
    /// "checks": [{"name", "status", "critical"}]}`. `ready` is [`ready`](Report::ready)
    /// and the [`set_ready`](super::set_ready) switch together, as the answer's status
    /// code should be (200 when true, 503 when false); while the switch is off,
    /// `shutting_down` is true and `status` is `"fail"`.
    ///
    /// ```
    /// let report = rustform::health::Report::from_checks(Vec::new());
    /// let body: serde_json::Value = serde_json::from_str(&report.readiness_json()).unwrap();
    /// assert_eq!(body["ready"], true);
    /// assert_eq!(body["failing"], serde_json::json!([]));
    /// ```
    pub fn readiness_json(&self) -> String {
        self.readiness_body(super::is_ready())
    }

    /// [`Report::readiness_json`] with the switch given.
    pub(crate) fn readiness_body(&self, switch_on: bool) -> String {
        let checks: Vec<Value> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "status": c.status.as_str(),
                    "critical": c.critical,
                })
            })
            .collect();
        let status = if switch_on { self.status } else { Status::Fail };
        json!({
            "status": status.as_str(),
            "ready": switch_on && self.ready(),
            "shutting_down": !switch_on,
            "failing": self.failing(),
            "checks": checks,
        })
        .to_string()
    }
}

/// Milliseconds with microsecond precision.
fn millis(duration: Duration) -> f64 {
    duration.as_micros() as f64 / 1_000.0
}

/// A duration as people write it in `rustform.yml`: `3s`, `250ms`, `1.5s`.
pub(crate) fn human(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{}s", duration.as_secs())
    } else if duration < Duration::from_secs(1) && duration.subsec_nanos().is_multiple_of(1_000_000)
    {
        format!("{}ms", duration.as_millis())
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, status: Status, critical: bool) -> CheckReport {
        CheckReport {
            name: name.to_owned(),
            status,
            critical,
            latency: Duration::from_micros(1_234),
            message: (status == Status::Fail).then(|| format!("{name} is down")),
        }
    }

    #[test]
    fn overall_status() {
        let pass = Report::from_checks(vec![
            check("a", Status::Pass, true),
            check("b", Status::Pass, false),
        ]);
        assert_eq!((pass.status, pass.ready()), (Status::Pass, true));

        let warn = Report::from_checks(vec![
            check("a", Status::Pass, true),
            check("b", Status::Fail, false),
        ]);
        assert_eq!((warn.status, warn.ready()), (Status::Warn, true));
        assert!(warn.failing().is_empty());

        let fail = Report::from_checks(vec![
            check("a", Status::Fail, true),
            check("b", Status::Fail, false),
            check("c", Status::Fail, true),
        ]);
        assert_eq!((fail.status, fail.ready()), (Status::Fail, false));
        assert_eq!(fail.failing(), ["a", "c"]);
    }

    #[test]
    fn health_body() {
        let report = Report::from_checks(vec![
            check("db", Status::Pass, true),
            check("cache", Status::Fail, false),
        ]);
        let body: Value =
            serde_json::from_str(&report.to_json("2.0.1", Duration::from_millis(61_900))).unwrap();
        assert_eq!(
            body,
            json!({
                "status": "warn",
                "version": "2.0.1",
                "uptime_seconds": 61,
                "checks": [
                    {"name": "db", "status": "pass", "critical": true,
                     "latency_ms": 1.234, "message": null},
                    {"name": "cache", "status": "fail", "critical": false,
                     "latency_ms": 1.234, "message": "cache is down"},
                ],
            })
        );
    }

    #[test]
    fn readiness_body() {
        let report = Report::from_checks(vec![
            check("db", Status::Fail, true),
            check("cache", Status::Pass, false),
        ]);
        let body: Value = serde_json::from_str(&report.readiness_body(true)).unwrap();
        assert_eq!(body["status"], "fail");
        assert_eq!(body["ready"], false);
        assert_eq!(body["shutting_down"], false);
        assert_eq!(body["failing"], json!(["db"]));
        assert_eq!(
            body["checks"][1],
            json!({"name": "cache", "status": "pass", "critical": false})
        );

        let healthy = Report::from_checks(vec![check("db", Status::Pass, true)]);
        let body: Value = serde_json::from_str(&healthy.readiness_body(true)).unwrap();
        assert_eq!(
            (body["status"].as_str(), body["ready"].as_bool()),
            (Some("pass"), Some(true))
        );
        let body: Value = serde_json::from_str(&healthy.readiness_body(false)).unwrap();
        assert_eq!(body["status"], "fail");
        assert_eq!(body["ready"], false);
        assert_eq!(body["shutting_down"], true);
        assert_eq!(body["failing"], json!([]));
    }

    #[test]
    fn names_are_escaped() {
        let report = Report::from_checks(vec![CheckReport {
            name: "a\"b".to_owned(),
            status: Status::Fail,
            critical: true,
            latency: Duration::ZERO,
            message: Some("line\nbreak \u{1}".to_owned()),
        }]);
        let body: Value = serde_json::from_str(&report.to_json("v", Duration::ZERO)).unwrap();
        assert_eq!(body["checks"][0]["name"], "a\"b");
        assert_eq!(body["checks"][0]["message"], "line\nbreak \u{1}");
    }

    #[test]
    fn durations_as_written() {
        assert_eq!(human(Duration::from_secs(3)), "3s");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1_500)), "1.5s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
