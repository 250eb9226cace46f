use rustform::observed;

#[observed]
trait Store {
    fn get(&self) -> u32;
}

fn main() {}
