//! Reading typed values out of the node tree, collecting every problem with its path.
//!
//! Decoding never stops at the first mistake: each reader records what is wrong and
//! returns `None`, the caller keeps the default, and the user sees every problem at once.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::duration::{self, parse_duration};
use crate::error::Problem;
use crate::expand::expand;
use crate::node::{Key, Node, Position, Value, format_float, shorten};

/// Reads variables for `${VAR}` expansion.
pub(crate) type Lookup<'e> = &'e dyn Fn(&str) -> Option<String>;

/// The decoding state: where variables come from and what has gone wrong so far.
pub(crate) struct Decoder<'e> {
    lookup: Lookup<'e>,
    /// The document's text, to quote a value as it was written.
    source: &'e str,
    warn_unset: bool,
    pub(crate) problems: Vec<Problem>,
    pub(crate) warnings: Vec<Problem>,
}

/// A scalar after expansion.
enum Scalar {
    Bool(bool),
    Int(i128),
    Float(f64),
    /// A string; `from` is the text as written when it was expanded.
    Str {
        text: String,
        from: Option<String>,
    },
}

impl Scalar {
    fn describe(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(x) => format_float(*x),
            Scalar::Str { text, from: None } => format!("{:?}", shorten(text)),
            Scalar::Str {
                text,
                from: Some(from),
            } => format!("{:?} (from {:?})", shorten(text), shorten(from)),
        }
    }

    /// The text of a string that came from the environment, to be read as another type.
    fn substituted_text(&self) -> Option<&str> {
        match self {
            Scalar::Str {
                text,
                from: Some(_),
            } => Some(text.trim()),
            _ => None,
        }
    }
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'e> Decoder<'e> {
    pub(crate) fn new(source: &'e str, lookup: Lookup<'e>, warn_unset: bool) -> Decoder<'e> {
        Decoder {
            lookup,
            source,
            warn_unset,
            problems: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, path: &str, at: Position, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_owned(),
            at: Some(at),
            message: message.into(),
        });
    }

    /// Reports every key written twice in one mapping, anywhere under `node`, at the
    /// second one and with its path. The first one is the one decoded.
    pub(crate) fn duplicate_keys(&mut self, node: &Node, path: &str) {
        match &node.value {
            Value::Map(entries) => {
                let mut first: HashMap<&str, Position> = HashMap::with_capacity(entries.len());
                for (key, value) in entries {
                    let key_path = join(path, &key.name);
                    if let Some(at) = first.get(key.name.as_str()) {
                        self.error(
                            &key_path,
                            key.at,
                            format!(
                                "duplicate key, first written at line {}; keep one of them",
                                at.line
                            ),
                        );
                    } else {
                        first.insert(&key.name, key.at);
                    }
                    self.duplicate_keys(value, &key_path);
                }
            }
            Value::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    self.duplicate_keys(item, &format!("{path}[{i}]"));
                }
            }
            _ => {}
        }
    }

    fn expected(&mut self, node: &Node, path: &str, what: &str, found: &str) {
        self.error(path, node.at, format!("expected {what}, found {found}"));
    }

    /// The keys of a mapping. Null is an empty mapping; anything else is an error.
    pub(crate) fn map<'n>(&mut self, node: &'n Node, path: &str) -> Fields<'n> {
        let entries: &'n [(Key, Node)] = match &node.value {
            Value::Map(entries) => entries,
            Value::Null => &[],
            other => {
                let found = other.describe();
                self.expected(node, path, "a mapping of keys to values", &found);
                &[]
            }
        };
        Fields {
            entries,
            asked: Vec::new(),
            path: path.to_owned(),
            at: node.at,
        }
    }

    /// The items of a list, each with its path. Null is an empty list.
    pub(crate) fn list<'n>(&mut self, node: &'n Node, path: &str) -> Vec<(&'n Node, String)> {
        match &node.value {
            Value::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (item, format!("{path}[{i}]")))
                .collect(),
            Value::Null => Vec::new(),
            other => {
                let found = other.describe();
                self.expected(node, path, "a list", &found);
                Vec::new()
            }
        }
    }

    /// A scalar, strings expanded. `None` for null, for a string that expands to
    /// nothing, and (with an error) for a collection or a bad reference.
    fn scalar(&mut self, node: &Node, path: &str, what: &str) -> Option<Scalar> {
        match &node.value {
            Value::Null => None,
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Int(i) => Some(Scalar::Int(*i)),
            Value::Float(x) => Some(Scalar::Float(*x)),
            Value::Str(raw) => {
                let expanded = match expand(raw, self.lookup) {
                    Ok(expanded) => expanded,
                    Err(message) => {
                        self.error(path, node.at, message);
                        return None;
                    }
                };
                if self.warn_unset {
                    for name in &expanded.unset {
                        self.warnings.push(Problem {
                            path: path.to_owned(),
                            at: Some(node.at),
                            message: format!(
                                "${{{name}}} is not set, so it is replaced by nothing \
                                 (give a default with ${{{name}:-default}})"
                            ),
                        });
                    }
                }
                if expanded.substituted && expanded.text.trim().is_empty() {
                    return None;
                }
                Some(Scalar::Str {
                    text: expanded.text,
                    from: expanded.substituted.then(|| raw.clone()),
                })
            }
            Value::Seq(_) | Value::Map(_) => {
                let found = node.value.describe();
                self.expected(node, path, what, &found);
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        const WHAT: &str = "true or false";
        let scalar = self.scalar(node, path, WHAT)?;
        if let Scalar::Bool(b) = scalar {
            return Some(b);
        }
        match scalar
            .substituted_text()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                let found = scalar.describe();
                self.expected(node, path, WHAT, &found);
                None
            }
        }
    }

    /// A string. Numbers and booleans are refused with the quoted form to write, since
    /// YAML would otherwise turn `1.10` into `1.1`.
    pub(crate) fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        const WHAT: &str = "a string";
        match self.scalar(node, path, WHAT)? {
            Scalar::Str { text, .. } => Some(text),
            other => {
                let found = other.describe();
                // Quote the value as written: YAML reads `1.10` as the number 1.1.
                let written = self.written(node.at).unwrap_or_else(|| found.clone());
                self.error(
                    path,
                    node.at,
                    format!("expected {WHAT}, found {found}; write it in quotes: \"{written}\""),
                );
                None
            }
        }
    }

    /// An `http://` or `https://` URL with a host.
    pub(crate) fn url(&mut self, node: &Node, path: &str) -> Option<String> {
        let url = self.string(node, path)?;
        let rest = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        match rest {
            Some(rest)
                if !rest.is_empty()
                    && !rest.starts_with('/')
                    && !rest.contains(char::is_whitespace) =>
            {
                Some(url)
            }
            _ => {
                self.error(
                    path,
                    node.at,
                    format!(
                        "expected an http:// or https:// URL with a host, like \"http://collector:4317\", found {:?}",
                        shorten(&url)
                    ),
                );
                None
            }
        }
    }

    /// The path part of a URL, like `/metrics`.
    pub(crate) fn url_path(&mut self, node: &Node, path: &str) -> Option<String> {
        let value = self.string(node, path)?;
        if value.starts_with('/') && !value.contains(char::is_whitespace) && !value.contains('?') {
            return Some(value);
        }
        self.error(
            path,
            node.at,
            format!(
                "expected a URL path starting with \"/\", like \"/metrics\", found {:?}",
                shorten(&value)
            ),
        );
        None
    }

    /// A plain scalar's text as written at `at`.
    fn written(&self, at: Position) -> Option<String> {
        let line = self
            .source
            .lines()
            .nth(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let start = line
            .char_indices()
            .nth(usize::try_from(at.column).ok()?.checked_sub(1)?)?
            .0;
        let token = line[start..].split(['#', ',', ']', '}']).next()?.trim();
        (!token.is_empty() && !token.contains(['"', '\'', ':'])).then(|| token.to_owned())
    }

    /// A number in `min..=max`.
    pub(crate) fn number(&mut self, node: &Node, path: &str, min: f64, max: f64) -> Option<f64> {
        let what = if max == f64::MAX {
            format!("a number of at least {}", format_float(min))
        } else {
            format!(
                "a number between {} and {}",
                format_float(min),
                format_float(max)
            )
        };
        let scalar = self.scalar(node, path, &what)?;
        let value = match &scalar {
            Scalar::Int(i) => Some(*i as f64),
            Scalar::Float(x) => Some(*x),
            other => other.substituted_text().and_then(|t| t.parse::<f64>().ok()),
        };
        match value {
            Some(x) if x.is_finite() && (min..=max).contains(&x) => Some(x),
            _ => {
                let found = scalar.describe();
                self.expected(node, path, &what, &found);
                None
            }
        }
    }

    /// A whole number in `min..=max`.
    pub(crate) fn whole(&mut self, node: &Node, path: &str, min: u64, max: u64) -> Option<u64> {
        let what = if max == u64::MAX {
            format!("a whole number of at least {min}")
        } else {
            format!("a whole number between {min} and {max}")
        };
        let scalar = self.scalar(node, path, &what)?;
        let value = match &scalar {
            Scalar::Int(i) => u64::try_from(*i).ok(),
            other => other.substituted_text().and_then(|t| t.parse::<u64>().ok()),
        };
        match value {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let found = scalar.describe();
                self.expected(node, path, &what, &found);
                None
            }
        }
    }

    /// A duration of at least `min`.
    pub(crate) fn duration(&mut self, node: &Node, path: &str, min: Duration) -> Option<Duration> {
        let scalar = self.scalar(node, path, duration::EXPECTED)?;
        let parsed = match &scalar {
            Scalar::Str { text, .. } => parse_duration(text),
            _ => None,
        };
        match parsed {
            Some(d) if d >= min => Some(d),
            Some(_) => {
                let found = scalar.describe();
                self.expected(
                    node,
                    path,
                    &format!("a duration of at least {}", show_duration(min)),
                    &found,
                );
                None
            }
            None => {
                let mut message = format!(
                    "expected {}, found {}",
                    duration::EXPECTED,
                    scalar.describe()
                );
                if let Scalar::Int(n) = scalar {
                    message.push_str(&format!("; add a unit: \"{n}s\""));
                }
                self.error(path, node.at, message);
                None
            }
        }
    }

    /// One of a fixed set of words.
    pub(crate) fn choice<T: Copy>(
        &mut self,
        node: &Node,
        path: &str,
        options: &[(&str, T)],
    ) -> Option<T> {
        let listed = options
            .iter()
            .map(|(word, _)| format!("{word:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let what = format!("one of {listed}");
        let scalar = self.scalar(node, path, &what)?;
        if let Scalar::Str { text, .. } = &scalar {
            let word = text.trim();
            if let Some((_, value)) = options.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)) {
                return Some(*value);
            }
            let mut message = format!("expected {what}, found {}", scalar.describe());
            if let Some(close) = closest(word, options.iter().map(|(w, _)| *w)) {
                message.push_str(&format!(" — did you mean {close:?}?"));
            }
            self.error(path, node.at, message);
            return None;
        }
        let found = scalar.describe();
        self.expected(node, path, &what, &found);
        None
    }

    /// A list of strings.
    pub(crate) fn strings(&mut self, node: &Node, path: &str) -> Vec<(String, Position, String)> {
        self.list(node, path)
            .into_iter()
            .filter_map(|(item, item_path)| {
                let text = self.string(item, &item_path)?;
                Some((text, item.at, item_path))
            })
            .collect()
    }

    /// A list of numbers (histogram buckets): finite, strictly increasing, at least one.
    pub(crate) fn buckets(&mut self, node: &Node, path: &str) -> Option<Vec<f64>> {
        let items = self.list(node, path);
        if items.is_empty() {
            self.error(
                path,
                node.at,
                "expected at least one bucket upper bound, like [0.1, 0.5, 1.0]",
            );
            return None;
        }
        let mut bounds = Vec::with_capacity(items.len());
        let mut ok = true;
        for (item, item_path) in items {
            match self.number(item, &item_path, f64::MIN, f64::MAX) {
                Some(x) => {
                    if let Some(&last) = bounds.last()
                        && x <= last
                    {
                        self.error(
                            &item_path,
                            item.at,
                            format!(
                                "bucket bounds must increase, but {} follows {}",
                                format_float(x),
                                format_float(last)
                            ),
                        );
                        ok = false;
                    }
                    bounds.push(x);
                }
                None => ok = false,
            }
        }
        ok.then_some(bounds)
    }

    /// A mapping of names to string values.
    pub(crate) fn string_map(&mut self, node: &Node, path: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let fields = self.map(node, path);
        for (key, value) in fields.entries {
            let value_path = join(path, &key.name);
            if let Some(text) = self.string(value, &value_path) {
                out.insert(key.name.clone(), text);
            }
        }
        out
    }
}

