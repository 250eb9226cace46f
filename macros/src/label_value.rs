//! `#[derive(LabelValue)]`: a fieldless enum as a label with a fixed set of values.

use darling::{FromDeriveInput, FromVariant};
use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{DeriveInput, Fields, Ident, LitStr, Path};

use crate::app_metrics::attr::{LABEL_VALUE, LABEL_VALUE_VARIANT, known_options};
use crate::ctxt::Ctxt;
use crate::names::snake_case;

#[derive(FromDeriveInput)]
#[darling(attributes(label))]
struct Input {
    #[darling(rename = "crate")]
    krate: Option<Path>,
}

#[derive(FromVariant)]
#[darling(attributes(label))]
struct Variant {
    ident: Ident,
    rename: Option<LitStr>,
}

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    match try_derive(&input) {
        Ok(tokens) => tokens,
        Err((error, krate)) => {
            // The errors, and an impl that keeps the type's uses as a label value
            // compiling: the errors shown are the derive's own.
            let name = &input.ident;
            let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
            let mut out = error.to_compile_error();
            out.extend(quote! {
                #[automatically_derived]
                impl #impl_generics #krate::metrics::LabelValue for #name #ty_generics #where_clause {
                    fn with_str<__R>(&self, f: impl #krate::__private::core::ops::FnOnce(&str) -> __R) -> __R {
                        f("")
                    }
                }
            });
            out
        }
    }
}

fn try_derive(input: &DeriveInput) -> Result<TokenStream, (syn::Error, TokenStream)> {
    let cx = Ctxt::new();
    let mut stripped = input.clone();
    stripped.attrs = known_options(&input.attrs, &LABEL_VALUE, &cx);
    let options = Input::from_derive_input(&stripped).unwrap_or_else(|e| {
        cx.syn_error(e.into());
        Input { krate: None }
    });
    let krate = options
        .krate
        .map_or_else(|| quote!(::rustform), |p| quote!(#p));
    let shape = match &input.data {
        syn::Data::Enum(data) => Ok(data),
        syn::Data::Struct(s) => Err(syn::Error::new(
            s.struct_token.span(),
            "`LabelValue` can be derived for fieldless enums only, one label value per \
             variant; for a struct of labels, one per field, derive `LabelSet`",
        )),
        syn::Data::Union(u) => Err(syn::Error::new(
            u.union_token.span(),
            "`LabelValue` can be derived for fieldless enums only, one label value per variant",
        )),
    };
    let data = match shape {
        Ok(data) => data,
        Err(shape) => {
            cx.syn_error(shape);
            return Err((cx.check().unwrap_err(), krate));
        }
    };
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            cx.error(
                v.fields.span(),
                format!(
                    "`LabelValue` needs fieldless variants, but `{}` has fields: a label takes one \
                     of a fixed set of values. Remove the fields, or use a `String` label",
                    v.ident
                ),
            );
            continue;
        }
        let mut v = v.clone();
        v.attrs = known_options(&v.attrs, &LABEL_VALUE_VARIANT, &cx);
        match Variant::from_variant(&v) {
            Ok(variant) => variants.push(variant),
            Err(e) => cx.syn_error(e.into()),
        }
    }
    let mut labels: Vec<String> = Vec::new();
    for v in &variants {
        let label = match &v.rename {
            Some(lit) => {
                let value = lit.value();
                if value.is_empty() {
                    cx.error(
                            lit.span(),
                            "a label value cannot be empty: Prometheus treats an empty value as no label",
                        );
                }
                value
            }
            None => snake_case(&v.ident.to_string()),
        };
        if let Some(first) = labels.iter().position(|l| *l == label) {
            let other = &variants[first];
            cx.error(
                v.rename.as_ref().map_or(v.ident.span(), |r| r.span()),
                format!(
                    "`{}` and `{}` would both be labeled \"{label}\"; give one of them \
                     another `#[label(rename = \"...\")]`",
                    other.ident, v.ident
                ),
            );
        }
        labels.push(label);
    }
    if let Err(error) = cx.check() {
        return Err((error, krate));
    }
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let count = variants.len();
    let idents: Vec<&Ident> = variants.iter().map(|v| &v.ident).collect();
    let indices = 0..count;
    let indices2 = 0..count;
    let body_index = if count == 0 {
        quote!(match *self {})
    } else {
        quote!(match self { #(Self::#idents => #indices,)* })
    };
    let body_str = if count == 0 {
        quote!(match *self {})
    } else {
        quote!(f(match self { #(Self::#idents => #labels,)* }))
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::metrics::LabelValue for #name #ty_generics #where_clause {
            const CARDINALITY: #krate::__private::core::option::Option<usize> = #krate::__private::core::option::Option::Some(#count);

            fn dense_index(&self) -> usize {
                #body_index
            }

            fn from_dense_index(index: usize) -> #krate::__private::core::option::Option<Self> {
                match index {
                    #(#indices2 => #krate::__private::core::option::Option::Some(Self::#idents),)*
                    _ => #krate::__private::core::option::Option::None,
                }
            }

            fn with_str<__R>(&self, f: impl #krate::__private::core::ops::FnOnce(&str) -> __R) -> __R {
                #body_str
            }
        }
    })
}
