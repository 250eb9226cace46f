//! `#[observed]`: parse the attribute and the item into a model, check it, expand it.

mod args;
mod ast;
mod expand;
mod valid;

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Attribute, ImplItem, Item, ItemImpl, Type};

use self::args::Args;
use self::ast::{Function, Owner};
use crate::buckets::combine;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(attr, item) {
        Ok(tokens) => tokens,
        Err((error, item)) => {
            // The errors, and the item unchanged: one real error, no cascade.
            let mut out = error.to_compile_error();
            out.extend(item);
            out
        }
    }
}

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
        Item::Fn(mut function) => {
            // The options that parsed are checked even when others did not, so a `const fn`
            // or a bad bucket is reported along with a misspelled option.
            let (args, mut errors) = args::parse(attr);
            if let Some(again) = function.attrs.iter().find(|a| is_observed_attr(a)) {
                combine(
                    &mut errors,
                    syn::Error::new(
                        again.path().span(),
                        "`#[observed]` is given twice on this function, which would record every call twice; keep one",
                    ),
                );
            }
            let model = Function::new(&function.sig, &function.block, args, None);
            if let Err(e) = valid::check(&model) {
                combine(&mut errors, e);
            }
            if let Some(error) = errors {
                return Err((error, item));
            }
            let body = expand::body(&model).map_err(|e| (e, item.clone()))?;
            function.block = Box::new(body);
            Ok(function.into_token_stream())
        }
        Item::Impl(imp) => expand_impl(attr, imp),
        other => Err((not_a_function(&other), item)),
    }
}

/// `#[observed]` on an `impl` block: every method, with its own `#[observed(...)]`
/// options over the block's; `#[observed(skip)]` leaves a method out.
fn expand_impl(attr: TokenStream, mut imp: ItemImpl) -> Result<TokenStream, Failure> {
    let (mut outer, mut errors) = args::parse(attr);
    for key in ["name", "skip", "args"] {
        if let Some(span) = outer.key_span(key) {
            let message = match key {
                "name" => {
                    "`name` names one span and cannot apply to a whole `impl` block; put it on a method"
                }
                "skip" => {
                    "`skip` goes on a method inside an observed `impl` block, not on the block"
                }
                _ => {
                    "`args` names one function's arguments and cannot apply to a whole `impl` block; put it on a method"
                }
            };
            combine(&mut errors, syn::Error::new(span, message));
        }
    }
    // Reported above: the methods are checked without them, so nothing is said twice.
    outer.name = None;
    outer.skip = None;
    outer.args = None;
    if let Err(e) = valid::check_options(&outer) {
        combine(&mut errors, e);
    }
    let owner = type_name(&imp);
    let mut bodies = Vec::new();
    for (index, impl_item) in imp.items.iter_mut().enumerate() {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let (own, kept): (Vec<Attribute>, Vec<Attribute>) =
            method.attrs.drain(..).partition(is_observed_attr);
        method.attrs = kept;
        let mut inner = Args::default();
        for (n, attr) in own.iter().enumerate() {
            if n > 0 {
                combine(
                    &mut errors,
                    syn::Error::new(
                        attr.path().span(),
                        "`#[observed]` is given twice on this method; keep one",
                    ),
                );
                continue;
            }
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                _ => TokenStream::new(),
            };
            let (args, error) = args::parse(tokens);
            inner = args;
            if let Some(e) = error {
                combine(&mut errors, e);
            }
        }
        if inner.skip.is_some() {
            if let Some(span) = inner.has_options_besides_skip() {
                combine(
                    &mut errors,
                    syn::Error::new(
                        span,
                        "`skip` leaves this method out, so its other options have no effect; remove them",
                    ),
                );
            }
            continue;
        }
        if let Err(e) = valid::check_options(&inner) {
            combine(&mut errors, e);
        }
        let args = inner.or(&outer);
        let model = Function::new(&method.sig, &method.block, args, Some(owner.clone()));
        match valid::check_function(&model).and_then(|()| expand::body(&model)) {
            Ok(body) => bodies.push((index, body)),
            Err(e) => combine(&mut errors, e),
        }
    }
    if let Some(error) = errors {
        // The inner attributes are already removed: they must not expand again.
        return Err((error, imp.into_token_stream()));
    }
    for (index, body) in bodies {
        if let ImplItem::Fn(method) = &mut imp.items[index] {
            method.block = body;
        }
    }
    Ok(imp.into_token_stream())
}

/// Whether an attribute is `#[observed]`, `#[rustform::observed]` or similar.
fn is_observed_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "observed")
}

/// How methods of this block are named: `Type::method` when the type is a named path
/// (not a generic parameter of the block), else from `Self` at run time.
fn type_name(imp: &ItemImpl) -> Owner {
    let generic = |ident: &syn::Ident| {
        imp.generics
            .params
            .iter()
            .any(|p| matches!(p, syn::GenericParam::Type(t) if t.ident == *ident))
    };
    match &*imp.self_ty {
        Type::Path(path) if path.qself.is_none() => match path.path.segments.last() {
            Some(last) if !(path.path.segments.len() == 1 && generic(&last.ident)) => {
                Owner::Impl(last.ident.to_string().trim_start_matches("r#").to_owned())
            }
            _ => Owner::RuntimeSelf,
        },
        _ => Owner::RuntimeSelf,
    }
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
