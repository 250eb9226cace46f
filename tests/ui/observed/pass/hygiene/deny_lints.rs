//! A crate that denies missing docs and unsafe code: the expansions add neither an
//! undocumented public item nor `unsafe`.

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![deny(warnings)]

use rustform::{ErrorLabel, observed};

/// Why a job failed.
#[derive(Debug, ErrorLabel)]
pub enum JobError {
    /// It took too long.
    Timeout,
}

/// Runs a job.
#[observed]
pub fn run(seconds: u32) -> Result<u32, JobError> {
    if seconds > 10 {
        Err(JobError::Timeout)
    } else {
        Ok(seconds)
    }
}

/// Runs jobs.
pub struct Worker;

#[observed]
impl Worker {
    /// Runs one job later.
    pub async fn run_later(&self, seconds: u32) -> Result<u32, JobError> {
        run(seconds)
    }
}

fn main() {
    assert_eq!(run(1).unwrap(), 1);
    assert!(run(11).is_err());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(Worker.run_later(2)).unwrap(), 2);
    let text = rustform::metrics::default_registry().render();
    assert!(text.contains(r#"function="run""#), "{text}");
    assert!(text.contains(r#"function="Worker::run_later""#), "{text}");
    assert!(
        text.contains(r#"result="error",error="timeout"} 1"#),
        "{text}"
    );
}
