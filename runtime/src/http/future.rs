//! One request in flight: its span, timer and gauge, ended exactly once whatever
//! happens to the response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CONTENT_LENGTH, HeaderValue};
use http::{HeaderMap, Response};
use http_body::Body;
use pin_project_lite::pin_project;
use tracing::Span;

use super::X_REQUEST_ID;
use super::headers::traceparent;
use super::metrics::{RequestLabels, Route, ServerMetrics};
use crate::metrics::Gauge;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// The service answered with this status.
    Responded(u16),
    /// The service returned an error instead of a response.
    Failed,
    /// The service panicked.
    Panicked,
    /// The response future was dropped first: the client went away, or a timeout.
    Cancelled,
}

/// What is measured of one request until it ends.
pub(crate) struct InFlight {
    pub(crate) started: u64,
    pub(crate) method: &'static str,
    pub(crate) route: Route,
    pub(crate) metrics: Option<(&'static ServerMetrics, Gauge)>,
    pub(crate) request_size: Option<u64>,
    pub(crate) request_id: HeaderValue,
    pub(crate) response_traceparent: bool,
}

impl InFlight {
    /// Ends the request with its response: records it, and adds the request id (and
    /// `traceparent`) to the response headers.
    pub(crate) fn respond<B: Body>(self, response: &mut Response<B>, span: &Span) {
        let headers = response.headers_mut();
        headers
            .entry(X_REQUEST_ID)
            .or_insert_with(|| self.request_id.clone());
        if self.response_traceparent {
            use opentelemetry::trace::TraceContextExt;
            use tracing_opentelemetry::OpenTelemetrySpanExt;
            let context = span.context();
            if let Some(value) = traceparent(context.span().span_context()) {
                headers.insert("traceparent", value);
            }
        }
        let response_size =
            content_length(response.headers()).or_else(|| response.body().size_hint().exact());
        let status = response.status().as_u16();
        self.end(Ending::Responded(status), response_size, span);
    }

    /// Ends the request: the gauge goes down, the span gets its status, and a request
    /// that got (or should have got) a response is counted.
    pub(crate) fn end(self, ending: Ending, response_size: Option<u64>, span: &Span) {
        let seconds = crate::clock::nanos_between(self.started, crate::clock::raw()) as f64 * 1e-9;
        let status = match ending {
            Ending::Responded(status) => {
                span.record("http.response.status_code", status);
                if status >= 500 {
                    span.record("otel.status_code", "ERROR");
                    span.record("error.type", itoa::Buffer::new().format(status));
                }
                Some(status)
            }
            Ending::Failed => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", "_OTHER");
                Some(500)
            }
            Ending::Panicked => {
                span.record("otel.status_code", "ERROR");
                span.record("error.type", "panic");
                Some(500)
            }
            Ending::Cancelled => {
                span.record("error.type", "cancelled");
                None
            }
        };
        let Some((metrics, active)) = self.metrics else {
            return;
        };
        active.dec();
        let Some(status) = status else {
            return;
        };
        let labels = RequestLabels {
            method: self.method,
            route: self.route,
            status,
        };
        let duration = metrics.duration(&labels);
        duration.observe(seconds);
        if !span.is_disabled() && crate::metrics::exemplar::has_source() {
            let _entered = span.enter();
            let nanos = crate::metrics::exemplar::monotonic_nanos(crate::clock::raw());
            duration.offer_exemplar(seconds, nanos);
        }
        if let Some(size) = self.request_size {
            metrics.request_size.with(&labels).observe(size as f64);
        }
        if let Some(size) = response_size {
            metrics.response_size.with(&labels).observe(size as f64);
        }
    }
}

/// The `Content-Length` of a message, if it has one valid value.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    value.to_str().ok()?.trim().parse().ok()
}

/// Ends a request as a panic if dropped while its thread unwinds: while the inner
/// service is called or polled.
pub(crate) struct UnwindGuard<'a> {
    pub(crate) request: &'a mut Option<InFlight>,
    pub(crate) span: &'a Span,
}

impl Drop for UnwindGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(request) = self.request.take()
        {
            request.end(Ending::Panicked, None, self.span);
        }
    }
}

pin_project! {
    /// The response future of [`ObserveService`](super::ObserveService): polls the
    /// inner service's future inside the request's server span, and ends the request
    /// when it completes, fails, panics or is dropped first.
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        request: Option<InFlight>,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(request) = this.request.take() {
                request.end(Ending::Cancelled, None, this.span);
            }
        }
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, span: Span, request: Option<InFlight>) -> Self {
        ResponseFuture {
            inner,
            span,
            request,
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("span", &self.span)
            .field("in_flight", &self.request.is_some())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let poll = {
            let _unwind = UnwindGuard {
                request: &mut *this.request,
                span: &*this.span,
            };
            this.inner.poll(cx)
        };
        match poll {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(mut response)) => {
                if let Some(request) = this.request.take() {
                    request.respond(&mut response, this.span);
                }
                Poll::Ready(Ok(response))
            }
            Poll::Ready(Err(error)) => {
                if let Some(request) = this.request.take() {
                    request.end(Ending::Failed, None, this.span);
                }
                Poll::Ready(Err(error))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_needs_one_valid_value() {
        let mut headers = HeaderMap::new();
        assert_eq!(content_length(&headers), None);
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("42"));
        assert_eq!(content_length(&headers), Some(42));
        headers.append(CONTENT_LENGTH, HeaderValue::from_static("42"));
        assert_eq!(content_length(&headers), None);
        headers.insert(CONTENT_LENGTH, HeaderValue::from_static("-1"));
        assert_eq!(content_length(&headers), None);
    }
}
