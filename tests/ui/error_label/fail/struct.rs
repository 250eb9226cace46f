use rustform::ErrorLabel;

#[derive(Debug, ErrorLabel)]
struct Timeout {
    seconds: u64,
}

fn main() {
    let timeout = Timeout { seconds: 1 };
    let _ = timeout.seconds;
}
