//! A declaration on its way into the table, and the checks it passes first.
//!
//! Declarations come from three places: the `custom_metrics` section of `rustform.yml`,
//! the names listed under `prometheus.metrics.business`, and an `app_metrics!` struct.
//! Each becomes a [`Spec`], so one set of checks and one wording of every conflict serve
//! them all: a metric keeps one kind, label list and bucket layout for the life of the
//! process, and the message names both declarations.

use std::borrow::Cow;

use super::entry::{Entry, Meta, Store};
use super::family_name;
use super::group::Declaration;
use crate::Error;
use crate::config::{BusinessMetrics, CustomMetrics, MetricDeclaration};
use crate::metrics::name::{check_label_name, check_metric_name};
use crate::metrics::{Buckets, MetricType};

/// A declaration on its way into a table.
pub(super) struct Spec<'a> {
    pub(super) kind: MetricType,
    pub(super) name: &'a str,
    help: Cow<'a, str>,
    unit: Option<&'a str>,
    labels: Vec<&'a str>,
    buckets: Option<&'a [f64]>,
    pub(super) path: Cow<'a, str>,
    /// A name from `prometheus.metrics.business`: an entry of the same kind under the
    /// name is this metric, whatever its labels and buckets.
    refers: bool,
}

impl<'a> Spec<'a> {
    fn from_config(kind: MetricType, d: &'a MetricDeclaration) -> Spec<'a> {
        Spec {
            kind,
            name: &d.name,
            help: d.description.as_str().into(),
            unit: d.unit.as_deref(),
            labels: d.labels.iter().map(String::as_str).collect(),
            buckets: d.buckets.as_deref(),
            path: d.path.as_str().into(),
            refers: false,
        }
    }

    pub(super) fn from_declaration(d: &'a Declaration) -> Spec<'a> {
        Spec {
            kind: d.metric.metric_type,
            name: d.name,
            help: d.metric.help.into(),
            unit: d.metric.unit,
            labels: d.metric.labels.to_vec(),
            buckets: d.metric.buckets,
            path: d.path.into(),
            refers: false,
        }
    }
}

pub(super) fn custom_specs(metrics: &CustomMetrics) -> Vec<Spec<'_>> {
    let sections = [
        (MetricType::Counter, &metrics.counters),
        (MetricType::Gauge, &metrics.gauges),
        (MetricType::Histogram, &metrics.histograms),
    ];
    sections
        .into_iter()
        .flat_map(|(kind, list)| list.iter().map(move |d| Spec::from_config(kind, d)))
        .collect()
}

const BUSINESS_PATH: &str = "observability.prometheus.metrics.business";

pub(super) fn business_specs(business: &BusinessMetrics) -> Vec<Spec<'_>> {
    if !business.enabled {
        return Vec::new();
    }
    let lists = [
        (
            MetricType::Counter,
            "custom_counters",
            &business.custom_counters,
        ),
        (MetricType::Gauge, "custom_gauges", &business.custom_gauges),
        (
            MetricType::Histogram,
            "custom_histograms",
            &business.custom_histograms,
        ),
    ];
    lists
        .into_iter()
        .flat_map(|(kind, key, names)| {
            names.iter().enumerate().map(move |(i, name)| Spec {
                kind,
                name,
                help: format!(
                    "Business {} {name} (rustform.yml: {BUSINESS_PATH}.{key})",
                    kind.as_str()
                )
                .into(),
                unit: None,
                labels: Vec::new(),
                buckets: None,
                path: format!("{BUSINESS_PATH}.{key}[{i}]").into(),
                refers: true,
            })
        })
        .collect()
}

/// A spec whose names and buckets are valid.
pub(super) struct Checked<'a> {
    pub(super) spec: Spec<'a>,
    pub(super) base: &'a str,
    buckets: Option<Buckets>,
}

