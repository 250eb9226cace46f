//! JSON logs: one object per line, in tracing-subscriber's field names plus the trace
//! context ids.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::io::Write as _;
use std::ops::Range;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::context::ids_of;
use super::fields::{Keeper, SpanFields};

/// Formats each event as one JSON object per line, with the field names of
/// tracing-subscriber's JSON format (so log pipelines built for it keep working) plus
/// the `trace_id` and `span_id` of the span the event happened in:
///
/// ```json
/// {"timestamp":"2025-01-02T03:04:05.678901Z","level":"INFO","fields":{"message":"paid","order":42},
///  "target":"shop::checkout","span":{"user":"ada","name":"checkout"},
///  "spans":[{"user":"ada","name":"checkout"}],
///  "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
/// ```
///
/// (on one line). `span` (the current span) and `spans` (root to current) appear when
/// spans are included and the event is inside one; `filename` and `line_number` with
/// [`with_source_location`](Self::with_source_location); `threadName` and `threadId`
/// with the thread options. Every value is escaped, so any field value gives valid JSON;
/// integers, floats and booleans are JSON numbers and booleans, except non-finite floats,
/// which are the strings `"NaN"`, `"inf"` and `"-inf"`.
///
/// Use it with [`JsonFields`], which records each span's fields once, when they are set:
///
/// ```
/// use rustform::trace::{JsonFields, JsonFormat, TraceContextLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let logs = tracing_subscriber::fmt::layer()
///     .fmt_fields(JsonFields::new())
///     .event_format(JsonFormat::new().with_thread_names(true))
///     .with_writer(std::io::stderr);
/// let subscriber = tracing_subscriber::registry()
///     .with(TraceContextLayer::new())
///     .with(logs);
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(order = 42, "paid");
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFormat {
    spans: bool,
    target: bool,
    thread_ids: bool,
    thread_names: bool,
    source_location: bool,
}

impl JsonFormat {
    /// The format with the spans and the target, without threads and source location
    /// (the defaults of `rustform.yml`).
    pub const fn new() -> JsonFormat {
        JsonFormat {
            spans: true,
            target: true,
            thread_ids: false,
            thread_names: false,
            source_location: false,
        }
    }

    /// The format `logging` asks for.
    pub fn from_config(logging: &crate::config::Logging) -> JsonFormat {
        JsonFormat::new()
            .with_spans(logging.include_spans)
            .with_target(logging.include_targets)
            .with_thread_ids(logging.include_thread_ids)
            .with_thread_names(logging.include_thread_names)
            .with_source_location(logging.include_line_numbers)
    }

    /// Whether to write `span` and `spans`, the current span and its parents with their
    /// fields. The `trace_id` and `span_id` are written either way.
    pub const fn with_spans(mut self, spans: bool) -> JsonFormat {
        self.spans = spans;
        self
    }

    /// Whether to write the event's `target`.
    pub const fn with_target(mut self, target: bool) -> JsonFormat {
        self.target = target;
        self
    }

    /// Whether to write `threadId`.
    pub const fn with_thread_ids(mut self, thread_ids: bool) -> JsonFormat {
        self.thread_ids = thread_ids;
        self
    }

    /// Whether to write `threadName` (the thread's id when it has no name and ids are
    /// not written).
    pub const fn with_thread_names(mut self, thread_names: bool) -> JsonFormat {
        self.thread_names = thread_names;
        self
    }

    /// Whether to write `filename` and `line_number`.
    pub const fn with_source_location(mut self, source_location: bool) -> JsonFormat {
        self.source_location = source_location;
        self
    }
}

impl Default for JsonFormat {
    fn default() -> JsonFormat {
        JsonFormat::new()
    }
}

impl<S> FormatEvent<S, JsonFields> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        self.write_line(&mut writer, event, ctx.parent_span(), Formatted)
    }
}

