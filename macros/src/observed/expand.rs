//! Code generation for one observed function, in small pieces that each turn one part of
//! the model into tokens: the call site, how `Self` is named, the span, how the return
//! value is classified, the fake return that keeps type errors on the signature, and the
//! body that ties them together for each shape of function.
//!
//! Generated code names runtime items only through `::rustform::__private` (or the path
//! given with `crate = ...`), so the user's imports, shadowed prelude names and renamed
//! dependencies cannot break it.

use proc_macro2::{Literal, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, Ident, ReturnType, Signature, Stmt, Type};

use super::ast::{
    Function, MetricOptions, Outcome, Owner, Record, Shape, SpanOptions, Target, boxed_async,
};

/// The new body of `f`. The generated tokens always form a block; should they not, the
/// failure is a compile error on the function, not a panic in the macro.
pub(crate) fn body(f: &Function) -> syn::Result<Block> {
    syn::parse2(Body(f).into_token_stream()).map_err(|e| {
        syn::Error::new(
            f.sig.ident.span(),
            format!("`#[observed]` could not instrument this function ({e}); please report it with the function's signature"),
        )
    })
}

/// The whole new body: the prelude, then the original statements run as one observed
/// call, in the way the function's shape needs.
struct Body<'a>(&'a Function<'a>);

impl ToTokens for Body<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let f = self.0;
        let krate = &f.krate;
        let block = f.block;
        let prelude = Prelude(f);
        let tokens = match (&f.shape, &f.metrics) {
            (Shape::AsWritten, _) => block.to_token_stream(),
            (Shape::Sync, Some(metrics)) => {
                let body = Checked(f);
                let outcome = OutcomeOf {
                    krate,
                    outcome: &metrics.outcome,
                };
                // The body runs in a closure, so a `return` in it ends the body, not the
                // call's bookkeeping; the call ends (as a panic if the body unwinds) in
                // `SyncCall`'s code, compiled once in the runtime.
                quote! {{
                    #prelude
                    let __rustform_entered = __rustform_span.enter();
                    let __rustform_call = #krate::__private::SyncCall::begin(
                        &__RUSTFORM_SITE,
                        __rustform_self_type,
                        &__rustform_span,
                    );
                    #[allow(clippy::redundant_closure_call)]
                    let __rustform_ret = (move || #body)();
                    {
                        let __rustform_ret = &__rustform_ret;
                        let __rustform_span = &__rustform_span;
                        __rustform_call.finish(#outcome);
                    }
                    __rustform_ret
                }}
            }
            (Shape::Never, Some(_)) => quote! {{
                #prelude
                let __rustform_entered = __rustform_span.enter();
                let __rustform_call = #krate::__private::SyncCall::begin(
                    &__RUSTFORM_SITE,
                    __rustform_self_type,
                    &__rustform_span,
                );
                #block
            }},
            (Shape::Sync | Shape::Never, None) => quote! {{
                #prelude
                let __rustform_entered = __rustform_span.enter();
                #block
            }},
            (Shape::Async, _) => {
                let body = Checked(f);
                let call = Instrumented {
                    f,
                    future: quote!(async move #body),
                };
                quote! {{
                    #prelude
                    #call.await
                }}
            }
            (Shape::ImplFuture, _) => {
                let call = Instrumented {
                    f,
                    future: quote!(__rustform_future),
                };
                quote! {{
                    #prelude
                    let __rustform_future = {
                        let __rustform_entered = __rustform_span.enter();
                        #[allow(clippy::redundant_closure_call)]
                        (move || #block)()
                    };
                    #call
                }}
            }
            (Shape::Boxed, _) => {
                let stmts = &block.stmts;
                let index = boxed_async(block).expect("shape is Boxed");
                let Stmt::Expr(Expr::Call(boxed), _) = &stmts[index] else {
                    unreachable!("checked by boxed_async")
                };
                let func = &boxed.func;
                let fut = &boxed.args[0];
                let call = Instrumented {
                    f,
                    future: quote!(#fut),
                };
                let before = &stmts[..index];
                quote! {{
                    #prelude
                    #(#before)*
                    #func(#call)
                }}
            }
        };
        out.extend(tokens);
    }
}

/// The statements every shape starts with: the call site and how to name `Self` (when
/// metrics are recorded), then the span.
struct Prelude<'a>(&'a Function<'a>);

impl ToTokens for Prelude<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let f = self.0;
        if let Some(metrics) = &f.metrics {
            Site { f, metrics }.to_tokens(out);
            SelfType(f).to_tokens(out);
        }
        let span = SpanInit(f);
        out.extend(quote!(let __rustform_span = #span;));
    }
}

/// `__RUSTFORM_SITE`, the function's static call site, with its objective checked and
/// its entry in the link-time list of observed functions.
struct Site<'a> {
    f: &'a Function<'a>,
    metrics: &'a MetricOptions,
}

