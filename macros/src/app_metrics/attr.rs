//! The options of the metric derives' attributes (`#[metrics]`, `#[metric]`, `#[label]`),
//! checked before darling parses them: an unknown, repeated or mistyped option gets a
//! message that names it and shows how to write it, and is left out, so darling parses the
//! rest and a user with three mistakes sees three messages.

use quote::ToTokens;
use syn::ext::IdentExt;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Lit, Meta, Token};

use crate::ctxt::Ctxt;
use crate::names::closest;

/// What an option's value is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    /// A string literal.
    Str,
    /// An integer literal.
    Int,
    /// Any value, checked when it is parsed.
    Value,
}

/// One option an attribute takes.
pub(crate) struct Opt {
    pub(crate) key: &'static str,
    pub(crate) form: Form,
    /// How to write it, said when it is written otherwise.
    pub(crate) usage: &'static str,
}

/// One attribute, in one place.
pub(crate) struct Place {
    /// The attribute's name.
    pub(crate) attr: &'static str,
    pub(crate) options: &'static [Opt],
    /// Said of an unknown option no known one resembles.
    pub(crate) unknown: &'static str,
    /// Said of unknown options users are known to reach for.
    pub(crate) advice: &'static [(&'static str, &'static str)],
}

/// `#[metrics(...)]` on an `AppMetrics` struct.
pub(crate) const METRICS: Place = Place {
    attr: "metrics",
    options: &[
        Opt {
            key: "prefix",
            form: Form::Str,
            usage: "`prefix` takes a string, such as `prefix = \"shop\"`",
        },
        Opt {
            key: "crate",
            form: Form::Value,
            usage: "`crate` takes the path `rustform` is reached by, such as \
                    `crate = my_facade::rustform`",
        },
    ],
    unknown: "`#[metrics(...)]` on the struct takes `prefix = \"...\"` and `crate = path`; \
              the options of one metric go on its field, in `#[metric(...)]`",
    advice: &[],
};

/// `#[metric(...)]` on a field of an `AppMetrics` struct.
pub(crate) const METRIC: Place = Place {
    attr: "metric",
    options: &[
        Opt {
            key: "name",
            form: Form::Str,
            usage: "`name` takes a string, such as `name = \"orders\"`",
        },
        Opt {
            key: "help",
            form: Form::Str,
            usage: "`help` takes a string, such as `help = \"Orders placed\"`",
        },
        Opt {
            key: "unit",
            form: Form::Str,
            usage: "`unit` takes a string, such as `unit = \"seconds\"`",
        },
        Opt {
            key: "buckets",
            form: Form::Value,
            usage: "`buckets` takes upper bounds or a series, such as \
                    `buckets = [0.1, 0.5, 1.0]` or `buckets = exponential(0.001, 2.0, 10)`",
        },
        Opt {
            key: "cardinality_limit",
            form: Form::Int,
            usage: "`cardinality_limit` takes the number of series to keep, such as \
                    `cardinality_limit = 500`",
        },
    ],
    unknown: "`#[metric(...)]` on a field takes `name`, `help`, `unit`, `buckets` and \
              `cardinality_limit`",
    advice: &[
        (
            "labels",
            "a metric's labels come from its type: declare the field as `CounterVec<L>`, \
             `GaugeVec<L>` or `HistogramVec<L>`, `L` being a struct that derives `LabelSet`",
        ),
        (
            "prefix",
            "`prefix` applies to every metric of the struct: put it on the struct, in \
             `#[metrics(prefix = \"...\")]`",
        ),
    ],
};

const CRATE: Opt = Opt {
    key: "crate",
    form: Form::Value,
    usage: "`crate` takes the path `rustform` is reached by, such as \
            `crate = my_facade::rustform`",
};

/// `#[label(...)]` on a `LabelSet` struct.
pub(crate) const LABEL_SET: Place = Place {
    attr: "label",
    options: &[CRATE],
    unknown: "`#[label(...)]` on the struct takes only `crate = path`; `rename` goes on a field",
    advice: &[],
};

/// `#[label(...)]` on a field of a `LabelSet` struct.
pub(crate) const LABEL_SET_FIELD: Place = Place {
    attr: "label",
    options: &[Opt {
        key: "rename",
        form: Form::Str,
        usage: "`rename` takes the label's name as a string, such as `rename = \"route\"`",
    }],
    unknown: "`#[label(...)]` on a field takes only `rename = \"...\"`",
    advice: &[],
};

/// `#[label(...)]` on a `LabelValue` enum.
pub(crate) const LABEL_VALUE: Place = Place {
    attr: "label",
    options: &[CRATE],
    unknown: "`#[label(...)]` on the enum takes only `crate = path`; `rename` goes on a variant",
    advice: &[],
};

/// `#[label(...)]` on a variant of a `LabelValue` enum.
pub(crate) const LABEL_VALUE_VARIANT: Place = Place {
    attr: "label",
    options: &[Opt {
        key: "rename",
        form: Form::Str,
        usage: "`rename` takes the label value as a string, such as `rename = \"not_found\"`",
    }],
    unknown: "`#[label(...)]` on a variant takes only `rename = \"...\"`",
    advice: &[],
};

