use rustform::observed;

#[observed(labels(tier = ""))]
fn checkout() {}

fn main() {
    checkout();
}
