//! The model `#[observed]` expands from: one entry per function to instrument, with every
//! option resolved (an `impl` block's merged in, defaults applied) and what the macro
//! could tell about the function from its tokens.
//!
//! Building the model cannot fail: the options were checked before (see `valid`), so
//! generation reads finished values and decides nothing.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::visit::Visit;
use syn::{
    Block, Expr, FnArg, Ident, LitStr, Pat, Path, ReturnType, Signature, Stmt, Type, TypeParamBound,
};

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
    /// A body that cannot compile: it uses `?` in a function whose return type cannot
    /// carry a `?` (such as `()` or `u32`). It is left as written, so the compiler speaks
    /// of the function and its signature (and suggests a return type), not of the
    /// closure the call would otherwise run in.
    AsWritten,
}

/// One function to instrument, with its options resolved.
pub(crate) struct Function<'a> {
    pub(crate) sig: &'a Signature,
    pub(crate) block: &'a Block,
    pub(crate) owner: Owner,
    pub(crate) shape: Shape,
    /// The path the generated code reaches `rustform` by.
    pub(crate) krate: TokenStream,
    /// The span the call opens; `None` with `span = false`.
    pub(crate) span: Option<SpanOptions>,
    /// What the call records; `None` with `metrics = false`.
    pub(crate) metrics: Option<MetricOptions>,
}

/// The span a call opens.
pub(crate) struct SpanOptions {
    pub(crate) name: String,
    /// The `tracing::Level` constant.
    pub(crate) level: Ident,
    pub(crate) target: Target,
    /// `fields(...)`, verbatim; empty if not given.
    pub(crate) fields: TokenStream,
    /// `args(...)`, each with how it is recorded.
    pub(crate) args: Vec<(Ident, Record)>,
}

/// The span's target.
pub(crate) enum Target {
    /// The module of the function, the default.
    Module,
    /// `target = "..."`.
    Given(LitStr),
}

/// How an argument listed in `args(...)` is recorded on the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// Primitives, by value.
    Value,
    /// `String`, with `Display`.
    Display,
    /// Everything else, with `Debug`.
    Debug,
}

/// What a call records in the function metrics.
pub(crate) struct MetricOptions {
    /// `buckets = ...`; `None` for the runtime's default buckets.
    pub(crate) buckets: Option<Vec<f64>>,
    pub(crate) track_concurrency: bool,
    pub(crate) callers: bool,
    /// `labels(...)`: each name with its value.
    pub(crate) labels: Vec<(String, Expr)>,
    /// `objective = ...`, if the function has one.
    pub(crate) objective: Option<Expr>,
    pub(crate) outcome: Outcome,
}

/// How the return value is judged a success or an error.
pub(crate) enum Outcome {
    /// `Err` is an error, everything else a success.
    ByType,
    /// `ok_if = path`.
    OkIf(Path),
    /// `error_if = path`.
    ErrorIf(Path),
}

impl<'a> Function<'a> {
    /// The function `sig { block }`, with its checked options `args` (a method's already
    /// merged with its block's, see `Args::over`), owned by `owner` if it is a method of
    /// an observed `impl` block.
    pub(crate) fn new(
        sig: &'a Signature,
        block: &'a Block,
        args: Args,
        owner: Option<Owner>,
    ) -> Self {
        let owner = owner.unwrap_or_else(|| {
            if mentions_self(sig) {
                Owner::RuntimeSelf
            } else {
                Owner::Free
            }
        });
        let krate = args
            .krate
            .as_ref()
            .map_or_else(|| quote!(::rustform), ToTokens::to_token_stream);
        let mut function = Function {
            shape: shape(sig, block),
            sig,
            block,
            owner,
            krate,
            span: None,
            metrics: None,
        };
        let on =
            |flag: &Option<darling::util::SpannedValue<bool>>| flag.as_ref().is_none_or(|v| **v);
        if on(&args.span) {
            function.span = Some(function.span_options(&args));
        }
        if on(&args.metrics) {
            function.metrics = Some(metric_options(args));
        }
        function
    }

    /// The `function` label as far as the macro knows it.
    pub(crate) fn label(&self) -> String {
        let name = self.name();
        match &self.owner {
            Owner::Impl(ty) => format!("{ty}::{name}"),
            Owner::Free | Owner::RuntimeSelf => name,
        }
    }

    /// The function's name, without `r#`.
    fn name(&self) -> String {
        self.sig
            .ident
            .to_string()
            .trim_start_matches("r#")
            .to_owned()
    }

    fn span_options(&self, args: &Args) -> SpanOptions {
        let name = match (&args.name, &self.owner) {
            (Some(name), _) => name.value(),
            (None, Owner::RuntimeSelf) => self.name(),
            (None, Owner::Impl(_) | Owner::Free) => self.label(),
        };
        let level = args.level.as_ref().map_or("INFO", |l| l.0);
        SpanOptions {
            name,
            level: Ident::new(level, Span::call_site()),
            target: args.target.clone().map_or(Target::Module, Target::Given),
            fields: args.fields.clone().unwrap_or_default(),
            args: args
                .args
                .iter()
                .flatten()
                .map(|name| (name.clone(), record_as(self.sig, name)))
                .collect(),
        }
    }
}

fn metric_options(args: Args) -> MetricOptions {
    let outcome = match (args.ok_if, args.error_if) {
        (Some(path), _) => Outcome::OkIf(path.into_inner()),
        (None, Some(path)) => Outcome::ErrorIf(path.into_inner()),
        (None, None) => Outcome::ByType,
    };
    MetricOptions {
        buckets: args.buckets.map(|spec| spec.values()),
        track_concurrency: args.track_concurrency.unwrap_or(false),
        callers: args.callers.unwrap_or(false),
        labels: args
            .labels
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.to_string(), value))
            .collect(),
        objective: args.objective,
        outcome,
    }
}

