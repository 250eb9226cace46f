//! The span of an observed call, made by one function for every observed function.
//!
//! `tracing::span!` expands, at each use, into the level checks, the callsite's interest,
//! the value set of every field and the disabled-span path: several hundred lines of code
//! per function once compiled. An `#[observed]` function whose span has the standard
//! fields only (no `args(..)`, no `fields(..)`) declares its callsite as two statics
//! instead (`tracing::Metadata` and `DefaultCallsite`, what `span!` declares too) and
//! calls [`observed_span`] or [`function_span`], which do the rest the way `span!` does
//! it, with the helpers of `tracing` that `span!` expands to.

use tracing::callsite::{Callsite, DefaultCallsite};
use tracing::field::{Field, Value};
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::{Metadata, Span};

use super::{CallSite, SelfType};
use crate::trace::unseen_spans::span_wanted;

/// The fields of an observed function's span, in the order [`observed_span`] fills them.
pub const SPAN_FIELDS: &[&str] = &[
    "code.function.name",
    "code.namespace",
    "otel.status_code",
    "exception.message",
];

/// The span of one call of an observed function with metrics: its `code.function.name`
/// is the site's `function` label (which may need `Self`'s name, resolved on first use).
///
/// Inlined for its first check only: a span whose level is filtered out (the common case
/// in a service logging at `WARN`) costs two loads and a compare in the function itself;
/// the rest runs out of line, compiled once here.
#[inline]
pub fn observed_span(
    callsite: &'static DefaultCallsite,
    site: &'static CallSite,
    self_type: SelfType,
) -> Span {
    if level_filtered(callsite) {
        return Span::none();
    }
    observed_span_slow(callsite, site, self_type)
}

/// The span of one call of an observed function without metrics (`metrics = false`).
#[inline]
pub fn function_span(callsite: &'static DefaultCallsite, function: &'static str) -> Span {
    if level_filtered(callsite) {
        return Span::none();
    }
    function_span_slow(callsite, function)
}

#[inline(never)]
fn observed_span_slow(
    callsite: &'static DefaultCallsite,
    site: &'static CallSite,
    self_type: SelfType,
) -> Span {
    new_span(callsite, || site.function_name(self_type))
}

#[inline(never)]
fn function_span_slow(callsite: &'static DefaultCallsite, function: &'static str) -> Span {
    new_span(callsite, || function)
}

/// Whether the span's level is filtered out (statically or by every subscriber's
/// filter) and the span can be [`Span::none()`] without going through [`new_span`]: that
/// is what `new_span` returns for it too, unless `tracing`'s `log` feature is on and no
/// subscriber is set (the span is then logged through `log`), which takes the full path.
#[inline]
fn level_filtered(callsite: &'static DefaultCallsite) -> bool {
    let level = *callsite.metadata().level();
    if level <= STATIC_MAX_LEVEL && level <= LevelFilter::current() {
        return false;
    }
    tracing::if_log_enabled! { level, { false } else { true } }
}

/// What `tracing::span!` does with a callsite whose fields are [`SPAN_FIELDS`], after
/// rustform's own check that the span will be seen. The disabled span and its values for
/// the `log` crate come from the same helpers of `tracing` the macro expands to, so a
/// disabled span behaves as `span!`'s with and without tracing's `log` feature.
#[inline]
fn new_span(callsite: &'static DefaultCallsite, function: impl FnOnce() -> &'static str) -> Span {
    let meta = callsite.metadata();
    let level = *meta.level();
    if !span_wanted(level) {
        return Span::none();
    }
    let enabled = level <= STATIC_MAX_LEVEL && level <= LevelFilter::current() && {
        let interest = callsite.interest();
        !interest.is_never() && tracing::__macro_support::__is_enabled(meta, interest)
    };
    if enabled {
        with_values(meta, function(), |values| Span::new(meta, values))
    } else {
        let span = tracing::__macro_support::__disabled_span(meta);
        tracing::if_log_enabled! { level, {
            with_values(meta, function(), |values| {
                span.record_all(values);
            });
        }};
        span
    }
}

/// The span's values, the function and its module, given to `make`. The two fields
/// recorded when the call ends (`otel.status_code`, `exception.message`) are left out of
/// the value set: a field without a value is what `Empty` declares, and building two
/// more fields would cost every span.
fn with_values<R>(
    meta: &'static Metadata<'static>,
    function: &'static str,
    make: impl FnOnce(&tracing::field::ValueSet<'_>) -> R,
) -> R {
    let fields = meta.fields();
    let mut iter = fields.iter();
    let (Some(name), Some(namespace)) = (iter.next(), iter.next()) else {
        // A callsite declared with other fields: no values.
        return make(&fields.value_set(&[]));
    };
    let module = meta.module_path().unwrap_or_default();
    let values: [(&Field, Option<&dyn Value>); 2] =
        [(&name, Some(&function)), (&namespace, Some(&module))];
    make(&fields.value_set(&values))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing::field::Visit;
    use tracing::span::{Attributes, Id};
    use tracing::subscriber::Interest;
    use tracing::{Event, Level, Subscriber};

    use super::*;

    /// The span of a function `charge` in module `shop`.
    static META: Metadata<'static> = Metadata::new(
        "charge",
        "shop",
        Level::INFO,
        Some(file!()),
        Some(line!()),
        Some("shop"),
        tracing::field::FieldSet::new(SPAN_FIELDS, tracing::callsite::Identifier(&CALLSITE)),
        tracing::metadata::Kind::SPAN,
    );
    static CALLSITE: DefaultCallsite = DefaultCallsite::new(&META);

    /// Records the name and fields of every new span.
    #[derive(Clone, Default)]
    struct Spans(Arc<Mutex<Vec<String>>>);

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={:?}", field.name(), value));
        }
    }

    impl Subscriber for Spans {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::always()
        }
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &Attributes<'_>) -> Id {
            let mut fields = Fields(span.metadata().name().to_owned());
            span.record(&mut fields);
            self.0.lock().unwrap().push(fields.0);
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, _: &Event<'_>) {}
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn the_span_has_the_function_and_its_module() {
        let spans = Spans::default();
        tracing::subscriber::with_default(spans.clone(), || {
            tracing::callsite::rebuild_interest_cache();
            let span = function_span(&CALLSITE, "Cart::charge");
            assert!(!span.is_disabled());
        });
        assert_eq!(
            *spans.0.lock().unwrap(),
            [r#"charge code.function.name="Cart::charge" code.namespace="shop""#]
        );
    }
}
