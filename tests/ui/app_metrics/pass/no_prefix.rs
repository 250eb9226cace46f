//! Without `#[metrics(prefix)]` a metric is named by its field alone, and an empty
//! `#[metrics()]` changes nothing.

#![deny(warnings)]

use rustform::AppMetrics;
use rustform::metrics::{Counter, Gauge, Registry};

#[derive(AppMetrics)]
struct Plain {
    /// Logins
    logins: Counter,
}

#[derive(AppMetrics)]
#[metrics()]
struct Empty {
    /// Sessions open
    sessions: Gauge,
}

fn main() {
    let registry = Registry::new();
    let plain = Plain::register(&registry).unwrap();
    let empty = Empty::register(&registry).unwrap();
    plain.logins.inc();
    empty.sessions.set(2);
    assert_eq!(
        registry.render(),
        "# HELP logins_total Logins\n# TYPE logins_total counter\nlogins_total 1\n\
         # HELP sessions Sessions open\n# TYPE sessions gauge\nsessions 2\n"
    );
    assert_eq!(Plain::describe()[0].name, "logins");
    assert_eq!(Empty::describe()[0].name, "sessions");
}
