use rustform::{Objective, observed};

const API: Objective = Objective::new("api").success_rate(99.9);

#[observed(objective = API, metrics = false)]
fn handler() {}

fn main() {
    handler();
}
