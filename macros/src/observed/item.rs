//! What `#[observed]` is written on, read into the model: a function with its attribute,
//! or an `impl` block whose methods take the block's options under their own.
//!
//! Every attribute is parsed and checked here, and the block's options are merged into
//! each method's, so the functions that come out are finished and generation decides
//! nothing.

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Attribute, ImplItem, ItemFn, ItemImpl, Meta, Type};

use super::args::{self, Args};
use super::ast::{Function, Owner};
use super::valid::{self, Site};
use crate::ctxt::Ctxt;

/// A function observed by its own attribute, whose options are `attr`.
pub(crate) fn function<'a>(attr: TokenStream, item: &'a ItemFn, cx: &Ctxt) -> Function<'a> {
    let args = args::parse(attr, cx);
    if let Some(again) = item.attrs.iter().find(|a| is_observed(a)) {
        cx.error(
            again.path().span(),
            "`#[observed]` is given twice on this function, which would record every call \
             twice; keep one",
        );
    }
    valid::options(&args, cx);
    valid::function(&item.sig, &args, Site::Function, cx);
    Function::new(&item.sig, &item.block, args, None)
}

/// Removes the `#[observed(...)]` of every method of `imp`: they are read by
/// [`impl_block`] and must not expand again. One list per item of the block.
pub(crate) fn take_method_attributes(imp: &mut ItemImpl) -> Vec<Vec<Attribute>> {
    imp.items
        .iter_mut()
        .map(|item| match item {
            ImplItem::Fn(method) => {
                let (own, kept) = method.attrs.drain(..).partition(is_observed);
                method.attrs = kept;
                own
            }
            _ => Vec::new(),
        })
        .collect()
}

/// The methods of an `impl` block observed with options `attr`, each with its index in
/// the block; `own` holds each item's own `#[observed(...)]` (see
/// [`take_method_attributes`]). A method with `#[observed(skip)]` is left out.
pub(crate) fn impl_block<'a>(
    attr: TokenStream,
    imp: &'a ItemImpl,
    own: &[Vec<Attribute>],
    cx: &Ctxt,
) -> Vec<(usize, Function<'a>)> {
    let mut block = args::parse(attr, cx);
    valid::placement(&mut block, Site::Block, cx);
    valid::options(&block, cx);
    let owner = owner(imp);
    let mut functions = Vec::new();
    for (index, (item, attrs)) in imp.items.iter().zip(own).enumerate() {
        let ImplItem::Fn(method) = item else {
            continue;
        };
        let Some(args) = method_options(attrs, cx) else {
            continue;
        };
        let args = args.over(&block);
        valid::function(&method.sig, &args, Site::Method, cx);
        functions.push((
            index,
            Function::new(&method.sig, &method.block, args, Some(owner.clone())),
        ));
    }
    functions
}

/// A method's own options, checked; `None` if it is skipped.
fn method_options(attrs: &[Attribute], cx: &Ctxt) -> Option<Args> {
    let mut args = Args::default();
    for (n, attr) in attrs.iter().enumerate() {
        if n > 0 {
            cx.error(
                attr.path().span(),
                "`#[observed]` is given twice on this method; keep one",
            );
            continue;
        }
        let tokens = match &attr.meta {
            Meta::List(list) => list.tokens.clone(),
            _ => TokenStream::new(),
        };
        args = args::parse(tokens, cx);
    }
    valid::placement(&mut args, Site::Method, cx);
    if args.skip.is_some() {
        return None;
    }
    valid::options(&args, cx);
    Some(args)
}

/// Whether an attribute is `#[observed]`, `#[rustform::observed]` or similar.
fn is_observed(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "observed")
}

/// How methods of this block are named: `Type::method` when the type is a named path
/// (not a generic parameter of the block), else from `Self` at run time.
fn owner(imp: &ItemImpl) -> Owner {
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

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::ItemImpl;

    use super::{impl_block, take_method_attributes};
    use crate::ctxt::Ctxt;

    #[test]
    fn methods_take_the_block_options_under_their_own_and_skip_leaves_one_out() {
        let mut imp: ItemImpl = syn::parse_quote! {
            impl Repo {
                #[observed(level = "debug")]
                fn load(&self) {}
                #[observed(skip)]
                fn helper(&self) {}
                fn save(&self) {}
            }
        };
        let own = take_method_attributes(&mut imp);
        let cx = Ctxt::new();
        let functions = impl_block(quote!(level = "warn", callers), &imp, &own, &cx);
        cx.check().unwrap();
        let seen: Vec<(usize, String, String)> = functions
            .iter()
            .map(|(i, f)| {
                let span = f.span.as_ref().unwrap();
                (*i, span.name.clone(), span.level.to_string())
            })
            .collect();
        assert_eq!(
            seen,
            [
                (0, "Repo::load".to_owned(), "DEBUG".to_owned()),
                (2, "Repo::save".to_owned(), "WARN".to_owned()),
            ]
        );
        assert!(
            functions
                .iter()
                .all(|(_, f)| f.metrics.as_ref().unwrap().callers)
        );
    }

    #[test]
    fn options_for_one_function_are_errors_on_the_block() {
        let imp: ItemImpl = syn::parse_quote!(impl Repo { fn load(&self) {} });
        let cx = Ctxt::new();
        let functions = impl_block(quote!(name = "x", args(a)), &imp, &[Vec::new()], &cx);
        assert_eq!(functions.len(), 1);
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("`name` names one span"));
        assert!(messages[1].starts_with("`args` names one function's arguments"));
    }
}
