use rustform::observed;

fn good(status: &u16) -> bool {
    *status < 500
}

fn bad(status: &u16) -> bool {
    *status >= 500
}

#[observed(ok_if = good, error_if = bad)]
fn respond(status: u16) -> u16 {
    status
}

fn main() {
    let _ = respond(200);
}
