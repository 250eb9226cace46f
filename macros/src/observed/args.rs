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
    "objective",
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
    pub(crate) objective: Option<Expr>,
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

    /// `self` with every option not set taken from `outer` (the impl block's). `ok_if`
    /// and `error_if` are one choice: a method's predicate replaces the block's.
    pub(crate) fn or(self, outer: &Args) -> Args {
        let (ok_if, error_if) = if self.ok_if.is_some() || self.error_if.is_some() {
            (self.ok_if, self.error_if)
        } else {
            (outer.ok_if.clone(), outer.error_if.clone())
        };
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
            ok_if,
            error_if,
            span: self.span.or(outer.span),
            metrics: self.metrics.or(outer.metrics),
            skip: self.skip,
            objective: self.objective.or_else(|| outer.objective.clone()),
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
                let given = if text.is_empty() {
                    String::new()
                } else {
                    format!(" `{text}`")
                };
                return Err(darling::Error::custom(format!(
                    "unknown level{given}: use one of \"trace\", \"debug\", \"info\", \"warn\", \"error\""
                ))
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
    objective: Option<Expr>,
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

/// How an option is written.
#[derive(PartialEq)]
enum Form {
    /// `key`, or `key = true`.
    Flag,
    /// `key = value`.
    Value,
    /// `key(...)`.
    List,
}

/// How option `key` is written, and what to say when it is written otherwise.
fn usage(key: &str) -> (Form, &'static str) {
    match key {
        "name" => (
            Form::Value,
            "`name` takes a string, such as `name = \"load user\"`",
        ),
        "level" => (
            Form::Value,
            "`level` takes a level, such as `level = \"debug\"`",
        ),
        "target" => (
            Form::Value,
            "`target` takes a string, such as `target = \"audit\"`",
        ),
        "fields" => (
            Form::List,
            "`fields` takes span fields as `tracing::span!` does, such as \
             `fields(user_id = %user.id)`",
        ),
        "args" => (
            Form::List,
            "`args` takes argument names, such as `args(user, attempts)`",
        ),
        "labels" => (
            Form::List,
            "`labels` takes `name = \"value\"` pairs, such as `labels(tier = \"gold\")`",
        ),
        "buckets" => (
            Form::Value,
            "`buckets` takes upper bounds or a series, such as `buckets = [0.1, 0.5, 1.0]` \
             or `buckets = exponential(0.001, 2.0, 10)`",
        ),
        "track_concurrency" => (
            Form::Flag,
            "`track_concurrency` is a flag: write `track_concurrency`, or \
             `track_concurrency = false`",
        ),
        "callers" => (
            Form::Flag,
            "`callers` is a flag: write `callers`, or `callers = false`",
        ),
        "ok_if" => (
            Form::Value,
            "`ok_if` takes the path of a function `fn(&ReturnType) -> bool`, such as \
             `ok_if = is_success`",
        ),
        "error_if" => (
            Form::Value,
            "`error_if` takes the path of a function `fn(&ReturnType) -> bool`, such as \
             `error_if = is_failure`",
        ),
        "span" => (
            Form::Value,
            "`span` takes `true` or `false`: write `span = false` to record metrics only",
        ),
        "metrics" => (
            Form::Value,
            "`metrics` takes `true` or `false`: write `metrics = false` to record the span only",
        ),
        "skip" => (Form::Flag, "`skip` is a flag: write `skip`"),
        "objective" => (
            Form::Value,
            "`objective` takes a `rustform::Objective` constant, such as \
             `objective = API_SLO`",
        ),
        _ => (
            Form::Value,
            "`crate` takes the path `rustform` is reached by, such as \
             `crate = my_facade::rustform`",
        ),
    }
}

/// Whether darling's own message for a value of the wrong type is replaced with the
/// option's usage: every option but those parsed by this module, whose messages say more.
fn generic_message(key: &str) -> bool {
    !matches!(key, "level" | "labels" | "buckets")
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

/// Parses the arguments of one `#[observed(...)]`: the options that parsed, and every
/// problem with the others. The options that parsed are still checked, so a user with
/// three mistakes sees three messages.
pub(crate) fn parse(tokens: TokenStream) -> (Args, Option<syn::Error>) {
    let raw = match Punctuated::<Raw, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(raw) => raw,
        Err(e) => return (Args::default(), Some(e)),
    };
    let mut errors: Option<syn::Error> = None;
    let mut args = Args::default();
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
                        "`skip(...)` is not needed: `#[observed]` records no arguments unless \
                         they are listed in `args(...)`; remove it (a bare `skip` on a method \
                         leaves it out of an observed `impl` block)",
                    ),
                );
            }
            Raw::Meta(meta) => {
                let (form, usage) = usage(&key);
                let written = match &meta {
                    NestedMeta::Meta(syn::Meta::Path(_)) => Form::Flag,
                    NestedMeta::Meta(syn::Meta::List(_)) => Form::List,
                    _ => Form::Value,
                };
                if written != form && !(form == Form::Flag && written == Form::Value) {
                    combine(&mut errors, syn::Error::new(span, usage));
                    continue;
                }
                // One option at a time: an option that does not parse leaves the others set.
                match Parsed::from_list(&[meta]) {
                    Ok(parsed) => args.set(parsed),
                    Err(e) => {
                        let e = syn::Error::from(e);
                        let e = if generic_message(&key) {
                            syn::Error::new(e.span(), usage)
                        } else {
                            e
                        };
                        combine(&mut errors, e);
                    }
                }
            }
        }
    }
    (args, errors)
}

