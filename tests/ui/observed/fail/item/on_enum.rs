use rustform::observed;

#[observed]
enum Mode {
    Fast,
}

fn main() {
    let _ = Mode::Fast;
}
