use rustform::observed;

#[observed(labels(__x = "gold"))]
fn checkout() {}

fn main() {
    checkout();
}
