//! The future of an observed `async fn` (or of a function returning a future).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tracing::Span;

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
        state: &'static SiteState,
        span: Span,
        call: Option<CallState>,
        classify: Option<C>,
    }

    impl<F, C> PinnedDrop for ObservedFuture<F, C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(call) = this.call.take() {
                call.end(Ending::Cancelled, this.span);
            }
        }
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
            state: site.state(self_type),
            span,
            call: None,
            classify: Some(classify),
        }
    }
}

/// Ends the call as a panic if a poll unwinds.
struct UnwindGuard<'a> {
    call: &'a mut Option<CallState>,
    span: &'a Span,
    previous: Option<&'static SiteState>,
}

impl Drop for UnwindGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        restore_current(self.previous);
        if std::thread::panicking()
            && let Some(call) = self.call.take()
        {
            call.end(Ending::Panicked, self.span);
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
        let _entered = this.span.enter();
        if this.call.is_none() && this.classify.is_some() {
            // First poll: the caller is whoever is being polled around us.
            *this.call = Some(CallState::begin(this.state));
        }
        let poll = {
            let _unwind = UnwindGuard {
                call: &mut *this.call,
                span: this.span,
                previous: enter_current(this.state),
            };
            this.inner.poll(cx)
        };
        if let Poll::Ready(output) = &poll
            && let (Some(call), Some(classify)) = (this.call.take(), this.classify.take())
        {
            let outcome = classify(output, this.span);
            call.end(Ending::Returned(outcome), this.span);
        }
        poll
    }
}
