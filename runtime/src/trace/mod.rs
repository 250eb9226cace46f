//! Logs and trace context: the `tracing` subscriber `rustform::init()` installs.
//!
//! From `observability.logging` in `rustform.yml` ([`Logging`]) it builds one stack on a
//! [`Registry`]:
//!
//! 1. an [`EnvFilter`] from `level` (`info`, `info,hyper=warn`; `RUST_LOG` already
//!    merged in by the configuration), deciding which spans and events exist at all;
//! 2. `sampling`, when enabled: a fixed fraction of the events below WARN, every WARN
//!    and ERROR, and the rest counted in `rustform_log_events_dropped_total{reason="sampling"}`
//!    in the [default registry](crate::metrics::default_registry);
//! 3. [`TraceContextLayer`]: W3C trace and span ids for every span, read back with
//!    [`current`];
//! 4. the log format: [`JsonFormat`] (one object per line, with `trace_id` and
//!    `span_id`), or tracing-subscriber's pretty or compact format, in colour only on a
//!    terminal without `NO_COLOR`.
//!
//! [`subscriber_with_writer`] builds the same stack writing wherever a [`MakeWriter`]
//! says, to capture logs in tests or send them elsewhere;
//! [`Observability::layer`](crate::Observability::layer) gives it, with the exporters,
//! as one layer for a subscriber the program builds itself.

mod context;
mod fields;
pub(crate) mod ids;
mod json;
#[cfg(feature = "otel")]
mod sampled;
mod sampling;
pub(crate) mod unseen_spans;

use std::ffi::OsStr;
use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::filter::FilterExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::{self, Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Registry, fmt};

use crate::Error;
use crate::config::{LogFormat, LogOutput, Logging};

#[cfg(feature = "otel")]
pub(crate) use context::install_propagators;
pub(crate) use context::use_as_exemplar_source;
pub use context::{TraceContextLayer, current};
pub use json::{JsonFields, JsonFormat};
/// What [`subscriber_with_writer`] writes to: anything that makes an `io::Write` per
/// event (`std::io::stderr`, a `Mutex<File>`, a closure), as tracing-subscriber defines it.
pub use tracing_subscriber::fmt::MakeWriter;

/// One of the layers [`layers`] stacks, boxed for a stack on any subscriber `S`.
pub(crate) type BoxedLayer<S> = Box<dyn Layer<S> + Send + Sync + 'static>;

/// Where `logging.output` says log lines go, and whether in colour.
pub(crate) fn output(logging: &Logging) -> (BoxMakeWriter, bool) {
    let writer = match logging.output {
        LogOutput::Stdout => BoxMakeWriter::new(std::io::stdout),
        LogOutput::Stderr => BoxMakeWriter::new(std::io::stderr),
    };
    (writer, colours(logging.output))
}

/// The subscriber `logging` asks for, writing each log line through `writer` instead of
/// to `logging.output`, without colours.
///
/// More layers can go on top with [`SubscriberExt::with`]; they share its spans, their
/// ids included.
///
/// ```
/// use std::io;
/// use std::sync::{Arc, Mutex};
///
/// use rustform::config::{LogFormat, Logging};
/// use rustform::trace::MakeWriter;
///
/// /// Log lines, kept in memory.
/// #[derive(Clone, Default)]
/// struct Lines(Arc<Mutex<Vec<u8>>>);
///
/// impl io::Write for Lines {
///     fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
///         self.0.lock().unwrap().extend_from_slice(bytes);
///         Ok(bytes.len())
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Ok(())
///     }
/// }
///
/// impl<'a> MakeWriter<'a> for Lines {
///     type Writer = Lines;
///     fn make_writer(&'a self) -> Lines {
///         self.clone()
///     }
/// }
///
/// let mut logging = Logging::default();
/// logging.format = LogFormat::Json;
/// let lines = Lines::default();
/// let subscriber = rustform::trace::subscriber_with_writer(&logging, lines.clone())?;
///
/// tracing::subscriber::with_default(subscriber, || {
///     let _order = tracing::info_span!("order", id = 42).entered();
///     tracing::info!(total = 9.5, "paid");
/// });
///
/// let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
/// assert!(text.contains(r#""fields":{"message":"paid","total":9.5}"#));
/// assert!(text.contains(r#""span":{"id":42,"name":"order"}"#));
/// assert!(text.contains(r#""trace_id":""#));
/// # Ok::<(), rustform::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Install`] when `logging.level` is not a valid filter.
pub fn subscriber_with_writer<W>(
    logging: &Logging,
    writer: W,
) -> Result<impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static, Error>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    Ok(Registry::default().with(layers(logging, writer, false, None)?))
}

