//! Exemplars: a sample's link to one trace that contributed to it.
//!
//! Where the current trace comes from is pluggable: the OpenTelemetry integration
//! installs a source that reads the current span's context; a program can install its
//! own with [`set_trace_context_source`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The W3C trace and span ids of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace id; all zeros is invalid.
    pub trace_id: [u8; 16],
    /// The span id; all zeros is invalid.
    pub span_id: [u8; 8],
}

static SOURCE: OnceLock<fn() -> Option<TraceContext>> = OnceLock::new();

/// Installs where exemplars get the current trace from (once per process; returns
/// `false` if a source was already installed). Until one is, no exemplars are recorded.
///
/// ```
/// use rustform::metrics::{set_trace_context_source, Exemplar, TraceContext};
///
/// set_trace_context_source(|| Some(TraceContext { trace_id: [0xab; 16], span_id: [0xcd; 8] }));
/// let e = Exemplar::current(0.25).unwrap();
/// assert_eq!(e.trace_id, "abababababababababababababababab");
/// assert_eq!(e.span_id, "cdcdcdcdcdcdcdcd");
/// ```
pub fn set_trace_context_source(source: fn() -> Option<TraceContext>) -> bool {
    SOURCE.set(source).is_ok()
}

/// Whether a trace context source is installed.
#[inline]
pub(crate) fn has_source() -> bool {
    SOURCE.get().is_some()
}

impl Exemplar {
    /// An exemplar for `value` in the current trace, if a source is installed and a
    /// valid trace context is current.
    pub fn current(value: f64) -> Option<Exemplar> {
        let context = (SOURCE.get()?)()?;
        if context.trace_id == [0; 16] || context.span_id == [0; 8] {
            return None;
        }
        Some(Exemplar {
            trace_id: hex(&context.trace_id),
            span_id: hex(&context.span_id),
            value,
            timestamp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// How often an automatically offered exemplar may replace the one a bucket holds.
pub(crate) const OFFER_INTERVAL: Duration = Duration::from_secs(1);

/// Nanoseconds since a process-wide origin, from a raw clock reading, for throttling
/// (never 0).
pub(crate) fn monotonic_nanos(raw_now: u64) -> u64 {
    static ORIGIN: LazyLock<u64> = LazyLock::new(crate::clock::raw);
    crate::clock::nanos_between(*ORIGIN, raw_now).max(1)
}

/// The latest exemplar of one sample. Written only when an exemplar is recorded, so it
/// costs nothing on the plain `inc`/`observe` path.
#[derive(Default)]
pub(crate) struct ExemplarCell {
    recorded: AtomicBool,
    /// When an offered exemplar was last taken (`monotonic_nanos`), 0 if never.
    last_offer: AtomicU64,
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

    /// Takes an exemplar of the current trace unless one was taken in the last
    /// [`OFFER_INTERVAL`].
    pub(crate) fn offer(&self, value: f64, now_nanos: u64) {
        let last = self.last_offer.load(Ordering::Relaxed);
        if last != 0 && now_nanos.saturating_sub(last) < OFFER_INTERVAL.as_nanos() as u64 {
            return;
        }
        if let Some(exemplar) = Exemplar::current(value) {
            self.last_offer.store(now_nanos, Ordering::Relaxed);
            self.set(exemplar);
        }
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
