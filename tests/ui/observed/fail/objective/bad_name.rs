use rustform::{Objective, observed};

const API: Objective = Objective::new("public api").success_rate(99.9);

#[observed(objective = API)]
fn handler() {}

fn main() {
    handler();
}
