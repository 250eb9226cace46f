use rustform::metrics::LabelValue;

#[derive(rustform::LabelValue)]
struct Status {
    code: u16,
}

fn main() {
    let status = Status { code: 200 };
    assert_eq!(status.with_str(str::to_owned), "200");
    let _ = status.code;
}
