use rustform::observed;

#[observed(name = 5)]
fn work() {}

fn main() {
    work();
}