/// How argument `name` of `sig` is recorded: by its declared type.
fn record_as(sig: &Signature, name: &Ident) -> Record {
    let ty = sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(t) => match &*t.pat {
            Pat::Ident(p) if p.ident == *name => Some(&*t.ty),
            _ => None,
        },
        FnArg::Receiver(_) => None,
    });
    match ty {
        Some(Type::Path(p)) => match p.path.segments.last().map(|s| s.ident.to_string()) {
            Some(ident) if is_primitive(&ident) => Record::Value,
            Some(ident) if ident == "String" => Record::Display,
            _ => Record::Debug,
        },
        Some(Type::Reference(r)) => match &*r.elem {
            Type::Path(p) if p.path.is_ident("str") => Record::Value,
            _ => Record::Debug,
        },
        _ => Record::Debug,
    }
}

/// Whether `ident` names a primitive number or `bool`.
fn is_primitive(ident: &str) -> bool {
    matches!(
        ident,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "isize"
            | "f32"
            | "f64"
            | "bool"
    )
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
    let output = match &sig.output {
        ReturnType::Type(_, ty) => Some(&**ty),
        ReturnType::Default => None,
    };
    if output.is_none_or(cannot_carry_question_mark) && uses_question_mark(block) {
        return Shape::AsWritten;
    }
    if sig.asyncness.is_some() {
        return Shape::Async;
    }
    if matches!(output, Some(Type::Never(_))) {
        return Shape::Never;
    }
    if boxed_async(block).is_some() {
        return Shape::Boxed;
    }
    if output.is_some_and(returns_impl_future) {
        return Shape::ImplFuture;
    }
    Shape::Sync
}

/// Whether `ty` is a type `?` can never return from: `()` or a primitive. (What `?`
/// converts to must implement `FromResidual`, which only the standard library can
/// implement for its own types.)
fn cannot_carry_question_mark(ty: &Type) -> bool {
    match ty {
        Type::Tuple(tuple) => tuple.elems.is_empty(),
        Type::Path(path) => path
            .path
            .get_ident()
            .is_some_and(|ident| is_primitive(&ident.to_string()) || ident == "char"),
        Type::Paren(p) => cannot_carry_question_mark(&p.elem),
        _ => false,
    }
}

/// Whether the body uses `?` itself: not inside a closure, an async block or a nested
/// item, which have their own return types.
fn uses_question_mark(block: &Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_expr_try(&mut self, _: &'ast syn::ExprTry) {
            self.0 = true;
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_expr_try_block(&mut self, _: &'ast syn::ExprTryBlock) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
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

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::ItemFn;

    use super::{Function, Outcome, Record, Shape, Target};
    use crate::ctxt::Ctxt;
    use crate::observed::args;

    fn with(attr: proc_macro2::TokenStream, item: &ItemFn, check: impl FnOnce(&Function)) {
        let cx = Ctxt::new();
        let args = args::parse(attr, &cx);
        cx.check().unwrap();
        check(&Function::new(&item.sig, &item.block, args, None));
    }

    #[test]
    fn defaults_are_resolved() {
        let item: ItemFn = syn::parse_quote!(
            fn load(id: u64) {}
        );
        with(quote!(), &item, |f| {
            assert_eq!(f.krate.to_string(), ":: rustform");
            let span = f.span.as_ref().unwrap();
            assert_eq!(span.name, "load");
            assert_eq!(span.level, "INFO");
            assert!(matches!(span.target, Target::Module));
            let metrics = f.metrics.as_ref().unwrap();
            assert!(metrics.buckets.is_none() && !metrics.callers);
            assert!(matches!(metrics.outcome, Outcome::ByType));
        });
    }

    #[test]
    fn given_options_are_resolved() {
        let item: ItemFn = syn::parse_quote!(
            fn load(id: u64, user: String, raw: &[u8]) {}
        );
        let attr = quote!(
            name = "fetch",
            level = "debug",
            args(id, user, raw),
            metrics = false,
            crate = my::rustform
        );
        with(attr, &item, |f| {
            assert_eq!(f.krate.to_string(), "my :: rustform");
            assert!(f.metrics.is_none());
            let span = f.span.as_ref().unwrap();
            assert_eq!(span.name, "fetch");
            assert_eq!(span.level, "DEBUG");
            let records: Vec<Record> = span.args.iter().map(|(_, r)| *r).collect();
            assert_eq!(records, [Record::Value, Record::Display, Record::Debug]);
        });
    }

    #[test]
    fn a_question_mark_the_return_type_cannot_take_leaves_the_body_as_written() {
        let shape = |item: ItemFn| super::shape(&item.sig, &item.block);
        assert!(matches!(
            shape(syn::parse_quote!(
                fn f() {
                    g()?;
                }
            )),
            Shape::AsWritten
        ));
        assert!(matches!(
            shape(syn::parse_quote!(
                fn f() -> u32 {
                    g()?
                }
            )),
            Shape::AsWritten
        ));
        assert!(matches!(
            shape(syn::parse_quote!(
                async fn f() {
                    g()?;
                }
            )),
            Shape::AsWritten
        ));
        assert!(matches!(
            shape(syn::parse_quote!(
                fn f() -> R {
                    g()?
                }
            )),
            Shape::Sync
        ));
        assert!(matches!(
            shape(syn::parse_quote!(
                fn f() {
                    let _ = || -> Option<u8> { g()? };
                }
            )),
            Shape::Sync
        ));
    }
}