/// A duration as a person would write it.
pub(crate) fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) || ms == 0 {
        format!("{ms}ms")
    } else {
        format!("{}s", ms / 1000)
    }
}

/// The keys of one mapping, read one by one; what is never read is reported as unknown.
pub(crate) struct Fields<'n> {
    entries: &'n [(Key, Node)],
    /// The keys known here, in the order they were first read.
    asked: Vec<&'static str>,
    path: String,
    /// Where the mapping is, for a key that should be in it and is not.
    at: Position,
}

impl<'n> Fields<'n> {
    /// The value of `key` and its path, if present.
    pub(crate) fn get(&mut self, key: &'static str) -> Option<(&'n Node, String)> {
        if !self.asked.contains(&key) {
            self.asked.push(key);
        }
        self.entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, node)| (node, join(&self.path, key)))
    }

    /// Reads `key` with `read` if present.
    pub(crate) fn read<'e, T>(
        &mut self,
        d: &mut Decoder<'e>,
        key: &'static str,
        read: impl FnOnce(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        let (node, path) = self.get(key)?;
        read(d, node, &path)
    }

    /// The path of `key` and where its value is: the place to report a value that
    /// disagrees with another key. An absent key is at fault through its default, and
    /// has no place (0:0).
    pub(crate) fn place(&mut self, key: &'static str) -> (String, Position) {
        let at = self.get(key).map(|(node, _)| node.at).unwrap_or_default();
        (join(&self.path, key), at)
    }

    /// Reads `key` into `slot` if present and valid.
    pub(crate) fn set<'e, T>(
        &mut self,
        d: &mut Decoder<'e>,
        key: &'static str,
        slot: &mut T,
        read: impl FnOnce(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
    ) {
        if let Some(value) = self.read(d, key, read) {
            *slot = value;
        }
    }

    /// Reads `key`, which must be present: its absence is reported at the mapping, with
    /// what is `allowed`.
    pub(crate) fn required<'e, T>(
        &mut self,
        d: &mut Decoder<'e>,
        key: &'static str,
        allowed: &str,
        read: impl FnOnce(&mut Decoder<'e>, &'n Node, &str) -> Option<T>,
    ) -> Option<T> {
        match self.get(key) {
            Some((node, path)) => read(d, node, &path),
            None => {
                self.missing(d, format!("missing key {key:?}: expected {allowed}"));
                None
            }
        }
    }

    /// Reports a problem of the whole mapping, such as a key it lacks.
    pub(crate) fn missing(&self, d: &mut Decoder<'_>, message: impl Into<String>) {
        d.error(&self.path, self.at, message);
    }

    /// Reports every key that was not read, with the closest known key.
    pub(crate) fn finish(self, d: &mut Decoder<'_>) {
        for (key, _) in self.entries {
            if self.asked.contains(&key.name.as_str()) {
                continue;
            }
            let mut message = format!("unknown key {:?}", shorten(&key.name));
            match closest(&key.name, self.asked.iter().copied()) {
                Some(close) => message.push_str(&format!(" — did you mean {close:?}?")),
                None => {
                    let known = self
                        .asked
                        .iter()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    message.push_str(&format!("; the keys here are {known}"));
                }
            }
            d.error(&self.path, key.at, message);
        }
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .map(|c| (c, strsim::jaro_winkler(&lower, c)))
        .filter(|(_, score)| *score >= 0.8)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}
