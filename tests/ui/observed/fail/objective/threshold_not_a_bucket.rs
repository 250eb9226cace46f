use std::time::Duration;

use rustform::{Objective, observed};

// 300 ms lies between the default bounds 0.25 and 0.5.
const SLOW: Objective = Objective::new("api").latency(Duration::from_millis(300), 99.0);

#[observed(objective = SLOW)]
fn handler() {}

fn main() {
    handler();
}
