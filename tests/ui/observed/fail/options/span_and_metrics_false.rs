use rustform::observed;

#[observed(span = false, metrics = false)]
fn work() {}

fn main() {
    work();
}
