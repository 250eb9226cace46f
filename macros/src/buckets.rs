//! Histogram buckets written in an attribute: `[0.1, 0.5, 1]`, `linear(start, width,
//! count)` or `exponential(start, factor, count)`, evaluated and checked at compile time.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Expr, ExprCall, Lit};

use crate::ctxt::Ctxt;

/// Upper bounds, each with the span of the token that produced it.
#[derive(Clone)]
pub(crate) struct BucketSpec {
    pub(crate) bounds: Vec<(f64, Span)>,
    /// The whole specification, for errors about it as a whole.
    pub(crate) span: Span,
}

impl BucketSpec {
    pub(crate) fn parse(expr: &Expr) -> syn::Result<BucketSpec> {
        match expr {
            Expr::Array(array) => {
                let cx = Ctxt::new();
                let mut bounds = Vec::new();
                for elem in &array.elems {
                    match number(elem) {
                        Ok(v) => bounds.push((v, elem.span())),
                        Err(e) => cx.syn_error(e),
                    }
                }
                cx.check()?;
                Ok(BucketSpec {
                    bounds,
                    span: array.span(),
                })
            }
            Expr::Call(call) => Self::series(call),
            other => Err(syn::Error::new(
                other.span(),
                "expected buckets as `[0.1, 0.5, 1.0]`, `linear(start, width, count)` or \
                 `exponential(start, factor, count)`",
            )),
        }
    }

    fn series(call: &ExprCall) -> syn::Result<BucketSpec> {
        let Expr::Path(path) = &*call.func else {
            return Err(syn::Error::new(
                call.func.span(),
                "expected `linear` or `exponential`",
            ));
        };
        let name = path
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        let args: Vec<&Expr> = call.args.iter().collect();
        if args.len() != 3 {
            return Err(syn::Error::new(
                call.span(),
                format!("`{name}` takes three arguments: `{name}(start, step, count)`"),
            ));
        }
        let start = number(args[0])?;
        let step = number(args[1])?;
        let count = count(args[2])?;
        let span = call.span();
        let bounds = match name.as_str() {
            "linear" => {
                if step.is_nan() || step <= 0.0 {
                    return Err(syn::Error::new(
                        args[1].span(),
                        "the width must be positive",
                    ));
                }
                (0..count)
                    .map(|i| (tidy(start + step * i as f64), span))
                    .collect()
            }
            "exponential" => {
                if start.is_nan() || start <= 0.0 {
                    return Err(syn::Error::new(
                        args[0].span(),
                        "the start must be positive",
                    ));
                }
                if step.is_nan() || step <= 1.0 {
                    return Err(syn::Error::new(
                        args[1].span(),
                        "the factor must be greater than 1",
                    ));
                }
                (0..count)
                    .map(|i| (tidy(start * step.powi(i as i32)), span))
                    .collect()
            }
            _ => {
                return Err(syn::Error::new(
                    path.span(),
                    format!("unknown bucket series `{name}`: use `linear` or `exponential`"),
                ));
            }
        };
        Ok(BucketSpec { bounds, span })
    }

    /// Every problem with the bounds: none at all, not finite, not strictly ascending.
    pub(crate) fn check(&self, cx: &Ctxt) {
        if self.bounds.is_empty() {
            cx.error(
                self.span,
                "buckets cannot be empty: give at least one upper bound, e.g. `[0.1, 0.5, 1.0]`",
            );
            return;
        }
        for (v, span) in &self.bounds {
            if !v.is_finite() {
                cx.error(*span, "bucket bounds must be finite; `+Inf` is implicit");
            }
        }
        for pair in self.bounds.windows(2) {
            let ((a, _), (b, span)) = (pair[0], pair[1]);
            let message = if a == b {
                format!("bucket bound {b:?} is given twice; remove one")
            } else if a > b {
                format!(
                    "buckets must be in ascending order, but {b:?} comes after {a:?}; sort them"
                )
            } else {
                continue;
            };
            cx.error(span, message);
        }
    }

    pub(crate) fn values(&self) -> Vec<f64> {
        self.bounds.iter().map(|(v, _)| *v).collect()
    }
}

/// A computed bound rounded to 15 significant digits, so `linear(0.1, 0.1, 3)` gives
/// `0.3`, not `0.30000000000000004` (the same rule as `Buckets::linear` at run time).
fn tidy(value: f64) -> f64 {
    format!("{value:.14e}").parse().unwrap_or(value)
}

fn number(expr: &Expr) -> syn::Result<f64> {
    match expr {
        Expr::Lit(lit) => match &lit.lit {
            Lit::Float(f) => f.base10_parse(),
            Lit::Int(i) => i.base10_parse::<i64>().map(|v| v as f64),
            Lit::Str(s) if s.value().trim().parse::<f64>().is_ok() => Err(syn::Error::new(
                s.span(),
                format!(
                    "expected a number, not a string: write `{}` without the quotes",
                    s.value().trim()
                ),
            )),
            other => Err(syn::Error::new(
                other.span(),
                "expected a number, such as `0.5`",
            )),
        },
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            expr,
            ..
        }) => number(expr).map(|v| -v),
        Expr::Group(group) => number(&group.expr),
        other => Err(syn::Error::new(
            other.span(),
            "expected a number literal, such as `0.5`: bucket bounds are checked when the \
             function is compiled, so constants and expressions cannot be used",
        )),
    }
}

fn count(expr: &Expr) -> syn::Result<usize> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => {
            let n: usize = i.base10_parse()?;
            if n == 0 || n > 1000 {
                Err(syn::Error::new(
                    i.span(),
                    "the count must be between 1 and 1000",
                ))
            } else {
                Ok(n)
            }
        }
        other => Err(syn::Error::new(
            other.span(),
            "expected the number of buckets, an integer",
        )),
    }
}
