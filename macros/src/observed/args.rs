//! Parsing `#[observed(...)]` arguments.
//!
//! `fields(...)` (passed verbatim to `tracing::span!`) and `args(...)` are taken apart
//! first; unknown option names are reported with a suggestion; darling parses the rest.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Path, Token};

use crate::buckets::{BucketSpec, combine};
use crate::names::closest;

/// Every option `#[observed]` accepts.
pub(crate) const OPTIONS: &[&str] = &[
    "name",
    "level",
    "target",
    "fields",
    "args",
    "labels",
    "buckets",
    "track_concurrency",
    "callers",
    "ok_if",
    "error_if",
    "span",
    "metrics",
    "skip",
    "crate",
];

/// The options of one `#[observed(...)]`, as written.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) level: Option<Level>,
    pub(crate) target: Option<LitStr>,
    pub(crate) fields: Option<(Span, TokenStream)>,
    pub(crate) args: Option<Vec<Ident>>,
    pub(crate) labels: Option<Vec<(Ident, Expr)>>,
    pub(crate) buckets: Option<BucketSpec>,
    pub(crate) track_concurrency: Option<bool>,
    pub(crate) callers: Option<bool>,
    pub(crate) ok_if: Option<SpannedValue<Path>>,
    pub(crate) error_if: Option<SpannedValue<Path>>,
    pub(crate) span: Option<SpannedValue<bool>>,
    pub(crate) metrics: Option<SpannedValue<bool>>,
    pub(crate) skip: Option<Span>,
    pub(crate) krate: Option<Path>,
    /// The span of each option's name, for errors about the option as a whole.
    pub(crate) keys: Vec<(String, Span)>,
}

impl Args {
    /// The span of option `key`'s name, if it was given.
    pub(crate) fn key_span(&self, key: &str) -> Option<Span> {
        self.keys.iter().find(|(k, _)| k == key).map(|(_, s)| *s)
    }

    /// Whether anything but `skip` was given.
    pub(crate) fn has_options_besides_skip(&self) -> Option<Span> {
        self.keys.iter().find(|(k, _)| k != "skip").map(|(_, s)| *s)
    }

    /// `self` with every option not set taken from `outer` (the impl block's).
    pub(crate) fn or(self, outer: &Args) -> Args {
        Args {
            name: self.name,
            level: self.level.or_else(|| outer.level.clone()),
            target: self.target.or_else(|| outer.target.clone()),
            fields: self.fields.or_else(|| outer.fields.clone()),
            args: self.args.or_else(|| outer.args.clone()),
            labels: self.labels.or_else(|| outer.labels.clone()),
            buckets: self.buckets.or_else(|| outer.buckets.clone()),
            track_concurrency: self.track_concurrency.or(outer.track_concurrency),
            callers: self.callers.or(outer.callers),
            ok_if: self.ok_if.or_else(|| outer.ok_if.clone()),
            error_if: self.error_if.or_else(|| outer.error_if.clone()),
            span: self.span.or(outer.span),
            metrics: self.metrics.or(outer.metrics),
            skip: self.skip,
            krate: self.krate.or_else(|| outer.krate.clone()),
            keys: self.keys,
        }
    }
}

/// A tracing level.
#[derive(Clone)]
pub(crate) struct Level(pub(crate) &'static str);

impl FromMeta for Level {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let (text, span) = match expr {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => (s.value(), s.span()),
            Expr::Path(p) => match p.path.segments.last() {
                Some(seg) => (seg.ident.to_string(), p.span()),
                None => (String::new(), p.span()),
            },
            other => (String::new(), other.span()),
        };
        let level = match text.to_ascii_lowercase().as_str() {
            "trace" => "TRACE",
            "debug" => "DEBUG",
            "info" => "INFO",
            "warn" => "WARN",
            "error" => "ERROR",
            _ => {
                return Err(darling::Error::custom(
                    "unknown level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"",
                )
                .with_span(&span));
            }
        };
        Ok(Level(level))
    }
}

/// `labels(name = "value", ...)`, checked later so every problem is reported.
struct Labels(Vec<(Ident, Expr)>);

impl FromMeta for Labels {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut labels = Vec::new();
        for item in items {
            match item {
                NestedMeta::Meta(syn::Meta::NameValue(nv)) => match nv.path.get_ident() {
                    Some(ident) => labels.push((ident.clone(), nv.value.clone())),
                    None => errors.push(
                        darling::Error::custom("expected a label name, such as `tier`")
                            .with_span(&nv.path),
                    ),
                },
                other => errors.push(
                    darling::Error::custom(
                        "expected `name = \"value\"`, such as `tier = \"gold\"`",
                    )
                    .with_span(other),
                ),
            }
        }
        errors.finish_with(Labels(labels))
    }
}

/// `buckets = [...]`, `linear(...)` or `exponential(...)`.
struct Buckets(BucketSpec);

impl FromMeta for Buckets {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        BucketSpec::parse(expr)
            .map(Buckets)
            .map_err(darling::Error::from)
    }
}

