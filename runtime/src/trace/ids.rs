//! Random W3C trace and span ids, from a per-thread generator.
//!
//! Ids only need to be unique, not secret, so a fast non-cryptographic generator
//! (wyrand) does: one multiplication per 8 bytes and no lock. Each thread seeds its own
//! from `RandomState` (random keys from the operating system), the time and the thread
//! id, so threads and processes started together still draw different ids.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .hash(&mut hasher);
    std::thread::current().id().hash(&mut hasher);
    hasher.finish()
}

/// One step of wyrand.
fn step(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let product = u128::from(*state) * u128::from(*state ^ 0xe703_7ed1_a0b4_28db);
    ((product >> 64) as u64) ^ (product as u64)
}

/// The next random number of this thread's generator.
pub(crate) fn next() -> u64 {
    STATE
        .try_with(|cell| {
            let mut state = cell.get();
            let value = step(&mut state);
            cell.set(state);
            value
        })
        // While the thread's locals are torn down, a span can still be created: seed a
        // generator for this one draw.
        .unwrap_or_else(|_| step(&mut seed()))
}

/// A new span id: 8 random bytes, never all zero (W3C: all zeros is invalid).
pub(crate) fn span_id() -> [u8; 8] {
    loop {
        let value = next();
        if value != 0 {
            return value.to_be_bytes();
        }
    }
}

/// A new trace id: 16 random bytes, never all zero.
pub(crate) fn trace_id() -> [u8; 16] {
    loop {
        let (high, low) = (next(), next());
        if high != 0 || low != 0 {
            return ((u128::from(high) << 64) | u128::from(low)).to_be_bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_distinct_and_never_zero() {
        let spans: HashSet<[u8; 8]> = (0..10_000).map(|_| span_id()).collect();
        assert_eq!(spans.len(), 10_000);
        assert!(!spans.contains(&[0; 8]));
        let traces: HashSet<[u8; 16]> = (0..10_000).map(|_| trace_id()).collect();
        assert_eq!(traces.len(), 10_000);
        assert!(!traces.contains(&[0; 16]));
    }

    #[test]
    fn threads_draw_different_ids() {
        let here = span_id();
        let there = std::thread::spawn(span_id).join().unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn bits_are_balanced() {
        // A crude check that no bit is stuck: over 4096 draws each of the 64 bits is set
        // roughly half the time.
        let mut ones = [0u32; 64];
        for _ in 0..4096 {
            let value = u64::from_be_bytes(span_id());
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += ((value >> bit) & 1) as u32;
            }
        }
        for count in ones {
            assert!((1700..2400).contains(&count), "{count}");
        }
    }
}
