use rustform::observed;

#[observed(buckets = [0.1, "0.5", 1.0])]
fn work() {}

fn main() {
    work();
}