/// The stack of layers, in the order they see each span, for any subscriber `S`:
///
/// 1. when spans are exported, `exported`, the `tracing-opentelemetry` layer, which
///    makes a span's OpenTelemetry context current when it is entered, behind
///    [`SampledFields`](sampled::SampledFields), which gives it a span's attributes only
///    once the span is sampled, gives each span its ids as [`TraceContextLayer`] does,
///    and makes them the span's OpenTelemetry ids when it is first entered; without
///    export, [`TraceContextLayer`];
/// 2. the log format (JSON keeps span fields raw, see [`fields`], and formats them at
///    the first event that needs them).
///
/// Each has its own filter: the log level decides what is written, and never what is
/// exported; with export, spans and events at INFO and above are exported (so
/// `#[observed]` spans reach the collector even when logs are at WARN). A callsite no
/// filter wants stays disabled, at no cost.
pub(crate) fn layers<S, W>(
    logging: &Logging,
    writer: W,
    ansi: bool,
    exported: Option<BoxedLayer<S>>,
) -> Result<Vec<BoxedLayer<S>>, Error>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync + 'static,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let export_level = exported.is_some().then_some(LevelFilter::INFO);
    let written = LogFilter {
        level: Directives::new(&logging.level)?,
        sampling: logging.sampling.and_then(sampling::Sampling::new),
    };
    let mut layers: Vec<BoxedLayer<S>> = Vec::with_capacity(3);
    match exported {
        // It gives spans their ids too, as `TraceContextLayer` would with the same
        // filter: one layer fewer for every span callback to go through.
        #[cfg(feature = "otel")]
        Some(exported) => layers.push(
            sampled::SampledFields::new(exported)
                .with_filter(seen(&logging.level, export_level)?)
                .boxed(),
        ),
        #[cfg(not(feature = "otel"))]
        Some(exported) => {
            layers.push(
                exported
                    .with_filter(seen(&logging.level, export_level)?)
                    .boxed(),
            );
            layers.push(
                TraceContextLayer::new()
                    .with_filter(seen(&logging.level, export_level)?)
                    .boxed(),
            );
        }
        None => layers.push(
            TraceContextLayer::new()
                .with_filter(seen(&logging.level, export_level)?)
                .boxed(),
        ),
    }
    layers.push(format(logging, writer, ansi).with_filter(written).boxed());
    Ok(layers)
}

/// What the layers that keep span context see: what is written, and what is exported.
fn seen<S>(
    level: &str,
    exported: Option<LevelFilter>,
) -> Result<tracing_subscriber::filter::combinator::Or<Directives, LevelFilter, S>, Error>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    Ok(Directives::new(level)?.or(exported.unwrap_or(LevelFilter::OFF)))
}

/// `logging.level`'s directives as an [`EnvFilter`], told of spans only when a directive
/// names one. An `EnvFilter` looks up each span entered, exited or closed in a map under
/// a lock, to track the spans its directives match (`target[span{field=value}]=level`);
/// without such a directive (no `[`) it tracks none, and every span callback would be
/// that lock and look-up for nothing, on every layer it filters.
struct Directives {
    filter: EnvFilter,
    spans: bool,
}

