use rustform::observed;

#[observed(level = "loud")]
fn work() {}

fn main() {
    work();
}
