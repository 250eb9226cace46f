use rustform::observed;

trait Store {
    #[observed]
    fn get(&self) -> u32;
}

fn main() {}