impl JsonFormat {
    /// Writes the line of `event`, inside `parent` (the explicit parent, else the
    /// current span; none for an explicit root), its spans' fields as `fields` has them.
    fn write_line<'a, R>(
        &self,
        out: &mut Writer<'_>,
        event: &Event<'_>,
        parent: Option<SpanRef<'a, R>>,
        fields: impl SpanMembers,
    ) -> fmt::Result
    where
        R: LookupSpan<'a>,
    {
        // Records from the `log` crate carry their own target, file and line.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());

        out.write_str("{\"timestamp\":\"")?;
        timestamp(out)?;
        out.write_str("\",\"level\":\"")?;
        out.write_str(level(meta.level()))?;
        out.write_str("\",\"fields\":{")?;
        let mut members = Members::new(out);
        event.record(&mut members);
        members.finish()?;
        out.write_char('}')?;

        if self.target {
            out.write_str(",\"target\":")?;
            string(out, meta.target())?;
        }
        if self.source_location {
            if let Some(file) = meta.file() {
                out.write_str(",\"filename\":")?;
                string(out, file)?;
            }
            if let Some(line) = meta.line() {
                out.write_str(",\"line_number\":")?;
                out.write_str(itoa::Buffer::new().format(line))?;
            }
        }

        if let Some(span) = parent {
            if self.spans {
                out.write_str(",\"span\":")?;
                span_object(out, &span, &fields)?;
                out.write_str(",\"spans\":[")?;
                for (i, span) in span.scope().from_root().enumerate() {
                    if i > 0 {
                        out.write_char(',')?;
                    }
                    span_object(out, &span, &fields)?;
                }
                out.write_char(']')?;
            }
            if let Some(ids) = ids_of(&span.extensions()) {
                out.write_str(",\"trace_id\":\"")?;
                hex(out, &ids.trace_id)?;
                out.write_str("\",\"span_id\":\"")?;
                hex(out, &ids.span_id)?;
                out.write_char('"')?;
            }
        }

        if self.thread_names || self.thread_ids {
            let thread = std::thread::current();
            match thread.name() {
                Some(name) if self.thread_names => {
                    out.write_str(",\"threadName\":")?;
                    string(out, name)?;
                }
                // Like tracing-subscriber: the id stands in for a missing name.
                None if self.thread_names && !self.thread_ids => {
                    out.write_str(",\"threadName\":")?;
                    debug_string(out, &thread.id())?;
                }
                _ => {}
            }
            if self.thread_ids {
                out.write_str(",\"threadId\":")?;
                debug_string(out, &thread.id())?;
            }
        }

        out.write_str("}\n")
    }
}

/// Where a span's fields come from, as JSON object members: formatted when the span
/// was created ([`JsonFields`], in tracing-subscriber's fmt layer), or kept raw and
/// formatted at the first event that needs them ([`JsonLayer`]).
trait SpanMembers {
    /// Writes the span's members, then a comma if there were any.
    fn write<'a, R: LookupSpan<'a>>(
        &self,
        out: &mut Writer<'_>,
        span: &SpanRef<'a, R>,
    ) -> fmt::Result;
}

/// The fields [`JsonFields`] formatted into the span's extensions.
struct Formatted;

impl SpanMembers for Formatted {
    fn write<'a, R: LookupSpan<'a>>(
        &self,
        out: &mut Writer<'_>,
        span: &SpanRef<'a, R>,
    ) -> fmt::Result {
        let extensions = span.extensions();
        if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>()
            && !fields.fields.is_empty()
        {
            // `name` is the span's name; a field of that name would make a duplicate key,
            // which some JSON parsers reject.
            if span.metadata().fields().field("name").is_some() {
                let mut fields = fields.fields.clone();
                remove_member(&mut fields, "name");
                if !fields.is_empty() {
                    out.write_str(&fields)?;
                    out.write_char(',')?;
                }
            } else {
                out.write_str(&fields.fields)?;
                out.write_char(',')?;
            }
        }
        Ok(())
    }
}

/// The fields kept raw in the span's [`SpanFields`], formatted once per change.
struct KeptFields;

impl SpanMembers for KeptFields {
    fn write<'a, R: LookupSpan<'a>>(
        &self,
        out: &mut Writer<'_>,
        span: &SpanRef<'a, R>,
    ) -> fmt::Result {
        let mut extensions = span.extensions_mut();
        let Some(fields) = extensions.get_mut::<SpanFields>() else {
            return Ok(());
        };
        let members = fields.json(|fields, text| {
            let mut members = Members::new(text);
            // `name` is the span's name, written after the fields; a field of that name
            // would make a duplicate key, which some JSON parsers reject.
            // The same bytes as the `Debug` value gave: a quoted, escaped string.
            fields.replay_text(&mut members, |field| field.name() != "name");
        });
        if !members.is_empty() {
            out.write_str(members)?;
            out.write_char(',')?;
        }
        Ok(())
    }
}

fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// A span as `{...fields, "name": ...}`, its fields as `fields` has them.
fn span_object<'a, R>(
    out: &mut Writer<'_>,
    span: &SpanRef<'a, R>,
    fields: &impl SpanMembers,
) -> fmt::Result
where
    R: LookupSpan<'a>,
{
    out.write_char('{')?;
    fields.write(out, span)?;
    out.write_str("\"name\":")?;
    string(out, span.name())?;
    out.write_char('}')
}

/// The JSON log format as rustform installs it: [`JsonFormat`]'s lines, written through
/// `writer` one `write` per line, with each span's fields kept raw ([`SpanFields`]) and
/// formatted at the first event that needs them, so a span nothing logs in costs no
/// formatting.
pub(crate) struct JsonLayer<W> {
    format: JsonFormat,
    writer: W,
}

impl<W> JsonLayer<W> {
    pub(crate) fn new(format: JsonFormat, writer: W) -> JsonLayer<W> {
        JsonLayer { format, writer }
    }
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.format.spans {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        // The export, in front, may keep them already.
        if extensions.get_mut::<SpanFields>().is_none() {
            extensions.insert(SpanFields::new(attrs, Keeper::Logs).0);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if !self.format.spans {
            return;
        }
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>()
            && fields.keeper() == Keeper::Logs
        {
            fields.record(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        thread_local! {
            static LINE: RefCell<String> = const { RefCell::new(String::new()) };
        }
        let write = |line: &mut String| {
            let formatted = self.format.write_line(
                &mut Writer::new(line),
                event,
                ctx.event_span(event),
                KeptFields,
            );
            if formatted.is_ok() {
                let mut writer = self.writer.make_writer_for(event.metadata());
                if let Err(error) = writer.write_all(line.as_bytes()) {
                    // As tracing-subscriber's fmt layer reports it.
                    eprintln!(
                        "[tracing-subscriber] Unable to write an event to the Writer for this \
                         Subscriber! Error: {error}\n"
                    );
                }
            }
        };
        let _ = LINE.try_with(|line| match line.try_borrow_mut() {
            Ok(mut line) => {
                write(&mut line);
                line.clear();
            }
            // An event written while writing one (a writer that logs).
            Err(_) => write(&mut String::new()),
        });
    }
}

/// Records span fields as JSON object members (`"user":"ada","attempt":2`), once when
/// the span is created and again only for values recorded later, for [`JsonFormat`].
///
/// A value recorded again for the same field replaces the old one, so a span never has
/// a field twice.
///
/// ```
/// use rustform::trace::{JsonFields, JsonFormat};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let logs = tracing_subscriber::fmt::layer()
///     .fmt_fields(JsonFields::new())
///     .event_format(JsonFormat::new());
/// let _subscriber = tracing_subscriber::registry().with(logs);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonFields {
    _private: (),
}

impl JsonFields {
    /// The field formatter.
    pub const fn new() -> JsonFields {
        JsonFields { _private: () }
    }
}

impl Default for JsonFields {
    fn default() -> JsonFields {
        JsonFields::new()
    }
}

impl<'writer> FormatFields<'writer> for JsonFields {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members::new(&mut writer);
        fields.record(&mut members);
        members.finish()
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let current = &mut current.fields;
        if !current.is_empty() {
            fields.record(&mut Replaced(current));
        }
        let first = current.is_empty();
        let mut members = Members::new(current);
        members.first = first;
        fields.record(&mut members);
        members.finish()
    }
}

/// Removes from the members the earlier value of each field a record has a value for,
/// so the new one replaces it.
struct Replaced<'a>(&'a mut String);

impl Visit for Replaced<'_> {
    fn record_debug(&mut self, field: &Field, _value: &dyn fmt::Debug) {
        remove_member(self.0, field.name());
    }
}

/// Writes fields as JSON object members, comma-separated.
struct Members<'a, W: Write + ?Sized> {
    out: &'a mut W,
    first: bool,
    /// The first failed write (a `String` or tracing-subscriber's buffer never fails).
    result: fmt::Result,
}

impl<'a, W: Write + ?Sized> Members<'a, W> {
    fn new(out: &'a mut W) -> Self {
        Members {
            out,
            first: true,
            result: Ok(()),
        }
    }

    fn finish(self) -> fmt::Result {
        self.result
    }

