//! Unseen spans: spans nobody will see are not created. With OpenTelemetry export
//! installed, an `#[observed]` call whose span would not be sampled — its parent is unsampled, or it is
//! a root and the sampler never samples roots — and whose level the logs do not write,
//! records its metrics only: no `tracing` span, no OpenTelemetry span builder, no ids.
//! Which traces are sampled does not change, and neither do the logs.
//!
//! The decision reads two atomics and a thread-local: the sampled flags of the exported
//! spans the thread is inside, kept by [`SampledFields`](super::sampled::SampledFields) as they are
//! entered and exited.

#![cfg_attr(
    not(feature = "otlp"),
    allow(dead_code, reason = "spans are skipped only when they are exported")
)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicU8, Ordering};

use tracing::Level;
use tracing_subscriber::filter::LevelFilter;

use crate::config::{RootSampler, Sampler};

/// Every span is created (no export installed, or a sampler that samples everything).
const CREATE_ALL: u8 = 0;
/// Children follow their parent's decision; roots are created (the sampler decides).
const FOLLOW_PARENT: u8 = 1;
/// Children follow their parent's decision; roots are never sampled.
const FOLLOW_PARENT_NO_ROOTS: u8 = 2;
/// Nothing is ever sampled.
const SKIP_ALL: u8 = 3;

/// Which spans are skipped: one of the four policies above.
static POLICY: AtomicU8 = AtomicU8::new(CREATE_ALL);

/// The most verbose level the logs write: `0` for none, `1` ERROR … `5` TRACE.
static LOGS_MAX: AtomicU8 = AtomicU8::new(5);

/// What the thread's innermost exported span says.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Entered {
    /// A sampled span.
    Sampled,
    /// An unsampled span.
    Unsampled,
    /// A span without a valid OpenTelemetry context.
    Unknown,
}

thread_local! {
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// Skips the spans `sampler` would not sample, for spans more verbose than what the logs
/// write (`logs` is the log filter's most verbose level).
pub(crate) fn skip_unseen(sampler: Sampler, logs: Option<LevelFilter>) {
    let roots_never = match sampler.root {
        RootSampler::AlwaysOff => true,
        RootSampler::TraceIdRatio(ratio) => ratio <= 0.0 || ratio.is_nan(),
        RootSampler::AlwaysOn => false,
    };
    let policy = match (sampler.parent_based, roots_never) {
        (true, false) => FOLLOW_PARENT,
        (true, true) => FOLLOW_PARENT_NO_ROOTS,
        // Without a parent-based sampler, every span is a root to it.
        (false, true) => SKIP_ALL,
        (false, false) => CREATE_ALL,
    };
    LOGS_MAX.store(
        filter_rank(logs.unwrap_or(LevelFilter::TRACE)),
        Ordering::Relaxed,
    );
    POLICY.store(policy, Ordering::Release);
}

/// Creates every span again, when the export that skipped some shuts down.
pub(crate) fn create_every_span() {
    POLICY.store(CREATE_ALL, Ordering::Release);
}

fn filter_rank(filter: LevelFilter) -> u8 {
    match filter.into_level() {
        None => 0,
        Some(level) => level_rank(level),
    }
}

fn level_rank(level: Level) -> u8 {
    match level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// Whether an `#[observed]` call at `level` creates its span.
#[inline]
pub fn span_wanted(level: Level) -> bool {
    let policy = POLICY.load(Ordering::Relaxed);
    if policy == CREATE_ALL {
        return true;
    }
    decide(policy, LOGS_MAX.load(Ordering::Relaxed), level, || {
        ENTERED
            .try_with(|entered| entered.borrow().last().copied())
            .unwrap_or(Some(Entered::Unknown))
    })
}

/// The decision, from the policy, the logs' most verbose level, the call's level and the
/// thread's innermost exported span (`None` outside any).
fn decide(
    policy: u8,
    logs_max: u8,
    level: Level,
    innermost: impl FnOnce() -> Option<Entered>,
) -> bool {
    if policy == CREATE_ALL || level_rank(level) <= logs_max {
        return true;
    }
    if policy == SKIP_ALL {
        return false;
    }
    match innermost() {
        Some(Entered::Sampled | Entered::Unknown) => true,
        Some(Entered::Unsampled) => false,
        None => policy != FOLLOW_PARENT_NO_ROOTS,
    }
}

/// An exported span was entered on this thread.
pub(crate) fn enter(state: Entered) {
    let _ = ENTERED.try_with(|entered| entered.borrow_mut().push(state));
}

/// The innermost exported span was exited.
pub(crate) fn exit() {
    let _ = ENTERED.try_with(|entered| entered.borrow_mut().pop());
}

#[cfg(test)]
mod tests {
    use super::*;

    const WARN: u8 = 2;

    #[test]
    fn creating_all_or_a_written_level_creates_every_span() {
        for innermost in [None, Some(Entered::Unsampled)] {
            assert!(decide(CREATE_ALL, WARN, Level::INFO, || innermost));
            // Logs at INFO write the span: it is created, sampled or not.
            assert!(decide(FOLLOW_PARENT_NO_ROOTS, 3, Level::INFO, || innermost));
            assert!(decide(SKIP_ALL, WARN, Level::WARN, || innermost));
        }
    }

    #[test]
    fn children_follow_their_parent() {
        for policy in [FOLLOW_PARENT, FOLLOW_PARENT_NO_ROOTS] {
            assert!(decide(policy, WARN, Level::INFO, || Some(Entered::Sampled)));
            assert!(!decide(policy, WARN, Level::INFO, || Some(
                Entered::Unsampled
            )));
            assert!(decide(policy, WARN, Level::INFO, || Some(Entered::Unknown)));
        }
    }

    #[test]
    fn roots_are_skipped_only_when_never_sampled() {
        assert!(decide(FOLLOW_PARENT, WARN, Level::INFO, || None));
        assert!(!decide(FOLLOW_PARENT_NO_ROOTS, WARN, Level::INFO, || None));
        assert!(!decide(SKIP_ALL, WARN, Level::INFO, || Some(
            Entered::Sampled
        )));
    }

    #[test]
    fn levels_rank_by_verbosity() {
        assert_eq!(filter_rank(LevelFilter::OFF), 0);
        assert_eq!(filter_rank(LevelFilter::ERROR), 1);
        assert_eq!(filter_rank(LevelFilter::TRACE), 5);
        assert!(level_rank(Level::DEBUG) > level_rank(Level::INFO));
    }
}
