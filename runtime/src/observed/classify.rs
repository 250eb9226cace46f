//! Classifying a return value without knowing its type when the macro runs.
//!
//! A macro sees tokens, not types: `io::Result<T>`, `anyhow::Result<T>` or a user's own
//! alias all name a `Result` it cannot recognise. The generated code asks the compiler
//! instead, with autoref specialisation: of two traits with a method of the same name,
//! method resolution picks the one implemented for the more-referenced receiver when its
//! bounds hold and falls back to the other. Where the type is concrete at the call site
//! (the usual case) the precise impl applies; in generic code the fallback does, which
//! is still correct, only less detailed.

use std::fmt;

use tracing::Span;

use super::Outcome;
use crate::ErrorLabel;

/// A reference to a function's return value, to classify it.
pub struct Ret<'a, T: ?Sized>(pub &'a T);

/// `Result`s: `Ok` is ok, `Err` is an error; each side labeled when its type has an
/// [`ErrorLabel`].
pub trait ClassifyResult {
    /// The `Ok` type.
    type Ok;
    /// The `Err` type.
    type Err;
    /// Classifies the value; `ok`/`err` give the label of the side present.
    fn __rustform_classify<FO, FE>(&self, ok: FO, err: FE) -> Outcome
    where
        FO: FnOnce(&Self::Ok) -> Option<&'static str>,
        FE: FnOnce(&Self::Err) -> Option<&'static str>;
}

impl<T, E> ClassifyResult for &Ret<'_, Result<T, E>> {
    type Ok = T;
    type Err = E;

    #[inline]
    fn __rustform_classify<FO, FE>(&self, ok: FO, err: FE) -> Outcome
    where
        FO: FnOnce(&T) -> Option<&'static str>,
        FE: FnOnce(&E) -> Option<&'static str>,
    {
        match self.0 {
            Ok(v) => Outcome::ok(ok(v)),
            Err(e) => Outcome::error(err(e)),
        }
    }
}

/// An uninhabited type: the "error side" of values that are not `Result`s.
pub enum Never {}

/// Any other value: ok, labeled when its type has an [`ErrorLabel`].
pub trait ClassifyOther {
    /// The value's type.
    type Ok: ?Sized;
    /// Classifies the value as ok.
    fn __rustform_classify<FO, FE>(&self, ok: FO, err: FE) -> Outcome
    where
        FO: FnOnce(&Self::Ok) -> Option<&'static str>,
        FE: FnOnce(&Never) -> Option<&'static str>;
}

impl<T: ?Sized> ClassifyOther for Ret<'_, T> {
    type Ok = T;

    #[inline]
    fn __rustform_classify<FO, FE>(&self, ok: FO, _err: FE) -> Outcome
    where
        FO: FnOnce(&T) -> Option<&'static str>,
        FE: FnOnce(&Never) -> Option<&'static str>,
    {
        Outcome::ok(ok(self.0))
    }
}

/// A reference to an ok or error value, probed for its label: method resolution picks
/// [`LabelOf`] when its type implements [`ErrorLabel`], [`NoLabel`] otherwise.
pub struct LabelProbe<'a, T: ?Sized>(pub &'a T);

/// Values whose type implements [`ErrorLabel`].
pub trait LabelOf {
    /// The value's label.
    fn __rustform_label(&self) -> Option<&'static str>;
}

impl<T: ErrorLabel + ?Sized> LabelOf for &LabelProbe<'_, T> {
    #[inline]
    fn __rustform_label(&self) -> Option<&'static str> {
        Some(self.0.label())
    }
}

/// Values without a label.
pub trait NoLabel {
    /// `None`.
    fn __rustform_label(&self) -> Option<&'static str>;
}

impl<T: ?Sized> NoLabel for LabelProbe<'_, T> {
    #[inline]
    fn __rustform_label(&self) -> Option<&'static str> {
        None
    }
}

/// A reference to an error, to record it on the span as `exception.message`.
pub struct Message<'a, T: ?Sized>(pub &'a T);

/// Errors that implement `Display`: recorded with it.
pub trait RecordDisplay {
    /// Records `exception.message` on `span` if it is enabled.
    fn __rustform_record(&self, span: &Span);
}

impl<T: fmt::Display + ?Sized> RecordDisplay for &&Message<'_, T> {
    #[inline]
    fn __rustform_record(&self, span: &Span) {
        if !span.is_disabled() {
            span.record("exception.message", tracing::field::display(self.0));
        }
    }
}

/// Errors that implement only `Debug`: recorded with it.
pub trait RecordDebug {
    /// Records `exception.message` on `span` if it is enabled.
    fn __rustform_record(&self, span: &Span);
}

impl<T: fmt::Debug + ?Sized> RecordDebug for &Message<'_, T> {
    #[inline]
    fn __rustform_record(&self, span: &Span) {
        if !span.is_disabled() {
            span.record("exception.message", tracing::field::debug(self.0));
        }
    }
}

/// Errors that cannot be formatted: nothing to record.
pub trait RecordNothing {
    /// Does nothing.
    fn __rustform_record(&self, span: &Span);
}

impl<T: ?Sized> RecordNothing for Message<'_, T> {
    #[inline]
    fn __rustform_record(&self, _span: &Span) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    enum Kind {
        Missing,
    }

    impl ErrorLabel for Kind {
        fn label(&self) -> &'static str {
            match self {
                Kind::Missing => "missing",
            }
        }
    }

    struct Opaque;

    fn classify<T>(value: &T) -> Outcome {
        // Generic code: the fallbacks apply.
        Ret(value).__rustform_classify(|v| LabelProbe(v).__rustform_label(), |_| None)
    }

    #[test]
    fn concrete_results_are_classified_with_labels() {
        let ok: Result<Kind, Opaque> = Ok(Kind::Missing);
        let outcome = (&&Ret(&ok)).__rustform_classify(
            |v| (&&LabelProbe(v)).__rustform_label(),
            |e| LabelProbe(e).__rustform_label(),
        );
        assert_eq!(outcome, Outcome::ok(Some("missing")));

        let err: Result<Opaque, Kind> = Err(Kind::Missing);
        let outcome = (&&Ret(&err)).__rustform_classify(
            |v| LabelProbe(v).__rustform_label(),
            |e| (&&LabelProbe(e)).__rustform_label(),
        );
        assert_eq!(outcome, Outcome::error(Some("missing")));

        let plain = 5u8;
        let outcome = Ret(&plain).__rustform_classify(
            |v| LabelProbe(v).__rustform_label(),
            |e| LabelProbe(e).__rustform_label(),
        );
        assert_eq!(outcome, Outcome::ok(None));
    }

    #[test]
    fn generic_values_fall_back_to_ok_without_label() {
        let err: Result<(), Kind> = Err(Kind::Missing);
        assert_eq!(classify(&err), Outcome::ok(None));
    }
}
