use rustform::observed;

#[observed(labels(function = "pay"))]
fn checkout() {}

fn main() {
    checkout();
}
