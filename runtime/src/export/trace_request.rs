//! The OTLP trace export request, written straight from the SDK's spans into one
//! reused buffer.
//!
//! The bytes are those `opentelemetry-proto` and prost produce
//! (`group_spans_by_resource_and_scope`, then `encode`): one `ResourceSpans`, its spans
//! grouped by instrumentation scope in the order each scope first appears, fields in
//! tag order and proto3 defaults left out. Building those messages first costs, for
//! every span, a dozen allocations (the ids, the name, every attribute's key and value,
//! the status) that are freed as soon as they are encoded, and sending them through a
//! retry loop cloned the whole request once more. Here each span is measured, then
//! written, from its `SpanData`; the resource, the same on every request, is encoded
//! once; the buffer keeps its capacity from one batch to the next, and a retry resends
//! the same bytes.
//!
//! A message is preceded by its length, so each span's length is computed before it is
//! written (lengths of the small nested messages, attributes and events, are computed
//! again where they are written: cheaper than storing them).

use opentelemetry::trace::{SpanId, SpanKind, Status, TraceState};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_proto::tonic::common::v1::InstrumentationScope as ProtoScope;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_sdk::trace::SpanData;
use prost::Message;
use prost::bytes::{BufMut, Bytes, BytesMut};

/// Writes `ExportTraceServiceRequest`s for one resource.
#[derive(Debug)]
pub(crate) struct TraceRequestEncoder {
    /// The `Resource` message, encoded once.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url`.
    resource_schema_url: String,
    buffer: BytesMut,
    /// The batch's scopes, in order of first appearance.
    scopes: Vec<Scope>,
    /// For each span of the batch: its scope's index in `scopes` and its length.
    spans: Vec<(usize, usize)>,
}

/// One instrumentation scope of a batch.
#[derive(Debug)]
struct Scope {
    scope: InstrumentationScope,
    /// The `InstrumentationScope` message.
    encoded: Vec<u8>,
    /// `ScopeSpans.schema_url`.
    schema_url: String,
    /// The length of its `spans` fields, keys and lengths included.
    spans_len: usize,
}

// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// `SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` and `..._IS_REMOTE_MASK`.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

impl TraceRequestEncoder {
    pub(crate) fn new(resource: &ResourceAttributesWithSchema) -> TraceRequestEncoder {
        TraceRequestEncoder {
            resource: ProtoResource {
                attributes: resource.attributes.0.clone(),
                dropped_attributes_count: 0,
                entity_refs: Vec::new(),
            }
            .encode_to_vec(),
            resource_schema_url: resource.schema_url.clone().unwrap_or_default(),
            buffer: BytesMut::new(),
            scopes: Vec::new(),
            spans: Vec::new(),
        }
    }

    /// The request carrying `spans`, encoded.
    pub(crate) fn encode(&mut self, spans: &[SpanData]) -> Bytes {
        self.scopes.clear();
        self.spans.clear();
        let mut last = usize::MAX;
        for span in spans {
            let index = match self.scopes.get(last) {
                Some(scope) if scope.scope == span.instrumentation_scope => last,
                _ => self.scope_index(&span.instrumentation_scope),
            };
            last = index;
            let len = span_len(span);
            self.scopes[index].spans_len += delimited_len(2, len);
            self.spans.push((index, len));
        }

        let scope_spans_len = |scope: &Scope| {
            delimited_len(1, scope.encoded.len())
                + scope.spans_len
                + string_len(3, &scope.schema_url)
        };
        let resource_spans_len = delimited_len(1, self.resource.len())
            + self
                .scopes
                .iter()
                .map(|scope| delimited_len(2, scope_spans_len(scope)))
                .sum::<usize>()
            + string_len(3, &self.resource_schema_url);
        let total = delimited_len(1, resource_spans_len);

        let buf = &mut self.buffer;
        buf.clear();
        buf.reserve(total);
        // ExportTraceServiceRequest.resource_spans
        put_key(buf, 1, LEN);
        put_varint(buf, resource_spans_len as u64);
        // ResourceSpans.resource
        put_bytes(buf, 1, &self.resource, true);
        for (index, scope) in self.scopes.iter().enumerate() {
            // ResourceSpans.scope_spans
            put_key(buf, 2, LEN);
            put_varint(buf, scope_spans_len(scope) as u64);
            // ScopeSpans.scope
            put_bytes(buf, 1, &scope.encoded, true);
            for (span, &(_, len)) in spans
                .iter()
                .zip(&self.spans)
                .filter(|(_, (of, _))| *of == index)
            {
                // ScopeSpans.spans
                put_key(buf, 2, LEN);
                put_varint(buf, len as u64);
                put_span(buf, span);
            }
            put_string(buf, 3, &scope.schema_url);
        }
        put_string(buf, 3, &self.resource_schema_url);
        debug_assert_eq!(buf.len(), total);
        buf.split().freeze()
    }

