//! The options of `#[observed(...)]`, as written.
//!
//! [`KEYS`] is the one table of options: for each, its name, how it is written, where it
//! may go, what to say when it is written otherwise, and how its value is read. Parsing
//! reads one attribute into [`Args`] one option at a time, so an option that does not
//! parse is reported and the others are still read and checked: a user with three
//! mistakes sees three messages.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitStr, Meta, Path, Token};

use crate::buckets::BucketSpec;
use crate::ctxt::Ctxt;
use crate::names::closest;

/// How an option is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// `key`, or `key = true`.
    Flag,
    /// `key = value`.
    Value,
    /// `key(...)`.
    List,
}

/// Where an option may be written.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    /// On a function, a method, or an observed `impl` block for all its methods.
    Anywhere,
    /// On one function or method; on an `impl` block it is an error saying so.
    Function { on_block: &'static str },
    /// On a method inside an observed `impl` block; anywhere else it is an error.
    Method {
        on_block: &'static str,
        elsewhere: &'static str,
    },
}

/// One option of `#[observed]`.
pub(crate) struct Key {
    pub(crate) name: &'static str,
    pub(crate) form: Form,
    pub(crate) place: Place,
    /// How to write it, said when it is written in another form or its value does not
    /// parse.
    pub(crate) usage: &'static str,
    /// Whether a value that does not parse is reported with the reader's own message,
    /// which says more than [`Key::usage`].
    pub(crate) own_errors: bool,
    /// Reads the option's value into the options.
    read: fn(&mut Args, &Meta) -> darling::Result<()>,
}

pub(crate) const NAME: Key = Key {
    name: "name",
    form: Form::Value,
    place: Place::Function {
        on_block: "`name` names one span and cannot apply to a whole `impl` block; put it on \
                   a method",
    },
    usage: "`name` takes a string, such as `name = \"load user\"`",
    own_errors: false,
    read: |args, meta| set(&mut args.name, meta),
};

pub(crate) const LEVEL: Key = Key {
    name: "level",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`level` takes a level, such as `level = \"debug\"`",
    own_errors: true,
    read: |args, meta| set(&mut args.level, meta),
};

pub(crate) const TARGET: Key = Key {
    name: "target",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`target` takes a string, such as `target = \"audit\"`",
    own_errors: false,
    read: |args, meta| set(&mut args.target, meta),
};

pub(crate) const FIELDS: Key = Key {
    name: "fields",
    form: Form::List,
    place: Place::Anywhere,
    usage: "`fields` takes span fields as `tracing::span!` does, such as \
            `fields(user_id = %user.id)`",
    own_errors: false,
    // Passed verbatim to `tracing::span!`, which checks them.
    read: |args, meta| {
        args.fields = Some(meta.require_list()?.tokens.clone());
        Ok(())
    },
};

pub(crate) const ARGS: Key = Key {
    name: "args",
    form: Form::List,
    place: Place::Function {
        on_block: "`args` names one function's arguments and cannot apply to a whole `impl` \
                   block; put it on a method",
    },
    usage: "`args` takes argument names, such as `args(user, attempts)`",
    own_errors: false,
    read: |args, meta| {
        let parser = |input: ParseStream| {
            Punctuated::<Ident, Token![,]>::parse_terminated_with(input, Ident::parse_any)
        };
        let names = parser.parse2(meta.require_list()?.tokens.clone())?;
        args.args = Some(names.into_iter().collect());
        Ok(())
    },
};

pub(crate) const LABELS: Key = Key {
    name: "labels",
    form: Form::List,
    place: Place::Anywhere,
    usage: "`labels` takes `name = \"value\"` pairs, such as `labels(tier = \"gold\")`",
    own_errors: true,
    read: |args, meta| {
        args.labels = Some(Labels::from_meta(meta)?.0);
        Ok(())
    },
};

pub(crate) const BUCKETS: Key = Key {
    name: "buckets",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`buckets` takes upper bounds or a series, such as `buckets = [0.1, 0.5, 1.0]` \
            or `buckets = exponential(0.001, 2.0, 10)`",
    own_errors: true,
    read: |args, meta| {
        args.buckets = Some(Buckets::from_meta(meta)?.0);
        Ok(())
    },
};

