//! What is wrong with a configuration, and where.

use std::fmt;

use crate::node::Position;

/// One mistake (or, as a warning, one questionable value) in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The YAML path of the value, like `observability.logging.level` or
    /// `custom_metrics.counters[1].labels[0]`; empty for the whole document; the variable
    /// name for an environment variable.
    pub path: String,
    /// Where the value is in the file, when it came from one.
    pub at: Option<Position>,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration was not accepted: every problem found, each with its YAML path,
/// its line and column, the bad value and what is allowed.
///
/// ```
/// let err = rustform_config::Config::parse_str(
///     "observability:\n  opentelemetry:\n    tracing:\n      sample_rate: 1.5\n",
/// )
/// .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "rustform.yml:4:20: observability.opentelemetry.tracing.sample_rate: \
///      expected a number between 0.0 and 1.0, found 1.5"
/// );
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn new(origin: &str, problems: Vec<Problem>) -> ConfigError {
        ConfigError {
            origin: origin.to_owned(),
            problems,
        }
    }

    /// The file (or the name given to a string) the configuration came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Every problem, in the order they appear in the file.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            match problem.at {
                Some(at) => write!(f, "{}:{at}: {problem}", self.origin)?,
                None => write!(f, "{}: {problem}", self.origin)?,
            }
        }
        Ok(())
    }
}

/// The same text as `Display`, so `fn main() -> Result<(), rustform::Error>` shows the
/// file, line and YAML path of each problem.
impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConfigError(\n{self}\n)")
    }
}

impl std::error::Error for ConfigError {}
