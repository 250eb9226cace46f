//! Every kind of `self` receiver in an observed `impl` block.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use rustform::observed;

struct Meter {
    n: u32,
}

#[observed]
impl Meter {
    fn new(n: u32) -> Self {
        Meter { n }
    }

    fn by_value(self) -> u32 {
        self.n
    }

    fn by_mut_value(mut self) -> u32 {
        self.n += 1;
        self.n
    }

    fn by_ref(&self) -> u32 {
        self.n
    }

    fn by_mut_ref(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    fn by_ref_with_lifetime<'a>(&'a self) -> &'a u32 {
        &self.n
    }

    fn boxed(self: Box<Self>) -> u32 {
        self.n
    }

    fn rc(self: Rc<Self>) -> u32 {
        self.n
    }

    fn arc(self: Arc<Self>) -> u32 {
        self.n
    }

    fn pinned(self: Pin<&mut Self>) -> u32 {
        let this = self.get_mut();
        this.n += 10;
        this.n
    }

    async fn by_ref_async(&self) -> u32 {
        self.n
    }
}

fn main() {
    assert_eq!(Meter::new(1).by_value(), 1);
    assert_eq!(Meter::new(1).by_mut_value(), 2);
    assert_eq!(Meter::new(3).by_ref(), 3);
    let mut meter = Meter::new(4);
    assert_eq!(meter.by_mut_ref(), 5);
    assert_eq!(*meter.by_ref_with_lifetime(), 5);
    assert_eq!(Box::new(Meter::new(6)).boxed(), 6);
    assert_eq!(Rc::new(Meter::new(7)).rc(), 7);
    assert_eq!(Arc::new(Meter::new(8)).arc(), 8);
    assert_eq!(Pin::new(&mut meter).pinned(), 15);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(meter.by_ref_async()), 15);

    for method in [
        "by_value",
        "by_mut_value",
        "by_ref",
        "by_mut_ref",
        "by_ref_with_lifetime",
        "boxed",
        "rc",
        "arc",
        "pinned",
        "by_ref_async",
    ] {
        let function = format!("Meter::{method}");
        assert_eq!(support::calls(&function, "ok", &[]), 1, "{function}");
    }
    assert_eq!(support::calls("Meter::new", "ok", &[]), 7);
}
