//! The OpenTelemetry layer sees a span's attributes only once the span is sampled.
//!
//! `tracing-opentelemetry` builds a `SpanBuilder` for every span it sees, every field
//! converted to an attribute (a string value is an allocation), and hands it to the
//! sampler when the span is first entered; at `sample_rate: 0.1` nine builders in ten
//! are thrown away then, and so are the events recorded into them. [`SampledFields`]
//! sits in front of that layer and gives it, when a span is created, only what starting
//! the span needs: the span's name, parent and the `otel.*` fields (the name, kind and
//! status the layer reads). The other values are kept raw ([`SpanFields`], shared with
//! the JSON log format), and given to the layer as if recorded then, once the span has
//! been started and its context says it is sampled; after that, values and events go
//! to the layer as they come. An unsampled span's values and events never reach it.
//!
//! What decides is unchanged: the SDK's sampler, called by the layer at the same moment
//! with the same parent (including one set later with `set_parent`), and the layer still
//! has every span, so `OpenTelemetrySpanExt` (`context()`, `set_parent`,
//! `set_attribute`) and the propagation of an unsampled context work as before. The
//! samplers rustform configures read neither a span's attributes nor the span
//! processors' `on_start`, the two places that now see fewer of them.
//!
//! It also gives each span its ids when it is created, as [`TraceContextLayer`] does,
//! makes them its OpenTelemetry span's when the span is first entered (see
//! [`adopt_current`]), and keeps the sampled flags of the spans the thread is inside
//! for [`unseen_spans`](super::unseen_spans).

use std::any::TypeId;

use tracing::field::Field;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::TraceContextLayer;
use super::context::adopt_current;
use super::fields::{Keeper, Recorded, SpanFields};
use super::unseen_spans::{self, Entered};

/// The most values given to the inner layer in one `ValueSet`.
const CHUNK: usize = 32;

/// A layer in front of the OpenTelemetry layer `L`, which it gives a span's attributes
/// only once the span is sampled. See the [module](self).
pub(crate) struct SampledFields<L> {
    inner: L,
    /// The ids every span gets when it is created, replaced by its OpenTelemetry ids
    /// when it is first entered.
    ids: TraceContextLayer,
}

impl<L> SampledFields<L> {
    pub(crate) fn new(inner: L) -> SampledFields<L> {
        SampledFields {
            inner,
            ids: TraceContextLayer::new(),
        }
    }
}

/// Whether the inner layer has a span's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Given {
    /// Only its `otel.*` fields, until it is sampled.
    Otel,
    /// All of them: it was sampled, or an error value came (only the original can be
    /// given as OpenTelemetry wants errors).
    All,
}

/// Fields the layer reads to start a span: `otel.name`, `otel.kind`, the status.
fn starts(field: &Field) -> bool {
    field.name().starts_with("otel.")
}

impl<L> SampledFields<L> {
    /// Gives the inner layer the kept values `pick` accepts, as values recorded now.
    fn give<S>(
        &self,
        fields: &SpanFields,
        id: &Id,
        ctx: &Context<'_, S>,
        pick: impl Fn(&Field) -> bool,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        let Some(meta) = ctx.metadata(id) else {
            return;
        };
        with_value_sets(meta, fields, pick, |set| {
            self.inner.on_record(id, &Record::new(set), ctx.clone());
        });
    }

    /// Tells the inner layer of a new span with its `otel.*` values only.
    fn new_span_starting<S>(
        &self,
        attrs: &Attributes<'_>,
        fields: &SpanFields,
        id: &Id,
        ctx: &Context<'_, S>,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        let meta = attrs.metadata();
        let first = std::cell::Cell::new(true);
        let new_span = |set: &tracing::field::ValueSet<'_>| {
            if first.replace(false) {
                let attrs = if attrs.is_root() {
                    Attributes::new_root(meta, set)
                } else if let Some(parent) = attrs.parent() {
                    Attributes::child_of(parent.clone(), meta, set)
                } else {
                    Attributes::new(meta, set)
                };
                self.inner.on_new_span(&attrs, id, ctx.clone());
            } else {
                self.inner.on_record(id, &Record::new(set), ctx.clone());
            }
        };
        with_value_sets(meta, fields, starts, new_span);
        if first.get() {
            let none: [(&Field, Option<&dyn tracing::Value>); 0] = [];
            new_span(&meta.fields().value_set(&none));
        }
    }

    /// What the span's OpenTelemetry context says, and the values it still lacks, when
    /// the span is entered: the first time, its ids become the context's and, if it is
    /// sampled, the inner layer gets the values kept back.
    fn entered<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Entered
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
        L: Layer<S>,
    {
        let Some(span) = ctx.span(id) else {
            return Entered::Unknown;
        };
        let mut extensions = span.extensions_mut();
        let export = extensions
            .get_mut::<Export>()
            .map(|export| (export.entered, export.given));
        if let Some((Some(state), _)) = export {
            return state;
        }
        let state = adopt_current(&mut extensions);
        let owed = match extensions.get_mut::<Export>() {
            Some(export) => {
                export.entered = Some(state);
                if export.given == Given::Otel && state == Entered::Sampled {
                    export.given = Given::All;
                    extensions
                        .get_mut::<SpanFields>()
                        .map(|fields| fields.clone_values())
                } else {
                    None
                }
            }
            None => None,
        };
        drop(extensions);
        if let Some(fields) = owed {
            self.give(&fields, id, ctx, |field| !starts(field));
        }
        state
    }
}