impl Args {
    /// Takes the options set in `parsed`.
    fn set(&mut self, parsed: Parsed) {
        let Parsed {
            name,
            level,
            target,
            labels,
            buckets,
            track_concurrency,
            callers,
            ok_if,
            error_if,
            span,
            metrics,
            skip,
            objective,
            krate,
        } = parsed;
        self.objective = objective.or(self.objective.take());
        self.name = name.or(self.name.take());
        self.level = level.or(self.level.take());
        self.target = target.or(self.target.take());
        self.labels = labels.map(|l| l.0).or(self.labels.take());
        self.buckets = buckets.map(|b| b.0).or(self.buckets.take());
        self.track_concurrency = track_concurrency.or(self.track_concurrency);
        self.callers = callers.or(self.callers);
        self.ok_if = ok_if.or(self.ok_if.take());
        self.error_if = error_if.or(self.error_if.take());
        self.span = span.or(self.span);
        self.metrics = metrics.or(self.metrics);
        if skip == Some(true) {
            self.skip = self.key_span("skip");
        }
        self.krate = krate.or(self.krate.take());
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::parse;

    fn messages(errors: Option<syn::Error>) -> Vec<String> {
        errors
            .into_iter()
            .flat_map(|e| e.into_iter().map(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn an_option_that_does_not_parse_leaves_the_others_set() {
        let (args, errors) = parse(quote!(level = "loud", buckets = [1.0, 0.5], name = "x"));
        assert!(args.level.is_none());
        assert!(args.buckets.is_some());
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("x"));
        assert_eq!(
            messages(errors),
            [r#"unknown level `loud`: use one of "trace", "debug", "info", "warn", "error""#]
        );
    }

    #[test]
    fn an_option_in_the_wrong_form_says_how_to_write_it() {
        let (_, errors) = parse(quote!(level, name = 5, callers = "yes", labels = "x"));
        assert_eq!(
            messages(errors),
            [
                r#"`level` takes a level, such as `level = "debug"`"#,
                r#"`name` takes a string, such as `name = "load user"`"#,
                "`callers` is a flag: write `callers`, or `callers = false`",
                r#"`labels` takes `name = "value"` pairs, such as `labels(tier = "gold")`"#,
            ]
        );
    }

    #[test]
    fn flags_take_a_bool_or_nothing() {
        let (args, errors) = parse(quote!(track_concurrency, callers = false, span = false));
        assert!(errors.is_none());
        assert_eq!(args.track_concurrency, Some(true));
        assert_eq!(args.callers, Some(false));
        assert!(args.span.is_some_and(|s| !*s));
    }
}
