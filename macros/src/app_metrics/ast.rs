//! The model of an `AppMetrics` struct: its fields as metrics, with the names they will
//! have in `/metrics`.

use darling::{FromDeriveInput, FromField, FromMeta};
use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, GenericArgument, Ident, LitStr, Meta, Path, PathArguments, Type};

use crate::buckets::BucketSpec;

/// Struct-level `#[metrics(...)]`.
#[derive(FromDeriveInput)]
#[darling(attributes(metrics))]
pub(crate) struct Options {
    pub(crate) prefix: Option<LitStr>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<Path>,
}

/// Field-level `#[metric(...)]`, and the field itself.
#[derive(FromField)]
#[darling(attributes(metric), forward_attrs(doc))]
pub(crate) struct FieldOptions {
    pub(crate) ident: Option<Ident>,
    pub(crate) ty: Type,
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) name: Option<LitStr>,
    pub(crate) help: Option<LitStr>,
    pub(crate) unit: Option<LitStr>,
    pub(crate) buckets: Option<Keyed<Buckets>>,
    pub(crate) cardinality_limit: Option<Keyed<usize>>,
}

/// An option's value, with the spans of its key and of its value: an option that does
/// not apply is blamed on its key, a wrong value on the value.
pub(crate) struct Keyed<T> {
    pub(crate) key: Span,
    pub(crate) value: T,
    pub(crate) value_span: Span,
}

impl<T: FromMeta> FromMeta for Keyed<T> {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let value = T::from_meta(item)?;
        let value_span = match item {
            Meta::NameValue(nv) => nv.value.span(),
            other => other.span(),
        };
        Ok(Keyed {
            key: item.path().span(),
            value,
            value_span,
        })
    }
}

/// `buckets = [...]`, `linear(...)` or `exponential(...)`.
pub(crate) struct Buckets(pub(crate) BucketSpec);

impl FromMeta for Buckets {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        BucketSpec::parse(expr)
            .map(Buckets)
            .map_err(darling::Error::from)
    }
}

/// What a field is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Counter => "a counter",
            Kind::Gauge => "a gauge",
            Kind::Histogram => "a histogram",
        }
    }
}

/// The metric types a field may have.
pub(crate) const SUPPORTED: &str = "`Counter`, `Gauge`, `Histogram`, `CounterVec<L>`, \
     `GaugeVec<L>` or `HistogramVec<L>` from `rustform::metrics`, `L` being a struct that \
     derives `LabelSet`";

/// One field, as a metric.
pub(crate) struct Metric {
    pub(crate) field: FieldOptions,
    /// `None` when the type is not a supported metric type.
    pub(crate) kind: Option<(Kind, bool)>,
    pub(crate) help: Option<String>,
}

impl Metric {
    pub(crate) fn new(field: FieldOptions) -> Metric {
        let kind = kind_of(&field.ty);
        let help = match &field.help {
            Some(help) => Some(help.value()),
            None => doc_text(&field.attrs),
        };
        Metric { field, kind, help }
    }

    pub(crate) fn ident(&self) -> &Ident {
        self.field.ident.as_ref().expect("named fields")
    }

    /// The part of the name the field gives: the `name` option, or the field's name.
    pub(crate) fn name_part(&self) -> String {
        match &self.field.name {
            Some(name) => name.value(),
            None => self.ident().unraw().to_string(),
        }
    }

    /// The span to blame for the metric's name: the `name` option or the field.
    pub(crate) fn name_span(&self) -> Span {
        self.field
            .name
            .as_ref()
            .map_or_else(|| self.ident().span(), LitStr::span)
    }

    /// The family name in `/metrics`: `prefix_field`, `_total` dropped from a counter,
    /// the unit appended unless the name already ends with it.
    pub(crate) fn exposed_name(&self, prefix: Option<&str>) -> String {
        let part = self.name_part();
        let mut name = match prefix {
            Some(prefix) => format!("{prefix}_{part}"),
            None => part,
        };
        if matches!(self.kind, Some((Kind::Counter, _)))
            && let Some(base) = name.strip_suffix("_total")
        {
            name = base.to_owned();
        }
        if let Some(unit) = &self.field.unit {
            let unit = unit.value();
            if !name.ends_with(&format!("_{unit}")) {
                name = format!("{name}_{unit}");
            }
        }
        name
    }
}

/// `Counter` → counter, `CounterVec<L>` → labeled counter, matched by the last path
/// segment (so `rustform::metrics::Counter` works too).
fn kind_of(ty: &Type) -> Option<(Kind, bool)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let last = path.path.segments.last()?;
    let one_type_arg = match &last.arguments {
        PathArguments::AngleBracketed(args) => {
            args.args.len() == 1 && matches!(args.args.first(), Some(GenericArgument::Type(_)))
        }
        _ => false,
    };
    let none = matches!(last.arguments, PathArguments::None);
    match last.ident.to_string().as_str() {
        "Counter" if none => Some((Kind::Counter, false)),
        "Gauge" if none => Some((Kind::Gauge, false)),
        "Histogram" if none => Some((Kind::Histogram, false)),
        "CounterVec" if one_type_arg => Some((Kind::Counter, true)),
        "GaugeVec" if one_type_arg => Some((Kind::Gauge, true)),
        "HistogramVec" if one_type_arg => Some((Kind::Histogram, true)),
        _ => None,
    }
}

/// The doc comment's text, lines trimmed and joined with spaces.
fn doc_text(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.trim().to_owned())
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}

/// The whole struct.
pub(crate) struct Group {
    pub(crate) ident: Ident,
    pub(crate) prefix: Option<LitStr>,
    pub(crate) krate: TokenStream,
    pub(crate) metrics: Vec<Metric>,
}
