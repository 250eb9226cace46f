use rustform::observed;

const TIER: &str = "gold";

#[observed(labels(tier = TIER))]
fn checkout() {}

fn main() {
    checkout();
}