    /// The index of `scope` among the batch's scopes, added when it is new.
    fn scope_index(&mut self, scope: &InstrumentationScope) -> usize {
        if let Some(index) = self.scopes.iter().position(|s| s.scope == *scope) {
            return index;
        }
        self.scopes.push(Scope {
            scope: scope.clone(),
            encoded: ProtoScope::from((scope, None)).encode_to_vec(),
            schema_url: scope.schema_url().unwrap_or_default().to_owned(),
            spans_len: 0,
        });
        self.scopes.len() - 1
    }
}

// --- lengths ------------------------------------------------------------------------------

fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least one.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn key_len(tag: u32) -> usize {
    varint_len(u64::from(tag << 3))
}

/// A length-delimited field holding `len` bytes, always written.
fn delimited_len(tag: u32, len: usize) -> usize {
    key_len(tag) + varint_len(len as u64) + len
}

/// A string or bytes field, left out when empty.
fn string_len(tag: u32, value: &str) -> usize {
    bytes_len(tag, value.as_bytes())
}

fn bytes_len(tag: u32, value: &[u8]) -> usize {
    if value.is_empty() {
        0
    } else {
        delimited_len(tag, value.len())
    }
}

fn uint_len(tag: u32, value: u64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(tag) + varint_len(value)
    }
}

fn fixed64_len(tag: u32, value: u64) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 8 }
}

fn fixed32_len(tag: u32, value: u32) -> usize {
    if value == 0 { 0 } else { key_len(tag) + 4 }
}

fn nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64
}

/// `Span.flags`: the trace flags, and whether the parent is remote.
fn flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `Status`: its message (errors only) and code.
fn status(status: &Status) -> (&str, u64) {
    match status {
        Status::Unset => ("", 0),
        Status::Ok => ("", 1),
        Status::Error { description } => (description.as_ref(), 2),
    }
}

fn trace_state(state: &TraceState) -> String {
    state.header()
}

fn span_len(span: &SpanData) -> usize {
    let context = &span.span_context;
    let (message, code) = status(&span.status);
    let status_len = string_len(2, message) + uint_len(3, code);
    16 + 2
        + 8
        + 2
        + string_len(3, &trace_state(context.trace_state()))
        + parent_len(span.parent_span_id)
        + string_len(5, &span.name)
        + uint_len(6, kind(&span.span_kind))
        + fixed64_len(7, nanos(span.start_time))
        + fixed64_len(8, nanos(span.end_time))
        + attributes_len(9, &span.attributes)
        + uint_len(10, u64::from(span.dropped_attributes_count))
        + span
            .events
            .iter()
            .map(|event| delimited_len(11, event_len(event)))
            .sum::<usize>()
        + uint_len(12, u64::from(span.events.dropped_count))
        + span
            .links
            .iter()
            .map(|link| delimited_len(13, link_len(link)))
            .sum::<usize>()
        + uint_len(14, u64::from(span.links.dropped_count))
        + delimited_len(15, status_len)
        + fixed32_len(
            16,
            flags(context.trace_flags().to_u8(), span.parent_span_is_remote),
        )
}

fn parent_len(parent: SpanId) -> usize {
    if parent == SpanId::INVALID { 0 } else { 2 + 8 }
}

fn event_len(event: &opentelemetry::trace::Event) -> usize {
    fixed64_len(1, nanos(event.timestamp))
        + string_len(2, &event.name)
        + attributes_len(3, &event.attributes)
        + uint_len(4, u64::from(event.dropped_attributes_count))
}

fn link_len(link: &opentelemetry::trace::Link) -> usize {
    let context = &link.span_context;
    16 + 2
        + 8
        + 2
        + string_len(3, &trace_state(context.trace_state()))
        + attributes_len(4, &link.attributes)
        + uint_len(5, u64::from(link.dropped_attributes_count))
        + fixed32_len(6, flags(context.trace_flags().to_u8(), context.is_remote()))
}

