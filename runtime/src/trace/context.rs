//! Trace context: W3C trace and span ids for every span, and the ids of the current one.

use tracing::Subscriber;
use tracing::span::{Attributes, Id};
use tracing_subscriber::Registry;
use tracing_subscriber::layer::{Context, Layer};
#[cfg(feature = "otel")]
use tracing_subscriber::registry::ExtensionsMut;
use tracing_subscriber::registry::{Extensions, LookupSpan};

use super::ids;
#[cfg(feature = "otel")]
use super::unseen_spans::Entered;
use crate::metrics::TraceContext;

/// Gives every span W3C trace context ids, so logs, exemplars and exported traces can
/// name the trace they belong to.
///
/// A span created inside another inherits its parent's 16-byte trace id and gets a new
/// random 8-byte span id; a span without a parent starts a new trace with a new random
/// trace id. The ids live in the span's extensions; [`current`] returns those of the
/// current span. `rustform::init()` installs this layer; add it yourself when you build
/// your own subscriber.
///
/// ```
/// use rustform::trace::{current, TraceContextLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(TraceContextLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     assert_eq!(current(), None);
///     let _request = tracing::info_span!("request").entered();
///     let outer = current().unwrap();
///     let _query = tracing::info_span!("query").entered();
///     let inner = current().unwrap();
///     assert_eq!(inner.trace_id, outer.trace_id);
///     assert_ne!(inner.span_id, outer.span_id);
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextLayer {
    _private: (),
}

impl TraceContextLayer {
    /// The layer.
    pub const fn new() -> TraceContextLayer {
        TraceContextLayer { _private: () }
    }
}

/// The ids rustform gave a span, in its extensions.
struct Ids(TraceContext);

impl<S> Layer<S> for TraceContextLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let trace_id = span
            .parent()
            .and_then(|parent| ids_of(&parent.extensions()))
            .map_or_else(ids::trace_id, |parent| parent.trace_id);
        let mut extensions = span.extensions_mut();
        // A second TraceContextLayer in the same stack keeps the first one's ids
        // (`insert` would panic on a duplicate).
        if extensions.get_mut::<Ids>().is_none() {
            extensions.insert(Ids(TraceContext {
                trace_id,
                span_id: ids::span_id(),
            }));
        }
    }
}

/// The ids of the span whose extensions these are.
pub(crate) fn ids_of(extensions: &Extensions<'_>) -> Option<TraceContext> {
    extensions.get::<Ids>().map(|ids| ids.0)
}

/// With OpenTelemetry installed, makes a span's ids those of its OpenTelemetry span, so
/// logs, exemplars and exported traces agree, including for spans whose parent came from
/// an incoming `traceparent`. Called when the span is first entered, right after the
/// `tracing-opentelemetry` layer has made the span's context current; returns what that
/// context says of the span's sampling.
#[cfg(feature = "otel")]
pub(crate) fn adopt_current(extensions: &mut ExtensionsMut<'_>) -> Entered {
    use opentelemetry::trace::TraceContextExt;
    let (state, ids) = opentelemetry::Context::map_current(|current| {
        let otel = current.span();
        let context = otel.span_context();
        if !context.is_valid() {
            return (Entered::Unknown, None);
        }
        let ids = TraceContext {
            trace_id: context.trace_id().to_bytes(),
            span_id: context.span_id().to_bytes(),
        };
        let state = if context.is_sampled() {
            Entered::Sampled
        } else {
            Entered::Unsampled
        };
        (state, Some(ids))
    });
    if let Some(ids) = ids {
        match extensions.get_mut::<Ids>() {
            Some(own) => own.0 = ids,
            None => extensions.insert(Ids(ids)),
        }
    }
    state
}