    /// Writes `"name":` (after a comma unless first), then the value with `value`.
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        // `log.target`, `log.file`, … of a `log` record are shown as the event's own.
        if self.result.is_err() || field.name().starts_with("log.") {
            return;
        }
        let comma = if self.first { "" } else { "," };
        self.first = false;
        self.result = self
            .out
            .write_str(comma)
            .and_then(|()| string(self.out, field.name()))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| value(self.out));
    }
}

impl<W: Write + ?Sized> Visit for Members<'_, W> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |out| debug_string(out, value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |out| string(out, value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |out| {
            out.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.member(field, |out| {
            if value.is_finite() {
                out.write_str(ryu::Buffer::new().format_finite(value))
            } else if value.is_nan() {
                out.write_str("\"NaN\"")
            } else if value > 0.0 {
                out.write_str("\"inf\"")
            } else {
                out.write_str("\"-inf\"")
            }
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |out| {
            out.write_str(if value { "true" } else { "false" })
        });
    }
}

/// Writes `value` as a JSON string.
fn string<W: Write + ?Sized>(out: &mut W, value: &str) -> fmt::Result {
    out.write_char('"')?;
    Escaped(out).write_str(value)?;
    out.write_char('"')
}

/// Writes the `Debug` output of `value` as a JSON string. A `Debug` impl that fails
/// leaves what it wrote so far, still a closed string: one bad field must not make the
/// whole line invalid JSON.
fn debug_string<W: Write + ?Sized>(out: &mut W, value: &dyn fmt::Debug) -> fmt::Result {
    out.write_char('"')?;
    let _ = write!(Escaped(out), "{value:?}");
    out.write_char('"')
}

/// Escapes what is written through it for the inside of a JSON string: quotes,
/// backslashes and every control character (DEL too, so a log line cannot carry
/// terminal escape sequences).
struct Escaped<'a, W: Write + ?Sized>(&'a mut W);

/// The bytes a JSON string cannot hold as they are: `"`, `\`, the C0 controls and DEL.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[0x7f] = true;
    table
};

impl<W: Write + ?Sized> Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bytes = s.as_bytes();
        let mut start = 0;
        // Runs of bytes that need no escape are written whole; most text is one run.
        while let Some(offset) = bytes[start..]
            .iter()
            .position(|&b| NEEDS_ESCAPE[usize::from(b)])
        {
            let i = start + offset;
            let byte = bytes[i];
            // Every escaped byte is ASCII, so `start` and `i` are on char boundaries.
            if i > start {
                self.0.write_str(&s[start..i])?;
            }
            match byte {
                b'"' => self.0.write_str("\\\"")?,
                b'\\' => self.0.write_str("\\\\")?,
                b'\n' => self.0.write_str("\\n")?,
                b'\r' => self.0.write_str("\\r")?,
                b'\t' => self.0.write_str("\\t")?,
                0x08 => self.0.write_str("\\b")?,
                0x0c => self.0.write_str("\\f")?,
                _ => {
                    self.0.write_str("\\u00")?;
                    self.0.write_char(char::from(HEX[usize::from(byte >> 4)]))?;
                    self.0
                        .write_char(char::from(HEX[usize::from(byte & 0xf)]))?;
                }
            }
            start = i + 1;
        }
        if start < bytes.len() {
            self.0.write_str(&s[start..])?;
        }
        Ok(())
    }
}

/// Lowercase hex, as W3C trace context writes ids.
fn hex<W: Write + ?Sized>(out: &mut W, bytes: &[u8]) -> fmt::Result {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Trace ids are 16 bytes: written in one go, not a character at a time.
    let mut text = [0u8; 32];
    for chunk in bytes.chunks(16) {
        for (byte, pair) in chunk.iter().zip(text.chunks_exact_mut(2)) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 0xf)];
        }
        // Hex digits are ASCII.
        out.write_str(std::str::from_utf8(&text[..chunk.len() * 2]).map_err(|_| fmt::Error)?)?;
    }
    Ok(())
}

/// The time now as tracing-subscriber's `SystemTime` timer writes it, in UTC with
/// microseconds: `2025-01-02T03:04:05.678901Z`. Written digit by digit rather than
/// through `fmt` (a fifth of a log line's cost); on a clock before 1970 or after 9999,
/// by tracing-subscriber's timer itself, which handles those.
fn timestamp<W: Write + ?Sized>(out: &mut W) -> fmt::Result {
    match utc_text(std::time::SystemTime::now()) {
        Some(text) => out.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?),
        None => {
            let mut text = String::new();
            SystemTime.format_time(&mut Writer::new(&mut text))?;
            out.write_str(&text)
        }
    }
}

