//! Trait implementations: a whole observed `impl Trait for Type` block, one observed
//! method inside a trait implementation, and an observed default method (named after
//! each implementing type).

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use rustform::observed;

trait Shape {
    fn area(&self) -> f64;

    fn sides(&self) -> u32 {
        0
    }
}

struct Square(f64);

#[observed]
impl Shape for Square {
    fn area(&self) -> f64 {
        self.0 * self.0
    }

    fn sides(&self) -> u32 {
        4
    }
}

struct Circle(f64);

impl Shape for Circle {
    #[observed]
    fn area(&self) -> f64 {
        3.0 * self.0 * self.0
    }
}

trait Greet {
    #[observed]
    fn greet(&self) -> &'static str {
        "hello"
    }
}

impl Greet for Square {}
impl Greet for Circle {}

fn main() {
    let shapes: Vec<Box<dyn Shape>> = vec![Box::new(Square(2.0)), Box::new(Circle(1.0))];
    let total: f64 = shapes.iter().map(|s| s.area()).sum();
    assert_eq!(total, 7.0);
    assert_eq!(shapes[0].sides(), 4);
    assert_eq!(shapes[1].sides(), 0);

    assert_eq!(support::calls("Square::area", "ok", &[]), 1);
    assert_eq!(support::calls("Square::sides", "ok", &[]), 1);
    assert_eq!(support::calls("Circle::area", "ok", &[]), 1);
    assert!(!support::has_series("Circle::sides"));

    assert_eq!(Square(1.0).greet(), "hello");
    assert_eq!(Circle(1.0).greet(), "hello");
    assert_eq!(Circle(2.0).greet(), "hello");
    assert_eq!(support::calls("Square::greet", "ok", &[]), 1);
    assert_eq!(support::calls("Circle::greet", "ok", &[]), 2);
}
