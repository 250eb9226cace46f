//! A function returning `!`: only a panic ends it, and the panic is counted.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

#[observed]
fn fail(reason: &str) -> ! {
    panic!("{reason}")
}

#[observed]
#[allow(dead_code)]
fn serve_forever() -> ! {
    loop {
        std::thread::park();
    }
}

fn main() {
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| fail("boom"));
    let _ = std::panic::take_hook();
    assert!(result.is_err());
    assert_eq!(support::calls("fail", "error", &[("error", "panic")]), 1);
    assert_eq!(support::calls("fail", "ok", &[]), 0);
}
