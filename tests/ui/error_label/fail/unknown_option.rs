use rustform::ErrorLabel;

#[derive(Debug, ErrorLabel)]
enum LoadError {
    #[label(name = "missing")]
    NotFound,
}

fn main() {
    let _ = LoadError::NotFound.label();
}
