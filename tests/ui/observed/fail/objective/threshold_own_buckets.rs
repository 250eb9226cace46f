use std::time::Duration;

use rustform::{Objective, observed};

// A bound of the default buckets, but not of this function's own.
const API: Objective = Objective::new("api").latency(Duration::from_millis(250), 99.0);

#[observed(objective = API, buckets = [0.1, 0.5, 1.0])]
fn handler() {}

fn main() {
    handler();
}
