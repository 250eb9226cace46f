use std::time::Duration;

use rustform::{Objective, observed};

const API: Objective = Objective::new("api")
    .success_rate(99.9)
    .latency(Duration::from_millis(250), 99.0);

mod slo {
    use std::time::Duration;

    pub const BATCH: rustform::Objective =
        rustform::Objective::new("batch").latency(Duration::from_millis(1500), 95.0);
}

#[observed(objective = API)]
fn get_user() -> Result<(), std::fmt::Error> {
    Ok(())
}

#[observed(objective = slo::BATCH, buckets = [0.5, 1.5, 3.0])]
async fn batch() {}

#[observed(objective = rustform::Objective::new("inline").success_rate(99.0))]
fn inline() {}

fn main() {
    get_user().unwrap();
    drop(batch());
    inline();
}
