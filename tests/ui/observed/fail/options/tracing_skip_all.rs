use rustform::observed;

#[observed(skip_all)]
fn login(user: &str, password: &str) -> bool {
    !user.is_empty() && !password.is_empty()
}

fn main() {
    let _ = login("ann", "hunter2");
}