pub(super) fn check(spec: Spec<'_>) -> Result<Checked<'_>, Error> {
    check_metric_name(spec.name)?;
    let base = family_name(spec.name, spec.kind);
    if spec.kind == MetricType::Counter && base.is_empty() {
        return Err(Error::InvalidMetricName {
            name: spec.name.to_owned(),
            reason: "a counter needs a name before `_total`",
        });
    }
    if spec.kind != MetricType::Counter && spec.name.ends_with("_total") {
        return Err(Error::InvalidMetricName {
            name: spec.name.to_owned(),
            reason: "only counters end in `_total`; rename it or declare it as a counter",
        });
    }
    for (i, label) in spec.labels.iter().enumerate() {
        check_label_name(label)?;
        if spec.labels[..i].contains(label) {
            return Err(Error::InvalidLabelName {
                name: (*label).to_owned(),
                reason: "the declaration lists it twice; list each label once",
            });
        }
    }
    let buckets = match (spec.kind, spec.buckets) {
        (MetricType::Histogram, Some(bounds)) => Some(Buckets::new(bounds.iter().copied())?),
        (MetricType::Histogram, None) => Some(Buckets::default()),
        (_, None) => None,
        (_, Some(_)) => {
            return Err(Error::InvalidBuckets {
                reason: format!(
                    "{} is a {}, and only histograms have buckets",
                    spec.name,
                    spec.kind.as_str()
                ),
            });
        }
    };
    Ok(Checked {
        base,
        buckets,
        spec,
    })
}

impl Checked<'_> {
    /// Whether the table's `meta` is this metric: the same kind, labels and buckets (or,
    /// for a business name, the same kind).
    pub(super) fn same_as(&self, meta: &Meta) -> bool {
        self.spec.kind == meta.kind
            && (self.spec.refers
                || (self
                    .spec
                    .labels
                    .iter()
                    .copied()
                    .eq(meta.labels.iter().map(|l| &**l))
                    && self.buckets == meta.buckets))
    }

    pub(super) fn same_as_spec(&self, other: &Checked<'_>) -> bool {
        self.spec.kind == other.spec.kind
            && ((self.spec.refers && other.spec.refers)
                || (self.spec.labels == other.spec.labels && self.buckets == other.buckets))
    }

    pub(super) fn shape(&self) -> String {
        shape(
            self.spec.kind,
            self.spec.labels.iter().copied(),
            self.buckets.as_ref(),
        )
    }

    pub(super) fn entry(&self) -> Entry {
        let spec = &self.spec;
        let meta = Meta {
            name: spec.name.into(),
            base: self.base.into(),
            kind: spec.kind,
            help: (*spec.help).into(),
            unit: spec.unit.map(Into::into),
            labels: spec.labels.iter().map(|l| Box::from(*l)).collect(),
            buckets: self.buckets.clone(),
            path: (*spec.path).into(),
        };
        let store = Store::new(meta.kind, meta.labels.len(), meta.buckets.as_ref());
        Entry { meta, store }
    }
}

/// `a counter with labels [status, payment_method]`.
pub(super) fn shape<'l>(
    kind: MetricType,
    labels: impl ExactSizeIterator<Item = &'l str>,
    buckets: Option<&Buckets>,
) -> String {
    let mut out = format!("a {}", kind.as_str());
    if labels.len() == 0 {
        out.push_str(" without labels");
    } else {
        out.push_str(" with labels [");
        out.push_str(&labels.collect::<Vec<_>>().join(", "));
        out.push(']');
    }
    if let Some(buckets) = buckets {
        out.push_str(&format!(" and buckets {:?}", buckets.bounds()));
    }
    out
}

pub(super) fn conflict(
    spec: &Checked<'_>,
    first_name: &str,
    first_path: &str,
    first_shape: &str,
) -> String {
    format!(
        "{path}: {name:?} is {shape}, but {first_name:?} is already declared at {first_path} as \
         {first_shape}; a metric keeps one kind, label list and bucket layout for the life of \
         the process: make the declarations match or rename one",
        path = spec.spec.path,
        name = spec.spec.name,
        shape = spec.shape(),
    )
}
