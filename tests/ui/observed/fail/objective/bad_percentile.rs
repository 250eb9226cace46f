use rustform::{Objective, observed};

// A percentage, not a fraction: 100 (or above) can never be met.
const API: Objective = Objective::new("api").success_rate(100.0);

#[observed(objective = API)]
fn handler() {}

fn main() {
    handler();
}