/// The trace and span ids of the current span, or `None` outside any span.
///
/// It reads the span's extensions from the current subscriber's
/// [`Registry`](tracing_subscriber::Registry), so it needs a registry-based subscriber
/// with a [`TraceContextLayer`] (as `rustform::init()` installs); with any other
/// subscriber it returns `None`.
///
/// ```
/// use rustform::trace::{current, TraceContextLayer};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(TraceContextLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("checkout").entered();
///     let ids = current().expect("inside a span");
///     assert_ne!(ids.trace_id, [0; 16]);
///     assert_ne!(ids.span_id, [0; 8]);
/// });
/// ```
pub fn current() -> Option<TraceContext> {
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let current = registry.current_span();
        let span = registry.span(current.id()?)?;
        ids_of(&span.extensions())
    })
}

/// Makes [`current`] the trace context of exemplars (see
/// [`set_trace_context_source`](crate::metrics::set_trace_context_source)); `false` if a
/// source was already installed.
pub(crate) fn use_as_exemplar_source() -> bool {
    crate::metrics::set_trace_context_source(current)
}

/// Installs the W3C propagators the configuration lists, globally.
#[cfg(feature = "otel")]
pub(crate) fn install_propagators(propagators: &[crate::config::Propagator]) {
    use crate::config::Propagator;
    use opentelemetry::propagation::{TextMapCompositePropagator, TextMapPropagator};
    use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
    let list: Vec<Box<dyn TextMapPropagator + Send + Sync>> = propagators
        .iter()
        .map(|p| -> Box<dyn TextMapPropagator + Send + Sync> {
            match p {
                Propagator::TraceContext => Box::new(TraceContextPropagator::new()),
                Propagator::Baggage => Box::new(BaggagePropagator::new()),
            }
        })
        .collect();
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(list));
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn with_layer<R>(f: impl FnOnce() -> R) -> R {
        let subscriber = tracing_subscriber::registry().with(TraceContextLayer::new());
        tracing::subscriber::with_default(subscriber, f)
    }

    #[test]
    fn no_span_no_ids() {
        with_layer(|| assert_eq!(current(), None));
    }

    #[test]
    fn children_inherit_the_trace_id() {
        with_layer(|| {
            let root = tracing::info_span!("root");
            let root_ids = root.in_scope(|| current().unwrap());
            let child = tracing::info_span!(parent: &root, "child");
            let child_ids = child.in_scope(|| current().unwrap());
            let grandchild_ids = child.in_scope(|| {
                let _g = tracing::info_span!("grandchild").entered();
                current().unwrap()
            });
            assert_eq!(child_ids.trace_id, root_ids.trace_id);
            assert_eq!(grandchild_ids.trace_id, root_ids.trace_id);
            assert_ne!(child_ids.span_id, root_ids.span_id);
            assert_ne!(grandchild_ids.span_id, child_ids.span_id);
            // Leaving the spans leaves their ids.
            assert_eq!(current(), None);
        });
    }

    #[test]
    fn roots_start_new_traces() {
        with_layer(|| {
            let a = tracing::info_span!("a").in_scope(|| current().unwrap());
            let b = tracing::info_span!("b").in_scope(|| current().unwrap());
            assert_ne!(a.trace_id, b.trace_id);
            // An explicit root inside another span starts a new trace too.
            let _outer = tracing::info_span!("outer").entered();
            let outer = current().unwrap();
            let detached = tracing::info_span!(parent: None, "detached");
            let detached = detached.in_scope(|| current().unwrap());
            assert_ne!(detached.trace_id, outer.trace_id);
        });
    }

    #[test]
    fn ids_stay_with_the_span() {
        with_layer(|| {
            let span = tracing::info_span!("kept");
            let first = span.in_scope(|| current().unwrap());
            let again = span.in_scope(|| current().unwrap());
            assert_eq!(first, again);
        });
    }

    #[test]
    fn without_the_layer_there_are_no_ids() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let _span = tracing::info_span!("plain").entered();
            assert_eq!(current(), None);
        });
    }

    #[test]
    fn two_layers_do_not_panic() {
        let subscriber = tracing_subscriber::registry()
            .with(TraceContextLayer::new())
            .with(TraceContextLayer::new());
        tracing::subscriber::with_default(subscriber, || {
            let _span = tracing::info_span!("twice").entered();
            assert!(current().is_some());
        });
    }
}
