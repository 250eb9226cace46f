//! The named form: attributes, doc comment, visibility and name of the struct; field
//! names that are Rust keywords or CamelCase; `declare_in` with a table of its own. The
//! crate denies warnings and missing docs, and shadows prelude names the expansion must
//! not depend on.

#![deny(warnings, missing_docs)]
#![forbid(unsafe_code)]

//! A shop.

#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct Vec;
#[allow(dead_code, non_upper_case_globals)]
const table: u8 = 0;

mod metrics {
    rustform::app_metrics!(
        /// The shop's metrics, from its configuration file.
        #[derive(Clone, Debug)]
        pub(crate) struct ShopMetrics = "app_metrics_file_named.yml"
    );
}

use metrics::ShopMetrics;
use rustform::metrics::{DeclaredMetrics, Registry};

fn main() {
    let registry = Registry::new();
    let table_of_metrics = DeclaredMetrics::new(&registry);
    let m = ShopMetrics::declare_in(&table_of_metrics).unwrap();
    m.r#type.inc();
    m.HttpRequests.with(["200"]).inc_by(2);
    m.self_.with(["a", "gold"]).set(-1);
    let copy = m.clone();
    copy.r#type.inc();
    assert!(format!("{m:?}").contains("HttpRequests"));
    assert_eq!(
        registry.render(),
        "# HELP type_total A counter named like a keyword: the field is r#type\n\
         # TYPE type_total counter\n\
         type_total 2\n\
         # HELP HttpRequests_total A counter named in CamelCase\n\
         # TYPE HttpRequests_total counter\n\
         HttpRequests_total{code=\"200\"} 2\n\
         # HELP self A gauge named like a path keyword: the field is self_\n\
         # TYPE self gauge\n\
         self{Kind=\"a\",tier=\"gold\"} -1\n"
    );
    // A second struct over the same table finds the same metrics.
    let again = ShopMetrics::declare_in(&table_of_metrics).unwrap();
    assert_eq!(again.r#type.get(), 2);
}
