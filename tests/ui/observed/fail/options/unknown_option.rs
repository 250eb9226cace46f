use rustform::observed;

#[observed(frobnicate = true)]
fn checkout() {}

fn main() {}