impl Directives {
    fn new(level: &str) -> Result<Directives, Error> {
        Ok(Directives {
            filter: filter(level)?,
            spans: level.contains('['),
        })
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for Directives {
    fn enabled(&self, meta: &tracing::Metadata<'_>, cx: &layer::Context<'_, S>) -> bool {
        Filter::<S>::enabled(&self.filter, meta, cx)
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        Filter::<S>::callsite_enabled(&self.filter, meta)
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, cx: &layer::Context<'_, S>) -> bool {
        Filter::<S>::event_enabled(&self.filter, event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.filter)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: layer::Context<'_, S>,
    ) {
        if self.spans {
            Filter::<S>::on_new_span(&self.filter, attrs, id, cx);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: layer::Context<'_, S>,
    ) {
        if self.spans {
            Filter::<S>::on_record(&self.filter, id, values, cx);
        }
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: layer::Context<'_, S>) {
        if self.spans {
            Filter::<S>::on_enter(&self.filter, id, cx);
        }
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: layer::Context<'_, S>) {
        if self.spans {
            Filter::<S>::on_exit(&self.filter, id, cx);
        }
    }

    fn on_close(&self, id: tracing::span::Id, cx: layer::Context<'_, S>) {
        if self.spans {
            Filter::<S>::on_close(&self.filter, id, cx);
        }
    }
}

/// Whether the process has a global subscriber, asked on a thread without a default
/// of its own. Not `tracing::dispatcher::has_been_set()`: that is true as soon as any
/// thread sets a scoped default (the export thread does), and events sent then would go
/// nowhere.
pub(crate) fn has_global_subscriber() -> bool {
    tracing::dispatcher::get_default(|dispatch| !dispatch.is::<tracing::subscriber::NoSubscriber>())
}

/// What the log format writes: `logging.level`, then `logging.sampling`.
struct LogFilter {
    level: Directives,
    sampling: Option<sampling::Sampling>,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Filter<S> for LogFilter {
    fn enabled(&self, meta: &tracing::Metadata<'_>, cx: &layer::Context<'_, S>) -> bool {
        if !Filter::<S>::enabled(&self.level, meta, cx) {
            return false;
        }
        // Sampling decides here, once per event (its callsite is asked every time, see
        // below), after the level has let the event through: what it counts as dropped
        // would otherwise have been written.
        match &self.sampling {
            Some(sampling) if meta.is_event() => sampling.keeps_level(meta.level()),
            _ => true,
        }
    }

    fn callsite_enabled(
        &self,
        meta: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        let interest = Filter::<S>::callsite_enabled(&self.level, meta);
        if self.sampling.is_some() && meta.is_event() && !interest.is_never() {
            tracing::subscriber::Interest::sometimes()
        } else {
            interest
        }
    }

    fn event_enabled(&self, event: &tracing::Event<'_>, cx: &layer::Context<'_, S>) -> bool {
        Filter::<S>::event_enabled(&self.level, event, cx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Filter::<S>::max_level_hint(&self.level)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: layer::Context<'_, S>,
    ) {
        Filter::<S>::on_new_span(&self.level, attrs, id, cx);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        cx: layer::Context<'_, S>,
    ) {
        Filter::<S>::on_record(&self.level, id, values, cx);
    }

    fn on_enter(&self, id: &tracing::span::Id, cx: layer::Context<'_, S>) {
        Filter::<S>::on_enter(&self.level, id, cx);
    }

    fn on_exit(&self, id: &tracing::span::Id, cx: layer::Context<'_, S>) {
        Filter::<S>::on_exit(&self.level, id, cx);
    }

    fn on_close(&self, id: tracing::span::Id, cx: layer::Context<'_, S>) {
        Filter::<S>::on_close(&self.level, id, cx);
    }
}

/// The most verbose level `logging.level` lets through anywhere, if it is valid.
#[cfg_attr(
    not(feature = "otlp"),
    allow(dead_code, reason = "read by the exporters")
)]
pub(crate) fn log_level_hint(level: &str) -> Option<LevelFilter> {
    filter(level).ok()?.max_level_hint()
}

/// The filter of `logging.level`: a level or `tracing-subscriber` directives.
fn filter(level: &str) -> Result<EnvFilter, Error> {
    EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .parse(level.trim())
        .map_err(|error| Error::Install {
            what: "logging",
            reason: format!(
                "logging.level {level:?} is not a valid filter ({error}); use a level \
                 (error, warn, info, debug, trace) or directives such as \"info,hyper=warn\""
            ),
        })
}

/// The layer that writes log lines in `logging.format`.
fn format<S, W>(logging: &Logging, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match logging.format {
        LogFormat::Json => json::JsonLayer::new(JsonFormat::from_config(logging), writer).boxed(),
        // tracing-subscriber's human formats always show the span context; only the
        // JSON format can leave it out.
        LogFormat::Pretty => human(fmt::layer().pretty(), logging)
            .with_writer(writer)
            .with_ansi(ansi)
            .boxed(),
        LogFormat::Compact => human(fmt::layer().compact(), logging)
            .with_writer(writer)
            .with_ansi(ansi)
            .boxed(),
    }
}

/// The `include_*` options of the pretty and compact formats.
fn human<S, N, L, T, W>(
    layer: fmt::Layer<S, N, fmt::format::Format<L, T>, W>,
    logging: &Logging,
) -> fmt::Layer<S, N, fmt::format::Format<L, T>, W>
where
    N: for<'w> fmt::FormatFields<'w> + 'static,
{
    layer
        .with_target(logging.include_targets)
        .with_thread_ids(logging.include_thread_ids)
        .with_thread_names(logging.include_thread_names)
        .with_file(logging.include_line_numbers)
        .with_line_number(logging.include_line_numbers)
}

/// Whether to colour what goes to `output`: only a terminal, and only without
/// `NO_COLOR` (<https://no-color.org>).
fn colours(output: LogOutput) -> bool {
    let terminal = match output {
        LogOutput::Stdout => std::io::stdout().is_terminal(),
        LogOutput::Stderr => std::io::stderr().is_terminal(),
    };
    wants_colours(terminal, std::env::var_os("NO_COLOR").as_deref())
}

/// `NO_COLOR` counts when it is set and not empty.
fn wants_colours(terminal: bool, no_color: Option<&OsStr>) -> bool {
    terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests;
