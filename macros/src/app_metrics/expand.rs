//! Code generation for `#[derive(AppMetrics)]`.

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use syn::DeriveInput;

use super::ast::Group;

pub(crate) fn expand(group: &Group) -> TokenStream {
    let krate = &group.krate;
    let core = quote!(#krate::__private::core);
    let std = quote!(#krate::__private::std);
    let ident = &group.ident;
    let prefix = group.prefix.as_ref().map(|p| p.value());
    let count = group.metrics.len();

    let mut descriptions = Vec::new();
    let mut builds = Vec::new();
    let mut registrations = Vec::new();
    for metric in &group.metrics {
        let field = metric.ident();
        let ty = &metric.field.ty;
        let name = metric.exposed_name(prefix.as_deref());
        let help = metric.help.clone().unwrap_or_default();
        let unit = match &metric.field.unit {
            Some(unit) => {
                let unit = unit.value();
                quote!(#core::option::Option::Some(#unit))
            }
            None => quote!(#core::option::Option::None),
        };
        let declared = metric.field.buckets.as_ref().map(|b| {
            let values = b.value.0.values().into_iter().map(Literal::f64_suffixed);
            quote!(&[#(#values),*])
        });
        let buckets = match &declared {
            Some(b) => quote!(#core::option::Option::Some(#b)),
            None => quote!(#core::option::Option::None),
        };
        let limit = match &metric.field.cardinality_limit {
            Some(limit) => {
                let limit = limit.value;
                quote!(#core::option::Option::Some(#limit))
            }
            None => quote!(#core::option::Option::None),
        };
        // Each use of the field's type goes through one `AppMetric` bound, so a type that
        // is not a metric gets one error per use, all on the field's type.
        descriptions.push(quote! {
            #krate::__private::describe_metric::<#ty>(#name, #help, #unit, #buckets)
        });
        builds.push(quote! {
            #field: <#ty as #krate::metrics::AppMetric>::build(#buckets, #limit)
        });
        registrations.push(quote! {
            (#name, #help, #unit, #krate::__private::group_metric::<#ty>(&metrics.#field))
        });
    }
    let group_name = ident.to_string();

    quote! {
        const _: () = {
            #[automatically_derived]
            impl #ident {
                /// Every metric of this struct, as `/metrics` shows it: name, help, type,
                /// unit, label names and buckets.
                pub fn describe() -> &'static [#krate::metrics::MetricDescription] {
                    static DESCRIPTION: [#krate::metrics::MetricDescription; #count] = [#(#descriptions),*];
                    &DESCRIPTION
                }

                /// Creates the metrics and registers them all in `registry`, or none of
                /// them if a name is taken (the error names both places).
                #[track_caller]
                pub fn register(
                    registry: &#krate::metrics::Registry,
                ) -> #core::result::Result<Self, #krate::Error> {
                    let metrics = Self::__rustform_build();
                    #krate::__private::register_group(
                        registry,
                        #std::vec![#(#registrations),*],
                        #core::panic::Location::caller(),
                    )?;
                    #core::result::Result::Ok(metrics)
                }

                /// The process-wide instance, registered in the default registry on first
                /// use. If registering fails (a name already taken) the error is logged on
                /// target `rustform` and the metrics still count, unexposed.
                pub fn global() -> &'static Self {
                    static GLOBAL: #std::sync::OnceLock<#ident> = #std::sync::OnceLock::new();
                    GLOBAL.get_or_init(|| {
                        match Self::register(#krate::metrics::default_registry()) {
                            #core::result::Result::Ok(metrics) => metrics,
                            #core::result::Result::Err(error) => {
                                #krate::__private::registration_failed(#group_name, &error);
                                Self::__rustform_build()
                            }
                        }
                    })
                }

                fn __rustform_build() -> Self {
                    Self { #(#builds),* }
                }
            }

            #[#krate::__private::linkme::distributed_slice(#krate::__private::METRIC_GROUPS)]
            #[linkme(crate = #krate::__private::linkme)]
            static __RUSTFORM_GROUP: #krate::__private::GroupEntry = #krate::__private::GroupEntry {
                name: #group_name,
                module: #core::module_path!(),
                describe: #ident::describe,
            };
        };
    }
}

/// What the derive emits along with its errors: the functions `register`, `global` and
/// `describe` with their signatures, so the user's calls to them type-check and the
/// errors shown are the derive's own. They are never run: the crate does not compile.
pub(crate) fn stub(input: &DeriveInput, krate: &TokenStream) -> TokenStream {
    let core = quote!(#krate::__private::core);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #ident #ty_generics #where_clause {
                /// Every metric of this struct.
                pub fn describe() -> &'static [#krate::metrics::MetricDescription] {
                    &[]
                }

                /// Creates the metrics and registers them all in a registry.
                pub fn register(
                    _: &#krate::metrics::Registry,
                ) -> #core::result::Result<Self, #krate::Error> {
                    #core::unreachable!()
                }

                /// The process-wide instance.
                pub fn global() -> &'static Self {
                    #core::unreachable!()
                }
            }
        };
    }
}
