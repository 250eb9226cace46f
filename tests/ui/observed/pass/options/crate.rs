//! `crate = path`: the expansion reaches the runtime through the given path, for a crate
//! that renames `rustform` or re-exports it from a facade.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

extern crate rustform as renamed;

use std::sync::atomic::{AtomicUsize, Ordering};

static THROUGH_FACADE: AtomicUsize = AtomicUsize::new(0);

/// A facade over `rustform` whose `observed_span` counts its calls, to show that the
/// expansion goes through the path given with `crate`.
mod facade {
    pub mod __private {
        pub use renamed::__private::*;

        use renamed::__private::tracing::Span;
        use renamed::__private::tracing::callsite::DefaultCallsite;

        pub fn observed_span(
            callsite: &'static DefaultCallsite,
            site: &'static CallSite,
            self_type: SelfType,
        ) -> Span {
            crate::THROUGH_FACADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            renamed::__private::observed_span(callsite, site, self_type)
        }
    }
}

#[derive(Debug, renamed::ErrorLabel)]
#[label(crate = renamed)]
enum Failure {
    Busy,
}

#[renamed::observed(crate = crate::facade)]
fn through_facade(n: u32) -> u32 {
    n + 1
}

#[renamed::observed(crate = renamed)]
fn through_renamed(n: u32) -> Result<u32, Failure> {
    if n == 0 { Err(Failure::Busy) } else { Ok(n) }
}

struct Service;

#[renamed::observed(crate = renamed)]
impl Service {
    async fn handle(&self) -> u32 {
        1
    }
}

fn main() {
    assert_eq!(through_facade(1), 2);
    assert_eq!(THROUGH_FACADE.load(Ordering::Relaxed), 1);
    assert_eq!(support::calls("through_facade", "ok", &[]), 1);

    assert_eq!(through_renamed(1).unwrap(), 1);
    assert!(through_renamed(0).is_err());
    assert_eq!(THROUGH_FACADE.load(Ordering::Relaxed), 1);
    assert_eq!(support::calls("through_renamed", "ok", &[]), 1);
    assert_eq!(
        support::calls("through_renamed", "error", &[("error", "busy")]),
        1
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(Service.handle()), 1);
    assert_eq!(support::calls("Service::handle", "ok", &[]), 1);
}
