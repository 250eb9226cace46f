use rustform::observed;

#[observed(level = "debug", level = "warn")]
fn work() {}

fn main() {
    work();
}
