use rustform::observed;

struct Service;

#[observed(metrics = false)]
impl Service {
    fn handle(&self) {}

    #[observed(span = false)]
    fn ping(&self) {}
}

fn main() {
    Service.handle();
    Service.ping();
}
