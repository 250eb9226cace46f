use rustform::observed;

#[observed(lables(tier = "gold"))]
fn checkout() {}

fn main() {}
