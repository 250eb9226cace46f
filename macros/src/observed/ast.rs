//! The model `#[observed]` expands from: one entry per function to instrument, with its
//! resolved options and what the macro could tell about it from its tokens.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{Block, Expr, FnArg, ReturnType, Signature, Stmt, Type, TypeParamBound};

use super::args::Args;

/// What the function belongs to, which decides its `function` label.
#[derive(Clone)]
pub(crate) enum Owner {
    /// A free function: labeled by its name.
    Free,
    /// A method of an observed `impl` block whose type the macro can name.
    Impl(String),
    /// A method whose type is only known at run time: a lone method, or an `impl` block
    /// for a generic parameter. `Self`'s name is prefixed on the first call.
    RuntimeSelf,
}

/// How the body runs.
pub(crate) enum Shape {
    /// A plain function.
    Sync,
    /// An `async fn`.
    Async,
    /// A function returning `impl Future`: the returned future is the call.
    ImplFuture,
    /// A body ending in `Box::pin(async move { .. })` (as `#[async_trait]` writes it):
    /// the boxed block is the call.
    Boxed,
    /// A function returning `!`: only a panic can end it.
    Never,
}

/// One function to instrument.
pub(crate) struct Function<'a> {
    pub(crate) sig: &'a Signature,
    pub(crate) block: &'a Block,
    pub(crate) args: Args,
    pub(crate) owner: Owner,
    pub(crate) shape: Shape,
    /// Whether it is a method of an observed `impl` block.
    pub(crate) in_impl: bool,
}

impl<'a> Function<'a> {
    pub(crate) fn new(
        sig: &'a Signature,
        block: &'a Block,
        args: Args,
        owner: Option<Owner>,
    ) -> Self {
        let in_impl = owner.is_some();
        let owner = owner.unwrap_or_else(|| {
            if mentions_self(sig) {
                Owner::RuntimeSelf
            } else {
                Owner::Free
            }
        });
        Function {
            shape: shape(sig, block),
            sig,
            block,
            args,
            owner,
            in_impl,
        }
    }

    /// The `function` label as far as the macro knows it.
    pub(crate) fn label(&self) -> String {
        let name = self.sig.ident.to_string();
        let name = name.trim_start_matches("r#");
        match &self.owner {
            Owner::Impl(ty) => format!("{ty}::{name}"),
            Owner::Free | Owner::RuntimeSelf => name.to_owned(),
        }
    }
}

/// Whether the signature is a method's: a receiver, or `Self` anywhere in it.
fn mentions_self(sig: &Signature) -> bool {
    matches!(sig.inputs.first(), Some(FnArg::Receiver(_)))
        || contains_ident(sig.to_token_stream(), "Self")
}

fn contains_ident(tokens: TokenStream, ident: &str) -> bool {
    tokens.into_iter().any(|tt| match tt {
        proc_macro2::TokenTree::Ident(i) => i == ident,
        proc_macro2::TokenTree::Group(g) => contains_ident(g.stream(), ident),
        _ => false,
    })
}

fn shape(sig: &Signature, block: &Block) -> Shape {
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && matches!(**ty, Type::Never(_))
    {
        return Shape::Never;
    }
    if boxed_async(block).is_some() {
        return Shape::Boxed;
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && returns_impl_future(ty)
    {
        return Shape::ImplFuture;
    }
    Shape::Sync
}

fn returns_impl_future(ty: &Type) -> bool {
    match ty {
        Type::ImplTrait(imp) => imp.bounds.iter().any(|b| match b {
            TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Future"),
            _ => false,
        }),
        Type::Paren(p) => returns_impl_future(&p.elem),
        Type::Group(g) => returns_impl_future(&g.elem),
        _ => false,
    }
}

/// The index of the final `Box::pin(async ...)` statement, if the body ends with one.
pub(crate) fn boxed_async(block: &Block) -> Option<usize> {
    let (index, stmt) = block.stmts.iter().enumerate().next_back()?;
    let Stmt::Expr(Expr::Call(call), None) = stmt else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let path = func
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>();
    let is_box_pin =
        path.len() >= 2 && path[path.len() - 2] == "Box" && path[path.len() - 1] == "pin";
    (is_box_pin && call.args.len() == 1 && matches!(call.args[0], Expr::Async(_))).then_some(index)
}
