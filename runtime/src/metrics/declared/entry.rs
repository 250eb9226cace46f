//! What the table keeps for each declared metric: its description, for lookups and
//! messages, and its storage, a family of series of the declared kind.
//!
//! The storage is one family of the declared kind: a lookup typed by another kind finds
//! nothing, so a counter is never read as a gauge. A declaration whose registration
//! failed gets a detached storage, so its metrics still count, unexposed.

use std::any::Any;

use super::family_name;
use super::group::Declaration;
use super::spec::shape;
use crate::Error;
use crate::metrics::family::{DEFAULT_CARDINALITY_LIMIT, Family};
use crate::metrics::registry::GroupMetric;
use crate::metrics::{Buckets, Counter, Gauge, Histogram, MetricType, Series};

/// What a declaration says about a metric, kept for lookups and messages.
#[derive(Debug, Clone)]
pub(super) struct Meta {
    /// As declared.
    pub(super) name: Box<str>,
    /// The family name: a counter's without `_total`.
    pub(super) base: Box<str>,
    pub(super) kind: MetricType,
    pub(super) help: Box<str>,
    pub(super) unit: Option<Box<str>>,
    pub(super) labels: Box<[Box<str>]>,
    /// A histogram's buckets.
    pub(super) buckets: Option<Buckets>,
    /// Where it was declared.
    pub(super) path: Box<str>,
}

impl Meta {
    pub(super) fn from_declaration(d: &Declaration) -> Meta {
        let kind = d.metric.metric_type;
        Meta {
            name: d.name.into(),
            base: family_name(d.name, kind).into(),
            kind,
            help: d.metric.help.into(),
            unit: d.metric.unit.map(Into::into),
            labels: d.metric.labels.iter().map(|l| Box::from(*l)).collect(),
            buckets: (kind == MetricType::Histogram).then(|| {
                d.metric
                    .buckets
                    .map_or_else(Buckets::default, Buckets::from_checked)
            }),
            path: d.path.into(),
        }
    }

    pub(super) fn label_count(&self, found: usize) -> Error {
        Error::LabelCount {
            name: self.name.to_string(),
            expected: self.labels.iter().map(ToString::to_string).collect(),
            found,
        }
    }

    pub(super) fn shape(&self) -> String {
        shape(
            self.kind,
            self.labels.iter().map(|l| &**l),
            self.buckets.as_ref(),
        )
    }
}

/// One declaration in the table. Entries never move or go away.
pub(super) struct Entry {
    pub(super) meta: Meta,
    pub(super) store: Store,
}

impl Entry {
    /// The entry as one member of a group registration: name, help, unit, series.
    pub(super) fn group_member(&self) -> (&str, &str, Option<&str>, GroupMetric) {
        let metric = match &self.store {
            Store::Counter(f) => GroupMetric::new(f.clone()),
            Store::Gauge(f) => GroupMetric::new(f.clone()),
            Store::Histogram(f) => GroupMetric::new(f.clone()),
        };
        (
            &self.meta.name,
            &self.meta.help,
            self.meta.unit.as_deref(),
            metric,
        )
    }
}

/// A declared metric's series.
#[derive(Clone)]
pub(super) enum Store {
    Counter(Family<Counter>),
    Gauge(Family<Gauge>),
    Histogram(Family<Histogram>),
}

impl Store {
    /// New, empty storage; a metric without labels gets its one series now, so it shows
    /// at zero before its first use.
    pub(super) fn new(kind: MetricType, labels: usize, buckets: Option<&Buckets>) -> Store {
        fn family<M: Series>(config: M::Config, labels: usize) -> Family<M> {
            let family = Family::new(config, DEFAULT_CARDINALITY_LIMIT);
            if labels == 0 {
                family.get_or_create(&[]);
            }
            family
        }
        match kind {
            MetricType::Counter => Store::Counter(family((), labels)),
            MetricType::Gauge => Store::Gauge(family((), labels)),
            _ => Store::Histogram(family(buckets.cloned().unwrap_or_default(), labels)),
        }
    }

    pub(super) fn detached(d: &Declaration) -> Store {
        let meta = Meta::from_declaration(d);
        Store::new(meta.kind, meta.labels.len(), meta.buckets.as_ref())
    }

    pub(super) fn family<M: Series>(&self) -> Option<&Family<M>> {
        let family: &dyn Any = match self {
            Store::Counter(f) => f,
            Store::Gauge(f) => f,
            Store::Histogram(f) => f,
        };
        family.downcast_ref()
    }
}
