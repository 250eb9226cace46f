//! The declarations of one `app_metrics!` struct, for the code it generates.
//!
//! The macro reads the file while compiling and writes each declaration as a static
//! [`Declaration`]; the struct's `global()` or `declare_in` declares them in a table
//! together and gets back a [`DeclaredGroup`], from which each field takes its handle.
//! None of this is a public API: the macro reaches it through `rustform::__private`.

use std::panic::Location;
use std::sync::Arc;

use super::entry::{Meta, Store};
use super::handles::Labeled;
use super::spec::Spec;
use super::table::DeclaredMetrics;
use crate::Error;
use crate::metrics::app_metric::registration_failed;
use crate::metrics::family::{DEFAULT_CARDINALITY_LIMIT, Family};
use crate::metrics::{MetricDescription, Series};

/// One metric as `app_metrics!` read it from the file. Not a public API.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    /// The name as written (a counter's may end in `_total`).
    pub name: &'static str,
    /// Its YAML path, for messages.
    pub path: &'static str,
    /// What `/metrics` shows; a histogram's effective buckets.
    pub metric: MetricDescription,
}

/// The storages of an `app_metrics!` struct's declarations, in order. Not a public API.
#[doc(hidden)]
pub struct DeclaredGroup {
    declarations: &'static [Declaration],
    stores: Vec<Store>,
}

impl DeclaredGroup {
    /// Declaration `i`, with `N` labels.
    pub fn labeled<M: Series, const N: usize>(&self, i: usize) -> Labeled<M, N>
    where
        M::Config: Default,
    {
        let meta = match self.declarations.get(i) {
            Some(d) => Meta::from_declaration(d),
            None => Meta::from_declaration(&Declaration {
                name: "",
                path: "",
                metric: MetricDescription {
                    name: "",
                    help: "",
                    metric_type: M::TYPE,
                    unit: None,
                    labels: &[],
                    buckets: None,
                },
            }),
        };
        Labeled {
            family: self.family(i),
            meta: Arc::new(meta),
        }
    }

    /// Declaration `i`, without labels: its only series.
    pub fn unlabeled<M: Series>(&self, i: usize) -> M
    where
        M::Config: Default,
    {
        self.family::<M>(i).get_or_create(&[])
    }

    /// Declaration `i`'s family; a detached one if the kinds disagree, which the macro
    /// never generates.
    fn family<M: Series>(&self, i: usize) -> Family<M>
    where
        M::Config: Default,
    {
        match self.stores.get(i).and_then(Store::family::<M>) {
            Some(family) => family.clone(),
            None => Family::new(M::Config::default(), DEFAULT_CARDINALITY_LIMIT),
        }
    }
}

/// Declares an `app_metrics!` struct's metrics in `table`. Not a public API.
#[doc(hidden)]
pub fn declare_group(
    table: &DeclaredMetrics,
    declarations: &'static [Declaration],
    location: &'static Location<'static>,
) -> Result<DeclaredGroup, Error> {
    let specs = declarations.iter().map(Spec::from_declaration).collect();
    let positions = table.declare_specs(&table.registry, specs, location)?;
    let stores = positions
        .into_iter()
        .zip(declarations)
        .map(|(i, d)| match table.entries.get(i) {
            Some(entry) => entry.store.clone(),
            None => Store::detached(d),
        })
        .collect();
    Ok(DeclaredGroup {
        declarations,
        stores,
    })
}

/// [`declare_group`] for `global()`: on failure the error is logged on target `rustform`
/// and the metrics count unexposed, in storage of their own. Not a public API.
#[doc(hidden)]
#[track_caller]
pub fn declare_group_or_log(
    table: &DeclaredMetrics,
    declarations: &'static [Declaration],
    group: &str,
) -> DeclaredGroup {
    match declare_group(table, declarations, Location::caller()) {
        Ok(declared) => declared,
        Err(error) => {
            registration_failed(group, &error);
            DeclaredGroup {
                declarations,
                stores: declarations.iter().map(Store::detached).collect(),
            }
        }
    }
}
