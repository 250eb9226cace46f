//! `#[derive(AppMetrics)]`: a struct of metrics, declared once.

mod ast;
mod expand;
mod valid;

use darling::{FromDeriveInput, FromField};
use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;
use syn::spanned::Spanned;

use self::ast::{FieldOptions, Group, Metric, Options};
use crate::buckets::combine;

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    match try_derive(&input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn try_derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let fields = match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(named) => named,
            syn::Fields::Unnamed(unnamed) => {
                return Err(syn::Error::new(
                    unnamed.span(),
                    "`AppMetrics` needs named fields: each field's name is its metric's name. \
                     Write `struct Metrics { orders: Counter }`",
                ));
            }
            syn::Fields::Unit => {
                return Err(syn::Error::new(
                    input.ident.span(),
                    "`AppMetrics` needs at least one metric field, such as `orders: Counter`",
                ));
            }
        },
        syn::Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span(),
                "`AppMetrics` is derived for a struct whose fields are metrics, not for an enum",
            ));
        }
        syn::Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "`AppMetrics` is derived for a struct whose fields are metrics, not for a union",
            ));
        }
    };
    let mut errors = None;
    if let Some(param) = input.generics.params.first() {
        combine(
            &mut errors,
            syn::Error::new(
                param.span(),
                "`AppMetrics` cannot be generic: its metric names and types are fixed when it is compiled",
            ),
        );
    }
    let options = Options::from_derive_input(input).unwrap_or_else(|e| {
        combine(&mut errors, e.into());
        Options {
            prefix: None,
            krate: None,
        }
    });
    let mut metrics = Vec::new();
    for field in &fields.named {
        match FieldOptions::from_field(field) {
            Ok(f) => metrics.push(Metric::new(f)),
            Err(e) => combine(&mut errors, e.into()),
        }
    }
    let group = Group {
        ident: input.ident.clone(),
        prefix: options.prefix,
        krate: options
            .krate
            .map_or_else(|| quote!(::rustform), |p| quote!(#p)),
        metrics,
    };
    if let Err(e) = valid::check(&group) {
        combine(&mut errors, e);
    }
    match errors {
        Some(error) => Err(error),
        None => Ok(expand::expand(&group)),
    }
}