pub(crate) const TRACK_CONCURRENCY: Key = Key {
    name: "track_concurrency",
    form: Form::Flag,
    place: Place::Anywhere,
    usage: "`track_concurrency` is a flag: write `track_concurrency`, or \
            `track_concurrency = false`",
    own_errors: false,
    read: |args, meta| set(&mut args.track_concurrency, meta),
};

pub(crate) const CALLERS: Key = Key {
    name: "callers",
    form: Form::Flag,
    place: Place::Anywhere,
    usage: "`callers` is a flag: write `callers`, or `callers = false`",
    own_errors: false,
    read: |args, meta| set(&mut args.callers, meta),
};

pub(crate) const OK_IF: Key = Key {
    name: "ok_if",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`ok_if` takes the path of a function `fn(&ReturnType) -> bool`, such as \
            `ok_if = is_success`",
    own_errors: false,
    read: |args, meta| set(&mut args.ok_if, meta),
};

pub(crate) const ERROR_IF: Key = Key {
    name: "error_if",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`error_if` takes the path of a function `fn(&ReturnType) -> bool`, such as \
            `error_if = is_failure`",
    own_errors: false,
    read: |args, meta| set(&mut args.error_if, meta),
};

pub(crate) const SPAN: Key = Key {
    name: "span",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`span` takes `true` or `false`: write `span = false` to record metrics only",
    own_errors: false,
    read: |args, meta| set(&mut args.span, meta),
};

pub(crate) const METRICS: Key = Key {
    name: "metrics",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`metrics` takes `true` or `false`: write `metrics = false` to record the span only",
    own_errors: false,
    read: |args, meta| set(&mut args.metrics, meta),
};

pub(crate) const SKIP: Key = Key {
    name: "skip",
    form: Form::Flag,
    place: Place::Method {
        on_block: "`skip` goes on a method inside an observed `impl` block, not on the block",
        elsewhere: "`skip` leaves a method out of an observed `impl` block and only works on a \
                    method inside one; to not observe this function, remove `#[observed]`",
    },
    usage: "`skip` is a flag: write `skip`",
    own_errors: false,
    read: |args, meta| {
        if bool::from_meta(meta)? {
            args.skip = Some(meta.path().span());
        }
        Ok(())
    },
};

pub(crate) const OBJECTIVE: Key = Key {
    name: "objective",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`objective` takes a `rustform::Objective` constant, such as `objective = API_SLO`",
    own_errors: false,
    read: |args, meta| set(&mut args.objective, meta),
};

pub(crate) const CRATE: Key = Key {
    name: "crate",
    form: Form::Value,
    place: Place::Anywhere,
    usage: "`crate` takes the path `rustform` is reached by, such as \
            `crate = my_facade::rustform`",
    own_errors: false,
    read: |args, meta| set(&mut args.krate, meta),
};

/// Every option `#[observed]` accepts, in the order the unknown-option message lists them.
pub(crate) const KEYS: &[Key] = &[
    NAME,
    LEVEL,
    TARGET,
    FIELDS,
    ARGS,
    LABELS,
    BUCKETS,
    TRACK_CONCURRENCY,
    CALLERS,
    OK_IF,
    ERROR_IF,
    SPAN,
    METRICS,
    SKIP,
    OBJECTIVE,
    CRATE,
];

/// Reads a value darling knows how to parse into its option.
fn set<T: FromMeta>(slot: &mut Option<T>, meta: &Meta) -> darling::Result<()> {
    *slot = Some(T::from_meta(meta)?);
    Ok(())
}

/// `skip(...)`, as `#[instrument]` writes it.
const SKIP_LIST: &str = "`skip(...)` is not needed: `#[observed]` records no arguments unless \
                         they are listed in `args(...)`; remove it (a bare `skip` on a method \
                         leaves it out of an observed `impl` block)";

/// What to say about the options `#[instrument]` has and `#[observed]` does not.
const TRACING_OPTIONS: &[(&str, &str)] = &[
    (
        "err",
        "`err` is not needed: `#[observed]` records every `Err` on the span \
         (`otel.status_code`, `exception.message`) and in `function_calls_total`; remove it",
    ),
    (
        "ret",
        "`#[observed]` does not record return values; record what you need with \
         `fields(...)` or an event in the body",
    ),
    (
        "skip_all",
        "`skip_all` is not needed: `#[observed]` records no arguments unless listed in \
         `args(...)`; remove it",
    ),
    ("parent", EXPLICIT_PARENT),
    ("follows_from", EXPLICIT_PARENT),
];

