//! Finding, reading and parsing the file, at compile time, into the metrics it declares.

use std::path::{Path, PathBuf};

use proc_macro2::{Ident, Span};
use rustform_config::{Config, CustomMetrics, MetricDeclaration, Problem};
use syn::LitStr;

use crate::ctxt::Ctxt;

/// The file, read and parsed.
pub(crate) struct File {
    /// Its absolute path, to make the crate depend on it; `None` if it is not UTF-8.
    pub(crate) tracked: Option<String>,
    /// Its declarations, in the file's order: counters, gauges, histograms.
    pub(crate) metrics: Vec<Metric>,
}

/// The three kinds of metric a file declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One declared metric.
#[derive(Debug, Clone)]
pub(crate) struct Metric {
    pub(crate) kind: Kind,
    /// As written: a counter's may end in `_total`.
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) unit: Option<String>,
    pub(crate) labels: Vec<String>,
    /// As declared; `None` for a histogram means the default buckets.
    pub(crate) buckets: Option<Vec<f64>>,
    /// Its YAML path, like `custom_metrics.counters[1]`.
    pub(crate) path: String,
}

impl Metric {
    fn new(kind: Kind, d: &MetricDeclaration) -> Metric {
        Metric {
            kind,
            name: d.name.clone(),
            help: d.description.clone(),
            unit: d.unit.clone(),
            labels: d.labels.clone(),
            buckets: d.buckets.clone(),
            path: d.path.clone(),
        }
    }

