//! `#[derive(ErrorLabel)]`: a fixed label per enum variant.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Lit, LitStr};

use crate::ctxt::Ctxt;
use crate::names::snake_case;

pub(crate) fn derive(input: DeriveInput) -> TokenStream {
    match try_derive(&input) {
        Ok(tokens) => tokens,
        Err(error) => {
            // The error, and an impl that keeps uses of the type compiling: one error only.
            let name = &input.ident;
            let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
            let krate = krate(&input).unwrap_or_else(|_| quote!(::rustform));
            let mut out = error.to_compile_error();
            out.extend(quote! {
                #[automatically_derived]
                impl #impl_generics #krate::ErrorLabel for #name #ty_generics #where_clause {
                    fn label(&self) -> &'static str { "" }
                }
            });
            out
        }
    }
}

fn try_derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let Data::Enum(data) = &input.data else {
        let token = match &input.data {
            Data::Struct(s) => s.struct_token.span(),
            Data::Union(u) => u.union_token.span(),
            Data::Enum(_) => unreachable!(),
        };
        return Err(syn::Error::new(
            token,
            "`ErrorLabel` can be derived for enums only, one label per variant; for a struct, \
             implement `rustform::ErrorLabel` by hand",
        ));
    };
    let cx = Ctxt::new();
    let krate = krate(input).unwrap_or_else(|e| {
        cx.syn_error(e);
        quote!(::rustform)
    });
    let mut arms = Vec::new();
    let mut seen: Vec<(String, proc_macro2::Span)> = Vec::new();
    for variant in &data.variants {
        let label = match rename(&variant.attrs) {
            Ok(Some(lit)) => {
                let value = lit.value();
                if let Some(problem) = label_value_problem(&value) {
                    cx.error(lit.span(), problem);
                }
                value
            }
            Ok(None) => snake_case(&variant.ident.to_string()),
            Err(e) => {
                cx.syn_error(e);
                continue;
            }
        };
        seen.push((label.clone(), variant.ident.span()));
        let ident = &variant.ident;
        arms.push(quote!(Self::#ident { .. } => #label,));
    }
    cx.check()?;
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let body = if arms.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#arms)* })
    };
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::ErrorLabel for #name #ty_generics #where_clause {
            fn label(&self) -> &'static str {
                #body
            }
        }
    })
}

/// `#[label(rename = "...")]` on a variant.
fn rename(attrs: &[syn::Attribute]) -> syn::Result<Option<LitStr>> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("label")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if found.is_some() {
                    return Err(meta.error("`rename` is given twice; keep one"));
                }
                let value: Expr = meta.value()?.parse()?;
                match value {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => found = Some(s),
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "expected a string, such as `rename = \"timeout\"`",
                        ));
                    }
                }
                Ok(())
            } else {
                let option = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown option `{option}`: `#[label(...)]` on a variant takes only \
                     `rename = \"...\"`"
                )))
            }
        })?;
    }
    Ok(found)
}

/// `#[label(crate = path)]` on the enum, like serde's `crate` option.
fn krate(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut krate = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("label")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                let path: syn::Path = meta.value()?.parse()?;
                krate = Some(quote!(#path));
                Ok(())
            } else {
                let option = meta.path.to_token_stream().to_string().replace(' ', "");
                Err(meta.error(format!(
                    "unknown option `{option}`: `#[label(...)]` on the enum takes only \
                     `crate = path`; `rename` goes on a variant"
                )))
            }
        })?;
    }
    Ok(krate.unwrap_or_else(|| quote!(::rustform)))
}

fn label_value_problem(value: &str) -> Option<&'static str> {
    if value.is_empty() {
        Some(
            "a label cannot be empty: Prometheus treats an empty value as no label; give a \
             name, or remove `rename` to use the variant's name in snake_case",
        )
    } else if value.chars().any(char::is_control) {
        Some("a label cannot contain control characters; remove them")
    } else {
        None
    }
}
