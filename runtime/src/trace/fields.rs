//! Span fields kept as they were recorded, and formatted only when something reads them.
//!
//! The JSON log line of an event carries the fields of the spans it happened in, and an
//! exported span carries its fields as attributes; but most spans of a busy service
//! have no event written inside them, and nine in ten are not sampled. Both readers
//! therefore work from one copy of each span's values, taken when the span is created
//! (a value can only be read then: `tracing` lends it for that call), in the form the
//! values came in — numbers as numbers, text in one buffer per span — and format them
//! on demand: the log format at the first event that needs them (and keeps the result
//! until a field changes), the export once the span is sampled.
//!
//! Replaying a kept value calls the same [`Visit`] method with the same value as the
//! original did (a `Debug` value gives back the text its `Debug` wrote), so what a
//! reader makes of it is what it would have made of the original.

#![cfg_attr(
    not(feature = "otel"),
    allow(dead_code, reason = "the export reads what the log format does not")
)]

use std::fmt::{self, Write as _};
use std::ops::Range;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};

/// The text room [`SpanFields`] sets aside per declared field.
const TEXT_PER_FIELD: usize = 16;

/// A recorded value: which [`Visit`] method recorded it, and what.
#[derive(Clone, Debug)]
enum Kept {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    /// `record_str`, the text in [`SpanFields::text`].
    Str(Range<usize>),
    /// `record_debug` (and what defaults to it: errors, bytes), the text its `Debug`
    /// wrote, in [`SpanFields::text`].
    Debug(Range<usize>),
}

/// Which layer keeps a span's [`SpanFields`] up to date: the first in the stack to see
/// the span, so a value recorded later is applied once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keeper {
    /// The layer in front of the OpenTelemetry layer.
    Export,
    /// The JSON log format.
    Logs,
}

/// A span's fields as recorded, in the order the JSON log format writes them: the
/// values given at creation in their order, then each value recorded later at the end
/// (replacing the field's earlier value).
#[derive(Debug)]
pub(crate) struct SpanFields {
    keeper: Keeper,
    values: Vec<(Field, Kept)>,
    /// The text of every string and `Debug` value, one after another.
    text: String,
    /// The JSON object members of the values, once formatted; `None` after a change.
    json: Option<String>,
}

/// What recording some values found.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Recorded {
    /// An error value was among them: only the original can be replayed faithfully to
    /// a reader that treats errors apart (OpenTelemetry makes exception attributes).
    pub(crate) error: bool,
    /// The indexes of the fields recorded (bit `i` for field `i`, the first 64).
    pub(crate) fields: u64,
}

impl Recorded {
    /// Whether `field` was among the values.
    pub(crate) fn has(&self, field: &Field) -> bool {
        field.index() < 64 && self.fields & (1 << field.index()) != 0
    }
}

impl SpanFields {
    /// The values of a new span, kept by `keeper`.
    pub(crate) fn new(attrs: &Attributes<'_>, keeper: Keeper) -> (SpanFields, Recorded) {
        let declared = attrs.fields().len();
        let mut fields = SpanFields {
            keeper,
            values: Vec::with_capacity(declared),
            // Room for a short text per field, so the buffer is not regrown field by
            // field (each growth a reallocation and a copy).
            text: String::with_capacity(declared * TEXT_PER_FIELD),
            json: None,
        };
        let mut visitor = Keep {
            fields: &mut fields,
            replace: false,
            recorded: Recorded::default(),
        };
        attrs.record(&mut visitor);
        let recorded = visitor.recorded;
        (fields, recorded)
    }

    /// A copy of the values, to read without holding the span's extensions.
    pub(crate) fn clone_values(&self) -> SpanFields {
        SpanFields {
            keeper: self.keeper,
            values: self.values.clone(),
            text: self.text.clone(),
            json: None,
        }
    }

    /// The layer that keeps these values up to date.
    pub(crate) fn keeper(&self) -> Keeper {
        self.keeper
    }

    /// Applies values recorded later: each replaces the field's earlier value and goes
    /// to the end.
    pub(crate) fn record(&mut self, values: &Record<'_>) -> Recorded {
        let mut visitor = Keep {
            fields: self,
            replace: true,
            recorded: Recorded::default(),
        };
        values.record(&mut visitor);
        let recorded = visitor.recorded;
        if recorded.fields != 0 || recorded.error {
            self.json = None;
        }
        recorded
    }

