//! Signatures beyond the plain: patterns and `mut` in parameters, attributes and docs,
//! visibility, raw identifiers, `unsafe` and `extern "C"` functions, the attribute by
//! path and with empty parentheses.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

/// Documented, `#[must_use]`, `#[inline]`: the attributes stay.
#[must_use]
#[inline]
#[observed]
pub(crate) fn documented((a, b): (u32, u32), mut c: u32, _: u8, #[allow(unused)] d: u8) -> u32 {
    c += 1;
    a + b + c
}

#[rustform::observed()]
fn r#match(r#type: &str) -> bool {
    r#type == "x"
}

#[observed]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller passes a valid pointer.
    unsafe { *ptr }
}

#[observed]
extern "C" fn callback(n: i32) -> i32 {
    n * 2
}

mod nested {
    #[rustform::observed]
    pub fn inside() -> u8 {
        1
    }
}

fn main() {
    assert_eq!(documented((1, 2), 3, 0, 0), 7);
    assert!(r#match("x"));
    let n = 5;
    // SAFETY: `n` lives across the call.
    assert_eq!(unsafe { read(&n) }, 5);
    assert_eq!(callback(4), 8);
    assert_eq!(nested::inside(), 1);

    assert_eq!(support::calls("documented", "ok", &[]), 1);
    assert_eq!(support::calls("match", "ok", &[]), 1);
    assert_eq!(support::calls("read", "ok", &[]), 1);
    assert_eq!(support::calls("callback", "ok", &[]), 1);
    let nested = format!("{}::nested", support::root());
    assert_eq!(support::calls_in(&nested, "inside", "ok", &[]), 1);
}
