use rustform::metrics::LabelValue;

#[derive(rustform::LabelValue)]
enum Status {
    Ok,
    Failed(u16),
}

fn main() {
    let code = Status::Failed(500);
    assert_eq!(code.with_str(str::to_owned), "failed");
    let _ = Status::Ok;
}
