//! The errors of one macro invocation, collected as they are found and reported together.
//!
//! A user with three mistakes should see three messages from one build, each on its own
//! span, rather than fix them one compile at a time. Every step of a macro (parsing the
//! options, checking the model) reports into one [`Ctxt`] and goes on; the macro calls
//! [`Ctxt::check`] once, at the end, to learn whether it may expand.

use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

use proc_macro2::Span;

/// Collects the errors of one macro invocation, in the order they are found, which is the
/// order the compiler shows them in.
///
/// Dropping a context without calling [`Ctxt::check`] is a bug in the macro (its errors
/// would be lost) and panics.
pub(crate) struct Ctxt {
    /// `None` once checked.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records `message` on `span`.
    pub(crate) fn error(&self, span: Span, message: impl Display) {
        self.syn_error(syn::Error::new(span, message));
    }

    /// Records an error already made, such as one from parsing (it may hold several).
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("a Ctxt is used after check()")
            .push(error);
    }

    /// Records the error of `result`, if any, and returns its value.
    pub(crate) fn ok<T>(&self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|e| self.syn_error(e)).ok()
    }

    /// Whether an error was recorded so far.
    pub(crate) fn has_errors(&self) -> bool {
        self.errors.borrow().as_ref().is_some_and(|e| !e.is_empty())
    }

    /// Ends the collection: every error recorded, combined into one, if there was any.
    pub(crate) fn check(self) -> syn::Result<()> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                first.extend(errors);
                Err(first)
            }
        }
    }
}

impl Drop for Ctxt {
    fn drop(&mut self) {
        if !thread::panicking() && self.errors.borrow().is_some() {
            panic!("a Ctxt is dropped without check()");
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;

    use super::Ctxt;

    #[test]
    fn no_error_checks_ok() {
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    fn errors_are_combined_in_the_order_found() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "first");
        assert!(cx.has_errors());
        assert_eq!(
            cx.ok(Err::<(), _>(syn::Error::new(Span::call_site(), "second"))),
            None
        );
        assert_eq!(cx.ok(Ok::<_, syn::Error>(3)), Some(3));
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    #[should_panic(expected = "without check()")]
    fn forgetting_to_check_is_a_bug() {
        let cx = Ctxt::new();
        cx.error(Span::call_site(), "lost");
    }
}
