use rustform::observed;

#[observed]
#[observed(level = "debug")]
fn twice() {}

fn main() {
    twice();
}
