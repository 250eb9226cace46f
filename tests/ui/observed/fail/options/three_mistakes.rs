use rustform::observed;

#[observed(lables(tier = "gold"), level = "loud", buckets = [1.0, 0.5])]
fn checkout() {}

fn main() {
    checkout();
}