    /// The family name: a counter's without `_total`.
    pub(crate) fn base(&self) -> &str {
        match self.kind {
            Kind::Counter => self.name.strip_suffix("_total").unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// The struct field: the metric's name, a keyword as a raw identifier.
    pub(crate) fn field(&self) -> Ident {
        field_ident(&self.name)
    }
}

/// Reads the file `input.path` names and returns what it declares, or one error per
/// problem, each on the path literal.
pub(crate) fn read(path: &LitStr) -> Result<File, syn::Error> {
    let origin = path.value();
    let found = locate(path, &origin)?;
    let bytes = std::fs::read(&found).map_err(|e| {
        syn::Error::new(path.span(), format!("cannot read {}: {e}", found.display()))
    })?;
    let config = Config::parse_for_build(&bytes, &origin).map_err(|err| {
        let cx = Ctxt::new();
        for problem in err.problems() {
            cx.syn_error(problem_error(path.span(), &origin, problem));
        }
        cx.check()
            .err()
            .unwrap_or_else(|| syn::Error::new(path.span(), err.to_string()))
    })?;
    let tracked = std::fs::canonicalize(&found)
        .unwrap_or(found)
        .to_str()
        .map(str::to_owned);
    Ok(File {
        tracked,
        metrics: metrics(&config.custom_metrics),
    })
}

/// `rustform.yml:5:26: custom_metrics.counters[0].labels[1]: "le" is not a valid …`.
fn problem_error(span: Span, origin: &str, problem: &Problem) -> syn::Error {
    let message = match problem.at {
        Some(at) => format!("{origin}:{at}: {problem}"),
        None => format!("{origin}: {problem}"),
    };
    syn::Error::new(span, message)
}

fn metrics(custom: &CustomMetrics) -> Vec<Metric> {
    let sections = [
        (Kind::Counter, &custom.counters),
        (Kind::Gauge, &custom.gauges),
        (Kind::Histogram, &custom.histograms),
    ];
    sections
        .into_iter()
        .flat_map(|(kind, list)| list.iter().map(move |d| Metric::new(kind, d)))
        .collect()
}

/// The file: an absolute path as given; a relative one in the directory of the crate's
/// `Cargo.toml`, else in the directory of the file invoking the macro.
fn locate(lit: &LitStr, origin: &str) -> Result<PathBuf, syn::Error> {
    let given = Path::new(origin);
    let candidates: Vec<PathBuf> = if given.is_absolute() {
        vec![given.to_path_buf()]
    } else {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .into_iter()
            .chain(source_dir())
            .map(|dir| dir.join(given))
            .collect()
    };
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    Err(syn::Error::new(
        lit.span(),
        not_found(origin, given, source_dir()),
    ))
}

/// Where the file was looked for, and how to name it. The crate's directory is not
/// spelled out: the user knows it, and it differs between machines.
fn not_found(origin: &str, given: &Path, source_dir: Option<PathBuf>) -> String {
    if given.is_absolute() {
        return format!("cannot find the configuration file {origin:?}: there is no such file");
    }
    let beside = match source_dir {
        Some(dir) => format!(
            "nor in {}, the directory of the source file invoking `app_metrics!`",
            dir.display()
        ),
        None => "nor beside the source file invoking `app_metrics!`".to_owned(),
    };
    format!(
        "cannot find the configuration file {origin:?}: it is neither in the directory of the \
         crate's Cargo.toml {beside}; give its path relative to the crate's directory, like \
         \"config/rustform.yml\""
    )
}

/// The directory of the source file invoking the macro, when the compiler knows it.
fn source_dir() -> Option<PathBuf> {
    if !proc_macro::is_available() {
        return None;
    }
    let file = proc_macro::Span::call_site().local_file()?;
    file.parent().map(Path::to_path_buf)
}

/// Keywords a field cannot be named without `r#`.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers: the field takes a trailing `_`.
const PATH_KEYWORDS: &[&str] = &["_", "crate", "self", "Self", "super"];

/// The field for a metric name (which the configuration checked: ASCII letters, digits and
/// `_`, not starting with a digit).
pub(crate) fn field_ident(name: &str) -> Ident {
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let span = Span::call_site();
    if !valid {
        // Unreachable after the configuration's checks; a name that cannot panic.
        return Ident::new("__rustform_invalid_name", span);
    }
    if PATH_KEYWORDS.contains(&name) {
        Ident::new(&format!("{name}_"), span)
    } else if KEYWORDS.contains(&name) {
        Ident::new_raw(name, span)
    } else {
        Ident::new(name, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_named_like_metrics() {
        assert_eq!(field_ident("orders_total").to_string(), "orders_total");
        assert_eq!(field_ident("type").to_string(), "r#type");
        assert_eq!(field_ident("gen").to_string(), "r#gen");
        assert_eq!(field_ident("self").to_string(), "self_");
        assert_eq!(field_ident("_").to_string(), "__");
        assert_eq!(field_ident("HttpRequests").to_string(), "HttpRequests");
    }

    #[test]
    fn a_missing_file_says_where_it_was_looked_for() {
        assert_eq!(
            not_found("a.yml", Path::new("a.yml"), Some(PathBuf::from("/src/bin"))),
            "cannot find the configuration file \"a.yml\": it is neither in the directory of \
             the crate's Cargo.toml nor in /src/bin, the directory of the source file invoking \
             `app_metrics!`; give its path relative to the crate's directory, like \
             \"config/rustform.yml\""
        );
        assert!(not_found("/etc/a.yml", Path::new("/etc/a.yml"), None).ends_with("no such file"));
    }

    #[test]
    fn problems_keep_file_line_and_path() {
        let lit = LitStr::new("rustform.yml", Span::call_site());
        let err = Config::parse_for_build(
            "custom_metrics:\n  counters:\n    - { name: a, description: A, labels: [le] }\n",
            "rustform.yml",
        )
        .unwrap_err();
        let e = problem_error(lit.span(), "rustform.yml", &err.problems()[0]);
        assert_eq!(
            e.to_string(),
            "rustform.yml:3:43: custom_metrics.counters[0].labels[0]: \"le\" is not a valid \
             label name: `le` and `quantile` are reserved for histogram and summary buckets; \
             choose another name"
        );
    }
}
