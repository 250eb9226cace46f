//! Code generation for one observed function.
//!
//! Generated code names runtime items only through `::rustform::__private` (or the path
//! given with `crate = ...`), so the user's imports, shadowed prelude names and renamed
//! dependencies cannot break it.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, FnArg, Pat, ReturnType, Stmt, Type};

use super::ast::{Function, Owner, Shape, boxed_async};

/// The new body of `f`. The generated tokens always form a block; should they not, the
/// failure is a compile error on the function, not a panic in the macro.
pub(crate) fn body(f: &Function) -> syn::Result<Block> {
    let tokens = Body::new(f).tokens();
    syn::parse2(tokens).map_err(|e| {
        syn::Error::new(
            f.sig.ident.span(),
            format!("`#[observed]` could not instrument this function ({e}); please report it with the function's signature"),
        )
    })
}

struct Body<'a> {
    f: &'a Function<'a>,
    krate: TokenStream,
    metrics: bool,
}

impl<'a> Body<'a> {
    fn new(f: &'a Function<'a>) -> Self {
        let krate = match &f.args.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::rustform),
        };
        let metrics = f.args.metrics.as_ref().is_none_or(|m| **m);
        Body { f, krate, metrics }
    }

    fn tokens(&self) -> TokenStream {
        let prelude = self.prelude();
        let krate = &self.krate;
        let f = self.f;
        let block = f.block;
        let stmts = &block.stmts;
        match (&f.shape, self.metrics) {
            (Shape::Sync, true) => {
                let body = self.with_fake_return(quote!(#(#stmts)*));
                let classify = self.classify();
                quote! {{
                    #prelude
                    let __rustform_entered = __rustform_span.enter();
                    #krate::__private::observe_sync(
                        &__RUSTFORM_SITE,
                        __rustform_self_type,
                        &__rustform_span,
                        move || #body,
                        #classify,
                    )
                }}
            }
            (Shape::Async, true) => {
                let body = self.with_fake_return(quote!(#(#stmts)*));
                let classify = self.classify();
                quote! {{
                    #prelude
                    #krate::__private::ObservedFuture::new(
                        &__RUSTFORM_SITE,
                        __rustform_self_type,
                        __rustform_span,
                        async move #body,
                        #classify,
                    )
                    .await
                }}
            }
            (Shape::ImplFuture, true) => {
                let classify = self.classify();
                quote! {{
                    #prelude
                    let __rustform_future = {
                        let __rustform_entered = __rustform_span.enter();
                        #[allow(clippy::redundant_closure_call)]
                        (move || #block)()
                    };
                    #krate::__private::ObservedFuture::new(
                        &__RUSTFORM_SITE,
                        __rustform_self_type,
                        __rustform_span,
                        __rustform_future,
                        #classify,
                    )
                }}
            }
            (Shape::Boxed, true) => {
                let classify = self.classify();
                self.boxed(&prelude, |fut| {
                    quote! {
                        #krate::__private::ObservedFuture::new(
                            &__RUSTFORM_SITE,
                            __rustform_self_type,
                            __rustform_span,
                            #fut,
                            #classify,
                        )
                    }
                })
            }
            (Shape::Never, true) => quote! {{
                #prelude
                let __rustform_entered = __rustform_span.enter();
                let __rustform_call = #krate::__private::SyncCall::begin(
                    &__RUSTFORM_SITE,
                    __rustform_self_type,
                    &__rustform_span,
                );
                #block
            }},
            (Shape::Sync | Shape::Never, false) => quote! {{
                #prelude
                let __rustform_entered = __rustform_span.enter();
                #block
            }},
            (Shape::Async, false) => {
                let body = self.with_fake_return(quote!(#(#stmts)*));
                quote! {{
                    #prelude
                    #krate::__private::tracing::Instrument::instrument(async move #body, __rustform_span).await
                }}
            }
            (Shape::ImplFuture, false) => quote! {{
                #prelude
                let __rustform_future = {
                    let __rustform_entered = __rustform_span.enter();
                    #[allow(clippy::redundant_closure_call)]
                    (move || #block)()
                };
                #krate::__private::tracing::Instrument::instrument(__rustform_future, __rustform_span)
            }},
            (Shape::Boxed, false) => self.boxed(&prelude, |fut| {
                quote!(#krate::__private::tracing::Instrument::instrument(#fut, __rustform_span))
            }),
        }
    }

    /// The statements every shape starts with: the call site, how to name `Self`, the span.
    fn prelude(&self) -> TokenStream {
        let krate = &self.krate;
        let f = self.f;
        let site = self.metrics.then(|| self.site());
        let self_type = match f.owner {
            Owner::RuntimeSelf => quote! {
                #krate::__private::core::option::Option::Some(#krate::__private::core::any::type_name::<Self>)
            },
            _ => quote!(#krate::__private::core::option::Option::None),
        };
        let self_type = self
            .metrics
            .then(|| quote!(let __rustform_self_type: #krate::__private::SelfType = #self_type;));
        let span = self.span();
        quote! {
            #site
            #self_type
            let __rustform_span = #span;
        }
    }

    fn site(&self) -> TokenStream {
        let krate = &self.krate;
        let args = &self.f.args;
        let function = self.f.label();
        let runtime_self = matches!(self.f.owner, Owner::RuntimeSelf);
        let buckets = match &args.buckets {
            Some(spec) => {
                let values = spec.values().into_iter().map(Literal::f64_suffixed);
                quote!(#krate::__private::core::option::Option::Some(&[#(#values),*]))
            }
            None => quote!(#krate::__private::core::option::Option::None),
        };
        let track_concurrency = args.track_concurrency.unwrap_or(false);
        let callers = args.callers.unwrap_or(false);
        let (objective, objective_check) = match &args.objective {
            Some(expr) => {
                let buckets = match &args.buckets {
                    Some(spec) => {
                        let values = spec.values().into_iter().map(Literal::f64_suffixed);
                        quote!(&[#(#values),*])
                    }
                    None => quote!(#krate::metrics::FUNCTION_BUCKETS),
                };
                // The threshold is checked against the buckets by constant evaluation:
                // a mismatch stops the build, pointing at the objective. Every token of
                // the failing call carries the objective's span, so the error does too.
                let call = quote_spanned! {expr.span()=>
                    __rustform_check_objective(&#expr, __RUSTFORM_BUCKETS)
                };
                let check = quote! {
                    const _: () = {
                        use #krate::__private::check_objective as __rustform_check_objective;
                        const __RUSTFORM_BUCKETS: &[f64] = #buckets;
                        #call
                    };
                };
                (
                    quote_spanned!(expr.span()=> #krate::__private::core::option::Option::Some(&#expr)),
                    check,
                )
            }
            None => (
                quote!(#krate::__private::core::option::Option::None),
                TokenStream::new(),
            ),
        };
        let labels = args.labels.iter().flatten().map(|(name, value)| {
            let name = name.to_string();
            quote!((#name, #value))
        });
        quote! {
            static __RUSTFORM_SITE: #krate::__private::CallSite =
                #krate::__private::CallSite::new(#krate::__private::FunctionInfo {
                    function: #function,
                    method_of_self_type: #runtime_self,
                    module: #krate::__private::core::module_path!(),
                    crate_name: #krate::__private::core::env!("CARGO_PKG_NAME"),
                    crate_version: #krate::__private::core::env!("CARGO_PKG_VERSION"),
                    buckets: #buckets,
                    track_concurrency: #track_concurrency,
                    callers: #callers,
                    labels: &[#(#labels),*],
                    objective: #objective,
                });
            #objective_check
            // Listed at link time, so the catalog knows the function and `/metrics`
            // shows its series before its first call.
            #[#krate::__private::linkme::distributed_slice(#krate::__private::OBSERVED_FUNCTIONS)]
            #[linkme(crate = #krate::__private::linkme)]
            static __RUSTFORM_ENTRY: &#krate::__private::CallSite = &__RUSTFORM_SITE;
        }
    }

    fn span(&self) -> TokenStream {
        let krate = &self.krate;
        let args = &self.f.args;
        if args.span.as_ref().is_some_and(|s| !**s) {
            return quote!(#krate::__private::tracing::Span::none());
        }
        let name = match &args.name {
            Some(name) => name.value(),
            None => match self.f.owner {
                Owner::Impl(_) | Owner::Free => self.f.label(),
                Owner::RuntimeSelf => self
                    .f
                    .sig
                    .ident
                    .to_string()
                    .trim_start_matches("r#")
                    .to_owned(),
            },
        };
        let level = syn::Ident::new(
            args.level.as_ref().map_or("INFO", |l| l.0),
            Span::call_site(),
        );
        let target = match &args.target {
            Some(target) => target.to_token_stream(),
            None => quote!(#krate::__private::core::module_path!()),
        };
        let function_name = if self.metrics {
            quote!(__RUSTFORM_SITE.function_name(__rustform_self_type))
        } else {
            let label = self.f.label();
            quote!(#label)
        };
        let mut fields = vec![
            quote!(code.function.name = #function_name),
            quote!(code.namespace = #krate::__private::core::module_path!()),
            quote!(otel.status_code = #krate::__private::tracing::field::Empty),
            quote!(exception.message = #krate::__private::tracing::field::Empty),
        ];
        fields.extend(self.arg_fields());
        if let Some((_, user)) = &args.fields
            && !user.is_empty()
        {
            fields.push(user.clone());
        }
        // A span that would be neither sampled nor written is not created.
        quote! {
            if #krate::__private::span_wanted(#krate::__private::tracing::Level::#level) {
                #krate::__private::tracing::span!(
                    target: #target,
                    #krate::__private::tracing::Level::#level,
                    #name,
                    #(#fields),*
                )
            } else {
                #krate::__private::tracing::Span::none()
            }
        }
    }

    /// `args(a, b)`: primitives by value, strings with `Display`, the rest with `Debug`.
    fn arg_fields(&self) -> Vec<TokenStream> {
        let Some(names) = &self.f.args.args else {
            return Vec::new();
        };
        names
            .iter()
            .map(|name| {
                let ty = self.f.sig.inputs.iter().find_map(|input| match input {
                    FnArg::Typed(t) => match &*t.pat {
                        Pat::Ident(p) if p.ident == *name => Some(&*t.ty),
                        _ => None,
                    },
                    FnArg::Receiver(_) => None,
                });
                match ty.map(record_as) {
                    Some(Record::Value) => quote!(#name = #name),
                    Some(Record::Display) => quote!(#name = %#name),
                    _ => quote!(#name = ?#name),
                }
            })
            .collect()
    }

    /// The closure that turns the return value into an outcome.
    fn classify(&self) -> TokenStream {
        let krate = &self.krate;
        let args = &self.f.args;
        let predicate = args
            .ok_if
            .as_ref()
            .map(|p| (true, &**p))
            .or(args.error_if.as_ref().map(|p| (false, &**p)));
        match predicate {
            Some((ok_when_true, path)) => {
                let (on_true, on_false) = if ok_when_true {
                    (quote!(ok), quote!(error))
                } else {
                    (quote!(error), quote!(ok))
                };
                // Spanned at the path, so a predicate of the wrong type is reported there.
                let test = quote_spanned!(path.span()=> #path(__rustform_ret));
                quote! {
                    |__rustform_ret, _| {
                        #[allow(unused_imports)]
                        use #krate::__private::{LabelOf as _, NoLabel as _};
                        let __rustform_label = (&&#krate::__private::Labeled(__rustform_ret)).__rustform_label();
                        if #test {
                            #krate::__private::Outcome::#on_true(__rustform_label)
                        } else {
                            #krate::__private::Outcome::#on_false(__rustform_label)
                        }
                    }
                }
            }
            None => quote! {
                |__rustform_ret, __rustform_span| {
                    #[allow(unused_imports)]
                    use #krate::__private::{
                        ClassifyOther as _, ClassifyResult as _, LabelOf as _, NoLabel as _,
                        RecordDebug as _, RecordDisplay as _, RecordNothing as _,
                    };
                    (&&#krate::__private::Ret(__rustform_ret)).__rustform_classify(
                        |__rustform_ok| (&&#krate::__private::Labeled(__rustform_ok)).__rustform_label(),
                        |__rustform_err| {
                            (&&&#krate::__private::Message(__rustform_err)).__rustform_record(__rustform_span);
                            (&&#krate::__private::Labeled(__rustform_err)).__rustform_label()
                        },
                    )
                }
            },
        }
    }

    /// The statements with a return that never runs but fixes the block's return type to
    /// the declared one, so inference works and type errors point at the signature.
    fn with_fake_return(&self, stmts: TokenStream) -> TokenStream {
        let (ty, span) = match &self.f.sig.output {
            ReturnType::Type(_, ty) => (erase_impl_trait(ty), ty.span()),
            ReturnType::Default => (quote!(()), self.f.sig.ident.span()),
        };
        let fake = quote_spanned! {span=>
            #[allow(
                unknown_lints,
                unreachable_code,
                clippy::diverging_sub_expression,
                clippy::empty_loop,
                clippy::let_unit_value,
                clippy::let_with_type_underscore,
                clippy::needless_return,
                clippy::unreachable
            )]
            if false {
                let __rustform_fake_return: #ty = loop {};
                return __rustform_fake_return;
            }
        };
        quote!({ #fake { #stmts } })
    }

    /// The body with its final `Box::pin(async ..)` wrapped by `wrap`.
    fn boxed(&self, prelude: &TokenStream, wrap: impl FnOnce(&Expr) -> TokenStream) -> TokenStream {
        let stmts = &self.f.block.stmts;
        let index = boxed_async(self.f.block).expect("shape is Boxed");
        let Stmt::Expr(Expr::Call(call), _) = &stmts[index] else {
            unreachable!("checked by boxed_async")
        };
        let func = &call.func;
        let wrapped = wrap(&call.args[0]);
        let before = &stmts[..index];
        quote! {{
            #prelude
            #(#before)*
            #func(#wrapped)
        }}
    }
}

enum Record {
    Value,
    Display,
    Debug,
}

fn record_as(ty: &Type) -> Record {
    match ty {
        Type::Path(p) => match p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .as_deref()
        {
            Some(
                "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize"
                | "f32" | "f64" | "bool",
            ) => Record::Value,
            Some("String") => Record::Display,
            _ => Record::Debug,
        },
        Type::Reference(r) => match &*r.elem {
            Type::Path(p) if p.path.is_ident("str") => Record::Value,
            _ => Record::Debug,
        },
        _ => Record::Debug,
    }
}

/// The return type with every `impl Trait` replaced by `_`, usable as a `let` type.
fn erase_impl_trait(ty: &Type) -> TokenStream {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if let Type::ImplTrait(imp) = ty {
                *ty = Type::Infer(syn::TypeInfer {
                    attrs: Vec::new(),
                    underscore_token: syn::Token![_](imp.span()),
                });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty.into_token_stream()
}
