//! `#[derive(LabelSet)]`: a struct of label values, one label per field.
//!
//! When every field's type has a fixed cardinality (enums deriving `LabelValue`, `bool`)
//! the set's values are numbered densely (mixed radix, first field most significant), so
//! a labeled metric can hold its series in an array.

use darling::{FromDeriveInput, FromField};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Path, Type};

use crate::buckets::combine;
use crate::names::label_name_problem;

#[derive(FromDeriveInput)]
#[darling(attributes(label))]
struct Input {
    #[darling(rename = "crate")]
    krate: Option<Path>,
}

#[derive(FromField)]
#[darling(attributes(label))]
struct Field {
    ident: Option<Ident>,
    ty: Type,
    rename: Option<LitStr>,
}

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
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "`LabelSet` needs named fields: each field's name is a label name",
                ));
            }
        },
        syn::Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span(),
                "`LabelSet` is derived for a struct of labels; for an enum of label values, derive `LabelValue`",
            ));
        }
        syn::Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span(),
                "`LabelSet` is derived for structs, not unions",
            ));
        }
    };
    if let Some(param) = input.generics.params.first() {
        return Err(syn::Error::new(
            param.span(),
            "`LabelSet` cannot be generic: its label names and cardinality are fixed when it is compiled",
        ));
    }
    let mut errors = None;
    let options = Input::from_derive_input(input).unwrap_or_else(|e| {
        combine(&mut errors, e.into());
        Input { krate: None }
    });
    let mut parsed = Vec::new();
    for field in &fields.named {
        match Field::from_field(field) {
            Ok(f) => parsed.push(f),
            Err(e) => combine(&mut errors, e.into()),
        }
    }
    let mut names: Vec<String> = Vec::new();
    for f in &parsed {
        let ident = f.ident.as_ref().expect("named fields");
        let (name, span) = match &f.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (
                ident.to_string().trim_start_matches("r#").to_owned(),
                ident.span(),
            ),
        };
        if let Some(problem) = label_name_problem(&name) {
            combine(
                &mut errors,
                syn::Error::new(span, format!("invalid label name `{name}`: {problem}")),
            );
        } else if names.contains(&name) {
            combine(
                &mut errors,
                syn::Error::new(span, format!("label `{name}` is named twice; rename one")),
            );
        }
        names.push(name);
    }
    if let Some(error) = errors {
        return Err(error);
    }
    let krate = options
        .krate
        .map_or_else(|| quote!(::rustform), |p| quote!(#p));
    let core = quote!(#krate::__private::core);
    let value = quote!(#krate::metrics::LabelValue);
    let name = &input.ident;
    let idents: Vec<&Ident> = parsed
        .iter()
        .map(|f| f.ident.as_ref().expect("named fields"))
        .collect();
    let tys: Vec<&Type> = parsed.iter().map(|f| &f.ty).collect();
    let radix: Vec<TokenStream> = tys
        .iter()
        .map(|ty| {
            quote!(match <#ty as #value>::CARDINALITY {
                #core::option::Option::Some(n) => n,
                #core::option::Option::None => 1,
            })
        })
        .collect();
    let locals: Vec<Ident> = idents
        .iter()
        .map(|i| format_ident!("__rustform_{}", i.to_string().trim_start_matches("r#")))
        .collect();
    // Decoding takes the least significant (last) field first.
    let decode: Vec<TokenStream> = locals
        .iter()
        .zip(&tys)
        .zip(&radix)
        .rev()
        .map(|((local, ty), radix)| {
            quote! {
                let #local = <#ty as #value>::from_dense_index(rest % (#radix))?;
                rest /= #radix;
            }
        })
        .collect();
    Ok(quote! {
        #[automatically_derived]
        impl #krate::metrics::LabelSet for #name {
            const NAMES: &'static [&'static str] = &[#(#names),*];
            const CARDINALITY: #core::option::Option<usize> =
                #krate::metrics::product_cardinality(&[#(<#tys as #value>::CARDINALITY),*]);

            fn dense_index(&self) -> usize {
                let mut index = 0usize;
                #(index = index * (#radix) + #value::dense_index(&self.#idents);)*
                index
            }

            fn from_dense_index(index: usize) -> #core::option::Option<Self> {
                let mut rest = index;
                #(#decode)*
                let _ = rest;
                #core::option::Option::Some(Self { #(#idents: #locals),* })
            }

            fn visit_values(&self, f: &mut dyn #core::ops::FnMut(&str)) {
                #(#value::with_str(&self.#idents, |v| f(v));)*
            }
        }
    })
}
