//! Procedural macros of rustform. Use them through the `rustform` crate, which documents
//! them and provides what their expansions call.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod app_metrics;
mod app_metrics_file;
mod buckets;
mod ctxt;
mod error_label;
mod label_set;
mod label_value;
mod names;
mod observed;

use proc_macro::TokenStream;

/// See `rustform::observed`.
#[proc_macro_attribute]
pub fn observed(args: TokenStream, item: TokenStream) -> TokenStream {
    observed::expand(args.into(), item.into()).into()
}

/// See `rustform::ErrorLabel`.
#[proc_macro_derive(ErrorLabel, attributes(label))]
pub fn derive_error_label(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    error_label::derive(input).into()
}

/// See `rustform::AppMetrics`.
#[proc_macro_derive(AppMetrics, attributes(metrics, metric))]
pub fn derive_app_metrics(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    app_metrics::derive(input).into()
}

/// See `rustform::app_metrics`.
#[proc_macro]
pub fn app_metrics(input: TokenStream) -> TokenStream {
    app_metrics_file::expand(input.into()).into()
}

/// See `rustform::LabelSet`.
#[proc_macro_derive(LabelSet, attributes(label))]
pub fn derive_label_set(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    label_set::derive(input).into()
}

/// See `rustform::LabelValue`.
#[proc_macro_derive(LabelValue, attributes(label))]
pub fn derive_label_value(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    label_value::derive(input).into()
}
