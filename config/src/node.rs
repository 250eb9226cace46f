//! The YAML document as a tree of nodes that remember where they were written.
//!
//! serde-saphyr parses the text (with a budget, so hostile input cannot exhaust memory
//! or the stack); the tree keeps each node's line and column, so a problem found while
//! decoding can point at the exact place in the file.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::error::Problem;
use crate::outline;

/// The largest configuration file accepted, in bytes.
pub(crate) const MAX_FILE_BYTES: usize = 1 << 20;

/// How deeply collections may nest. The schema needs six levels; the margin is for
/// users' own `resource.attributes` and alert labels.
const MAX_DEPTH: usize = 32;

/// One value of the document and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) at: Position,
}

/// A line and column in the file, both counted from 1 (0 when unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// The line, from 1.
    pub line: u64,
    /// The column, from 1.
    pub column: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A YAML value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

/// A mapping key: its text (scalars of any type are keys by their text) and position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) at: Position,
}

impl Value {
    /// How the value reads in a message: the value itself for scalars, its kind for
    /// collections.
    pub(crate) fn describe(&self) -> String {
        match self {
            Value::Null => "nothing (null)".to_owned(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(x) => format_float(*x),
            Value::Str(s) => format!("{:?}", shorten(s)),
            Value::Seq(_) => "a list".to_owned(),
            Value::Map(_) => "a mapping".to_owned(),
        }
    }
}

/// A float as YAML would write it (`1.0`, not `1`).
pub(crate) fn format_float(x: f64) -> String {
    if x.is_finite() && x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.1}")
    } else {
        x.to_string()
    }
}

/// A string cut to a length that fits in one line of a message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

impl Position {
    /// The position of the byte at `offset`: the line is 1 + the newlines before it,
    /// the column 1 + the characters between the line's start and it (the parser
    /// counts columns in characters too). Bytes before it that are not UTF-8 count as
    /// one character each.
    pub(crate) fn of_byte(bytes: &[u8], offset: usize) -> Position {
        let before = &bytes[..offset.min(bytes.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let newlines = before.iter().filter(|&&b| b == b'\n').count();
        let chars = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count();
        Position {
            line: newlines as u64 + 1,
            column: chars as u64 + 1,
        }
    }
}

/// The text of a file, or why it cannot be read as configuration: larger than
/// [`MAX_FILE_BYTES`], or not UTF-8. Either problem is reported where it happens, with
/// the path of the keys open there.
pub(crate) fn text(bytes: &[u8]) -> Result<&str, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    too_large(bytes)?;
    std::str::from_utf8(bytes).map_err(|error| {
        let offset = error.valid_up_to();
        let at = Position::of_byte(bytes, offset);
        // The bytes before `offset` are UTF-8: the path is read from them.
        let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
        Problem {
            path: outline::path_at(before, at),
            at: Some(at),
            message: format!(
                "not UTF-8 text: the byte 0x{:02X} does not begin a valid character; \
                 save the file as UTF-8",
                bytes[offset]
            ),
        }
    })
}

/// Refuses more than [`MAX_FILE_BYTES`], at the place where the file passes the limit.
fn too_large(bytes: &[u8]) -> Result<(), Problem> {
    if bytes.len() <= MAX_FILE_BYTES {
        return Ok(());
    }
    Err(Problem {
        path: String::new(),
        at: Some(Position::of_byte(bytes, MAX_FILE_BYTES)),
        message: format!(
            "the file is longer than a configuration file may be (at most {MAX_FILE_BYTES} \
             bytes); it passes the limit here"
        ),
    })
}

/// Parses `text` into a tree. An empty document is `Null`. A syntax error is reported
/// with the path of the keys open where it is, read from the lines before it (see
/// [`outline`]); a key written twice in one mapping is passed through, for the decoder
/// to report with its path.
pub(crate) fn parse(text: &str) -> Result<Node, Problem> {
    too_large(text.as_bytes())?;
    if text.trim().is_empty() {
        return Ok(Node {
            value: Value::Null,
            at: Position { line: 1, column: 1 },
        });
    }
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.flow_nesting_limit = MAX_DEPTH;
    budget.max_nodes = 100_000;
    budget.max_events = 250_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    serde_saphyr::from_str_with_options::<Option<Node>>(text, options)
        .map(|node| {
            node.unwrap_or(Node {
                value: Value::Null,
                at: Position { line: 1, column: 1 },
            })
        })
        .map_err(|error| syntax_error(text, &error))
}

fn syntax_error(text: &str, error: &serde_saphyr::Error) -> Problem {
    let at = error
        .location()
        .map(|l| Position {
            line: l.line(),
            column: l.column(),
        })
        .filter(|p| p.line > 0);
    // serde-saphyr's Display draws a snippet of the source; the first line is the message.
    let shown = error.to_string();
    let message = shown
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("not valid YAML")
        .trim_start_matches("error: ")
        .to_owned();
    Problem {
        path: at.map(|at| outline::path_at(text, at)).unwrap_or_default(),
        at,
        message: format!("not valid YAML: {}", plain(&message)),
    }
}

/// The parser's message in the user's terms: without the position (reported
/// separately) and without advice about parser options.
fn plain(message: &str) -> String {
    let mut message = strip_location(message);
    if let Some(rest) = message.strip_prefix("line ")
        && let Some((_, after)) = rest.split_once(": ")
    {
        message = after.to_owned();
    }
    message
}

/// Removes a trailing " at line L column C" that the parser adds to some messages,
/// since the position is reported separately.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(deserializer)?;
        Ok(Node {
            value: spanned.value,
            at: Position {
                line: spanned.referenced.line(),
                column: spanned.referenced.column(),
            },
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i128::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    name: key.value.0,
                    at: Position {
                        line: key.referenced.line(),
                        column: key.referenced.column(),
                    },
                },
                value,
            ));
        }
        Ok(Value::Map(entries))
    }
}

