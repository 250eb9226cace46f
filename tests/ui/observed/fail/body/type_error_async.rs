use rustform::observed;

#[observed]
async fn count() -> u32 {
    "three"
}

fn main() {
    let _ = count();
}
