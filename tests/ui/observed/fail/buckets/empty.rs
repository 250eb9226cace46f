use rustform::observed;

#[observed(buckets = [])]
fn work() {}

fn main() {
    work();
}
