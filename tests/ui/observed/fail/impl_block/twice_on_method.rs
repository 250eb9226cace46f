use rustform::observed;

struct Service;

#[observed]
impl Service {
    #[observed(level = "debug")]
    #[observed(level = "warn")]
    fn handle(&self) {}
}

fn main() {
    Service.handle();
}
