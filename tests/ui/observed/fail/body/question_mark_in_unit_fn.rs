use rustform::observed;

#[observed]
fn load(path: &str) {
    let text = std::fs::read_to_string(path)?;
    println!("{text}");
}

fn main() {
    load("config.yml");
}