const EXPLICIT_PARENT: &str = "`#[observed]` spans follow the current span; create the span \
                               yourself with `tracing::span!` for an explicit parent or links";

/// The options of one `#[observed(...)]`, as written: `None` is an option not given.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) level: Option<Level>,
    pub(crate) target: Option<LitStr>,
    pub(crate) fields: Option<TokenStream>,
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
    /// Each option given, with the span of its name, in the order written.
    pub(crate) keys: Vec<(&'static Key, Span)>,
}

impl Args {
    /// The span of option `key`'s name, if it was given.
    pub(crate) fn key_span(&self, key: &Key) -> Option<Span> {
        self.keys
            .iter()
            .find(|(k, _)| k.name == key.name)
            .map(|(_, s)| *s)
    }

    /// `self`, a method's options, with every option it does not give taken from `block`,
    /// its `impl` block's. `ok_if` and `error_if` are one choice: a method's predicate
    /// replaces the block's. The options only a method can have are never the block's.
    pub(crate) fn over(self, block: &Args) -> Args {
        let (ok_if, error_if) = if self.ok_if.is_some() || self.error_if.is_some() {
            (self.ok_if, self.error_if)
        } else {
            (block.ok_if.clone(), block.error_if.clone())
        };
        Args {
            name: self.name,
            level: self.level.or_else(|| block.level.clone()),
            target: self.target.or_else(|| block.target.clone()),
            fields: self.fields.or_else(|| block.fields.clone()),
            args: self.args,
            labels: self.labels.or_else(|| block.labels.clone()),
            buckets: self.buckets.or_else(|| block.buckets.clone()),
            track_concurrency: self.track_concurrency.or(block.track_concurrency),
            callers: self.callers.or(block.callers),
            ok_if,
            error_if,
            span: self.span.or(block.span),
            metrics: self.metrics.or(block.metrics),
            skip: self.skip,
            objective: self.objective.or_else(|| block.objective.clone()),
            krate: self.krate.or_else(|| block.krate.clone()),
            keys: self.keys,
        }
    }

    /// Reads one comma-separated option; a problem is reported and the option left out.
    fn read(&mut self, item: NestedMeta, cx: &Ctxt) {
        let meta = match item {
            NestedMeta::Meta(meta) => meta,
            other => {
                cx.error(
                    other.span(),
                    "expected an option, such as `level = \"debug\"`",
                );
                return;
            }
        };
        let Some(ident) = meta.path().get_ident() else {
            cx.error(meta.path().span(), "expected an option name, not a path");
            return;
        };
        let (name, span) = (ident.unraw().to_string(), ident.span());
        let Some(key) = self.known(&name, span, cx) else {
            return;
        };
        self.keys.push((key, span));
        let written = match &meta {
            Meta::Path(_) => Form::Flag,
            Meta::List(_) => Form::List,
            Meta::NameValue(_) => Form::Value,
        };
        if key.name == SKIP.name && written == Form::List {
            cx.error(meta.span(), SKIP_LIST);
        } else if written != key.form && !(key.form == Form::Flag && written == Form::Value) {
            cx.error(span, key.usage);
        } else if let Err(e) = (key.read)(self, &meta) {
            let e = syn::Error::from(e);
            cx.syn_error(if key.own_errors {
                e
            } else {
                syn::Error::new(e.span(), key.usage)
            });
        }
    }

    /// The option called `name`, if it is one, not given before: else the problem is
    /// reported.
    fn known(&self, name: &str, span: Span, cx: &Ctxt) -> Option<&'static Key> {
        if self.keys.iter().any(|(k, _)| k.name == name) {
            cx.error(span, format!("`{name}` is given twice; keep one"));
            return None;
        }
        if let Some((_, advice)) = TRACING_OPTIONS.iter().find(|(k, _)| *k == name) {
            cx.error(span, advice);
            return None;
        }
        let key = KEYS.iter().find(|k| k.name == name);
        if key.is_none() {
            let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
            let message = match closest(name, &names) {
                Some(suggestion) => {
                    format!("unknown option `{name}`: did you mean `{suggestion}`?")
                }
                None => format!(
                    "unknown option `{name}`; the options are: {}",
                    names.join(", ")
                ),
            };
            cx.error(span, message);
        }
        key
    }
}

