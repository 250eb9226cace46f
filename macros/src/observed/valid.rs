//! Checks on the model, each reporting on the narrowest span with the fix. Every check
//! runs; all errors are reported together.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, FnArg, Lit, Pat};

use super::args::Args;
use super::ast::Function;
use crate::buckets::combine;
use crate::names::label_name_problem;

/// Every check, for a function observed by its own attribute.
pub(crate) fn check(f: &Function) -> syn::Result<()> {
    let mut errors = check_options(&f.args).err();
    if let Err(e) = check_function(f) {
        combine(&mut errors, e);
    }
    errors.map_or(Ok(()), Err)
}

/// The checks of one attribute's options on their own. In an observed `impl` block they
/// run once for the block's attribute and once for each method's, so a mistake in the
/// block's options is reported once, not once per method.
pub(crate) fn check_options(args: &Args) -> syn::Result<()> {
    let mut errors = None;
    for check in [
        check_predicates,
        check_labels,
        check_buckets,
        check_halves,
        check_objective,
    ] {
        if let Err(e) = check(args) {
            combine(&mut errors, e);
        }
    }
    errors.map_or(Ok(()), Err)
}

/// The checks of a function with its resolved options (a method's over its block's).
pub(crate) fn check_function(f: &Function) -> syn::Result<()> {
    let mut errors = None;
    for check in [
        check_const,
        check_skip,
        check_halves_across,
        check_args,
        check_name,
    ] {
        if let Err(e) = check(f) {
            combine(&mut errors, e);
        }
    }
    errors.map_or(Ok(()), Err)
}

fn check_const(f: &Function) -> syn::Result<()> {
    match &f.sig.constness {
        Some(token) => Err(syn::Error::new(
            token.span(),
            "`#[observed]` cannot instrument a `const fn`: a const fn cannot read the clock or \
             record metrics; remove `const`, or remove `#[observed]`",
        )),
        None => Ok(()),
    }
}

fn check_skip(f: &Function) -> syn::Result<()> {
    match f.args.skip {
        Some(span) if !f.in_impl => Err(syn::Error::new(
            span,
            "`skip` leaves a method out of an observed `impl` block and only works on a method \
             inside one; to not observe this function, remove `#[observed]`",
        )),
        _ => Ok(()),
    }
}

fn check_predicates(args: &Args) -> syn::Result<()> {
    match (&args.ok_if, &args.error_if) {
        (Some(_), Some(_)) => {
            let span = args.key_span("error_if").unwrap_or_else(Span::call_site);
            Err(syn::Error::new(
                span,
                "`ok_if` and `error_if` cannot be used together: give one predicate, the other \
                 outcome is its negation",
            ))
        }
        _ => Ok(()),
    }
}

fn check_labels(args: &Args) -> syn::Result<()> {
    let Some(labels) = &args.labels else {
        return Ok(());
    };
    let mut errors = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, value) in labels {
        let text = name.to_string();
        if let Some(problem) = label_name_problem(&text) {
            combine(
                &mut errors,
                syn::Error::new(
                    name.span(),
                    format!("invalid label name `{text}`: {problem}"),
                ),
            );
        } else if rustform_config::names::observed::LABELS.contains(&text.as_str()) {
            combine(
                &mut errors,
                syn::Error::new(
                    name.span(),
                    format!("label `{text}` is set by `#[observed]` itself; choose another name"),
                ),
            );
        } else if seen.contains(&text) {
            combine(
                &mut errors,
                syn::Error::new(
                    name.span(),
                    format!("label `{text}` is given twice; keep one"),
                ),
            );
        }
        seen.push(text);
        match value {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) if s.value().is_empty() => combine(
                    &mut errors,
                    syn::Error::new(
                        s.span(),
                        "a label value cannot be empty: Prometheus treats an empty value as no \
                         label; give a value or remove the label",
                    ),
                ),
                Lit::Str(_) => {}
                other => combine(
                    &mut errors,
                    syn::Error::new(
                        other.span(),
                        "label values must be string literals, such as `\"gold\"`",
                    ),
                ),
            },
            other => combine(
                &mut errors,
                syn::Error::new(
                    other.span(),
                    "label values must be string literals: they are fixed when the function is \
                     compiled; record per-call values with `fields(...)`",
                ),
            ),
        }
    }
    errors.map_or(Ok(()), Err)
}

