//! `#[observed]`: read the attribute and the item into a model, checking every option
//! ([`item`], with [`args`] and [`valid`]), then generate each function's new body
//! ([`expand`]).
//!
//! On any error the item is emitted unchanged after the errors: the user sees the
//! macro's messages and no cascade of errors about code the macro did not generate.

mod args;
mod ast;
mod expand;
mod item;
mod valid;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{ImplItem, Item, ItemFn, ItemImpl};

use crate::ctxt::Ctxt;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(attr, item) {
        Ok(tokens) => tokens,
        Err((error, item)) => {
            let mut out = error.to_compile_error();
            out.extend(item);
            out
        }
    }
}

/// The errors, and the item to emit after them.
type Failure = (syn::Error, TokenStream);

fn try_expand(attr: TokenStream, item: TokenStream) -> Result<TokenStream, Failure> {
    if let Some(error) = bodyless(&item) {
        return Err((error, item));
    }
    let parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(_) => {
            let message = "`#[observed]` applies to functions, methods and `impl` blocks";
            return Err((syn::Error::new(item.span(), message), item));
        }
    };
    match parsed {
        Item::Fn(function) => expand_fn(attr, function).map_err(|e| (e, item)),
        Item::Impl(imp) => expand_impl(attr, imp),
        other => Err((not_a_function(&other), item)),
    }
}

/// `#[observed]` on a function: its body replaced.
fn expand_fn(attr: TokenStream, mut function: ItemFn) -> syn::Result<TokenStream> {
    let cx = Ctxt::new();
    let model = item::function(attr, &function, &cx);
    let body = if cx.has_errors() {
        None
    } else {
        cx.ok(expand::body(&model))
    };
    cx.check()?;
    function.block = Box::new(body.expect("checked"));
    Ok(function.into_token_stream())
}

/// `#[observed]` on an `impl` block: the body of every method not skipped replaced. On
/// error the block is emitted without the methods' own `#[observed(...)]`, which must not
/// expand again.
fn expand_impl(attr: TokenStream, mut imp: ItemImpl) -> Result<TokenStream, Failure> {
    let cx = Ctxt::new();
    let own = item::take_method_attributes(&mut imp);
    let methods = item::impl_block(attr, &imp, &own, &cx);
    let bodies: Vec<_> = if cx.has_errors() {
        Vec::new()
    } else {
        methods
            .iter()
            .filter_map(|(index, method)| Some((*index, cx.ok(expand::body(method))?)))
            .collect()
    };
    drop(methods);
    if let Err(error) = cx.check() {
        return Err((error, imp.into_token_stream()));
    }
    for (index, body) in bodies {
        if let ImplItem::Fn(method) = &mut imp.items[index] {
            method.block = body;
        }
    }
    Ok(imp.into_token_stream())
}

/// A method declared without a body, as in a trait definition: the error points where
/// the body should be.
fn bodyless(item: &TokenStream) -> Option<syn::Error> {
    let method: syn::TraitItemFn = syn::parse2(item.clone()).ok()?;
    let semi = method.semi_token.filter(|_| method.default.is_none())?;
    Some(syn::Error::new(
        semi.span(),
        "`#[observed]` needs a function body, and this declaration has none; put \
         `#[observed]` on the method in each `impl` of the trait, or on those `impl` blocks",
    ))
}

fn not_a_function(item: &Item) -> syn::Error {
    let (span, kind) = match item {
        Item::Struct(s) => (s.struct_token.span(), "a struct"),
        Item::Enum(e) => (e.enum_token.span(), "an enum"),
        Item::Union(u) => (u.union_token.span(), "a union"),
        Item::Trait(t) => (t.trait_token.span(), "a trait definition"),
        Item::TraitAlias(t) => (t.trait_token.span(), "a trait alias"),
        Item::Mod(m) => (m.mod_token.span(), "a module"),
        Item::Const(c) => (c.const_token.span(), "a constant"),
        Item::Static(s) => (s.static_token.span(), "a static"),
        Item::Type(t) => (t.type_token.span(), "a type alias"),
        Item::Use(u) => (u.use_token.span(), "a `use` declaration"),
        Item::ExternCrate(e) => (e.extern_token.span(), "an `extern crate` declaration"),
        Item::ForeignMod(f) => (f.abi.extern_token.span(), "an `extern` block"),
        Item::Macro(m) => (m.mac.path.span(), "a macro"),
        other => (other.span(), "this item"),
    };
    let advice = match item {
        Item::Struct(_) => {
            "; to declare metrics as a struct, derive `AppMetrics`; to instrument the \
             struct's methods, put `#[observed]` on its `impl` block"
        }
        Item::Enum(_) => {
            "; to instrument the enum's methods, put `#[observed]` on its `impl` block; to \
             label errors by variant, derive `ErrorLabel`"
        }
        Item::Union(_) => "; to instrument its methods, put `#[observed]` on its `impl` block",
        Item::Trait(_) => "; put it on the trait's `impl` blocks, or on a default method",
        Item::ForeignMod(_) => "; put it on a Rust function that calls the foreign function",
        _ => "",
    };
    syn::Error::new(
        span,
        format!(
            "`#[observed]` applies to functions, methods and `impl` blocks, not to {kind}{advice}"
        ),
    )
}
