use rustform::observed;

#[observed(skip(password))]
fn login(user: &str, password: &str) -> bool {
    !user.is_empty() && !password.is_empty()
}

fn main() {
    let _ = login("ann", "hunter2");
}
