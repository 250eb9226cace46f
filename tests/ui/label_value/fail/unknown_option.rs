use rustform::metrics::LabelValue;

#[derive(rustform::LabelValue)]
enum Status {
    #[label(name = "ok")]
    Fine,
}

fn main() {
    assert_eq!(Status::Fine.with_str(str::to_owned), "ok");
}
