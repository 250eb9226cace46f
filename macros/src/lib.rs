//! Procedural macros of rustform. Use them through the `rustform` crate, which documents
//! them and provides what their expansions call.

mod buckets;
mod error_label;
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