fn attributes_len(tag: u32, attributes: &[KeyValue]) -> usize {
    attributes
        .iter()
        .map(|kv| delimited_len(tag, key_value_len(kv)))
        .sum()
}

fn key_value_len(kv: &KeyValue) -> usize {
    string_len(1, kv.key.as_str()) + delimited_len(2, any_value_len(&kv.value))
}

/// One value of an attribute or of an array: an `AnyValue`'s field.
#[derive(Clone, Copy)]
enum Scalar<'a> {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(&'a str),
}

impl Scalar<'_> {
    /// The length of the `AnyValue` holding it: its one field, written even when it
    /// holds the default.
    fn any_value_len(self) -> usize {
        match self {
            Scalar::Bool(_) => 1 + 1,
            Scalar::I64(v) => 1 + varint_len(v as u64),
            Scalar::F64(_) => 1 + 8,
            Scalar::Str(s) => delimited_len(1, s.len()),
        }
    }

    fn put(self, buf: &mut BytesMut) {
        match self {
            Scalar::Bool(v) => {
                put_key(buf, 2, VARINT);
                put_varint(buf, u64::from(v));
            }
            Scalar::I64(v) => {
                put_key(buf, 3, VARINT);
                put_varint(buf, v as u64);
            }
            Scalar::F64(v) => {
                put_key(buf, 4, FIXED64);
                buf.put_f64_le(v);
            }
            Scalar::Str(s) => put_bytes(buf, 1, s.as_bytes(), true),
        }
    }
}

/// The elements of an array, each as its `AnyValue`.
fn elements(array: &Array) -> impl Iterator<Item = Scalar<'_>> {
    let (bools, ints, floats, strings): (&[bool], &[i64], &[f64], &[opentelemetry::StringValue]) =
        match array {
            Array::Bool(v) => (v, &[], &[], &[]),
            Array::I64(v) => (&[], v, &[], &[]),
            Array::F64(v) => (&[], &[], v, &[]),
            Array::String(v) => (&[], &[], &[], v),
            // A kind of array this version does not know: an empty `ArrayValue`.
            _ => (&[], &[], &[], &[]),
        };
    bools
        .iter()
        .map(|v| Scalar::Bool(*v))
        .chain(ints.iter().map(|v| Scalar::I64(*v)))
        .chain(floats.iter().map(|v| Scalar::F64(*v)))
        .chain(strings.iter().map(|v| Scalar::Str(v.as_str())))
}

/// The length of an `AnyValue`.
fn any_value_len(value: &Value) -> usize {
    match value {
        Value::Bool(v) => Scalar::Bool(*v).any_value_len(),
        Value::I64(v) => Scalar::I64(*v).any_value_len(),
        Value::F64(v) => Scalar::F64(*v).any_value_len(),
        Value::String(s) => Scalar::Str(s.as_str()).any_value_len(),
        Value::Array(array) => delimited_len(5, array_len(array)),
        // A kind of value this version does not know: an empty `AnyValue`.
        _ => 0,
    }
}

/// The length of an `ArrayValue`.
fn array_len(array: &Array) -> usize {
    elements(array)
        .map(|element| delimited_len(1, element.any_value_len()))
        .sum()
}

// --- writing ------------------------------------------------------------------------------

