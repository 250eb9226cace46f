//! Typed labels: a [`LabelSet`] struct names the labels of a metric, each field a
//! [`LabelValue`]. Sets made only of enums and `bool`s have a fixed number of values, so
//! their series are created up front and found by array index.

use std::borrow::Cow;

/// A type usable as one label's value.
///
/// Derive it for fieldless enums with `#[derive(LabelValue)]` (variant names in
/// snake_case); it is implemented for `bool`, the integers, `&'static str`, `String` and
/// `Cow<'static, str>`.
///
/// ```
/// use rustform::metrics::LabelValue;
///
/// assert_eq!(true.with_str(str::to_owned), "true");
/// assert_eq!(<bool as LabelValue>::CARDINALITY, Some(2));
/// assert_eq!(404u16.with_str(str::to_owned), "404");
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label value",
    label = "not a label value",
    note = "label values are enums with `#[derive(LabelValue)]`, `bool`, integers, `&'static str` or `String`"
)]
pub trait LabelValue {
    /// `Some(n)` when the type has exactly `n` values (an enum, `bool`); `None` when its
    /// values are open-ended (strings, integers).
    const CARDINALITY: Option<usize> = None;

    /// This value's position in `0..CARDINALITY` (fixed-cardinality types only).
    fn dense_index(&self) -> usize {
        0
    }

    /// The value at a position in `0..CARDINALITY` (fixed-cardinality types only).
    fn from_dense_index(index: usize) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = index;
        None
    }

    /// Calls `f` with the value as label text.
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R;
}

/// The labels of a metric, as a struct: field names are label names, field types are
/// [`LabelValue`]s. Derive it with `#[derive(LabelSet)]`.
///
/// A set whose fields all have a fixed cardinality (enums, `bool`) has
/// `CARDINALITY = Some(product)`: a [`MetricVec`](super::MetricVec) over it creates every
/// series at registration and looks them up by [`dense_index`](Self::dense_index).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a label set",
    label = "not a label set",
    note = "the labels of CounterVec<L>, GaugeVec<L> and HistogramVec<L> are a struct with `#[derive(LabelSet)]`"
)]
pub trait LabelSet: Send + Sync + 'static {
    /// The label names, in field order.
    const NAMES: &'static [&'static str];

    /// `Some(n)` when the set has exactly `n` possible values.
    const CARDINALITY: Option<usize> = None;

    /// This set's position in `0..CARDINALITY` (fixed-cardinality sets only).
    fn dense_index(&self) -> usize {
        0
    }

    /// The set at a position in `0..CARDINALITY` (fixed-cardinality sets only).
    fn from_dense_index(index: usize) -> Option<Self>
    where
        Self: Sized,
    {
        let _ = index;
        None
    }

    /// Calls `f` with each label value, in the order of [`NAMES`](Self::NAMES).
    fn visit_values(&self, f: &mut dyn FnMut(&str));
}

/// The product of fixed cardinalities, or `None` if any is open-ended (or it overflows).
/// Used by `#[derive(LabelSet)]` in its `CARDINALITY` constant. Not a public API.
#[doc(hidden)]
pub const fn product_cardinality(parts: &[Option<usize>]) -> Option<usize> {
    let mut total: usize = 1;
    let mut i = 0;
    while i < parts.len() {
        match parts[i] {
            Some(n) => match total.checked_mul(n) {
                Some(t) => total = t,
                None => return None,
            },
            None => return None,
        }
        i += 1;
    }
    Some(total)
}

impl LabelValue for bool {
    const CARDINALITY: Option<usize> = Some(2);

    fn dense_index(&self) -> usize {
        usize::from(*self)
    }

    fn from_dense_index(index: usize) -> Option<Self> {
        match index {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(if *self { "true" } else { "false" })
    }
}

macro_rules! integer_label_values {
    ($($t:ty)*) => {$(
        impl LabelValue for $t {
            fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
                f(itoa::Buffer::new().format(*self))
            }
        }
    )*};
}

integer_label_values!(u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize);

impl LabelValue for &'static str {
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self)
    }
}

impl LabelValue for String {
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self)
    }
}

impl LabelValue for Cow<'static, str> {
    fn with_str<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products() {
        assert_eq!(product_cardinality(&[]), Some(1));
        assert_eq!(product_cardinality(&[Some(2), Some(3)]), Some(6));
        assert_eq!(product_cardinality(&[Some(2), None]), None);
        assert_eq!(product_cardinality(&[Some(usize::MAX), Some(2)]), None);
    }

    #[test]
    fn bools_are_dense() {
        for b in [false, true] {
            assert_eq!(bool::from_dense_index(b.dense_index()), Some(b));
        }
        assert_eq!(bool::from_dense_index(2), None);
    }
}
