//! Exemplars: a sample's link to one trace that contributed to it.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// An example observation with the trace it came from, shown by OpenMetrics after the
/// sample (`… # {trace_id="…",span_id="…"} 0.27 1700000000.123`) so a dashboard can jump
/// from a latency spike to a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// The W3C trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// The span id, 16 lowercase hex digits.
    pub span_id: String,
    /// The observed value (for a counter, the increment).
    pub value: f64,
    /// When it was observed, since the Unix epoch.
    pub timestamp: Duration,
}

/// The latest exemplar of one sample. Written only when an exemplar is recorded, so it
/// costs nothing on the plain `inc`/`observe` path.
#[derive(Default)]
pub(crate) struct ExemplarCell {
    recorded: AtomicBool,
    latest: Mutex<Option<Box<Exemplar>>>,
}

impl ExemplarCell {
    pub(crate) fn set(&self, exemplar: Exemplar) {
        let mut slot = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(Box::new(exemplar));
        self.recorded.store(true, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<Exemplar> {
        if !self.recorded.load(Ordering::Acquire) {
            return None;
        }
        let slot = self
            .latest
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.as_deref().cloned()
    }
}
