//! `observability.logging`: the level filter (the same directives as `RUST_LOG`), the
//! format and destination of log lines, what each line includes, and sampling.

use super::choice;
use crate::decode::{Decoder, closest};
use crate::node::Node;

section! {
    /// `observability.logging`.
    #[derive(Debug, Clone, PartialEq)]
    #[non_exhaustive]
    pub struct Logging {
        /// `level` (default `info`): a level or `tracing-subscriber` filter directives
        /// (`info,hyper=warn`); `RUST_LOG` takes precedence.
        pub level: String = "info".to_owned() => level,
        /// `format` (default pretty).
        pub format: LogFormat = LogFormat::Pretty => choice(LOG_FORMATS),
        /// `output` (default stdout).
        pub output: LogOutput = LogOutput::Stdout => choice(LOG_OUTPUTS),
        /// `include_spans` (default true): the current span and its parents with their fields,
        /// in JSON lines (the pretty and compact formats always show them).
        pub include_spans: bool = true => Decoder::bool,
        /// `include_targets` (default true).
        pub include_targets: bool = true => Decoder::bool,
        /// `include_thread_ids` (default false).
        pub include_thread_ids: bool = false => Decoder::bool,
        /// `include_thread_names` (default false).
        pub include_thread_names: bool = false => Decoder::bool,
        /// `include_line_numbers` (default false): file and line of each event.
        pub include_line_numbers: bool = false => Decoder::bool,
        /// `sampling`: `Some(rate)` when enabled.
        pub sampling: Option<f64> = None => sampling,
    }
}

/// `logging.format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable, multi-line.
    Pretty,
    /// Human-readable, one line per event.
    Compact,
}

const LOG_FORMATS: &[(&str, LogFormat)] = &[
    ("json", LogFormat::Json),
    ("pretty", LogFormat::Pretty),
    ("compact", LogFormat::Compact),
];

/// `logging.output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

const LOG_OUTPUTS: &[(&str, LogOutput)] =
    &[("stdout", LogOutput::Stdout), ("stderr", LogOutput::Stderr)];

/// `level`: filter directives.
fn level(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<String> {
    let level = d.string(node, path)?;
    match level_problem(&level) {
        Some(problem) => {
            d.error(path, node.at, problem);
            None
        }
        None => Some(level),
    }
}

/// `sampling: { enabled, rate }`: the rate (1.0 unless given) when enabled.
fn sampling(d: &mut Decoder<'_>, node: &Node, path: &str) -> Option<Option<f64>> {
    let mut fields = d.map(node, path);
    let enabled = fields.read(d, "enabled", Decoder::bool).unwrap_or(false);
    let rate = fields.read(d, "rate", |d, n, p| d.number(n, p, 0.0, 1.0));
    fields.finish(d);
    Some(enabled.then(|| rate.unwrap_or(1.0)))
}

const LEVELS: &[&str] = &["trace", "debug", "info", "warn", "error", "off"];

/// Checks `tracing-subscriber` filter directives (`info`, `my_crate=debug,hyper=warn`).
/// Returns the problem, if any.
pub(crate) fn level_problem(directives: &str) -> Option<String> {
    for directive in directives.split(',').map(str::trim) {
        if directive.is_empty() {
            continue;
        }
        let level = match directive.rsplit_once('=') {
            Some((target, level)) => {
                if target.is_empty() {
                    return Some(format!("{directive:?} has no target before \"=\""));
                }
                level
            }
            None if LEVELS.contains(&directive.to_ascii_lowercase().as_str()) => directive,
            // A bare target (`info,my_crate`) enables everything in it; a lone word that
            // is not a level is far more likely a mistyped level.
            None if !directive.contains(char::is_whitespace) && directives.contains(',') => {
                continue;
            }
            None => directive,
        };
        if !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            let mut message = format!(
                "{level:?} is not a level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"off\""
            );
            if let Some(close) = closest(level, LEVELS.iter().copied()) {
                message.push_str(&format!(" — did you mean {close:?}?"));
            } else if !directive.contains('=') {
                message.push_str(&format!(
                    "; to set the level of a target, write \"{directive}=debug\""
                ));
            }
            return Some(message);
        }
    }
    None
}