/// A key's text, whatever scalar type YAML gave it.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Str(s) => Ok(KeyText(s)),
            Value::Null => Ok(KeyText("null".to_owned())),
            Value::Seq(_) | Value::Map(_) => Err(de::Error::custom(
                "a key must be a plain word, not a list or a mapping",
            )),
            scalar => Ok(KeyText(scalar.describe())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(node: &Node) -> &[(Key, Node)] {
        match &node.value {
            Value::Map(entries) => entries,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn nodes_keep_their_positions() {
        let node = parse("a:\n  b: 1.5\n  c: [x, 2]\n").unwrap();
        let a = &map(&node)[0];
        assert_eq!(a.0.name, "a");
        assert_eq!(a.0.at, Position { line: 1, column: 1 });
        let inner = map(&a.1);
        assert_eq!(inner[0].0.name, "b");
        assert_eq!(inner[0].1.value, Value::Float(1.5));
        assert_eq!(inner[0].1.at, Position { line: 2, column: 6 });
        match &inner[1].1.value {
            Value::Seq(items) => {
                assert_eq!(items[0].value, Value::Str("x".into()));
                assert_eq!(items[1].value, Value::Int(2));
                assert_eq!(items[1].at.line, 3);
            }
            other => panic!("not a list: {other:?}"),
        }
    }

    #[test]
    fn empty_and_comment_only_documents_are_null() {
        assert_eq!(parse("").unwrap().value, Value::Null);
        assert_eq!(parse("# nothing\n").unwrap().value, Value::Null);
    }

    #[test]
    fn duplicate_keys_reach_the_tree() {
        let node = parse("a: 1\na: 2\n").unwrap();
        let names: Vec<&str> = map(&node).iter().map(|(k, _)| k.name.as_str()).collect();
        assert_eq!(names, ["a", "a"]);
    }

    #[test]
    fn a_byte_that_is_not_utf8_is_placed_by_line_and_character() {
        let problem = text(b"a:\n  b: \xC3\xA9t\xC3\xA9\xFF\n").unwrap_err();
        // "  b: été" is 8 characters (11 bytes): the bad byte is the 9th character.
        assert_eq!(problem.at, Some(Position { line: 2, column: 9 }));
        assert_eq!(problem.path, "a.b");
        assert!(problem.message.contains("0xFF"), "{problem:?}");
        assert_eq!(text(b"\xEF\xBB\xBFa: 1\n"), Ok("a: 1\n"));
    }

    #[test]
    fn syntax_errors_name_the_keys_open_where_they_are() {
        let err = parse("a:\n  b:\n    c: [1, 2\n").unwrap_err();
        assert_eq!(err.path, "a.b.c");
        assert!(err.message.starts_with("not valid YAML: "), "{err:?}");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
        let block: String = (0..2_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect();
        assert!(parse(&block).is_err());
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        assert!(parse(&text).is_err());
    }
}
