//! Checks on the options as written, each reporting on the narrowest span with the fix.
//! Every check runs and reports into the invocation's [`Ctxt`], so all errors are shown
//! together.
//!
//! The checks of one attribute's options ([`options`]) run once per attribute: in an
//! observed `impl` block, a mistake in the block's options is reported once, not once per
//! method. The checks of a function ([`function`]) see its options merged with its
//! block's.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Lit, Pat, Signature};

use super::args::{Args, ERROR_IF, METRICS, OBJECTIVE, Place, SKIP, SPAN};
use crate::ctxt::Ctxt;
use crate::names::label_name_problem;

/// Where an attribute is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// On a function, or on a method outside an observed `impl` block.
    Function,
    /// On an observed `impl` block.
    Block,
    /// On a method of an observed `impl` block.
    Method,
}

/// Options written where they cannot go, as the table of options says; each is removed
/// from `args` once reported, so the checks after it do not speak of it again.
pub(crate) fn placement(args: &mut Args, site: Site, cx: &Ctxt) {
    if site != Site::Block {
        if site == Site::Method && args.skip.is_some() {
            skipped_method(args, cx);
        }
        return;
    }
    for (key, span) in &args.keys {
        match key.place {
            Place::Anywhere => {}
            Place::Function { on_block } | Place::Method { on_block, .. } => {
                cx.error(*span, on_block);
            }
        }
    }
    args.name = None;
    args.args = None;
    args.skip = None;
}

/// `skip` with other options, which it makes pointless.
fn skipped_method(args: &Args, cx: &Ctxt) {
    if let Some((_, span)) = args.keys.iter().find(|(k, _)| k.name != SKIP.name) {
        cx.error(
            *span,
            "`skip` leaves this method out, so its other options have no effect; remove them",
        );
    }
}

/// The checks of one attribute's options on their own.
pub(crate) fn options(args: &Args, cx: &Ctxt) {
    predicates(args, cx);
    labels(args, cx);
    if let Some(buckets) = &args.buckets {
        buckets.check(cx);
    }
    halves(args, cx);
    objective(args, cx);
}

/// The checks of a function with its options, a method's merged with its block's.
pub(crate) fn function(sig: &Signature, args: &Args, site: Site, cx: &Ctxt) {
    constness(sig, cx);
    skip_outside_block(args, site, cx);
    halves_across(args, cx);
    arguments(sig, args, cx);
    name(args, cx);
}

fn constness(sig: &Signature, cx: &Ctxt) {
    if let Some(token) = &sig.constness {
        cx.error(
            token.span(),
            "`#[observed]` cannot instrument a `const fn`: a const fn cannot read the clock or \
             record metrics; remove `const`, or remove `#[observed]`",
        );
    }
}

fn skip_outside_block(args: &Args, site: Site, cx: &Ctxt) {
    if let (Some(span), Site::Function, Place::Method { elsewhere, .. }) =
        (args.skip, site, SKIP.place)
    {
        cx.error(span, elsewhere);
    }
}

fn predicates(args: &Args, cx: &Ctxt) {
    if args.ok_if.is_some() && args.error_if.is_some() {
        cx.error(
            args.key_span(&ERROR_IF).unwrap_or_else(Span::call_site),
            "`ok_if` and `error_if` cannot be used together: give one predicate, the other \
             outcome is its negation",
        );
    }
}

fn labels(args: &Args, cx: &Ctxt) {
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in args.labels.iter().flatten() {
        let text = name.to_string();
        if let Some(problem) = label_name_problem(&text) {
            cx.error(
                name.span(),
                format!("invalid label name `{text}`: {problem}"),
            );
        } else if rustform_config::names::observed::LABELS.contains(&text.as_str()) {
            cx.error(
                name.span(),
                format!("label `{text}` is set by `#[observed]` itself; choose another name"),
            );
        } else if seen.contains(&text) {
            cx.error(
                name.span(),
                format!("label `{text}` is given twice; keep one"),
            );
        }
        seen.push(text);
        label_value(value, cx);
    }
}

fn label_value(value: &Expr, cx: &Ctxt) {
    match value {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Str(s) if s.value().is_empty() => cx.error(
                s.span(),
                "a label value cannot be empty: Prometheus treats an empty value as no \
                 label; give a value or remove the label",
            ),
            Lit::Str(_) => {}
            other => cx.error(
                other.span(),
                "label values must be string literals, such as `\"gold\"`",
            ),
        },
        other => cx.error(
            other.span(),
            "label values must be string literals: they are fixed when the function is \
             compiled; record per-call values with `fields(...)`",
        ),
    }
}

fn off(flag: &Option<darling::util::SpannedValue<bool>>) -> bool {
    flag.as_ref().is_some_and(|v| !**v)
}

fn halves(args: &Args, cx: &Ctxt) {
    if off(&args.span) && off(&args.metrics) {
        cx.error(
            args.key_span(&METRICS).unwrap_or_else(Span::call_site),
            "`span = false` with `metrics = false` leaves nothing to record; remove `#[observed]` \
             (or, in an observed `impl` block, write `#[observed(skip)]`)",
        );
    }
}

/// An objective judges the function's metrics: it needs them.
fn objective(args: &Args, cx: &Ctxt) {
    if let (Some(span), true) = (args.key_span(&OBJECTIVE), off(&args.metrics)) {
        cx.error(
            span,
            "an `objective` is measured on the function's metrics, and `metrics = false` turns \
             them off; remove `metrics = false`, or remove the objective",
        );
    }
}

/// `span = false` on a method with `metrics = false` on its block, or the reverse.
fn halves_across(args: &Args, cx: &Ctxt) {
    let (span, here, block) = match (args.key_span(&SPAN), args.key_span(&METRICS)) {
        (Some(span), None) => (span, "span", "metrics"),
        (None, Some(span)) => (span, "metrics", "span"),
        // Both from one attribute: reported by `halves`.
        _ => return,
    };
    if off(&args.span) && off(&args.metrics) {
        cx.error(
            span,
            format!(
                "`{here} = false` here with `{block} = false` on the `impl` block leaves nothing \
                 to record; to leave the method out, write `#[observed(skip)]` instead"
            ),
        );
    }
}

/// `args(...)` names each argument of the function once, not `self`.
fn arguments(sig: &Signature, args: &Args, cx: &Ctxt) {
    let Some(listed) = &args.args else {
        return;
    };
    let params: Vec<String> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(t) => match &*t.pat {
                Pat::Ident(p) => Some(p.ident.to_string()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let mut seen: Vec<String> = Vec::new();
    for arg in listed {
        let name = arg.to_string();
        if seen.contains(&name) {
            cx.error(
                arg.span(),
                format!("`{name}` is listed twice in `args`; keep one"),
            );
            continue;
        }
        seen.push(name.clone());
        if name == "self" {
            cx.error(
                arg.span(),
                "`self` cannot be recorded whole; record its parts with `fields(id = self.id)`",
            );
        } else if !params.contains(&name) {
            let hint = if params.is_empty() {
                "the function takes no named arguments".to_owned()
            } else {
                format!("its arguments are: {}", params.join(", "))
            };
            cx.error(
                arg.span(),
                format!("`{name}` is not an argument of this function; {hint}"),
            );
        }
    }
}

fn name(args: &Args, cx: &Ctxt) {
    if let Some(name) = &args.name
        && name.value().trim().is_empty()
    {
        cx.error(name.span(), "the span name cannot be empty");
    }
}
