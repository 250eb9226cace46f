//! Procedural macros of rustform. Use them through the `rustform` crate.

use proc_macro::TokenStream;

/// See `rustform::observed`.
#[proc_macro_attribute]
pub fn observed(_args: TokenStream, item: TokenStream) -> TokenStream {
    item
}

/// See `rustform::ErrorLabel`.
#[proc_macro_derive(ErrorLabel, attributes(label))]
pub fn derive_error_label(_input: TokenStream) -> TokenStream {
    TokenStream::new()
}