    /// Calls `visitor` with every kept value whose field `pick` accepts, as the original
    /// values were recorded.
    #[cfg(test)]
    pub(crate) fn replay(&self, visitor: &mut dyn Visit, pick: impl Fn(&Field) -> bool) {
        for (field, value) in &self.values {
            if pick(field) {
                self.value(value).record(field, visitor);
            }
        }
    }

    /// As [`replay`](Self::replay), but a `Debug` value comes as its text through
    /// `record_str`: for a reader that writes both kinds the same way (the JSON log
    /// format quotes and escapes either), without going through `fmt` again.
    pub(crate) fn replay_text(&self, visitor: &mut dyn Visit, pick: impl Fn(&Field) -> bool) {
        for (field, value) in &self.values {
            if pick(field) {
                match value {
                    Kept::Debug(range) => {
                        visitor.record_str(field, self.text.get(range.clone()).unwrap_or_default());
                    }
                    value => self.value(value).record(field, visitor),
                }
            }
        }
    }

    /// The kept values whose field `pick` accepts, for a reader that needs
    /// [`tracing::Value`]s (a `ValueSet`).
    pub(crate) fn values(
        &self,
        pick: impl Fn(&Field) -> bool,
    ) -> impl Iterator<Item = (&Field, Value<'_>)> {
        self.values
            .iter()
            .filter(move |(field, _)| pick(field))
            .map(|(field, value)| (field, self.value(value)))
    }

    fn value<'a>(&'a self, value: &Kept) -> Value<'a> {
        match value {
            Kept::I64(v) => Value::I64(*v),
            Kept::U64(v) => Value::U64(*v),
            Kept::I128(v) => Value::I128(*v),
            Kept::U128(v) => Value::U128(*v),
            Kept::F64(v) => Value::F64(*v),
            Kept::Bool(v) => Value::Bool(*v),
            Kept::Str(range) => Value::Str(self.text.get(range.clone()).unwrap_or_default()),
            Kept::Debug(range) => Value::Debug(tracing::field::debug(Verbatim(
                self.text.get(range.clone()).unwrap_or_default(),
            ))),
        }
    }

    /// The values as JSON object members, formatted by `format` the first time they are
    /// asked for after a change.
    pub(crate) fn json(&mut self, format: impl FnOnce(&SpanFields, &mut String)) -> &str {
        if self.json.is_none() {
            // Room for the text, the names and the quoting, so it is not regrown.
            let mut members = String::with_capacity(self.text.len() + 32 * self.values.len());
            format(self, &mut members);
            self.json = Some(members);
        }
        self.json.as_deref().unwrap_or_default()
    }
}

/// A kept value, lent as the original was.
#[derive(Debug)]
pub(crate) enum Value<'a> {
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
    Str(&'a str),
    Debug(tracing::field::DebugValue<Verbatim<'a>>),
}

impl Value<'_> {
    /// The value as a [`tracing::Value`], for a `ValueSet`.
    pub(crate) fn as_value(&self) -> &dyn tracing::Value {
        match self {
            Value::I64(v) => v,
            Value::U64(v) => v,
            Value::I128(v) => v,
            Value::U128(v) => v,
            Value::F64(v) => v,
            Value::Bool(v) => v,
            Value::Str(v) => v,
            Value::Debug(v) => v,
        }
    }

    fn record(&self, field: &Field, visitor: &mut dyn Visit) {
        match self {
            Value::I64(v) => visitor.record_i64(field, *v),
            Value::U64(v) => visitor.record_u64(field, *v),
            Value::I128(v) => visitor.record_i128(field, *v),
            Value::U128(v) => visitor.record_u128(field, *v),
            Value::F64(v) => visitor.record_f64(field, *v),
            Value::Bool(v) => visitor.record_bool(field, *v),
            Value::Str(v) => visitor.record_str(field, v),
            Value::Debug(v) => visitor.record_debug(field, v),
        }
    }
}

/// Text whose `Debug` is the text itself: what a `Debug` value wrote, given back.
#[derive(Clone, Copy)]
pub(crate) struct Verbatim<'a>(&'a str);

impl fmt::Debug for Verbatim<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Records values into [`SpanFields`].
struct Keep<'a> {
    fields: &'a mut SpanFields,
    /// Whether a value replaces the field's earlier one (values recorded later); the
    /// values of a new span are all kept, as given.
    replace: bool,
    recorded: Recorded,
}