/// `time` as `2025-01-02T03:04:05.678901Z` (ASCII), for a time from 1970 to 9999.
fn utc_text(time: std::time::SystemTime) -> Option<[u8; 27]> {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .filter(|d| d.as_secs() < 253_402_300_800)?;
    let seconds = since.as_secs();
    let (year, month, day) = civil_date(seconds / 86_400);
    let of_day = seconds % 86_400;
    let mut text = *b"0000-00-00T00:00:00.000000Z";
    let mut put = |at: usize, value: u64, digits: usize| {
        let mut value = value;
        for i in (at..at + digits).rev() {
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, year, 4);
    put(5, month, 2);
    put(8, day, 2);
    put(11, of_day / 3600, 2);
    put(14, of_day / 60 % 60, 2);
    put(17, of_day % 60, 2);
    put(20, u64::from(since.subsec_micros()), 6);
    Some(text)
}

/// The year, month (1–12) and day (1–31) of the day `days` after 1970-01-01, in the
/// proleptic Gregorian calendar (Howard Hinnant's `civil_from_days`).
fn civil_date(days: u64) -> (u64, u64, u64) {
    // From 0000-03-01, so that a leap day is the last day of its year.
    let days = days + 719_468;
    let era = days / 146_097;
    let of_era = days % 146_097;
    let year_of_era = (of_era - of_era / 1460 + of_era / 36_524 - of_era / 146_096) / 365;
    let of_year = of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * of_year + 2) / 153;
    let day = of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Removes every member named `name` from members written by [`Members`]. Leaves the
/// text alone if it is not in that form.
fn remove_member(members: &mut String, name: &str) {
    // `"name":`, how a member of that name starts. Without it in the text there is no
    // such member, and splitting the members to look is skipped: a field recorded for
    // the first time (one declared `Empty`) costs this one scan.
    let mut start = String::with_capacity(name.len() + 3);
    start.push('"');
    if Escaped(&mut start).write_str(name).is_err() {
        return;
    }
    start.push_str("\":");
    if !members.contains(start.as_str()) {
        return;
    }
    let key = &start[1..start.len() - 2];
    loop {
        let Some(list) = split_members(members) else {
            return;
        };
        let Some(index) = list.iter().position(|m| &members[m.key.clone()] == key) else {
            return;
        };
        // Take the comma before the member, or after it when it is the first.
        let whole = &list[index].whole;
        let range = match (index.checked_sub(1), list.get(index + 1)) {
            (Some(before), _) => list[before].whole.end..whole.end,
            (None, Some(after)) => whole.start..after.whole.start,
            (None, None) => whole.clone(),
        };
        members.replace_range(range, "");
    }
}

/// Where one member is in the text: all of it, and its key between the quotes.
struct Member {
    whole: Range<usize>,
    key: Range<usize>,
}

/// Splits `"a":1,"b":"x"` into members. Values are strings (skipped with their escapes)
/// or bare numbers and booleans (up to the next comma), which is all [`Members`] writes.
/// Every range starts and ends at an ASCII delimiter or the end, so it can be sliced.
fn split_members(text: &str) -> Option<Vec<Member>> {
    let bytes = text.as_bytes();
    let mut list = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let key_end = string_end(bytes, i)?;
        if bytes.get(key_end) != Some(&b':') {
            return None;
        }
        i = key_end + 1;
        i = if bytes.get(i) == Some(&b'"') {
            string_end(bytes, i)?
        } else {
            bytes[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |p| i + p)
        };
        list.push(Member {
            whole: start..i,
            key: start + 1..key_end - 1,
        });
        match bytes.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => return None,
        }
    }
    Some(list)
}

