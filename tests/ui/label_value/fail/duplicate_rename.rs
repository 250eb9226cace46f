use rustform::metrics::LabelValue;

#[derive(rustform::LabelValue)]
enum Status {
    #[label(rename = "failed")]
    Error,
    #[label(rename = "failed")]
    Timeout,
}

fn main() {
    assert_eq!(Status::Error.with_str(str::to_owned), "failed");
    let _ = Status::Timeout;
}