impl Keep<'_> {
    fn keep(&mut self, field: &Field, value: Kept) {
        if self.replace
            && let Some(at) = self.fields.values.iter().position(|(f, _)| f == field)
        {
            self.fields.values.remove(at);
        }
        if field.index() < 64 {
            self.recorded.fields |= 1 << field.index();
        }
        self.fields.values.push((field.clone(), value));
    }

    fn text(&mut self, write: impl FnOnce(&mut String)) -> Range<usize> {
        let start = self.fields.text.len();
        write(&mut self.fields.text);
        start..self.fields.text.len()
    }
}

impl Visit for Keep<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.keep(field, Kept::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.keep(field, Kept::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.keep(field, Kept::I128(value));
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.keep(field, Kept::U128(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.keep(field, Kept::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.keep(field, Kept::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let range = self.text(|text| text.push_str(value));
        self.keep(field, Kept::Str(range));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.recorded.error = true;
        // As `Visit`'s default does, and so the log format.
        self.record_debug(field, &tracing::field::display(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // A `Debug` that fails keeps what it wrote, as the log format does.
        let range = self.text(|text| {
            let _ = write!(text, "{value:?}");
        });
        self.keep(field, Kept::Debug(range));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a visitor was called with, as text.
    #[derive(Default)]
    struct Calls(Vec<String>);

    impl Visit for Calls {
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0.push(format!("i64 {field}={value}"));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.push(format!("u64 {field}={value}"));
        }
        fn record_f64(&mut self, field: &Field, value: f64) {
            self.0.push(format!("f64 {field}={value}"));
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.0.push(format!("bool {field}={value}"));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push(format!("str {field}={value}"));
        }
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.0.push(format!("debug {field}={value:?}"));
        }
    }

    /// A layer that keeps every span's fields and replays them at its close.
    struct Replayed(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

    impl<S> tracing_subscriber::Layer<S> for Replayed
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_new_span(
            &self,
            attrs: &Attributes<'_>,
            id: &tracing::span::Id,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let (fields, _) = SpanFields::new(attrs, Keeper::Logs);
            ctx.span(id).unwrap().extensions_mut().insert(fields);
        }

        fn on_record(
            &self,
            id: &tracing::span::Id,
            values: &Record<'_>,
            ctx: tracing_subscriber::layer::Context<'_, S>,
        ) {
            let span = ctx.span(id).unwrap();
            let mut extensions = span.extensions_mut();
            extensions.get_mut::<SpanFields>().unwrap().record(values);
        }

        fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
            let span = ctx.span(&id).unwrap();
            let extensions = span.extensions();
            let mut calls = Calls::default();
            extensions
                .get::<SpanFields>()
                .unwrap()
                .replay(&mut calls, |_| true);
            self.0.lock().unwrap().extend(calls.0);
        }
    }

    #[test]
    fn values_replay_as_they_were_recorded_and_later_ones_go_last() {
        use tracing_subscriber::layer::SubscriberExt;
        let calls = std::sync::Arc::default();
        let subscriber =
            tracing_subscriber::registry().with(Replayed(std::sync::Arc::clone(&calls)));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "s",
                a = 1i64,
                b = 2u64,
                c = 0.5,
                d = true,
                e = "text",
                f = ?vec![1, 2],
                g = %"shown",
                later = tracing::field::Empty,
            );
            span.record("a", -7i64);
            span.record("later", "set");
            span.record("e", "again");
        });
        assert_eq!(
            *calls.lock().unwrap(),
            [
                "u64 b=2",
                "f64 c=0.5",
                "bool d=true",
                "debug f=[1, 2]",
                "debug g=shown",
                "i64 a=-7",
                "str later=set",
                "str e=again",
            ]
        );
    }

    #[test]
    fn errors_are_kept_as_their_display_and_flagged() {
        #[derive(Debug)]
        struct Declined;
        impl fmt::Display for Declined {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("card \"declined\"")
            }
        }
        impl std::error::Error for Declined {}

        let mut fields = SpanFields {
            keeper: Keeper::Logs,
            values: Vec::new(),
            text: String::new(),
            json: None,
        };
        let error: &(dyn std::error::Error + 'static) = &Declined;
        let span = tracing::subscriber::with_default(tracing_subscriber::registry(), || {
            tracing::info_span!("s", error = tracing::field::Empty)
        });
        let field = span.field("error").unwrap();
        let mut keep = Keep {
            fields: &mut fields,
            replace: true,
            recorded: Recorded::default(),
        };
        keep.record_error(&field, error);
        assert!(keep.recorded.error);
        assert!(keep.recorded.has(&field));
        let mut calls = Calls::default();
        fields.replay(&mut calls, |_| true);
        assert_eq!(calls.0, ["debug error=card \"declined\""]);
    }
}