/// `attrs`, with every option of the `place.attr` attributes that is unknown, repeated or
/// mistyped reported and left out.
pub(crate) fn known_options(attrs: &[Attribute], place: &Place, cx: &Ctxt) -> Vec<Attribute> {
    let mut seen: Vec<String> = Vec::new();
    attrs
        .iter()
        .map(|original| {
            let mut attribute = original.clone();
            if !attribute.path().is_ident(place.attr) {
                return attribute;
            }
            let Meta::List(list) = &mut attribute.meta else {
                return attribute;
            };
            let Ok(items) = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            else {
                // darling reports what does not parse.
                return attribute;
            };
            let mut kept = Punctuated::<Meta, Token![,]>::new();
            for item in items {
                let Some(ident) = item.path().get_ident() else {
                    kept.push(item);
                    continue;
                };
                let key = ident.unraw().to_string();
                match check(place, &key, &item, &seen) {
                    Ok(()) => {
                        seen.push(key);
                        kept.push(item);
                    }
                    Err(e) => cx.syn_error(e),
                }
            }
            list.tokens = kept.into_token_stream();
            attribute
        })
        .collect()
}

/// Whether option `key`, written as `item`, is one `place` takes, once, with the right
/// kind of value.
fn check(place: &Place, key: &str, item: &Meta, seen: &[String]) -> syn::Result<()> {
    let key_span = item.path().span();
    let Some(option) = place.options.iter().find(|o| o.key == key) else {
        let message = match place.advice.iter().find(|(k, _)| *k == key) {
            Some((_, advice)) => format!("unknown option `{key}`: {advice}"),
            None => {
                let keys: Vec<&str> = place.options.iter().map(|o| o.key).collect();
                match closest(key, &keys) {
                    Some(suggestion) => {
                        format!("unknown option `{key}`: did you mean `{suggestion}`?")
                    }
                    None => format!("unknown option `{key}`: {}", place.unknown),
                }
            }
        };
        return Err(syn::Error::new(key_span, message));
    };
    if seen.iter().any(|s| s == key) {
        return Err(syn::Error::new(
            key_span,
            format!("`{key}` is given twice; keep one"),
        ));
    }
    let Meta::NameValue(nv) = item else {
        return Err(syn::Error::new(item.span(), option.usage));
    };
    let fits = matches!(
        (option.form, literal(&nv.value)),
        (Form::Value, _) | (Form::Str, Some(Lit::Str(_))) | (Form::Int, Some(Lit::Int(_)))
    );
    if fits {
        Ok(())
    } else {
        Err(syn::Error::new(nv.value.span(), option.usage))
    }
}

/// The literal `expr` is, if it is one.
fn literal(expr: &Expr) -> Option<&Lit> {
    match expr {
        Expr::Lit(lit) => Some(&lit.lit),
        Expr::Group(group) => literal(&group.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(attrs: Vec<Attribute>, place: &Place) -> (Vec<String>, Vec<String>) {
        let cx = Ctxt::new();
        let kept = known_options(&attrs, place, &cx)
            .iter()
            .map(|a| a.to_token_stream().to_string())
            .collect();
        let messages = match cx.check() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        };
        (kept, messages)
    }

    #[test]
    fn known_options_pass_through() {
        let attrs = vec![
            syn::parse_quote!(#[doc = " Orders"]),
            syn::parse_quote!(#[metric(name = "orders", buckets = [1.0], cardinality_limit = 5)]),
        ];
        let (kept, messages) = messages(attrs, &METRIC);
        assert!(messages.is_empty(), "{messages:?}");
        assert_eq!(
            kept[1],
            "# [metric (name = \"orders\" , buckets = [1.0] , cardinality_limit = 5)]"
        );
    }

    #[test]
    fn unknown_repeated_and_mistyped_options_are_reported_and_left_out() {
        let attrs = vec![
            syn::parse_quote!(#[metric(bucket = [1.0], unit = seconds, help = "x")]),
            syn::parse_quote!(#[metric(help = "y", labels(a), frobnicate)]),
        ];
        let (kept, messages) = messages(attrs, &METRIC);
        assert_eq!(kept[0], "# [metric (help = \"x\")]");
        assert_eq!(kept[1], "# [metric ()]");
        assert_eq!(messages.len(), 5, "{messages:?}");
        assert_eq!(
            messages[0],
            "unknown option `bucket`: did you mean `buckets`?"
        );
        assert_eq!(
            messages[1],
            "`unit` takes a string, such as `unit = \"seconds\"`"
        );
        assert_eq!(messages[2], "`help` is given twice; keep one");
        assert!(
            messages[3]
                .starts_with("unknown option `labels`: a metric's labels come from its type")
        );
        assert!(
            messages[4]
                .starts_with("unknown option `frobnicate`: `#[metric(...)]` on a field takes")
        );
    }

    #[test]
    fn other_attributes_are_untouched() {
        let attrs = vec![syn::parse_quote!(#[label(nonsense)])];
        let (kept, messages) = messages(attrs, &METRIC);
        assert!(messages.is_empty());
        assert_eq!(kept[0], "# [label (nonsense)]");
    }
}
