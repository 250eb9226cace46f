//! The clock observed calls are timed with: the CPU's time-stamp counter where it is
//! invariant, else the operating system's monotonic clock. A time-stamp counter read
//! costs about 10 ns against about 25 ns for `std::time::Instant::now()` on the machines
//! measured in BENCHMARKS.md, and every observed call reads the clock twice.
//!
//! It is a `quanta::Clock` of rustform's own, read directly: quanta's `Instant::now()`
//! may consult a thread-local override (its `mock` feature, which another crate can turn
//! on), and a thread-local cannot be read while a thread's locals are torn down, where
//! an observed call must still work.

use std::sync::LazyLock;

pub(crate) use quanta::Instant;

static CLOCK: LazyLock<quanta::Clock> = LazyLock::new(quanta::Clock::new);

/// The current instant.
#[inline]
pub(crate) fn now() -> Instant {
    CLOCK.now()
}

/// A raw reading, to be turned into time only by [`nanos_between`]: cheaper than
/// [`now`] when only a difference is needed.
#[inline]
pub(crate) fn raw() -> u64 {
    CLOCK.raw()
}

/// Nanoseconds between two [`raw`] readings (zero if `end` is before `start`).
#[inline]
pub(crate) fn nanos_between(start: u64, end: u64) -> u64 {
    CLOCK.delta_as_nanos(start, end)
}
