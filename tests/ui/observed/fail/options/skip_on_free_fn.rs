use rustform::observed;

#[observed(skip)]
fn work() {}

fn main() {
    work();
}