/// The options darling parses.
#[derive(FromMeta, Default)]
#[darling(default)]
struct Parsed {
    name: Option<LitStr>,
    level: Option<Level>,
    target: Option<LitStr>,
    labels: Option<Labels>,
    buckets: Option<Buckets>,
    track_concurrency: Option<bool>,
    callers: Option<bool>,
    ok_if: Option<SpannedValue<Path>>,
    error_if: Option<SpannedValue<Path>>,
    span: Option<SpannedValue<bool>>,
    metrics: Option<SpannedValue<bool>>,
    skip: Option<bool>,
    #[darling(rename = "crate")]
    krate: Option<Path>,
}

/// One comma-separated argument, before darling sees it.
enum Raw {
    Fields(Ident, TokenStream),
    Args(Ident, Punctuated<Ident, Token![,]>),
    Meta(NestedMeta),
}

impl Parse for Raw {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let fork = input.fork();
        if let Ok(key) = fork.call(Ident::parse_any)
            && fork.peek(syn::token::Paren)
            && (key == "fields" || key == "args")
        {
            let key = input.call(Ident::parse_any)?;
            let content;
            syn::parenthesized!(content in input);
            return if key == "fields" {
                Ok(Raw::Fields(key, content.parse()?))
            } else {
                Ok(Raw::Args(
                    key,
                    content.parse_terminated(Ident::parse_any, Token![,])?,
                ))
            };
        }
        input.parse().map(Raw::Meta)
    }
}

/// What to say about an option `#[instrument]` has and `#[observed]` does not.
fn tracing_option_advice(key: &str) -> Option<&'static str> {
    Some(match key {
        "err" => {
            "`err` is not needed: `#[observed]` records every `Err` on the span \
             (`otel.status_code`, `exception.message`) and in `function_calls_total`; remove it"
        }
        "ret" => {
            "`#[observed]` does not record return values; record what you need with \
             `fields(...)` or an event in the body"
        }
        "skip_all" => {
            "`skip_all` is not needed: `#[observed]` records no arguments unless listed in \
             `args(...)`; remove it"
        }
        "parent" | "follows_from" => {
            "`#[observed]` spans follow the current span; create the span yourself with \
             `tracing::span!` for an explicit parent or links"
        }
        _ => return None,
    })
}

/// Parses the arguments of one `#[observed(...)]`, reporting every problem at once.
pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Args> {
    let raw = Punctuated::<Raw, Token![,]>::parse_terminated.parse2(tokens)?;
    let mut errors: Option<syn::Error> = None;
    let mut args = Args::default();
    let mut metas = Vec::new();
    for item in raw {
        let (key, span) = match &item {
            Raw::Fields(k, _) | Raw::Args(k, _) => (k.to_string(), k.span()),
            Raw::Meta(NestedMeta::Meta(meta)) => match meta.path().get_ident() {
                Some(ident) => (ident.unraw().to_string(), ident.span()),
                None => {
                    let path = meta.path();
                    combine(
                        &mut errors,
                        syn::Error::new(path.span(), "expected an option name, not a path"),
                    );
                    continue;
                }
            },
            Raw::Meta(other) => {
                combine(
                    &mut errors,
                    syn::Error::new(
                        other.span(),
                        "expected an option, such as `level = \"debug\"`",
                    ),
                );
                continue;
            }
        };
        if args.keys.iter().any(|(k, _)| *k == key) {
            combine(
                &mut errors,
                syn::Error::new(span, format!("`{key}` is given twice; keep one")),
            );
            continue;
        }
        if let Some(advice) = tracing_option_advice(&key) {
            combine(&mut errors, syn::Error::new(span, advice));
            continue;
        }
        if !OPTIONS.contains(&key.as_str()) {
            let message = match closest(&key, OPTIONS) {
                Some(suggestion) => format!("unknown option `{key}`: did you mean `{suggestion}`?"),
                None => format!(
                    "unknown option `{key}`; the options are: {}",
                    OPTIONS.join(", ")
                ),
            };
            combine(&mut errors, syn::Error::new(span, message));
            continue;
        }
        args.keys.push((key.clone(), span));
        match item {
            Raw::Fields(k, tokens) => args.fields = Some((k.span(), tokens)),
            Raw::Args(_, idents) => args.args = Some(idents.into_iter().collect()),
            Raw::Meta(NestedMeta::Meta(syn::Meta::List(list))) if key == "skip" => {
                combine(
                    &mut errors,
                    syn::Error::new(
                        list.span(),
                        "`skip` takes no arguments: `#[observed]` records no arguments unless \
                         listed in `args(...)`. To leave a method out of an observed impl \
                         block, write `#[observed(skip)]` on it",
                    ),
                );
            }
            Raw::Meta(meta) => metas.push(meta),
        }
    }
    match Parsed::from_list(&metas) {
        Ok(parsed) => {
            args.name = parsed.name;
            args.level = parsed.level;
            args.target = parsed.target;
            args.labels = parsed.labels.map(|l| l.0);
            args.buckets = parsed.buckets.map(|b| b.0);
            args.track_concurrency = parsed.track_concurrency;
            args.callers = parsed.callers;
            args.ok_if = parsed.ok_if;
            args.error_if = parsed.error_if;
            args.span = parsed.span;
            args.metrics = parsed.metrics;
            args.skip = match parsed.skip {
                Some(true) => args.key_span("skip"),
                _ => None,
            };
            args.krate = parsed.krate;
        }
        Err(e) => combine(&mut errors, e.into()),
    }
    errors.map_or(Ok(args), Err)
}
