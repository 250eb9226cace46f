//! Histogram bucket layouts: validated once, shared by every series that uses them.

use std::sync::{Arc, LazyLock};

use super::encode::f64_to_string;
use crate::Error;

/// The upper bounds of a histogram's buckets, validated: at least one, finite, strictly
/// ascending. The `+Inf` bucket is implicit (a trailing `f64::INFINITY` is accepted and
/// dropped).
///
/// Cheap to clone; every series of a labeled histogram shares one layout.
///
/// ```
/// use rustform::metrics::Buckets;
///
/// let b = Buckets::new([0.1, 0.5, 1.0]).unwrap();
/// assert_eq!(b.bounds(), &[0.1, 0.5, 1.0]);
/// assert_eq!(Buckets::linear(1.0, 1.0, 3).unwrap().bounds(), &[1.0, 2.0, 3.0]);
/// assert_eq!(Buckets::exponential(1.0, 2.0, 4).unwrap().bounds(), &[1.0, 2.0, 4.0, 8.0]);
/// assert!(Buckets::new([1.0, 0.5]).is_err());
/// ```
#[derive(Clone)]
pub struct Buckets(Arc<Layout>);

pub(crate) struct Layout {
    pub(crate) bounds: Box<[f64]>,
    /// `le` label values: one per bound, then `+Inf`.
    pub(crate) le: Box<[Box<str>]>,
}

/// Prometheus' default buckets, for request latencies in seconds.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The buckets of `function_calls_duration_seconds` when a function gives none: the same
/// as autometrics', so its dashboards and latency objectives line up.
pub const FUNCTION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

impl Buckets {
    /// Validates `bounds` and builds a layout.
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Result<Buckets, Error> {
        let mut bounds: Vec<f64> = bounds.into_iter().collect();
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        if bounds.is_empty() {
            return Err(invalid("at least one finite upper bound is needed".into()));
        }
        if let Some(bad) = bounds.iter().find(|b| !b.is_finite()) {
            return Err(invalid(format!("{bad} is not a finite number")));
        }
        if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
            return Err(invalid(format!(
                "bounds must be strictly ascending, but {} is followed by {}",
                w[0], w[1]
            )));
        }
        Ok(Self::from_valid(bounds))
    }

    /// `count` buckets starting at `start`, each `width` above the previous.
    pub fn linear(start: f64, width: f64, count: usize) -> Result<Buckets, Error> {
        if width.is_nan() || width <= 0.0 {
            return Err(invalid(format!(
                "linear width must be positive, found {width}"
            )));
        }
        Buckets::new((0..count).map(|i| tidy(start + width * i as f64)))
    }

    /// `count` buckets starting at `start`, each `factor` times the previous.
    pub fn exponential(start: f64, factor: f64, count: usize) -> Result<Buckets, Error> {
        if start.is_nan() || start <= 0.0 {
            return Err(invalid(format!(
                "exponential start must be positive, found {start}"
            )));
        }
        if factor.is_nan() || factor <= 1.0 {
            return Err(invalid(format!(
                "exponential factor must exceed 1, found {factor}"
            )));
        }
        Buckets::new((0..count).map(|i| tidy(start * factor.powi(i as i32))))
    }

    /// The upper bounds, without the implicit `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.0.bounds
    }

    /// A layout from bounds the `#[observed]` and `AppMetrics` macros validated at
    /// compile time.
    pub(crate) fn from_checked(bounds: &'static [f64]) -> Buckets {
        Buckets::new(bounds.iter().copied()).unwrap_or_else(|_| Buckets::default())
    }

    fn from_valid(bounds: Vec<f64>) -> Buckets {
        let le = bounds
            .iter()
            .map(|b| f64_to_string(*b).into_boxed_str())
            .chain(std::iter::once(Box::from("+Inf")))
            .collect();
        Buckets(Arc::new(Layout {
            bounds: bounds.into(),
            le,
        }))
    }

    pub(crate) fn layout(&self) -> &Arc<Layout> {
        &self.0
    }

    /// The shared layout for function durations.
    pub(crate) fn function_default() -> Buckets {
        static FUNCTION: LazyLock<Buckets> =
            LazyLock::new(|| Buckets::from_valid(FUNCTION_BUCKETS.to_vec()));
        FUNCTION.clone()
    }
}

