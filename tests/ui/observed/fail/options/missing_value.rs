use rustform::observed;

#[observed(level)]
fn work() {}

fn main() {
    work();
}
