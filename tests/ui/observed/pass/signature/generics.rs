//! Generic functions, generic `impl` blocks, and a blanket implementation for a type
//! parameter (named from `Self` at run time).

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::fmt::Debug;

use rustform::observed;

#[observed]
fn largest<T: PartialOrd + Copy>(items: &[T]) -> Option<T> {
    let mut best = *items.first()?;
    for &item in items {
        if item > best {
            best = item;
        }
    }
    Some(best)
}

#[observed]
fn first<'a, T, const N: usize>(items: &'a [T; N]) -> Option<&'a T>
where
    T: Debug,
{
    items.first()
}

#[observed]
fn make<T: Default>() -> T {
    T::default()
}

struct Stack<T> {
    items: Vec<T>,
}

#[observed]
impl<T: Clone> Stack<T> {
    fn new() -> Self {
        Stack { items: Vec::new() }
    }

    fn push(&mut self, item: T) {
        self.items.push(item);
    }

    fn peek(&self) -> Option<T> {
        self.items.last().cloned()
    }
}

trait Describe {
    fn describe(&self) -> String;
}

#[observed]
impl<T: Debug> Describe for T {
    fn describe(&self) -> String {
        format!("<{self:?}>")
    }
}

#[derive(Debug)]
struct Point;

fn main() {
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    assert_eq!(largest(&[1.5, 0.5]), Some(1.5));
    assert_eq!(largest::<u8>(&[]), None);
    assert_eq!(first(&["a", "b"]), Some(&"a"));
    assert_eq!(make::<u32>(), 0);
    assert_eq!(make::<String>(), "");

    let mut stack = Stack::new();
    stack.push("x");
    stack.push("y");
    assert_eq!(stack.peek(), Some("y"));

    assert_eq!(7u32.describe(), "<7>");
    assert_eq!(Point.describe(), "<Point>");
    assert_eq!(8u32.describe(), "<8>");

    assert_eq!(support::calls("largest", "ok", &[]), 3);
    assert_eq!(support::calls("first", "ok", &[]), 1);
    assert_eq!(support::calls("make", "ok", &[]), 2);
    assert_eq!(support::calls("Stack::new", "ok", &[]), 1);
    assert_eq!(support::calls("Stack::push", "ok", &[]), 2);
    assert_eq!(support::calls("Stack::peek", "ok", &[]), 1);
    // One blanket implementation, a series per `Self` type.
    assert_eq!(support::calls("u32::describe", "ok", &[]), 2);
    assert_eq!(support::calls("Point::describe", "ok", &[]), 1);
}
