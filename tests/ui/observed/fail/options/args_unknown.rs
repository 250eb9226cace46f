use rustform::observed;

#[observed(args(nope))]
fn login(user: &str, attempts: u32) -> bool {
    !user.is_empty() && attempts < 3
}

fn main() {
    let _ = login("ann", 1);
}