/// The index after the string that starts with the quote at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    if bytes.get(open) != Some(&b'"') {
        return None;
    }
    let mut i = open + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(value: &str) -> String {
        let mut out = String::new();
        string(&mut out, value).unwrap();
        out
    }

    #[test]
    fn every_string_round_trips() {
        let mut all_controls = String::new();
        for c in (0u8..0x20).chain([0x7f]) {
            all_controls.push(char::from(c));
        }
        for value in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "line\nbreak\r\ttab",
            &all_controls,
            "emoji 🦀 and ünïcödé and \u{2028}",
            "\u{1b}[31mred\u{1b}[0m",
            "\\u0000 literally",
        ] {
            let json = quoted(value);
            let back: String = serde_json::from_str(&json).unwrap();
            assert_eq!(back, value, "{json}");
            assert!(!json.bytes().any(|b| b < 0x20 || b == 0x7f), "{json}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(value in proptest::prelude::any::<String>()) {
            let json = quoted(&value);
            let back: String = serde_json::from_str(&json).unwrap();
            proptest::prop_assert_eq!(&back, &value);
            proptest::prop_assert!(!json.bytes().any(|b| b < 0x20 || b == 0x7f));
        }
    }

    #[test]
    fn debug_output_is_escaped() {
        let mut out = String::new();
        debug_string(&mut out, &"a \"quoted\"\nvalue").unwrap();
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "\"a \\\"quoted\\\"\\nvalue\"");
    }

    #[test]
    fn a_failing_debug_impl_still_gives_a_string() {
        struct Broken;
        impl fmt::Debug for Broken {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("part\"ial")?;
                Err(fmt::Error)
            }
        }
        let mut out = String::new();
        debug_string(&mut out, &Broken).unwrap();
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "part\"ial");
    }

    #[test]
    fn timestamps_are_tracing_subscribers() {
        use std::time::{Duration, UNIX_EPOCH};
        let at = |seconds: u64, micros: u32| {
            let text = utc_text(UNIX_EPOCH + Duration::new(seconds, micros * 1000 + 999));
            String::from_utf8(text.unwrap().to_vec()).unwrap()
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(at(951_782_400, 1), "2000-02-29T00:00:00.000001Z");
        assert_eq!(at(951_868_799, 999_999), "2000-02-29T23:59:59.999999Z");
        assert_eq!(at(1_709_251_199, 5), "2024-02-29T23:59:59.000005Z");
        assert_eq!(at(1_735_787_045, 678_901), "2025-01-02T03:04:05.678901Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000000Z");
        assert_eq!(at(253_402_300_799, 0), "9999-12-31T23:59:59.000000Z");
        // Outside 1970–9999, tracing-subscriber's timer writes it.
        assert_eq!(utc_text(UNIX_EPOCH - Duration::from_secs(1)), None);
        assert_eq!(
            utc_text(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            None
        );
        // Now, as tracing-subscriber writes it (to the second, retried if a second
        // boundary fell between the two).
        for _ in 0..100 {
            let mut ours = String::new();
            timestamp(&mut ours).unwrap();
            let mut theirs = String::new();
            SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            if ours[..19] == theirs[..19] {
                assert_eq!(ours.len(), theirs.len());
                return;
            }
        }
        panic!("no two timestamps agreed to the second");
    }

    #[test]
    fn hex_is_lowercase() {
        let mut out = String::new();
        hex(&mut out, &[0x00, 0x0f, 0xab, 0xff]).unwrap();
        assert_eq!(out, "000fabff");
    }

    #[test]
    fn members_are_removed_by_name() {
        for (before, name, after) in [
            (r#""a":1,"b":"x","c":true"#, "a", r#""b":"x","c":true"#),
            (r#""a":1,"b":"x","c":true"#, "b", r#""a":1,"c":true"#),
            (r#""a":1,"b":"x","c":true"#, "c", r#""a":1,"b":"x""#),
            (r#""a":1"#, "a", ""),
            (r#""a":1"#, "b", r#""a":1"#),
            (r#""a":"1,\"b\":2","b":3"#, "b", r#""a":"1,\"b\":2""#),
            (r#""q\"k":1,"b":2"#, "q\"k", r#""b":2"#),
            (r#""a":1,"a":2,"b":3"#, "a", r#""b":3"#),
            // The name only inside a value, escaped or as a value: no member to remove.
            (r#""a":"\"b\":1","c":"b""#, "b", r#""a":"\"b\":1","c":"b""#),
            (r#""ab":1,"b2":2"#, "b", r#""ab":1,"b2":2"#),
            // Not in the form `Members` writes: left alone.
            (r#"{"a":1}"#, "a", r#"{"a":1}"#),
            (r#""a":"unterminated"#, "a", r#""a":"unterminated"#),
        ] {
            let mut text = before.to_owned();
            remove_member(&mut text, name);
            assert_eq!(text, after, "removing {name} from {before}");
        }
    }

    #[test]
    fn levels_are_upper_case() {
        assert_eq!(level(&Level::WARN), "WARN");
        assert_eq!(level(&Level::TRACE), "TRACE");
    }
}
