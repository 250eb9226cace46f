//! Headers: OpenTelemetry's text map carriers over an [`http::HeaderMap`], the request id,
//! and the `traceparent` of a span.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::SpanContext;

/// The longest request id taken from a request; a longer one is replaced.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 128;

/// Reads propagation fields (`traceparent`, `tracestate`, `baggage`) from request headers.
/// A value that is not visible ASCII reads as absent, as if the header were not sent.
pub(crate) struct HeaderExtractor<'a>(pub(crate) &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }

    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let values: Vec<&str> = self
            .0
            .get_all(key)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then_some(values)
    }
}

/// Writes propagation fields into headers, replacing any already there. A field whose
/// name or value cannot be a header is skipped.
pub(crate) struct HeaderInjector<'a>(pub(crate) &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.0.reserve(additional);
    }
}

/// Whether a request id sent by a client can be kept: 1 to [`MAX_REQUEST_ID_LEN`]
/// visible ASCII characters (no spaces, no control characters), so it is safe in a log
/// line, a span attribute and a response header.
pub(crate) fn is_sane_request_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes.iter().all(|b| b.is_ascii_graphic())
}

/// A new request id: 16 random bytes in lowercase hexadecimal (32 characters).
pub(crate) fn new_request_id() -> HeaderValue {
    let mut text = [0u8; 32];
    hex(&crate::trace::ids::trace_id(), &mut text);
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The W3C `traceparent` value of a span context, if it is valid.
pub(crate) fn traceparent(context: &SpanContext) -> Option<HeaderValue> {
    if !context.is_valid() {
        return None;
    }
    let mut text = [0u8; 55];
    text[..3].copy_from_slice(b"00-");
    hex(&context.trace_id().to_bytes(), &mut text[3..35]);
    text[35] = b'-';
    hex(&context.span_id().to_bytes(), &mut text[36..52]);
    text[52] = b'-';
    hex(&[context.trace_flags().to_u8()], &mut text[53..55]);
    HeaderValue::from_bytes(&text).ok()
}

/// Writes `bytes` in lowercase hexadecimal into `out`, two characters a byte.
fn hex(bytes: &[u8], out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::{SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::propagation::TraceContextPropagator;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn the_extractor_reads_headers_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
        headers.append("baggage", HeaderValue::from_static("a=1"));
        headers.append("baggage", HeaderValue::from_static("b=2"));
        headers.insert("x-binary", HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        let extractor = HeaderExtractor(&headers);
        assert_eq!(extractor.get("traceparent"), Some(TRACEPARENT));
        assert_eq!(extractor.get("TraceParent"), Some(TRACEPARENT));
        assert_eq!(extractor.get("tracestate"), None);
        assert_eq!(extractor.get_all("baggage"), Some(vec!["a=1", "b=2"]));
        assert_eq!(extractor.get("x-binary"), None, "not visible ASCII");
        assert_eq!(extractor.get_all("x-binary"), None);
        let mut keys = extractor.keys();
        keys.sort_unstable();
        assert_eq!(keys, ["baggage", "traceparent", "x-binary"]);
    }

    #[test]
    fn a_propagator_extracts_through_it_and_ignores_malformed_values() {
        let propagator = TraceContextPropagator::new();
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
        let context = propagator.extract(&HeaderExtractor(&headers));
        let span = context.span();
        let remote = span.span_context();
        assert!(remote.is_valid() && remote.is_remote());
        assert_eq!(
            remote.trace_id(),
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap()
        );
        for bad in [
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            headers.insert("traceparent", HeaderValue::from_static(bad));
            let context = propagator.extract(&HeaderExtractor(&headers));
            assert!(!context.span().span_context().is_valid(), "{bad}");
        }
    }

    #[test]
    fn the_injector_writes_what_a_propagator_gives_and_round_trips() {
        let propagator = TraceContextPropagator::new();
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
        let context = propagator.extract(&HeaderExtractor(&headers));
        let mut out = HeaderMap::new();
        out.insert("traceparent", HeaderValue::from_static("stale"));
        propagator.inject_context(&context, &mut HeaderInjector(&mut out));
        assert_eq!(out.get("traceparent").unwrap(), TRACEPARENT);
        assert_eq!(out.get_all("traceparent").iter().count(), 1, "replaced");
        let mut injector = HeaderInjector(&mut out);
        injector.set("bad name", "x".into());
        injector.set("x-bad-value", "a\nb".into());
        assert!(out.get("x-bad-value").is_none());
        let mut names: Vec<&str> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["traceparent", "tracestate"]);
    }

    #[test]
    fn request_ids_are_kept_only_when_sane() {
        for good in [
            "abc",
            "0af7651916cd43dd8448eb211c80319c",
            "req-1:2/3~!",
            &"x".repeat(128),
        ] {
            assert!(
                is_sane_request_id(&HeaderValue::from_str(good).unwrap()),
                "{good}"
            );
        }
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_static("has space"),
            HeaderValue::from_static("tab\there"),
            HeaderValue::from_str(&"x".repeat(129)).unwrap(),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        ] {
            assert!(!is_sane_request_id(&bad), "{bad:?}");
        }
    }

    #[test]
    fn new_request_ids_are_sane_distinct_hex() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(is_sane_request_id(&a));
        assert!(a.as_bytes().iter().all(u8::is_ascii_hexdigit));
        assert_eq!(
            a.to_str().unwrap(),
            a.to_str().unwrap().to_ascii_lowercase()
        );
    }

    #[test]
    fn traceparent_is_the_w3c_form() {
        let context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        assert_eq!(traceparent(&context).unwrap(), TRACEPARENT);
        assert_eq!(traceparent(&SpanContext::empty_context()), None);
    }
}
