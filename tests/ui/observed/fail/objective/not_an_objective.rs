use rustform::observed;

const TARGET: f64 = 99.9;

#[observed(objective = TARGET)]
fn handler() {}

#[observed(objective)]
fn flag() {}

fn main() {
    handler();
    flag();
}
