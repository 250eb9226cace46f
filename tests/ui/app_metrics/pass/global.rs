//! `global()`: one instance per process, registered in the default registry on first use
//! and listed in the catalog.

#![deny(warnings)]

use rustform::AppMetrics;
use rustform::metrics::{Gauge, default_registry};

#[derive(AppMetrics)]
#[metrics(prefix = "global")]
struct Metrics {
    /// Connections open
    connections: Gauge,
}

fn main() {
    let first = Metrics::global();
    let second = Metrics::global();
    assert!(std::ptr::eq(first, second));
    first.connections.set(3);
    assert_eq!(second.connections.get(), 3);
    let text = default_registry().render();
    assert!(
        text.contains(
            "# HELP global_connections Connections open\n\
             # TYPE global_connections gauge\n\
             global_connections 3\n"
        ),
        "{text}"
    );
    let catalog = rustform::catalog();
    let group = catalog
        .metric_groups
        .iter()
        .find(|g| g.name == "Metrics")
        .expect("listed");
    assert_eq!(group.metrics, Metrics::describe());
}
