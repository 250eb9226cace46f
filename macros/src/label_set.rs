//! `#[derive(LabelSet)]`: a struct of label values, one label per field.
//!
//! When every field's type has a fixed cardinality (enums deriving `LabelValue`, `bool`)
//! the set's values are numbered densely (mixed radix, first field most significant), so
//! a labeled metric can hold its series in an array.

use darling::{FromDeriveInput, FromField};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{DeriveInput, Ident, LitStr, Path, Type, parse_quote};

use crate::app_metrics::attr::{LABEL_SET, LABEL_SET_FIELD, known_options};
use crate::ctxt::Ctxt;
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
    let cx = Ctxt::new();
    let options = options(&input, &cx);
    let krate = options
        .krate
        .map_or_else(|| quote!(::rustform), |p| quote!(#p));
    let fields = fields(&input, &cx);
    check(&fields, &cx);
    match cx.check() {
        Ok(()) => expand(&input, &fields, &krate),
        Err(error) => {
            // The errors, and an impl without labels, so the struct's uses as a label set
            // add no error of their own.
            let mut out = error.to_compile_error();
            out.extend(stub(&input, &krate));
            out
        }
    }
}

/// `#[label(...)]` on the struct; the defaults where it does not parse.
fn options(input: &DeriveInput, cx: &Ctxt) -> Input {
    let mut input = input.clone();
    input.attrs = known_options(&input.attrs, &LABEL_SET, cx);
    Input::from_derive_input(&input).unwrap_or_else(|e| {
        cx.syn_error(e.into());
        Input { krate: None }
    })
}

/// The struct's fields, each a label; an error for anything but a non-generic struct with
/// named fields.
fn fields(input: &DeriveInput, cx: &Ctxt) -> Vec<Field> {
    let named = match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(named) => Some(named),
            syn::Fields::Unnamed(unnamed) => {
                cx.error(
                    unnamed.span(),
                    "`LabelSet` needs named fields: each field's name is a label name. \
                     Write `struct Labels { route: &'static str }`",
                );
                None
            }
            syn::Fields::Unit => {
                cx.error(
                    input.ident.span(),
                    "`LabelSet` needs named fields: each field's name is a label name. \
                     Write `struct Labels { route: &'static str }`",
                );
                None
            }
        },
        syn::Data::Enum(e) => {
            cx.error(
                e.enum_token.span(),
                "`LabelSet` is derived for a struct of labels, one per field; for an enum \
                 of label values, derive `LabelValue`",
            );
            None
        }
        syn::Data::Union(u) => {
            cx.error(
                u.union_token.span(),
                "`LabelSet` is derived for a struct of labels, one per field, not for a \
                 union",
            );
            None
        }
    };
    if let Some(param) = input.generics.params.first() {
        cx.error(
            param.span(),
            "`LabelSet` cannot be generic: its label names and cardinality are fixed when \
             it is compiled; remove the parameter and name the types in the fields",
        );
    }
    let mut parsed = Vec::new();
    for field in named.into_iter().flat_map(|n| &n.named) {
        let mut field = field.clone();
        field.attrs = known_options(&field.attrs, &LABEL_SET_FIELD, cx);
        match Field::from_field(&field) {
            Ok(f) => parsed.push(f),
            Err(e) => cx.syn_error(e.into()),
        }
    }
    parsed
}

impl Field {
    fn ident(&self) -> &Ident {
        self.ident.as_ref().expect("named fields")
    }

    /// The label name, and the token that gives it.
    fn label(&self) -> (String, Span) {
        match &self.rename {
            Some(lit) => (lit.value(), lit.span()),
            None => (self.ident().unraw().to_string(), self.ident().span()),
        }
    }
}

/// Every label name valid, none twice.
fn check(fields: &[Field], cx: &Ctxt) {
    let mut names: Vec<(String, &Field)> = Vec::new();
    for f in fields {
        let (name, span) = f.label();
        if let Some(problem) = label_name_problem(&name) {
            let message = match f.rename {
                Some(_) => format!("invalid label name `{name}`: {problem}"),
                None => format!(
                    "invalid label name `{name}`: {problem} (or keep the field's name and give \
                     the label another with `#[label(rename = \"...\")]`)"
                ),
            };
            cx.error(span, message);
        } else if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
            cx.error(
                span,
                format!(
                    "`{}` and `{}` are both labeled `{name}`; give one of them another \
                     `#[label(rename = \"...\")]`",
                    f.ident(),
                    first.ident()
                ),
            );
        }
        names.push((name, f));
    }
}

/// What the derive emits along with its errors: an impl with no labels.
fn stub(input: &DeriveInput, krate: &TokenStream) -> TokenStream {
    let core = quote!(#krate::__private::core);
    let name = &input.ident;
    let mut generics = input.generics.clone();
    if !generics.params.is_empty() {
        // The supertraits, so the stub adds no error of its own.
        generics
            .make_where_clause()
            .predicates
            .push(parse_quote!(Self: #core::marker::Send + #core::marker::Sync + 'static));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::metrics::LabelSet for #name #ty_generics #where_clause {
            const NAMES: &'static [&'static str] = &[];

            fn visit_values(&self, _: &mut dyn #core::ops::FnMut(&str)) {}
        }
    }
}

fn expand(input: &DeriveInput, parsed: &[Field], krate: &TokenStream) -> TokenStream {
    let names: Vec<String> = parsed.iter().map(|f| f.label().0).collect();
    let core = quote!(#krate::__private::core);
    let value = quote!(#krate::metrics::LabelValue);
    let name = &input.ident;
    let idents: Vec<&Ident> = parsed.iter().map(Field::ident).collect();
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
        .map(|i| format_ident!("__rustform_{}", i.unraw()))
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
    // A set without fields has one value, index 0, and nothing to compute.
    let mutable = (!parsed.is_empty()).then(|| quote!(mut));
    quote! {
        #[automatically_derived]
        impl #krate::metrics::LabelSet for #name {
            const NAMES: &'static [&'static str] = &[#(#names),*];
            const CARDINALITY: #core::option::Option<usize> =
                #krate::__private::product_cardinality(&[#(<#tys as #value>::CARDINALITY),*]);

            fn dense_index(&self) -> usize {
                let #mutable index = 0usize;
                #(index = index * (#radix) + <#tys as #value>::dense_index(&self.#idents);)*
                index
            }

            fn from_dense_index(index: usize) -> #core::option::Option<Self> {
                let #mutable rest = index;
                #(#decode)*
                if rest != 0 {
                    // `index` is past the last set.
                    return #core::option::Option::None;
                }
                #core::option::Option::Some(Self { #(#idents: #locals),* })
            }

            fn visit_values(&self, f: &mut dyn #core::ops::FnMut(&str)) {
                #(<#tys as #value>::with_str(&self.#idents, |v| f(v));)*
            }
        }
    }
}
