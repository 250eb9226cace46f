//! `#[derive(AppMetrics)]`: a struct of metrics, declared once.

mod ast;
pub(crate) mod attr;
mod expand;
mod valid;

use darling::{FromDeriveInput, FromField};
use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{DeriveInput, FieldsNamed};

use self::ast::{FieldOptions, Group, Metric, Options};
use self::attr::{METRIC, METRICS, known_options};
use crate::ctxt::Ctxt;

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let options = options(&input, &cx);
    let krate = options
        .krate
        .as_ref()
        .map_or_else(|| quote!(::rustform), |p| quote!(#p));
    let group = match named_fields(&input) {
        Ok(fields) => Some(group(&input, fields, options, krate.clone(), &cx)),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    };
    if let Some(group) = &group {
        valid::check(group, &cx);
    }
    match (group, cx.check()) {
        (Some(group), Ok(())) => expand::expand(&group),
        (_, errors) => {
            // The errors, and the struct's functions without metrics behind them, so code
            // that calls `register` or `describe` adds no error of its own.
            let mut out = errors
                .err()
                .map(|e| e.to_compile_error())
                .unwrap_or_default();
            out.extend(expand::stub(&input, &krate));
            out
        }
    }
}

/// `#[metrics(...)]` on the struct; the defaults where it does not parse.
fn options(input: &DeriveInput, cx: &Ctxt) -> Options {
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("metric")) {
        cx.error(
            attr.path().span(),
            "`#[metric(...)]` goes on a field; on the struct, write `#[metrics(...)]` \
             (with an `s`)",
        );
    }
    let mut input = input.clone();
    input.attrs = known_options(&input.attrs, &METRICS, cx);
    Options::from_derive_input(&input).unwrap_or_else(|e| {
        cx.syn_error(e.into());
        Options {
            prefix: None,
            krate: None,
        }
    })
}

/// The fields of a struct with named fields; an error for anything else.
fn named_fields(input: &DeriveInput) -> syn::Result<&FieldsNamed> {
    match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(named) if !named.named.is_empty() => Ok(named),
            syn::Fields::Unnamed(unnamed) => Err(syn::Error::new(
                unnamed.span(),
                "`AppMetrics` needs named fields: each field's name is its metric's name. \
                 Write `struct Metrics { orders: Counter }`",
            )),
            _ => Err(syn::Error::new(
                input.ident.span(),
                "`AppMetrics` needs at least one metric field, such as `orders: Counter`",
            )),
        },
        syn::Data::Enum(e) => Err(syn::Error::new(
            e.enum_token.span(),
            "`AppMetrics` is derived for a struct whose fields are metrics, not for an enum; \
             write `struct Metrics { orders: Counter }`",
        )),
        syn::Data::Union(u) => Err(syn::Error::new(
            u.union_token.span(),
            "`AppMetrics` is derived for a struct whose fields are metrics, not for a union; \
             write `struct Metrics { orders: Counter }`",
        )),
    }
}

/// The struct as a group of metrics; what does not parse is reported and left out.
fn group(
    input: &DeriveInput,
    fields: &FieldsNamed,
    options: Options,
    krate: TokenStream,
    cx: &Ctxt,
) -> Group {
    if let Some(param) = input.generics.params.first() {
        cx.error(
            param.span(),
            "`AppMetrics` cannot be generic: its metric names and types are fixed when it \
             is compiled; remove the parameter and name the types in the fields",
        );
    }
    let mut metrics = Vec::new();
    for field in &fields.named {
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("metrics")) {
            cx.error(
                attr.path().span(),
                "`#[metrics(...)]` goes on the struct; on a field, write `#[metric(...)]` \
                 (without the `s`)",
            );
        }
        let mut field = field.clone();
        field.attrs = known_options(&field.attrs, &METRIC, cx);
        match FieldOptions::from_field(&field) {
            Ok(f) => metrics.push(Metric::new(f)),
            Err(e) => cx.syn_error(e.into()),
        }
    }
    Group {
        ident: input.ident.clone(),
        prefix: options.prefix,
        krate,
        metrics,
    }
}
