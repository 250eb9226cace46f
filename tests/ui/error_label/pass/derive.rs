//! `#[derive(ErrorLabel)]` on unit, tuple, struct-variant and generic enums, with
//! `#[label(rename = "...")]`; the labels reach `function_calls_total`.

#![deny(warnings)]

#[path = "../../support.rs"]
mod support;

use rustform::{ErrorLabel, observed};

#[derive(Debug, ErrorLabel)]
enum Plain {
    NotFound,
    HTTPTimeout,
    #[label(rename = "gone")]
    Removed,
}

#[derive(Debug, ErrorLabel)]
enum Tuple {
    Io(#[allow(dead_code)] std::io::Error),
    #[label(rename = "db")]
    Database(#[allow(dead_code)] String, #[allow(dead_code)] u32),
}

#[derive(Debug, ErrorLabel)]
enum Struct {
    Invalid {
        #[allow(dead_code)]
        field: &'static str,
    },
    #[label(rename = "limited")]
    RateLimited {
        #[allow(dead_code)]
        retry_after: u64,
    },
}

#[derive(Debug, ErrorLabel)]
enum Generic<'a, T: std::fmt::Debug, const N: usize>
where
    T: Clone,
{
    Wrapped(#[allow(dead_code)] T),
    #[label(rename = "borrowed")]
    Borrowed(#[allow(dead_code)] &'a [u8; N]),
}

#[derive(Debug, ErrorLabel)]
enum Empty {}

/// An ok value with a label: `ok="cached"`.
#[derive(Debug, ErrorLabel)]
enum Hit {
    Cached,
    Fresh,
}

#[observed]
fn lookup(id: u32) -> Result<Hit, Struct> {
    match id {
        0 => Err(Struct::Invalid { field: "id" }),
        1 => Err(Struct::RateLimited { retry_after: 5 }),
        2 => Ok(Hit::Cached),
        _ => Ok(Hit::Fresh),
    }
}

fn main() {
    assert_eq!(Plain::NotFound.label(), "not_found");
    assert_eq!(Plain::HTTPTimeout.label(), "http_timeout");
    assert_eq!(Plain::Removed.label(), "gone");
    assert_eq!(Tuple::Io(std::io::Error::other("x")).label(), "io");
    assert_eq!(Tuple::Database("down".into(), 1).label(), "db");
    assert_eq!(Struct::Invalid { field: "id" }.label(), "invalid");
    assert_eq!(Struct::RateLimited { retry_after: 1 }.label(), "limited");
    assert_eq!(Generic::<u8, 2>::Wrapped(1).label(), "wrapped");
    assert_eq!(Generic::<u8, 2>::Borrowed(&[1, 2]).label(), "borrowed");
    fn takes_label<T: ErrorLabel>(_: Option<&T>) {}
    takes_label::<Empty>(None);

    for id in 0..4 {
        let _ = lookup(id);
    }
    assert_eq!(
        support::calls("lookup", "error", &[("error", "invalid")]),
        1
    );
    assert_eq!(
        support::calls("lookup", "error", &[("error", "limited")]),
        1
    );
    assert_eq!(support::calls("lookup", "ok", &[("ok", "cached")]), 1);
    assert_eq!(support::calls("lookup", "ok", &[("ok", "fresh")]), 1);
}
