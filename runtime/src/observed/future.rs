//! The future of an observed `async fn` (or of a function returning a future).
//!
//! The wrapper is generic over the function's future, so its code is compiled once per
//! observed function: it only projects its fields and polls. Everything else (the span,
//! the call's start and end, the current function for nested calls, a panic in a poll, a
//! future dropped early) is in [`CallFrame`] and [`Polling`], compiled once in the
//! runtime.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tracing::Span;
use tracing::span::Entered;

use super::site::{CallState, Ending, SiteState, enter_current, restore_current};
use super::{CallSite, Outcome, SelfType};

pin_project! {
    /// Runs a future as one observed call: the call starts at the first poll (when the
    /// body starts running), every poll runs inside the span and names this function as
    /// the current one for nested observed calls, and the call ends when the future
    /// completes, panics (`error="panic"`) or is dropped first (`result="cancelled"`).
    pub struct ObservedFuture<F, C> {
        #[pin]
        inner: F,
        frame: CallFrame,
        classify: Option<C>,
    }
}

impl<F, C> ObservedFuture<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, &Span) -> Outcome,
{
    /// Wraps `inner`; `classify` turns its output into an outcome.
    #[inline]
    pub fn new(
        site: &'static CallSite,
        self_type: SelfType,
        span: Span,
        inner: F,
        classify: C,
    ) -> Self {
        ObservedFuture {
            inner,
            frame: CallFrame::new(site, self_type, span),
            classify: Some(classify),
        }
    }
}

impl<F, C> Future for ObservedFuture<F, C>
where
    F: Future,
    C: FnOnce(&F::Output, &Span) -> Outcome,
{
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut polling = this.frame.poll(this.classify.is_some());
        let poll = this.inner.poll(cx);
        if let Poll::Ready(output) = &poll
            && let Some(classify) = this.classify.take()
        {
            let outcome = classify(output, polling.span());
            polling.finish(outcome);
        }
        poll
    }
}

/// The call an [`ObservedFuture`] runs: its state, its span and, once started, the call
/// in progress. Dropped with the call still in progress, it ends it as cancelled.
pub(crate) struct CallFrame {
    state: &'static SiteState,
    span: Span,
    call: Option<CallState>,
}

impl CallFrame {
    fn new(site: &'static CallSite, self_type: SelfType, span: Span) -> CallFrame {
        CallFrame {
            state: site.state(self_type),
            span,
            call: None,
        }
    }

    /// Starts one poll: enters the span, starts the call on the first poll (`starting`:
    /// the call has not ended yet), and names the function as the thread's current one.
    fn poll(&mut self, starting: bool) -> Polling<'_> {
        let entered = self.span.enter();
        if starting && self.call.is_none() {
            // First poll: the caller is whoever is being polled around us.
            self.call = Some(CallState::begin(self.state));
        }
        Polling {
            previous: enter_current(self.state),
            call: &mut self.call,
            span: &self.span,
            _entered: entered,
        }
    }
}

impl Drop for CallFrame {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            call.end(Ending::Cancelled, &self.span);
        }
    }
}

/// One poll in progress: ends the call as a panic if the poll unwinds, and restores the
/// thread's current function and leaves the span when it ends.
pub(crate) struct Polling<'a> {
    previous: Option<&'static SiteState>,
    call: &'a mut Option<CallState>,
    span: &'a Span,
    _entered: Entered<'a>,
}

impl Polling<'_> {
    /// The call's span.
    fn span(&self) -> &Span {
        self.span
    }

    /// The future completed: ends the call with its outcome.
    fn finish(&mut self, outcome: Outcome) {
        if let Some(call) = self.call.take() {
            call.end(Ending::Returned(outcome), self.span);
        }
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        restore_current(self.previous);
        if std::thread::panicking()
            && let Some(call) = self.call.take()
        {
            call.end(Ending::Panicked, self.span);
        }
    }
}
