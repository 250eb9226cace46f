use rustform::observed;

fn is_success(status: u16) -> bool {
    status < 500
}

#[observed(ok_if = is_success)]
fn respond(status: u16) -> u16 {
    status
}

fn main() {
    let _ = respond(200);
}
