use rustform::observed;

#[observed]
fn count() -> u32 {
    "three"
}

fn main() {
    let _ = count();
}
