//! Spans printed on standard error, one line each, for development.

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Instant;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::trace::SpanData;

use super::retry::Failure;
use super::spans::SpanSink;

/// Writes each span to standard error.
pub(crate) struct ConsoleSink;

impl SpanSink for ConsoleSink {
    async fn export(&self, spans: Vec<SpanData>, _deadline: Instant) -> Result<u64, Failure> {
        let mut text = String::new();
        for span in &spans {
            line(&mut text, span);
        }
        let mut stderr = std::io::stderr().lock();
        stderr
            .write_all(text.as_bytes())
            .and_then(|()| stderr.flush())
            .map_err(|e| Failure::Permanent {
                reason: format!("cannot write to standard error: {e}"),
            })?;
        Ok(0)
    }

    fn describe(&self) -> String {
        "console".to_owned()
    }
}

/// `span <name> <duration> trace=<id> span=<id> [parent=<id>] [kind] [status] {attributes}`.
pub(crate) fn line(out: &mut String, span: &SpanData) {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let _ = write!(
        out,
        "span {} {:?} trace={} span={}",
        span.name,
        duration,
        span.span_context.trace_id(),
        span.span_context.span_id()
    );
    if span.parent_span_id != SpanId::INVALID {
        let _ = write!(out, " parent={}", span.parent_span_id);
    }
    if span.span_kind != opentelemetry::trace::SpanKind::Internal {
        let _ = write!(out, " kind={:?}", span.span_kind);
    }
    match &span.status {
        Status::Error { description } => {
            let _ = write!(out, " status=ERROR({description:?})");
        }
        Status::Ok => out.push_str(" status=OK"),
        Status::Unset => {}
    }
    if !span.attributes.is_empty() {
        out.push_str(" {");
        for (i, kv) in span.attributes.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", kv.key, kv.value);
        }
        out.push('}');
    }
    for event in span.events.iter() {
        let _ = write!(out, " event={:?}", event.name);
    }
    out.push('\n');
}
