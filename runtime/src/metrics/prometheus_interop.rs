//! A rustform [`Registry`] as a [`prometheus::core::Collector`], so it can be registered
//! in a `prometheus::Registry` beside hand-written `prometheus` metrics.

use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus::core::{Collector, Desc};
use prometheus::proto;

use super::encode::MetricType;
use super::{MetricValue, Registry};

impl Collector for Registry {
    /// One descriptor per family registered when the collector was first registered. A
    /// registry still empty at that point gets one placeholder descriptor, so two such
    /// registries do not collide in a `prometheus::Registry`.
    fn desc(&self) -> Vec<&Desc> {
        self.descs_cell()
            .get_or_init(|| {
                let mut descs: Vec<Desc> = self
                    .families()
                    .iter()
                    .filter_map(|f| {
                        Desc::new(
                            prometheus_family_name(&f.base, f.metric_type),
                            f.help.to_string(),
                            Vec::new(),
                            Default::default(),
                        )
                        .ok()
                    })
                    .collect();
                if descs.is_empty() {
                    static NEXT: AtomicUsize = AtomicUsize::new(0);
                    let n = NEXT.fetch_add(1, Ordering::Relaxed);
                    let placeholder = format!("rustform_empty_registry_{n}");
                    descs.extend(Desc::new(
                        placeholder,
                        "An empty rustform registry".into(),
                        Vec::new(),
                        Default::default(),
                    ));
                }
                descs
            })
            .iter()
            .collect()
    }

    fn collect(&self) -> Vec<proto::MetricFamily> {
        self.snapshot()
            .families
            .into_iter()
            .filter(|f| !f.series.is_empty())
            .map(|f| {
                let mut family = proto::MetricFamily::default();
                family.set_name(prometheus_family_name(&f.name, f.metric_type));
                family.set_help(f.help);
                family.set_field_type(match f.metric_type {
                    MetricType::Counter => proto::MetricType::COUNTER,
                    MetricType::Gauge => proto::MetricType::GAUGE,
                    MetricType::Histogram => proto::MetricType::HISTOGRAM,
                });
                family.set_metric(
                    f.series
                        .into_iter()
                        .map(|s| metric(s.labels, s.value))
                        .collect(),
                );
                family
            })
            .collect()
    }
}

/// The name the `prometheus` crate gives a family: a counter's carries `_total`.
fn prometheus_family_name(base: &str, metric_type: MetricType) -> String {
    match metric_type {
        MetricType::Counter => format!("{base}_total"),
        _ => base.to_owned(),
    }
}

fn metric(labels: Vec<(String, String)>, value: MetricValue) -> proto::Metric {
    let mut m = proto::Metric::default();
    m.set_label(
        labels
            .into_iter()
            .map(|(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name(name);
                pair.set_value(value);
                pair
            })
            .collect(),
    );
    match value {
        MetricValue::Counter(_) | MetricValue::FloatCounter(_) => {
            let mut c = proto::Counter::default();
            c.set_value(value.as_f64().unwrap_or_default());
            m.set_counter(c);
        }
        MetricValue::Gauge(_) | MetricValue::FloatGauge(_) => {
            let mut g = proto::Gauge::default();
            g.set_value(value.as_f64().unwrap_or_default());
            m.set_gauge(g);
        }
        MetricValue::Histogram(h) => {
            let mut p = proto::Histogram::default();
            p.set_sample_count(h.count);
            p.set_sample_sum(h.sum);
            // The prometheus encoders add the `+Inf` bucket from the sample count.
            p.set_bucket(
                h.buckets
                    .into_iter()
                    .filter(|(bound, _)| bound.is_finite())
                    .map(|(bound, count)| {
                        let mut b = proto::Bucket::default();
                        b.set_upper_bound(bound);
                        b.set_cumulative_count(count);
                        b
                    })
                    .collect(),
            );
            m.set_histogram(p);
        }
    }
    m
}
