//! `?` and early `return` leave the function, not a closure of the expansion, and each
//! way out is classified.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::num::ParseIntError;

use rustform::observed;

#[observed]
fn parse_sum(a: &str, b: &str) -> Result<u32, ParseIntError> {
    let a: u32 = a.parse()?;
    if a == 0 {
        return Ok(0);
    }
    let b: u32 = b.parse()?;
    Ok(a + b)
}

#[observed]
fn first_even(items: &[u32]) -> Option<u32> {
    for &item in items {
        if item % 2 == 0 {
            return Some(item);
        }
    }
    let last = *items.last()?;
    Some(last + 1)
}

#[observed]
fn sign(n: i32) -> &'static str {
    if n < 0 {
        return "negative";
    }
    let describe = |n: i32| {
        if n == 0 {
            return "zero";
        }
        "positive"
    };
    describe(n)
}

#[observed]
async fn parse_async(text: &str) -> Result<u32, ParseIntError> {
    let n: u32 = text.parse()?;
    if n > 100 {
        return Ok(100);
    }
    Ok(n)
}

fn main() {
    assert_eq!(parse_sum("0", "x"), Ok(0));
    assert_eq!(parse_sum("1", "2"), Ok(3));
    assert!(parse_sum("x", "2").is_err());
    assert!(parse_sum("1", "x").is_err());
    assert_eq!(first_even(&[1, 4]), Some(4));
    assert_eq!(first_even(&[1, 3]), Some(4));
    assert_eq!(first_even(&[]), None);
    assert_eq!(sign(-1), "negative");
    assert_eq!(sign(0), "zero");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(parse_async("500").await, Ok(100));
        assert!(parse_async("x").await.is_err());
    });

    assert_eq!(support::calls("parse_sum", "ok", &[]), 2);
    assert_eq!(support::calls("parse_sum", "error", &[]), 2);
    assert_eq!(support::calls("first_even", "ok", &[]), 3);
    assert_eq!(support::calls("sign", "ok", &[]), 2);
    assert_eq!(support::calls("parse_async", "ok", &[]), 1);
    assert_eq!(support::calls("parse_async", "error", &[]), 1);
}