fn put_varint(buf: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn put_key(buf: &mut BytesMut, tag: u32, wire_type: u32) {
    put_varint(buf, u64::from((tag << 3) | wire_type));
}

/// A bytes field; left out when empty unless `always`.
fn put_bytes(buf: &mut BytesMut, tag: u32, value: &[u8], always: bool) {
    if value.is_empty() && !always {
        return;
    }
    put_key(buf, tag, LEN);
    put_varint(buf, value.len() as u64);
    buf.put_slice(value);
}

fn put_string(buf: &mut BytesMut, tag: u32, value: &str) {
    put_bytes(buf, tag, value.as_bytes(), false);
}

fn put_uint(buf: &mut BytesMut, tag: u32, value: u64) {
    if value != 0 {
        put_key(buf, tag, VARINT);
        put_varint(buf, value);
    }
}

fn put_fixed64(buf: &mut BytesMut, tag: u32, value: u64) {
    if value != 0 {
        put_key(buf, tag, FIXED64);
        buf.put_u64_le(value);
    }
}

fn put_fixed32(buf: &mut BytesMut, tag: u32, value: u32) {
    if value != 0 {
        put_key(buf, tag, FIXED32);
        buf.put_u32_le(value);
    }
}

/// A message field of `len` bytes, written by `body`.
fn put_message(buf: &mut BytesMut, tag: u32, len: usize, body: impl FnOnce(&mut BytesMut)) {
    put_key(buf, tag, LEN);
    put_varint(buf, len as u64);
    body(buf);
}

fn put_span(buf: &mut BytesMut, span: &SpanData) {
    let context = &span.span_context;
    put_bytes(buf, 1, &context.trace_id().to_bytes(), true);
    put_bytes(buf, 2, &context.span_id().to_bytes(), true);
    put_string(buf, 3, &trace_state(context.trace_state()));
    if span.parent_span_id != SpanId::INVALID {
        put_bytes(buf, 4, &span.parent_span_id.to_bytes(), true);
    }
    put_string(buf, 5, &span.name);
    put_uint(buf, 6, kind(&span.span_kind));
    put_fixed64(buf, 7, nanos(span.start_time));
    put_fixed64(buf, 8, nanos(span.end_time));
    put_attributes(buf, 9, &span.attributes);
    put_uint(buf, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        put_message(buf, 11, event_len(event), |buf| {
            put_fixed64(buf, 1, nanos(event.timestamp));
            put_string(buf, 2, &event.name);
            put_attributes(buf, 3, &event.attributes);
            put_uint(buf, 4, u64::from(event.dropped_attributes_count));
        });
    }
    put_uint(buf, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        put_message(buf, 13, link_len(link), |buf| {
            let context = &link.span_context;
            put_bytes(buf, 1, &context.trace_id().to_bytes(), true);
            put_bytes(buf, 2, &context.span_id().to_bytes(), true);
            put_string(buf, 3, &trace_state(context.trace_state()));
            put_attributes(buf, 4, &link.attributes);
            put_uint(buf, 5, u64::from(link.dropped_attributes_count));
            put_fixed32(
                buf,
                6,
                flags(context.trace_flags().to_u8(), context.is_remote()),
            );
        });
    }
    put_uint(buf, 14, u64::from(span.links.dropped_count));
    let (message, code) = status(&span.status);
    put_message(buf, 15, string_len(2, message) + uint_len(3, code), |buf| {
        put_string(buf, 2, message);
        put_uint(buf, 3, code);
    });
    put_fixed32(
        buf,
        16,
        flags(context.trace_flags().to_u8(), span.parent_span_is_remote),
    );
}

fn put_attributes(buf: &mut BytesMut, tag: u32, attributes: &[KeyValue]) {
    for kv in attributes {
        put_message(buf, tag, key_value_len(kv), |buf| {
            put_string(buf, 1, kv.key.as_str());
            put_message(buf, 2, any_value_len(&kv.value), |buf| {
                put_any_value(buf, &kv.value);
            });
        });
    }
}

/// The one field of an `AnyValue`, written even when it holds the default.
fn put_any_value(buf: &mut BytesMut, value: &Value) {
    match value {
        Value::Bool(v) => Scalar::Bool(*v).put(buf),
        Value::I64(v) => Scalar::I64(*v).put(buf),
        Value::F64(v) => Scalar::F64(*v).put(buf),
        Value::String(s) => Scalar::Str(s.as_str()).put(buf),
        Value::Array(array) => put_message(buf, 5, array_len(array), |buf| {
            for element in elements(array) {
                put_message(buf, 1, element.any_value_len(), |buf| element.put(buf));
            }
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Event, Link, SpanContext, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    fn span(n: u64, scope: &InstrumentationScope) -> SpanData {
        let at = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_000_000_000 + n);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(n) << 64 | 7),
                SpanId::from(n + 1),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "work".into(),
            start_time: at,
            end_time: at + Duration::from_micros(3),
            attributes: vec![
                KeyValue::new("work.id", n as i64),
                KeyValue::new("work.kind", "batch"),
            ],
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    /// Spans with every kind of field, value and flag.
    fn varied() -> Vec<SpanData> {
        let rustform = InstrumentationScope::builder("rustform")
            .with_version("0.1.0")
            .build();
        let other = InstrumentationScope::builder("other")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("scope.attr", true)])
            .build();
        let mut spans: Vec<SpanData> = (0..5).map(|n| span(n, &rustform)).collect();
        spans.push(span(5, &other));
        spans.push(span(6, &rustform));

        let full = &mut spans[1];
        full.parent_span_id = SpanId::from(99);
        full.parent_span_is_remote = true;
        full.span_kind = SpanKind::Server;
        full.name = "".into();
        full.span_context = SpanContext::new(
            TraceId::from(u128::MAX),
            SpanId::from(u64::MAX),
            TraceFlags::SAMPLED,
            true,
            TraceState::from_key_value([("vendor", "a1"), ("other", "b2")]).unwrap(),
        );
        full.attributes = vec![
            KeyValue::new("bool.false", false),
            KeyValue::new("bool.true", true),
            KeyValue::new("int.zero", 0_i64),
            KeyValue::new("int.negative", -42_i64),
            KeyValue::new("int.max", i64::MAX),
            KeyValue::new("float.zero", 0.0),
            KeyValue::new("float", -1.5e300),
            KeyValue::new("string.empty", ""),
            KeyValue::new("string", "héllo \u{1F600}".repeat(40)),
            KeyValue::new("", "an empty key"),
            KeyValue::new("array.bool", Value::Array(vec![true, false].into())),
            KeyValue::new("array.int", Value::Array(vec![0_i64, -1, 300].into())),
            KeyValue::new("array.float", Value::Array(vec![0.0, 2.5].into())),
            KeyValue::new(
                "array.string",
                Value::Array(
                    vec![
                        opentelemetry::StringValue::from(""),
                        opentelemetry::StringValue::from("x"),
                    ]
                    .into(),
                ),
            ),
            KeyValue::new("array.empty", Value::Array(Vec::<i64>::new().into())),
        ];
        full.dropped_attributes_count = 3;
        full.events = SpanEvents::default();
        full.events.events.push(Event::new(
            "exception",
            UNIX_EPOCH + Duration::from_secs(1_700_000_001),
            vec![KeyValue::new("exception.message", "boom")],
            1,
        ));
        full.events
            .events
            .push(Event::new("", UNIX_EPOCH, Vec::new(), 0));
        full.events.dropped_count = 4;
        full.links = SpanLinks::default();
        full.links.links.push(Link::new(
            SpanContext::new(
                TraceId::from(5),
                SpanId::from(6),
                TraceFlags::default(),
                true,
                TraceState::from_key_value([("k", "v")]).unwrap(),
            ),
            vec![KeyValue::new("link.attr", 1_i64)],
            2,
        ));
        full.links.dropped_count = 1;
        full.status = Status::error("it failed");

        spans[2].status = Status::Ok;
        spans[3].status = Status::error("");
        spans[3].span_kind = SpanKind::Consumer;
        spans[4].span_kind = SpanKind::Producer;
        spans[4].start_time = UNIX_EPOCH - Duration::from_secs(1);
        spans[4].end_time = SystemTime::UNIX_EPOCH;
        spans[6].span_kind = SpanKind::Client;
        spans
    }

    fn upstream(spans: &[SpanData], resource: &ResourceAttributesWithSchema) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), resource),
        }
        .encode_to_vec()
    }

    fn resource(schema_url: Option<&str>) -> ResourceAttributesWithSchema {
        let mut builder = opentelemetry_sdk::Resource::builder_empty().with_attributes([
            KeyValue::new("service.name", "bench"),
            KeyValue::new("service.instance.id", 7_i64),
        ]);
        if let Some(url) = schema_url {
            builder = builder.with_schema_url([], url.to_owned());
        }
        ResourceAttributesWithSchema::from(&builder.build())
    }

    #[test]
    fn the_request_is_byte_for_byte_what_opentelemetry_proto_and_prost_write() {
        for resource in [
            resource(None),
            resource(Some("https://opentelemetry.io/schemas/1.30.0")),
        ] {
            let mut encoder = TraceRequestEncoder::new(&resource);
            let spans = varied();
            assert_eq!(encoder.encode(&spans).as_ref(), upstream(&spans, &resource));
            // The buffer is reused: a second, different batch is encoded afresh.
            let one = &spans[4..5];
            assert_eq!(encoder.encode(one).as_ref(), upstream(one, &resource));
            let plain: Vec<SpanData> = (0..600)
                .map(|n| span(n, &InstrumentationScope::builder("rustform").build()))
                .collect();
            assert_eq!(encoder.encode(&plain).as_ref(), upstream(&plain, &resource));
        }
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ] {
            let mut buf = BytesMut::new();
            put_varint(&mut buf, value);
            assert_eq!(buf.len(), varint_len(value), "{value}");
        }
    }
}