impl Default for Buckets {
    /// Prometheus' default buckets, [`DEFAULT_BUCKETS`].
    fn default() -> Self {
        static DEFAULT: LazyLock<Buckets> =
            LazyLock::new(|| Buckets::from_valid(DEFAULT_BUCKETS.to_vec()));
        DEFAULT.clone()
    }
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.bounds()).finish()
    }
}

impl PartialEq for Buckets {
    fn eq(&self, other: &Self) -> bool {
        self.bounds() == other.bounds()
    }
}

/// A computed bound rounded to 15 significant digits, so `linear(0.1, 0.1, 3)` gives
/// `0.3`, not `0.30000000000000004`.
fn tidy(value: f64) -> f64 {
    format!("{value:.14e}").parse().unwrap_or(value)
}

fn invalid(reason: String) -> Error {
    Error::InvalidBuckets { reason }
}

impl Layout {
    /// The bucket an observation falls in: the first bound `>= value`; `NaN` and values
    /// above every bound go to `+Inf`.
    #[inline]
    pub(crate) fn index(&self, value: f64) -> usize {
        if self.bounds.len() <= 32 {
            // Most observations fall in the first few buckets (a short call, a small
            // payload): a scan from the start usually stops at its first comparison.
            // `NaN` compares false with every bound and lands in `+Inf`.
            self.bounds
                .iter()
                .position(|b| value <= *b)
                .unwrap_or(self.bounds.len())
        } else if value.is_nan() {
            self.bounds.len()
        } else {
            self.bounds.partition_point(|b| *b < value)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_unordered_and_non_finite() {
        assert!(Buckets::new([]).is_err());
        assert!(Buckets::new([f64::INFINITY]).is_err());
        assert!(Buckets::new([1.0, 1.0]).is_err());
        assert!(Buckets::new([2.0, 1.0]).is_err());
        assert!(Buckets::new([f64::NAN]).is_err());
        assert!(Buckets::linear(0.0, 0.0, 3).is_err());
        assert!(Buckets::exponential(0.0, 2.0, 3).is_err());
        assert!(Buckets::exponential(1.0, 1.0, 3).is_err());
    }

    #[test]
    fn computed_series_have_no_float_noise() {
        assert_eq!(
            Buckets::linear(0.1, 0.1, 5).unwrap().bounds(),
            &[0.1, 0.2, 0.3, 0.4, 0.5]
        );
        assert_eq!(
            Buckets::exponential(0.001, 3.0, 3).unwrap().bounds(),
            &[0.001, 0.003, 0.009]
        );
    }

    #[test]
    fn long_layouts_search_the_same_way() {
        let b = Buckets::linear(1.0, 1.0, 100).unwrap();
        let l = b.layout();
        assert_eq!(l.index(0.5), 0);
        assert_eq!(l.index(50.0), 49);
        assert_eq!(l.index(50.5), 50);
        assert_eq!(l.index(1000.0), 100);
        assert_eq!(l.index(f64::NAN), 100);
    }

    #[test]
    fn trailing_infinity_is_implicit() {
        let b = Buckets::new([1.0, f64::INFINITY]).unwrap();
        assert_eq!(b.bounds(), &[1.0]);
        assert_eq!(&*b.layout().le, &[Box::from("1"), Box::from("+Inf")]);
    }

    #[test]
    fn observations_land_at_the_first_bound_not_below_them() {
        let b = Buckets::new([1.0, 2.0]).unwrap();
        let l = b.layout();
        assert_eq!(l.index(0.5), 0);
        assert_eq!(l.index(1.0), 0);
        assert_eq!(l.index(1.5), 1);
        assert_eq!(l.index(2.0), 1);
        assert_eq!(l.index(9.0), 2);
        assert_eq!(l.index(f64::NAN), 2);
        assert_eq!(l.index(f64::NEG_INFINITY), 0);
    }
}