/// What a span's inner layer has been given, and what its OpenTelemetry context said
/// of its sampling when it was first entered (`None` before), in its extensions.
struct Export {
    given: Given,
    entered: Option<Entered>,
}

/// Calls `f` with the kept values `pick` accepts, as value sets of the span's callsite
/// `meta` ([`CHUNK`] values at most each); not at all when there are none.
fn with_value_sets(
    meta: &'static Metadata<'static>,
    fields: &SpanFields,
    pick: impl Fn(&Field) -> bool,
    mut f: impl FnMut(&tracing::field::ValueSet<'_>),
) {
    let mut values = fields.values(pick).peekable();
    while let Some(&(pad, _)) = values.peek() {
        let chunk: Vec<_> = values.by_ref().take(CHUNK).collect();
        // Unused places repeat a field without a value, which a value set skips.
        let set: [(&Field, Option<&dyn tracing::Value>); CHUNK] =
            std::array::from_fn(|i| match chunk.get(i) {
                Some((field, value)) => (*field, Some(value.as_value())),
                None => (pad, None),
            });
        f(&meta.fields().value_set(&set));
    }
}

impl<S, L> Layer<S> for SampledFields<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(
        &self,
        metadata: &'static Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.ids.on_new_span(attrs, id, ctx.clone());
        let Some(span) = ctx.span(id) else {
            return self.inner.on_new_span(attrs, id, ctx);
        };
        let (fields, recorded) = SpanFields::new(attrs, Keeper::Export);
        let given = if recorded.error {
            self.inner.on_new_span(attrs, id, ctx.clone());
            Given::All
        } else {
            self.new_span_starting(attrs, &fields, id, &ctx);
            Given::Otel
        };
        let mut extensions = span.extensions_mut();
        if extensions.get_mut::<SpanFields>().is_none() {
            extensions.insert(fields);
        }
        extensions.insert(Export {
            given,
            entered: None,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        /// What the inner layer gets of a record.
        enum Give {
            /// The record.
            All,
            /// Nothing: the span is not sampled.
            Nothing,
            /// The kept values it lacks (those `pick` accepts), then the record.
            OwedThenAll(SpanFields, Recorded),
            /// The record's `otel.*` values, from these.
            Starting(SpanFields, Recorded),
        }
        let give = {
            let Some(span) = ctx.span(id) else {
                return self.inner.on_record(id, values, ctx);
            };
            let mut extensions = span.extensions_mut();
            let recorded = match extensions.get_mut::<SpanFields>() {
                Some(fields) if fields.keeper() == Keeper::Export => fields.record(values),
                _ => Recorded::default(),
            };
            match extensions.get_mut::<Export>() {
                None => Give::All,
                Some(export) => match (export.given, export.entered) {
                    (Given::All, _) => Give::All,
                    // Not sampled: nothing of it is exported.
                    (Given::Otel, Some(Entered::Unsampled | Entered::Unknown)) => Give::Nothing,
                    // An error value: everything kept so far, then the original.
                    (Given::Otel, _) if recorded.error => {
                        export.given = Given::All;
                        match extensions.get_mut::<SpanFields>() {
                            Some(fields) => Give::OwedThenAll(fields.clone_values(), recorded),
                            None => Give::All,
                        }
                    }
                    // Not started yet: the `otel.*` values now, the rest when sampled.
                    (Given::Otel, _) => match extensions.get_mut::<SpanFields>() {
                        Some(fields)
                            if fields
                                .values(|field| starts(field) && recorded.has(field))
                                .next()
                                .is_some() =>
                        {
                            Give::Starting(fields.clone_values(), recorded)
                        }
                        _ => Give::Nothing,
                    },
                },
            }
        };
        match give {
            Give::All => self.inner.on_record(id, values, ctx),
            Give::Nothing => {}
            Give::OwedThenAll(fields, recorded) => {
                self.give(&fields, id, &ctx, |field| {
                    !starts(field) && !recorded.has(field)
                });
                self.inner.on_record(id, values, ctx);
            }
            Give::Starting(fields, recorded) => {
                self.give(&fields, id, &ctx, |field| {
                    starts(field) && recorded.has(field)
                });
            }
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // The layer records an event into the span it happened in, and nothing outside
        // a span; an unsampled span's events are not exported.
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let state = span
            .extensions()
            .get::<Export>()
            .map(|export| export.entered);
        drop(span);
        if matches!(state, None | Some(None | Some(Entered::Sampled))) {
            self.inner.on_event(event, ctx);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx.clone());
        unseen_spans::enter(self.entered(id, &ctx));
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
        unseen_spans::exit();
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // A span never entered is started by its close: enter it once first, so that
        // it is started here and, if sampled, given its values before it ends.
        let never_entered = ctx.span(&id).is_some_and(|span| {
            span.extensions()
                .get::<Export>()
                .is_some_and(|export| export.entered.is_none() && export.given == Given::Otel)
        });
        if never_entered {
            self.inner.on_enter(&id, ctx.clone());
            self.entered(&id, &ctx);
            self.inner.on_exit(&id, ctx.clone());
        }
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    // The trait's method is `unsafe`; forwarding it is what lets
    // `OpenTelemetrySpanExt` find the inner layer through this one.
    #[allow(unsafe_code)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(std::ptr::from_ref(self).cast());
        }
        // SAFETY: the inner layer answers for its own types, as when it is not wrapped
        // (tracing-opentelemetry's `OpenTelemetrySpanExt` finds its layer so).
        unsafe { self.inner.downcast_raw(id) }
    }
}
