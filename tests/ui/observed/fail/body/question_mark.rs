use rustform::observed;

#[observed]
fn parse(text: &str) -> u32 {
    text.parse::<u32>()?
}

fn main() {
    let _ = parse("1");
}
