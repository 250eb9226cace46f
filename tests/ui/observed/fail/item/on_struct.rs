use rustform::observed;

#[observed]
struct Service {
    name: String,
}

fn main() {
    let service = Service {
        name: String::new(),
    };
    let _ = service.name;
}