/// Parses the arguments of one `#[observed(...)]`: the options that parsed, every problem
/// with the others reported.
pub(crate) fn parse(tokens: TokenStream, cx: &Ctxt) -> Args {
    let mut args = Args::default();
    match Punctuated::<NestedMeta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(items) => items.into_iter().for_each(|item| args.read(item, cx)),
        Err(e) => cx.syn_error(e),
    }
    args
}

/// A tracing level, as the name of a `tracing::Level` constant.
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
                NestedMeta::Meta(Meta::NameValue(nv)) => match nv.path.get_ident() {
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

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    use super::{Args, KEYS, Place, parse};
    use crate::ctxt::Ctxt;

    fn parsed(tokens: TokenStream) -> (Args, Vec<String>) {
        let cx = Ctxt::new();
        let args = parse(tokens, &cx);
        let messages = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (args, messages)
    }

    #[test]
    fn an_option_that_does_not_parse_leaves_the_others_set() {
        let (args, messages) = parsed(quote!(level = "loud", buckets = [1.0, 0.5], name = "x"));
        assert!(args.level.is_none());
        assert!(args.buckets.is_some());
        assert_eq!(args.name.map(|n| n.value()).as_deref(), Some("x"));
        assert_eq!(
            messages,
            [r#"unknown level `loud`: use one of "trace", "debug", "info", "warn", "error""#]
        );
    }

    #[test]
    fn an_option_in_the_wrong_form_says_how_to_write_it() {
        let (_, messages) = parsed(quote!(level, name = 5, callers = "yes", labels = "x"));
        assert_eq!(
            messages,
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
        let (args, messages) = parsed(quote!(track_concurrency, callers = false, span = false));
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(args.track_concurrency, Some(true));
        assert_eq!(args.callers, Some(false));
        assert!(args.span.is_some_and(|s| !*s));
    }

    #[test]
    fn lists_keep_their_contents() {
        let (args, messages) = parsed(quote!(fields(id = %user.id), args(user, r#type)));
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(args.fields.unwrap().to_string(), "id = % user . id");
        let names: Vec<String> = args.args.unwrap().iter().map(|a| a.to_string()).collect();
        assert_eq!(names, ["user", "r#type"]);
    }

    #[test]
    fn unknown_repeated_and_tracing_options_are_reported() {
        let (args, messages) = parsed(quote!(
            lables(a = "b"),
            level = "debug",
            level = "info",
            err
        ));
        assert_eq!(args.level.map(|l| l.0), Some("DEBUG"));
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert_eq!(
            messages[0],
            "unknown option `lables`: did you mean `labels`?"
        );
        assert_eq!(messages[1], "`level` is given twice; keep one");
        assert!(messages[2].starts_with("`err` is not needed"));
    }

    #[test]
    fn skip_is_a_bare_flag() {
        let (args, messages) = parsed(quote!(skip));
        assert!(messages.is_empty() && args.skip.is_some());
        let (args, messages) = parsed(quote!(skip(password)));
        assert!(args.skip.is_none());
        assert!(messages[0].starts_with("`skip(...)` is not needed"));
    }

    #[test]
    fn only_name_args_and_skip_are_kept_off_impl_blocks() {
        let restricted: Vec<&str> = KEYS
            .iter()
            .filter(|k| !matches!(k.place, Place::Anywhere))
            .map(|k| k.name)
            .collect();
        assert_eq!(restricted, ["name", "args", "skip"]);
    }

    #[test]
    fn a_method_takes_what_it_does_not_give_from_its_block() {
        let (block, _) = parsed(quote!(level = "debug", ok_if = yes, callers));
        let (method, _) = parsed(quote!(error_if = no, callers = false));
        let merged = method.over(&block);
        assert_eq!(merged.level.map(|l| l.0), Some("DEBUG"));
        assert!(merged.ok_if.is_none() && merged.error_if.is_some());
        assert_eq!(merged.callers, Some(false));
    }
}
