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

/// `Result`s: `Ok` is ok, `Err` is an error.
pub trait ClassifyResult {
    /// The `Ok` type.
    type Ok;
    /// The `Err` type.
    type Err;
    /// The side present, for the generated code to probe for its label.
    fn __rustform_split(&self) -> Result<&Self::Ok, &Self::Err>;
}

impl<T, E> ClassifyResult for &Ret<'_, Result<T, E>> {
    type Ok = T;
    type Err = E;

    #[inline]
    fn __rustform_split(&self) -> Result<&T, &E> {
        self.0.as_ref()
    }
}

/// An uninhabited type: the "error side" of values that are not `Result`s.
pub enum Never {}

/// Any other value: ok.
pub trait ClassifyOther {
    /// The value's type.
    type Ok: ?Sized;
    /// The value, always on the ok side.
    fn __rustform_split(&self) -> Result<&Self::Ok, &Never>;
}

impl<T: ?Sized> ClassifyOther for Ret<'_, T> {
    type Ok = T;

    #[inline]
    fn __rustform_split(&self) -> Result<&T, &Never> {
        Ok(self.0)
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

/// A reference to an error, probed for how to write it as the span's
/// `exception.message`: method resolution picks [`RecordDisplay`], else [`RecordDebug`],
/// else [`RecordNothing`].
pub struct Message<'a, T: ?Sized>(pub &'a T);

/// How an error is written on the span: the generated code only picks it, the writing is
/// [`classify_error`]'s, compiled once for every function.
pub enum ErrorMessage<'a> {
    /// With `Display`.
    Display(&'a dyn fmt::Display),
    /// With `Debug`, for an error without `Display`.
    Debug(&'a dyn fmt::Debug),
    /// Not written: the error cannot be formatted.
    Nothing,
}

/// Errors that implement `Display`: recorded with it.
pub trait RecordDisplay<'a> {
    /// The error as its `Display`.
    fn __rustform_message(&self) -> ErrorMessage<'a>;
}

impl<'a, T: fmt::Display> RecordDisplay<'a> for &&Message<'a, T> {
    #[inline]
    fn __rustform_message(&self) -> ErrorMessage<'a> {
        ErrorMessage::Display(self.0)
    }
}

/// Errors that implement only `Debug`: recorded with it.
pub trait RecordDebug<'a> {
    /// The error as its `Debug`.
    fn __rustform_message(&self) -> ErrorMessage<'a>;
}

impl<'a, T: fmt::Debug> RecordDebug<'a> for &Message<'a, T> {
    #[inline]
    fn __rustform_message(&self) -> ErrorMessage<'a> {
        ErrorMessage::Debug(self.0)
    }
}

/// Errors that cannot be formatted (or are not sized): nothing to record.
pub trait RecordNothing<'a> {
    /// [`ErrorMessage::Nothing`].
    fn __rustform_message(&self) -> ErrorMessage<'a>;
}

impl<'a, T: ?Sized> RecordNothing<'a> for Message<'a, T> {
    #[inline]
    fn __rustform_message(&self) -> ErrorMessage<'a> {
        ErrorMessage::Nothing
    }
}

/// A failed call: writes the error on the span as `exception.message` when the span is
/// enabled, and returns the outcome with the error's label.
pub fn classify_error(
    span: &Span,
    label: Option<&'static str>,
    message: ErrorMessage<'_>,
) -> Outcome {
    if !span.is_disabled() {
        match message {
            ErrorMessage::Display(error) => {
                span.record("exception.message", tracing::field::display(error));
            }
            ErrorMessage::Debug(error) => {
                span.record("exception.message", tracing::field::debug(error));
            }
            ErrorMessage::Nothing => {}
        }
    }
    Outcome::error(label)
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

    /// What the generated code does with a return value of a concrete type.
    macro_rules! classify {
        ($value:expr) => {
            match (&&Ret($value)).__rustform_split() {
                Ok(v) => Outcome::ok((&&LabelProbe(v)).__rustform_label()),
                Err(e) => classify_error(
                    &Span::none(),
                    (&&LabelProbe(e)).__rustform_label(),
                    (&&&Message(e)).__rustform_message(),
                ),
            }
        };
    }

    fn classify_generic<T>(value: &T) -> Outcome {
        // Generic code: the fallbacks apply.
        match Ret(value).__rustform_split() {
            Ok(v) => Outcome::ok(LabelProbe(v).__rustform_label()),
            Err(e) => Outcome::error(LabelProbe(e).__rustform_label()),
        }
    }

    #[test]
    fn concrete_results_are_classified_with_labels() {
        let ok: Result<Kind, Opaque> = Ok(Kind::Missing);
        assert_eq!(classify!(&ok), Outcome::ok(Some("missing")));
        let err: Result<Opaque, Kind> = Err(Kind::Missing);
        assert_eq!(classify!(&err), Outcome::error(Some("missing")));
        let unlabeled: Result<(), Opaque> = Err(Opaque);
        assert_eq!(classify!(&unlabeled), Outcome::error(None));
        let plain = 5u8;
        assert_eq!(classify!(&plain), Outcome::ok(None));
    }

    #[test]
    #[allow(
        clippy::needless_borrow,
        reason = "the probe's references are what picks the impl"
    )]
    fn errors_are_written_with_display_else_debug() {
        #[derive(Debug)]
        struct OnlyDebug;
        let shown = std::io::Error::other("disk full");
        let written = |message: ErrorMessage<'_>| match message {
            ErrorMessage::Display(error) => format!("display: {error}"),
            ErrorMessage::Debug(error) => format!("debug: {error:?}"),
            ErrorMessage::Nothing => "nothing".to_owned(),
        };
        assert_eq!(
            written((&&&Message(&shown)).__rustform_message()),
            "display: disk full"
        );
        assert_eq!(
            written((&&&Message(&OnlyDebug)).__rustform_message()),
            "debug: OnlyDebug"
        );
        assert_eq!(
            written((&&&Message(&Opaque)).__rustform_message()),
            "nothing"
        );
    }

    #[test]
    fn generic_values_fall_back_to_ok_without_label() {
        let err: Result<(), Kind> = Err(Kind::Missing);
        assert_eq!(classify_generic(&err), Outcome::ok(None));
    }
}
