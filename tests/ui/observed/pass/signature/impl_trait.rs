//! `impl Trait` in argument and in return position.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::fmt::Display;

use rustform::observed;

#[observed]
fn total(items: impl IntoIterator<Item = u32>) -> u32 {
    items.into_iter().sum()
}

#[observed]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[observed]
fn shout(text: impl Display) -> impl Display + Clone {
    format!("{text}!")
}

#[observed]
fn parse(text: &str) -> Result<impl Display, std::num::ParseIntError> {
    let n: u32 = text.parse()?;
    Ok(n * 2)
}

#[observed]
fn adder(n: u32) -> impl Fn(u32) -> u32 {
    move |x| x + n
}

fn main() {
    assert_eq!(total(vec![1, 2, 3]), 6);
    assert_eq!(evens(7).collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(shout("hi").to_string(), "hi!");
    assert_eq!(parse("21").unwrap().to_string(), "42");
    assert!(parse("x").is_err());
    assert_eq!(adder(2)(3), 5);

    assert_eq!(support::calls("total", "ok", &[]), 1);
    assert_eq!(support::calls("evens", "ok", &[]), 1);
    assert_eq!(support::calls("shout", "ok", &[]), 1);
    assert_eq!(support::calls("parse", "ok", &[]), 1);
    assert_eq!(support::calls("parse", "error", &[]), 1);
    assert_eq!(support::calls("adder", "ok", &[]), 1);
}
