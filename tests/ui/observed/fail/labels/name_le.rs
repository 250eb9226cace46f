use rustform::observed;

#[observed(labels(le = "gold"))]
fn checkout() {}

fn main() {
    checkout();
}
