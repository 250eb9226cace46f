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
    let parsed: Item = match syn::parse2(item.clone()) {
        Ok(parsed) => parsed,
        Err(_) => {
            let message = if syn::parse2::<syn::TraitItemFn>(item.clone()).is_ok() {
                "`#[observed]` needs a function body: put it on the implementations of this \
                 method, or on their `impl` blocks"
            } else {
                "`#[observed]` applies to functions, methods and `impl` blocks"
            };
            return Err((syn::Error::new(item.span(), message), item));
        }
    };
    match parsed {
        Item::Fn(mut function) => {
            let mut errors = None;
            // With unreadable arguments the function is still checked with the defaults,
            // so a `const fn` is reported too.
            let args = args::parse(attr).unwrap_or_else(|e| {
                combine(&mut errors, e);
                Args::default()
            });
            let model = Function::new(&function.sig, &function.block, args, None);
            if let Err(e) = valid::check(&model) {
                combine(&mut errors, e);
            }
            if let Some(error) = errors {
                return Err((error, item));
            }
            let body = expand::body(&model);
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
    let mut errors: Option<syn::Error> = None;
    let outer = match args::parse(attr) {
        Ok(outer) => {
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
            outer
        }
        Err(e) => {
            combine(&mut errors, e);
            Args::default()
        }
    };
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
                        attr.span(),
                        "`#[observed]` is given twice on this method; keep one",
                    ),
                );
                continue;
            }
            let tokens = match &attr.meta {
                syn::Meta::List(list) => list.tokens.clone(),
                _ => TokenStream::new(),
            };
            match args::parse(tokens) {
                Ok(args) => inner = args,
                Err(e) => combine(&mut errors, e),
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
        let args = inner.or(&outer);
        let model = Function::new(&method.sig, &method.block, args, Some(owner.clone()));
        match valid::check(&model) {
            Ok(()) => bodies.push((index, expand::body(&model))),
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

fn not_a_function(item: &Item) -> syn::Error {
    let (span, kind) = match item {
        Item::Struct(s) => (s.struct_token.span(), "struct"),
        Item::Enum(e) => (e.enum_token.span(), "enum"),
        Item::Union(u) => (u.union_token.span(), "union"),
        Item::Trait(t) => (t.trait_token.span(), "trait definition"),
        Item::Mod(m) => (m.mod_token.span(), "module"),
        Item::Const(c) => (c.const_token.span(), "constant"),
        Item::Static(s) => (s.static_token.span(), "static"),
        Item::Type(t) => (t.type_token.span(), "type alias"),
        Item::Use(u) => (u.use_token.span(), "`use` declaration"),
        other => (other.span(), "item"),
    };
    let advice = match kind {
        "struct" => {
            "; to declare metrics as a struct, derive `AppMetrics`; to instrument the \
             struct's methods, put `#[observed]` on its `impl` block"
        }
        "trait definition" => "; put it on the trait's `impl` blocks, or on a default method",
        _ => "",
    };
    syn::Error::new(
        span,
        format!(
            "`#[observed]` applies to functions, methods and `impl` blocks, not to a {kind}{advice}"
        ),
    )
}
