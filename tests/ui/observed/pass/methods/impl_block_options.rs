//! An observed `impl` block: the block's options apply to every method, a method's own
//! `#[observed(...)]` overrides them (its `ok_if` or `error_if` replaces the block's
//! predicate), and `#[observed(skip)]` leaves a method out.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

struct Shop;

#[observed(level = "debug", labels(tier = "gold"))]
impl Shop {
    fn new() -> Shop {
        Shop
    }

    fn buy(&self) -> u32 {
        1
    }

    #[observed(level = "warn", labels(tier = "silver"), name = "shop.refund")]
    fn refund(&self) -> u32 {
        2
    }

    #[observed(skip)]
    fn audit(&self) -> u32 {
        3
    }

    const OPEN: bool = true;
}

fn below_500(code: &u16) -> bool {
    *code < 500
}

fn is_odd(code: &u16) -> bool {
    code % 2 == 1
}

struct Codes;

#[observed(ok_if = below_500)]
impl Codes {
    fn status(&self, code: u16) -> u16 {
        code
    }

    #[observed(error_if = is_odd)]
    fn parity(&self, code: u16) -> u16 {
        code
    }
}

fn main() {
    let ((), spans) = support::capture(|| {
        let shop = Shop::new();
        assert_eq!(shop.buy(), 1);
        assert_eq!(shop.refund(), 2);
        assert_eq!(shop.audit(), 3);
        assert!(Shop::OPEN);
    });

    assert_eq!(support::calls("Shop::new", "ok", &[("tier", "gold")]), 1);
    assert_eq!(support::calls("Shop::buy", "ok", &[("tier", "gold")]), 1);
    assert_eq!(
        support::calls("Shop::refund", "ok", &[("tier", "silver")]),
        1
    );
    assert_eq!(support::calls("Shop::refund", "ok", &[("tier", "gold")]), 0);
    assert!(!support::has_series("Shop::audit"));

    assert_eq!(Codes.status(200), 200);
    assert_eq!(Codes.status(503), 503);
    assert_eq!(Codes.parity(502), 502);
    assert_eq!(Codes.parity(3), 3);
    assert_eq!(support::calls("Codes::status", "ok", &[]), 1);
    assert_eq!(support::calls("Codes::status", "error", &[]), 1);
    assert_eq!(support::calls("Codes::parity", "ok", &[]), 1);
    assert_eq!(support::calls("Codes::parity", "error", &[]), 1);

    let names: Vec<_> = spans.iter().map(|s| (s.name, s.level)).collect();
    assert_eq!(
        names,
        [
            ("Shop::new", tracing::Level::DEBUG),
            ("Shop::buy", tracing::Level::DEBUG),
            ("shop.refund", tracing::Level::WARN),
        ]
    );
}