impl ToTokens for Site<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = &self.f.krate;
        let metrics = self.metrics;
        let function = self.f.label();
        let runtime_self = matches!(self.f.owner, Owner::RuntimeSelf);
        let buckets = match &metrics.buckets {
            Some(values) => {
                let values = values.iter().copied().map(Literal::f64_suffixed);
                quote!(#krate::__private::core::option::Option::Some(&[#(#values),*]))
            }
            None => quote!(#krate::__private::core::option::Option::None),
        };
        let track_concurrency = metrics.track_concurrency;
        let callers = metrics.callers;
        let objective = match &metrics.objective {
            Some(expr) => {
                quote_spanned!(expr.span()=> #krate::__private::core::option::Option::Some(&#expr))
            }
            None => quote!(#krate::__private::core::option::Option::None),
        };
        let objective_check = metrics.objective.as_ref().map(|objective| ObjectiveCheck {
            krate,
            objective,
            buckets: metrics.buckets.as_deref(),
        });
        let labels = metrics
            .labels
            .iter()
            .map(|(name, value)| quote!((#name, #value)));
        out.extend(quote! {
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
        });
    }
}

/// The objective's threshold checked against the function's buckets by constant
/// evaluation: a mismatch stops the build, pointing at the objective.
struct ObjectiveCheck<'a> {
    krate: &'a TokenStream,
    objective: &'a Expr,
    /// The function's own buckets; `None` for the runtime's default.
    buckets: Option<&'a [f64]>,
}

impl ToTokens for ObjectiveCheck<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = self.krate;
        let objective = self.objective;
        let buckets = match self.buckets {
            Some(values) => {
                let values = values.iter().copied().map(Literal::f64_suffixed);
                quote!(&[#(#values),*])
            }
            None => quote!(#krate::metrics::FUNCTION_BUCKETS),
        };
        // Every token of the failing call carries the objective's span, so the error does.
        let call = quote_spanned! {objective.span()=>
            __rustform_check_objective(&#objective, __RUSTFORM_BUCKETS)
        };
        out.extend(quote! {
            const _: () = {
                use #krate::__private::check_objective as __rustform_check_objective;
                const __RUSTFORM_BUCKETS: &[f64] = #buckets;
                #call
            };
        });
    }
}

/// `__rustform_self_type`: how the call site names `Self`, when only the run time knows.
struct SelfType<'a>(&'a Function<'a>);

impl ToTokens for SelfType<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = &self.0.krate;
        let value = match self.0.owner {
            Owner::RuntimeSelf => quote! {
                #krate::__private::core::option::Option::Some(#krate::__private::core::any::type_name::<Self>)
            },
            Owner::Free | Owner::Impl(_) => quote!(#krate::__private::core::option::Option::None),
        };
        out.extend(quote!(let __rustform_self_type: #krate::__private::SelfType = #value;));
    }
}

/// The span of one call: none with `span = false`, and none when it would be neither
/// sampled nor written.
struct SpanInit<'a>(&'a Function<'a>);

impl ToTokens for SpanInit<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let f = self.0;
        let krate = &f.krate;
        let none = quote!(#krate::__private::tracing::Span::none());
        let Some(SpanOptions {
            name,
            level,
            target,
            fields: user,
            args,
        }) = &f.span
        else {
            return out.extend(none);
        };
        let target = match target {
            Target::Module => quote!(#krate::__private::core::module_path!()),
            Target::Given(target) => target.to_token_stream(),
        };
        if args.is_empty() && user.is_empty() {
            return StandardSpan {
                f,
                name,
                level,
                target,
            }
            .to_tokens(out);
        }
        let function_name = if f.metrics.is_some() {
            quote!(__RUSTFORM_SITE.function_name(__rustform_self_type))
        } else {
            f.label().into_token_stream()
        };
        let mut fields = vec![
            quote!(code.function.name = #function_name),
            quote!(code.namespace = #krate::__private::core::module_path!()),
            quote!(otel.status_code = #krate::__private::tracing::field::Empty),
            quote!(exception.message = #krate::__private::tracing::field::Empty),
        ];
        fields.extend(args.iter().map(|(name, record)| {
            ArgField {
                name,
                record: *record,
            }
            .into_token_stream()
        }));
        if !user.is_empty() {
            fields.push(user.clone());
        }
        out.extend(quote! {
            if #krate::__private::span_wanted(#krate::__private::tracing::Level::#level) {
                #krate::__private::tracing::span!(
                    target: #target,
                    #krate::__private::tracing::Level::#level,
                    #name,
                    #(#fields),*
                )
            } else {
                #none
            }
        });
    }
}

/// A span with the standard fields only: its callsite as two statics, as `tracing::span!`
/// declares them, and the rest (level checks, interest, values) in one runtime function
/// shared by every observed function.
struct StandardSpan<'a> {
    f: &'a Function<'a>,
    name: &'a str,
    level: &'a Ident,
    target: TokenStream,
}

impl ToTokens for StandardSpan<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = &self.f.krate;
        let StandardSpan {
            name,
            level,
            target,
            ..
        } = self;
        let tracing = quote!(#krate::__private::tracing);
        let core = quote!(#krate::__private::core);
        let make = match self.f.metrics {
            Some(_) => quote! {
                #krate::__private::observed_span(
                    &__RUSTFORM_CALLSITE,
                    &__RUSTFORM_SITE,
                    __rustform_self_type,
                )
            },
            None => {
                let function = self.f.label();
                quote!(#krate::__private::function_span(&__RUSTFORM_CALLSITE, #function))
            }
        };
        out.extend(quote! {{
            static __RUSTFORM_SPAN: #tracing::Metadata<'static> = #tracing::Metadata::new(
                #name,
                #target,
                #tracing::Level::#level,
                #core::option::Option::Some(#core::file!()),
                #core::option::Option::Some(#core::line!()),
                #core::option::Option::Some(#core::module_path!()),
                #tracing::field::FieldSet::new(
                    #krate::__private::SPAN_FIELDS,
                    #tracing::callsite::Identifier(&__RUSTFORM_CALLSITE),
                ),
                #tracing::metadata::Kind::SPAN,
            );
            static __RUSTFORM_CALLSITE: #tracing::callsite::DefaultCallsite =
                #tracing::callsite::DefaultCallsite::new(&__RUSTFORM_SPAN);
            #make
        }});
    }
}

/// One argument listed in `args(...)`, as a span field.
struct ArgField<'a> {
    name: &'a Ident,
    record: Record,
}

impl ToTokens for ArgField<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let name = self.name;
        out.extend(match self.record {
            Record::Value => quote!(#name = #name),
            Record::Display => quote!(#name = %#name),
            Record::Debug => quote!(#name = ?#name),
        });
    }
}

/// The expression that turns the return value (`__rustform_ret`, a reference) into an
/// outcome and its label, given the span (`__rustform_span`, a reference). Only picking
/// the impls by the value's type is generated; recording the error is the runtime's.
struct OutcomeOf<'a> {
    krate: &'a TokenStream,
    outcome: &'a Outcome,
}

impl ToTokens for OutcomeOf<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = self.krate;
        let (path, on_true, on_false) = match self.outcome {
            Outcome::OkIf(path) => (path, quote!(ok), quote!(error)),
            Outcome::ErrorIf(path) => (path, quote!(error), quote!(ok)),
            Outcome::ByType => {
                let result = quote!(#krate::__private::core::result::Result);
                return out.extend(quote! {{
                    #[allow(unused_imports)]
                    use #krate::__private::{
                        ClassifyOther as _, ClassifyResult as _, LabelOf as _, NoLabel as _,
                        RecordDebug as _, RecordDisplay as _, RecordNothing as _,
                    };
                    match (&&#krate::__private::Ret(__rustform_ret)).__rustform_split() {
                        #result::Ok(__rustform_ok) => #krate::__private::Outcome::ok(
                            (&&#krate::__private::LabelProbe(__rustform_ok)).__rustform_label(),
                        ),
                        #result::Err(__rustform_err) => #krate::__private::classify_error(
                            __rustform_span,
                            (&&#krate::__private::LabelProbe(__rustform_err)).__rustform_label(),
                            (&&&#krate::__private::Message(__rustform_err)).__rustform_message(),
                        ),
                    }
                }});
            }
        };
        // Spanned at the path, so a predicate of the wrong type is reported there.
        let test = quote_spanned!(path.span()=> #path(__rustform_ret));
        out.extend(quote! {{
            #[allow(unused_imports)]
            use #krate::__private::{LabelOf as _, NoLabel as _};
            let _ = __rustform_span;
            let __rustform_label = (&&#krate::__private::LabelProbe(__rustform_ret)).__rustform_label();
            if #test {
                #krate::__private::Outcome::#on_true(__rustform_label)
            } else {
                #krate::__private::Outcome::#on_false(__rustform_label)
            }
        }});
    }
}

/// The closure an `ObservedFuture` classifies its output with.
struct Classify<'a> {
    krate: &'a TokenStream,
    outcome: &'a Outcome,
}

impl ToTokens for Classify<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let outcome = OutcomeOf {
            krate: self.krate,
            outcome: self.outcome,
        };
        out.extend(quote!(|__rustform_ret, __rustform_span| #outcome));
    }
}

/// The future a call runs: with metrics, an `ObservedFuture` recording the call; without,
/// the future in its span.
struct Instrumented<'a> {
    f: &'a Function<'a>,
    future: TokenStream,
}

impl ToTokens for Instrumented<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let krate = &self.f.krate;
        let future = &self.future;
        out.extend(match &self.f.metrics {
            Some(metrics) => {
                let classify = Classify {
                    krate,
                    outcome: &metrics.outcome,
                };
                quote! {
                    #krate::__private::ObservedFuture::new(
                        &__RUSTFORM_SITE,
                        __rustform_self_type,
                        __rustform_span,
                        #future,
                        #classify,
                    )
                }
            }
            None => {
                quote!(#krate::__private::tracing::Instrument::instrument(#future, __rustform_span))
            }
        });
    }
}

/// The function's statements in a block that also holds a [`FakeReturn`].
struct Checked<'a>(&'a Function<'a>);

impl ToTokens for Checked<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let fake = FakeReturn(self.0.sig);
        let stmts = &self.0.block.stmts;
        out.extend(quote!({ #fake { #(#stmts)* } }));
    }
}

/// A return that never runs but fixes the enclosing block's return type to the declared
/// one, so inference works and type errors point at the signature.
struct FakeReturn<'a>(&'a Signature);

impl ToTokens for FakeReturn<'_> {
    fn to_tokens(&self, out: &mut TokenStream) {
        let (ty, span) = match &self.0.output {
            ReturnType::Type(_, ty) => (erase_impl_trait(ty), ty.span()),
            ReturnType::Default => (quote!(()), self.0.ident.span()),
        };
        out.extend(quote_spanned! {span=>
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
        });
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

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::{ToTokens, quote};
    use syn::{ItemFn, ItemImpl};

    use super::{ArgField, Body, Classify, FakeReturn, SelfType, Site, SpanInit};
    use crate::ctxt::Ctxt;
    use crate::observed::ast::{Function, Outcome, Record};
    use crate::observed::item;

    /// `f` read with options `attr`, given to `check`.
    fn with(attr: TokenStream, f: &ItemFn, check: impl FnOnce(&Function)) {
        let cx = Ctxt::new();
        let function = item::function(attr, f, &cx);
        cx.check().unwrap();
        check(&function);
    }

    fn text(tokens: impl ToTokens) -> String {
        tokens.into_token_stream().to_string()
    }

    #[test]
    fn arguments_are_recorded_by_type() {
        let name = syn::parse_quote!(user);
        let field = |record| {
            text(ArgField {
                name: &name,
                record,
            })
        };
        assert_eq!(field(Record::Value), "user = user");
        assert_eq!(field(Record::Display), "user = % user");
        assert_eq!(field(Record::Debug), "user = ? user");
    }

    #[test]
    fn a_predicate_decides_the_outcome() {
        let krate = quote!(::rustform);
        let ok_if = Outcome::OkIf(syn::parse_quote!(is_fine));
        let tokens = text(Classify {
            krate: &krate,
            outcome: &ok_if,
        });
        assert!(tokens.contains("if is_fine (__rustform_ret)"), "{tokens}");
        assert!(tokens.find("Outcome :: ok").unwrap() < tokens.find("Outcome :: error").unwrap());
        let error_if = Outcome::ErrorIf(syn::parse_quote!(is_bad));
        let tokens = text(Classify {
            krate: &krate,
            outcome: &error_if,
        });
        assert!(tokens.find("Outcome :: error").unwrap() < tokens.find("Outcome :: ok").unwrap());
        let tokens = text(Classify {
            krate: &krate,
            outcome: &Outcome::ByType,
        });
        assert!(tokens.contains("__rustform_split"), "{tokens}");
        assert!(tokens.contains("classify_error"), "{tokens}");
    }

    #[test]
    fn the_fake_return_has_the_declared_type_with_impl_trait_erased() {
        let sig = |f: ItemFn| text(FakeReturn(&f.sig));
        assert!(
            sig(syn::parse_quote!(
                fn f() {}
            ))
            .contains("let __rustform_fake_return : () = loop { } ;")
        );
        assert!(
            sig(syn::parse_quote!(
                fn f() -> Vec<impl Sized> {
                    vec![]
                }
            ))
            .contains("let __rustform_fake_return : Vec < _ > = loop { } ;")
        );
    }

    #[test]
    fn only_a_method_of_an_unnamed_type_names_self_at_run_time() {
        let free: ItemFn = syn::parse_quote!(
            fn load() {}
        );
        with(quote!(), &free, |f| {
            assert!(text(SelfType(f)).contains(":: Option :: None"))
        });
        let lone: ItemFn = syn::parse_quote!(
            fn load(&self) {}
        );
        with(quote!(), &lone, |f| {
            assert!(text(SelfType(f)).contains("type_name :: < Self >"))
        });
        let mut imp: ItemImpl = syn::parse_quote!(impl Repo { fn load(&self) {} });
        let own = item::take_method_attributes(&mut imp);
        let cx = Ctxt::new();
        let methods = item::impl_block(quote!(), &imp, &own, &cx);
        cx.check().unwrap();
        assert!(text(SelfType(&methods[0].1)).contains(":: Option :: None"));
    }

    #[test]
    fn the_call_site_carries_the_options() {
        let f: ItemFn = syn::parse_quote!(
            fn pay() {}
        );
        let attr = quote!(
            buckets = [0.5, 1],
            callers,
            labels(tier = "gold"),
            objective = SLO
        );
        with(attr, &f, |f| {
            let site = text(Site {
                f,
                metrics: f.metrics.as_ref().unwrap(),
            });
            assert!(site.contains("function : \"pay\""), "{site}");
            assert!(site.contains("Some (& [0.5f64 , 1f64])"), "{site}");
            assert!(site.contains("callers : true"), "{site}");
            assert!(
                site.contains("labels : & [(\"tier\" , \"gold\")]"),
                "{site}"
            );
            assert!(
                site.contains("__rustform_check_objective (& SLO , __RUSTFORM_BUCKETS)"),
                "{site}"
            );
        });
        with(quote!(), &f, |f| {
            let site = text(Site {
                f,
                metrics: f.metrics.as_ref().unwrap(),
            });
            assert!(!site.contains("check_objective"), "{site}");
        });
    }

    #[test]
    fn the_span_has_the_level_target_and_fields() {
        let f: ItemFn = syn::parse_quote!(
            fn pay(id: u64) {}
        );
        with(
            quote!(level = "warn", target = "audit", args(id), fields(x = 1)),
            &f,
            |f| {
                let span = text(SpanInit(f));
                assert!(
                    span.contains(
                        "span_wanted (:: rustform :: __private :: tracing :: Level :: WARN)"
                    ),
                    "{span}"
                );
                assert!(span.contains("target : \"audit\""), "{span}");
                assert!(span.contains("\"pay\" , code . function . name"), "{span}");
                assert!(span.contains("id = id , x = 1"), "{span}");
            },
        );
        with(quote!(level = "warn"), &f, |f| {
            let span = text(SpanInit(f));
            assert!(!span.contains("span !"), "{span}");
            assert!(span.contains("SPAN_FIELDS"), "{span}");
            assert!(span.contains("Level :: WARN"), "{span}");
            assert!(
                span.contains("observed_span (& __RUSTFORM_CALLSITE , & __RUSTFORM_SITE"),
                "{span}"
            );
        });
        with(quote!(metrics = false), &f, |f| {
            let span = text(SpanInit(f));
            assert!(
                span.contains("function_span (& __RUSTFORM_CALLSITE , \"pay\")"),
                "{span}"
            );
        });
        with(quote!(span = false), &f, |f| {
            assert_eq!(
                text(SpanInit(f)),
                ":: rustform :: __private :: tracing :: Span :: none ()"
            );
        });
    }

    #[test]
    fn each_shape_runs_the_body_its_way() {
        let body = |f: ItemFn, attr: TokenStream| {
            let mut out = String::new();
            with(attr, &f, |f| out = text(Body(f)));
            out
        };
        let sync = body(
            syn::parse_quote!(
                fn f() -> u8 {
                    1
                }
            ),
            quote!(),
        );
        assert!(sync.contains("SyncCall :: begin"), "{sync}");
        assert!(sync.contains("__rustform_call . finish"), "{sync}");
        let spans_only = body(
            syn::parse_quote!(
                fn f() -> u8 {
                    1
                }
            ),
            quote!(metrics = false),
        );
        assert!(!spans_only.contains("SyncCall") && !spans_only.contains("__RUSTFORM_SITE"));
        let async_fn = body(
            syn::parse_quote!(
                async fn f() {}
            ),
            quote!(),
        );
        assert!(async_fn.contains("ObservedFuture :: new") && async_fn.contains(". await"));
        let never = body(
            syn::parse_quote!(
                fn f() -> ! {
                    loop {}
                }
            ),
            quote!(),
        );
        assert!(never.contains("SyncCall :: begin"), "{never}");
        let as_written = body(
            syn::parse_quote!(
                fn f() {
                    g()?;
                }
            ),
            quote!(),
        );
        assert_eq!(as_written, "{ g () ? ; }");
    }
}
