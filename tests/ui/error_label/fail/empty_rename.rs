use rustform::ErrorLabel;

#[derive(Debug, ErrorLabel)]
enum LoadError {
    #[label(rename = "")]
    NotFound,
}

fn main() {
    let _ = LoadError::NotFound.label();
}
