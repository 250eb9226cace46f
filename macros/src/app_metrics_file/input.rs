//! What `app_metrics!` is given: the path of the file, and optionally the struct's
//! attributes, visibility and name.
//!
//! ```text
//! app_metrics!("rustform.yml")
//! app_metrics!(#[attr]* #[metrics(crate = path)]? VIS struct NAME = "rustform.yml")
//! ```

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Ident, LitStr, Path, Token, Visibility};

use crate::ctxt::Ctxt;
use crate::names::closest;

/// The options `#[metrics(...)]` accepts here.
const OPTIONS: &[&str] = &["crate"];

pub(crate) struct Input {
    /// Attributes for the struct (docs, derives), `#[metrics]` removed.
    pub(crate) attrs: Vec<Attribute>,
    /// `#[metrics(crate = path)]`.
    pub(crate) krate: Option<Path>,
    pub(crate) vis: Visibility,
    pub(crate) ident: Ident,
    /// The file's path as written.
    pub(crate) path: LitStr,
    /// Mistakes in the options, reported along with the file's.
    pub(crate) errors: Option<syn::Error>,
}

impl Input {
    /// The path generated code reaches the runtime through.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote!(#path),
            None => quote!(::rustform),
        }
    }

    /// Whether the struct has a doc comment of its own.
    pub(crate) fn has_docs(&self) -> bool {
        self.attrs.iter().any(|a| a.path().is_ident("doc"))
    }
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Input> {
        if input.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "expected the path of the configuration file, like \
                 `app_metrics!(\"rustform.yml\")`",
            ));
        }
        if input.peek(LitStr) {
            let path = path_literal(input)?;
            return Ok(Input {
                attrs: Vec::new(),
                krate: None,
                vis: Visibility::Public(Token![pub](path.span())),
                ident: Ident::new("CustomMetrics", Span::call_site()),
                path,
                errors: None,
            });
        }
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        if !input.peek(Token![struct]) {
            // A lone expression, such as a constant or `concat!(..)`: the common mistake.
            if attrs.is_empty() && matches!(vis, Visibility::Inherited) {
                return Err(not_a_literal(input.parse::<TokenStream>()?));
            }
            return Err(input.error(
                "expected `struct Name = \"rustform.yml\"`, like \
                 `app_metrics!(pub struct ShopMetrics = \"rustform.yml\")`",
            ));
        }
        input.parse::<Token![struct]>()?;
        let ident: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let path = path_literal(input)?;

        let cx = Ctxt::new();
        let mut krate = None;
        let mut kept = Vec::new();
        for attr in attrs {
            if attr.path().is_ident("metrics") {
                parse_options(&attr, &mut krate, &cx);
            } else {
                kept.push(attr);
            }
        }
        Ok(Input {
            attrs: kept,
            krate,
            vis,
            ident,
            path,
            errors: cx.check().err(),
        })
    }
}

/// The string literal naming the file, and nothing after it.
fn path_literal(input: ParseStream<'_>) -> syn::Result<LitStr> {
    if !input.peek(LitStr) {
        return Err(not_a_literal(input.parse::<TokenStream>()?));
    }
    let path: LitStr = input.parse()?;
    if !input.is_empty() {
        let rest: TokenStream = input.parse()?;
        return Err(syn::Error::new_spanned(
            rest,
            "unexpected tokens after the path of the configuration file; \
             `app_metrics!` takes one file",
        ));
    }
    if path.value().trim().is_empty() {
        return Err(syn::Error::new(
            path.span(),
            "the path of the configuration file is empty; write it, like \"rustform.yml\"",
        ));
    }
    Ok(path)
}

fn not_a_literal(tokens: TokenStream) -> syn::Error {
    let message = "expected the path of the configuration file as a string literal, like \
                   `app_metrics!(\"rustform.yml\")`: the file is read when the crate \
                   compiles, so its path cannot come from a constant, a variable or another \
                   macro";
    if tokens.is_empty() {
        syn::Error::new(Span::call_site(), message)
    } else {
        syn::Error::new_spanned(tokens, message)
    }
}

/// `#[metrics(crate = path)]`; every unknown key is reported.
fn parse_options(attr: &Attribute, krate: &mut Option<Path>, cx: &Ctxt) {
    let result = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("crate") {
            let path: Path = meta.value()?.parse()?;
            if krate.is_some() {
                cx.error(meta.path.span(), "`crate` is given twice; keep one");
            }
            *krate = Some(path);
            return Ok(());
        }
        let given = meta
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let hint = match closest(&given, OPTIONS) {
            Some(option) => format!("did you mean `{option}`?"),
            None => "the only option is `crate = path`, the path to the rustform crate".into(),
        };
        cx.error(
            meta.path.span(),
            format!("unknown option `{given}` for `app_metrics!`; {hint}"),
        );
        // Skip the value, so the next options are still read.
        if meta.input.peek(Token![=]) {
            let _: syn::Expr = meta.value()?.parse()?;
        } else if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
            let _: TokenStream = meta.input.parse()?;
        }
        Ok(())
    });
    if let Err(e) = result {
        cx.syn_error(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn parse(tokens: TokenStream) -> syn::Result<Input> {
        syn::parse2(tokens)
    }

    #[test]
    fn a_lone_path_names_a_public_custom_metrics_struct() {
        let input = parse(quote!("rustform.yml")).unwrap();
        assert_eq!(input.ident, "CustomMetrics");
        assert_eq!(input.vis.to_token_stream().to_string(), "pub");
        assert_eq!(input.path.value(), "rustform.yml");
        assert_eq!(input.krate().to_string(), ":: rustform");
    }

    #[test]
    fn a_struct_form_keeps_attributes_visibility_and_options() {
        let input = parse(quote!(
            /// Docs.
            #[derive(Debug)]
            #[metrics(crate = my::rustform)]
            pub(crate) struct ShopMetrics = "config/shop.yml"
        ))
        .unwrap();
        assert_eq!(input.ident, "ShopMetrics");
        assert_eq!(input.vis.to_token_stream().to_string(), "pub (crate)");
        assert_eq!(input.attrs.len(), 2);
        assert!(input.has_docs());
        assert_eq!(input.krate().to_string(), "my :: rustform");
        assert!(input.errors.is_none());
    }

    #[test]
    fn unknown_options_are_reported_all() {
        let input = parse(quote!(
            #[metrics(crat = x, prefix = "a")]
            struct M = "rustform.yml"
        ))
        .unwrap();
        let errors: Vec<String> = input
            .errors
            .unwrap()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            errors,
            [
                "unknown option `crat` for `app_metrics!`; did you mean `crate`?",
                "unknown option `prefix` for `app_metrics!`; the only option is `crate = path`, \
                 the path to the rustform crate",
            ]
        );
    }

    #[test]
    fn anything_but_a_literal_is_an_error() {
        for tokens in [
            quote!(CONFIG),
            quote!(concat!("a", ".yml")),
            quote!(struct M = PATH),
            quote!(),
        ] {
            let err = parse(tokens).err().unwrap().to_string();
            assert!(
                err.contains("string literal") || err.contains("expected the path"),
                "{err}"
            );
        }
        let err = parse(quote!("a.yml", "b.yml")).err().unwrap().to_string();
        assert!(err.contains("takes one file"), "{err}");
        let err = parse(quote!("")).err().unwrap().to_string();
        assert!(err.contains("is empty"), "{err}");
    }
}