fn check_buckets(args: &Args) -> syn::Result<()> {
    args.buckets.as_ref().map_or(Ok(()), |b| b.check())
}

fn both_off(args: &Args) -> bool {
    let off = |v: &Option<darling::util::SpannedValue<bool>>| v.as_ref().is_some_and(|v| !**v);
    off(&args.span) && off(&args.metrics)
}

fn check_halves(args: &Args) -> syn::Result<()> {
    if both_off(args) {
        let span = args.key_span("metrics").unwrap_or_else(Span::call_site);
        return Err(syn::Error::new(
            span,
            "`span = false` with `metrics = false` leaves nothing to record; remove `#[observed]` \
             (or, in an observed `impl` block, write `#[observed(skip)]`)",
        ));
    }
    Ok(())
}

/// An objective judges the function's metrics: it needs them.
fn check_objective(args: &Args) -> syn::Result<()> {
    let off = args.metrics.as_ref().is_some_and(|m| !**m);
    match (args.key_span("objective"), off) {
        (Some(span), true) => Err(syn::Error::new(
            span,
            "an `objective` is measured on the function's metrics, and `metrics = false` turns \
             them off; remove `metrics = false`, or remove the objective",
        )),
        _ => Ok(()),
    }
}

/// `span = false` on a method with `metrics = false` on its block, or the reverse.
fn check_halves_across(f: &Function) -> syn::Result<()> {
    let own = |key| f.args.key_span(key);
    let (span, here, block) = match (own("span"), own("metrics")) {
        (Some(span), None) => (span, "span", "metrics"),
        (None, Some(span)) => (span, "metrics", "span"),
        // Both from one attribute: reported by `check_halves`.
        _ => return Ok(()),
    };
    if both_off(&f.args) {
        return Err(syn::Error::new(
            span,
            format!(
                "`{here} = false` here with `{block} = false` on the `impl` block leaves nothing \
                 to record; to leave the method out, write `#[observed(skip)]` instead"
            ),
        ));
    }
    Ok(())
}

fn check_args(f: &Function) -> syn::Result<()> {
    let Some(args) = &f.args.args else {
        return Ok(());
    };
    let mut errors = None;
    let params: Vec<String> = f
        .sig
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
    for arg in args {
        let name = arg.to_string();
        if seen.contains(&name) {
            combine(
                &mut errors,
                syn::Error::new(
                    arg.span(),
                    format!("`{name}` is listed twice in `args`; keep one"),
                ),
            );
            continue;
        }
        seen.push(name.clone());
        if name == "self" {
            combine(
                &mut errors,
                syn::Error::new(
                    arg.span(),
                    "`self` cannot be recorded whole; record its parts with `fields(id = self.id)`",
                ),
            );
        } else if !params.contains(&name) {
            let hint = if params.is_empty() {
                "the function takes no named arguments".to_owned()
            } else {
                format!("its arguments are: {}", params.join(", "))
            };
            combine(
                &mut errors,
                syn::Error::new(
                    arg.span(),
                    format!("`{name}` is not an argument of this function; {hint}"),
                ),
            );
        }
    }
    errors.map_or(Ok(()), Err)
}

fn check_name(f: &Function) -> syn::Result<()> {
    match &f.args.name {
        Some(name) if name.value().trim().is_empty() => Err(syn::Error::new(
            name.span(),
            "the span name cannot be empty",
        )),
        _ => Ok(()),
    }
}
