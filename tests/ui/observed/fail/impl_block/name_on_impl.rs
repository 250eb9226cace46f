use rustform::observed;

struct Service;

#[observed(name = "service")]
impl Service {
    fn handle(&self) {}
}

fn main() {
    Service.handle();
}
