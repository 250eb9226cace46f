//! Which keys are open at a place in a document, read from the indentation of its lines.
//!
//! The parser stops at a syntax error before there is a tree to take a path from, and a
//! byte that is not UTF-8 stops reading before the parser starts. Their path comes from
//! the text itself: the lines before the place (and the start of its own line) are read
//! as block-style YAML. A line with a key or a list item closes the keys and items
//! written at its indentation or deeper; `key:` opens a key and `- ` opens the next
//! item of a list. Lines inside a block scalar (`|`, `>`) or a flow collection (`[`, `{`) that
//! spans lines belong to the key that opened them.
//!
//! This reads the document as a person does, needs nothing from the parser's state, and
//! works on text the parser refuses. It is exact for block-style YAML, which is how
//! configuration files are written; inside a flow collection it names the key that holds
//! the collection.

use crate::node::Position;

/// One step of a path: a key of a mapping or an item of a list.
#[derive(Debug)]
enum Step {
    Key(String),
    Item(usize),
}

/// A key or item whose scope has not been closed by a later line.
#[derive(Debug)]
struct Open {
    /// The column, from 0, where the key or the item's `-` is written.
    indent: usize,
    step: Step,
    /// Whether a key's value starts on its own line (a list may then follow at the
    /// key's own indentation).
    inline: bool,
}

/// The path of the keys and items open at `at`, in the decoder's notation
/// (`observability.logging.level`, `alerts[1].labels`); empty at the top level.
pub(crate) fn path_at(text: &str, at: Position) -> String {
    let mut open: Vec<Open> = Vec::new();
    // Lines indented deeper than this belong to a block scalar.
    let mut block_scalar: Option<usize> = None;
    // How many flow collections are open at the end of the line.
    let mut flow = 0usize;
    for (line, number) in text.split('\n').zip(1u64..) {
        if number > at.line {
            break;
        }
        let line = line.strip_suffix('\r').unwrap_or(line);
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let whole = &line[indent..];
        let written = !whole.trim().is_empty() && !whole.starts_with('#');
        // On the line of the place, only what is written before it counts.
        let line = if number == at.line {
            let column = usize::try_from(at.column.saturating_sub(1)).unwrap_or(usize::MAX);
            match line.char_indices().nth(column) {
                Some((end, _)) => &line[..end],
                None => line,
            }
        } else {
            line
        };
        if flow > 0 {
            flow = flow_depth(line, flow);
            continue;
        }
        if !written {
            continue;
        }
        if let Some(deeper_than) = block_scalar {
            if indent > deeper_than {
                continue;
            }
            block_scalar = None;
        }
        if indent == 0 && (line.starts_with("---") || line.starts_with("...")) {
            open.clear();
            continue;
        }
        let content = line.get(indent..).unwrap_or("");
        // Only a key or a list item closes what is open: a line that is neither (a
        // stray quote, a colon at the start of a line) is a mistake the parser reads as
        // part of the value before it, and the path should say which value that is.
        let next = if is_item(whole) || split_key(whole).is_some() {
            close(&mut open, indent, is_item(whole))
        } else {
            0
        };
        read_line(
            content,
            indent,
            next,
            &mut open,
            &mut block_scalar,
            &mut flow,
        );
    }
    render(&open)
}

/// Whether `content` starts a list item.
fn is_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ") || content.starts_with("-\t")
}

/// Closes what a line at `indent` ends; returns the index the line takes if it is the
/// next item of a list.
fn close(open: &mut Vec<Open>, indent: usize, item: bool) -> usize {
    let mut next = 0;
    while let Some(top) = open.last() {
        let list_under_key =
            item && top.indent == indent && matches!(top.step, Step::Key(_)) && !top.inline;
        if top.indent < indent || list_under_key {
            break;
        }
        if let (true, Step::Item(i)) = (top.indent == indent, &top.step) {
            next = i + 1;
        }
        open.pop();
    }
    next
}

/// Opens the items and the key written on one line.
fn read_line(
    content: &str,
    indent: usize,
    mut next: usize,
    open: &mut Vec<Open>,
    block_scalar: &mut Option<usize>,
    flow: &mut usize,
) {
    let mut column = indent;
    let mut rest = content;
    while is_item(rest) {
        open.push(Open {
            indent: column,
            step: Step::Item(next),
            inline: false,
        });
        next = 0;
        let after = &rest[1..];
        let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
        column += 1 + spaces;
        rest = &after[spaces..];
    }
    let value = match split_key(rest) {
        Some((key, value)) => {
            let inline = !(value.is_empty() || value.starts_with('#'));
            open.push(Open {
                indent: column,
                step: Step::Key(key),
                inline,
            });
            value
        }
        None => rest,
    };
    if value.starts_with(['|', '>']) {
        *block_scalar = Some(column);
    } else if value.starts_with(['[', '{']) {
        *flow = flow_depth(value, 0);
    }
}

/// A mapping key at the start of `rest` and the value after its `:`, trimmed.
fn split_key(rest: &str) -> Option<(String, &str)> {
    let (key, after) = match rest.chars().next()? {
        quote @ ('"' | '\'') => {
            let end = closing_quote(rest, quote)?;
            let after = rest[end + 1..].trim_start_matches([' ', '\t']);
            (rest[1..end].to_owned(), after.strip_prefix(':')?)
        }
        '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '`' | ',' | '?' => {
            return None;
        }
        _ => {
            let colon = rest
                .char_indices()
                .find(|&(i, c)| c == ':' && value_follows(&rest[i + 1..]))?
                .0;
            let key = rest[..colon].trim_end();
            if key.is_empty() || key.contains(" #") {
                return None;
            }
            (key.to_owned(), &rest[colon + 1..])
        }
    };
    value_follows(after).then(|| (key, after.trim()))
}

/// Whether what follows a `:` makes it the end of a key: a space, a tab or nothing.
fn value_follows(after: &str) -> bool {
    after.is_empty() || after.starts_with([' ', '\t'])
}

/// The byte index of the quote that closes the quoted scalar at the start of `text`.
fn closing_quote(text: &str, quote: char) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quote == '"' => {
                chars.next();
            }
            '\'' if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') => {
                chars.next();
            }
            c if c == quote => return Some(i),
            _ => {}
        }
    }
    None
}

/// How many flow collections are open after `line`, starting with `depth` open;
/// brackets in quotes and comments do not count.
fn flow_depth(line: &str, mut depth: usize) -> usize {
    let mut quote = None;
    let mut escaped = false;
    let mut after_space = true;
    for c in line.chars() {
        match (quote, c) {
            (Some('"'), '\\') if !escaped => {
                escaped = true;
                continue;
            }
            (Some(q), c) if c == q && !escaped => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') if after_space => break,
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            _ => {}
        }
        escaped = false;
        after_space = c == ' ' || c == '\t';
    }
    depth
}

/// The open steps in the decoder's notation.
fn render(open: &[Open]) -> String {
    let mut path = String::new();
    for step in open {
        match &step.step {
            Step::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            Step::Item(i) => path.push_str(&format!("[{i}]")),
        }
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u64, column: u64) -> Position {
        Position { line, column }
    }

    const FILE: &str = "\
name: shop
observability:
  logging:
    # a comment
    level: info

    format: json
  opentelemetry:
    tracing:
      exporters:
        - type: otlp
          headers:
            authorization: x
        - type: console
alerts:
- name: a
  description: |
    text: that looks like a key
    - and an item
  labels: [a,
    b: c]
- \"name\": 'b'
";

    #[test]
    fn keys_open_at_a_place_are_its_path() {
        assert_eq!(path_at(FILE, at(1, 1)), "");
        assert_eq!(path_at(FILE, at(1, 7)), "name");
        assert_eq!(path_at(FILE, at(5, 12)), "observability.logging.level");
        // A key starts at the place: it is not open yet, its siblings are closed.
        assert_eq!(path_at(FILE, at(7, 5)), "observability.logging");
        // A blank line closes nothing.
        assert_eq!(path_at(FILE, at(6, 1)), "observability.logging.level");
        assert_eq!(
            path_at(FILE, at(13, 28)),
            "observability.opentelemetry.tracing.exporters[0].headers.authorization"
        );
        assert_eq!(
            path_at(FILE, at(14, 17)),
            "observability.opentelemetry.tracing.exporters[1].type"
        );
        assert_eq!(path_at(FILE, at(100, 1)), "alerts[1].name");
    }

    #[test]
    fn lists_at_their_keys_indentation_are_read_as_items() {
        assert_eq!(path_at(FILE, at(16, 9)), "alerts[0].name");
        assert_eq!(path_at(FILE, at(22, 12)), "alerts[1].name");
    }

    #[test]
    fn block_scalars_and_flow_collections_belong_to_their_key() {
        assert_eq!(path_at(FILE, at(19, 5)), "alerts[0].description");
        assert_eq!(path_at(FILE, at(21, 5)), "alerts[0].labels");
    }

    #[test]
    fn a_line_without_a_key_closes_nothing() {
        let text = "a:\n  b:\n    c: 1\n\"    d: 2\n    e: 3\n";
        assert_eq!(path_at(text, at(4, 10)), "a.b.c");
        let text = "a:\n  b: 1\n:  c: 2\n  d: 3\n";
        assert_eq!(path_at(text, at(3, 1)), "a.b");
        assert_eq!(path_at(text, at(4, 6)), "a.d");
    }

    #[test]
    fn quoted_keys_and_values_with_colons() {
        let text = "\"a: b\":\n  url: http://x:80\n  'it''s': [\"]\", '#']\n  next: 1\n";
        assert_eq!(path_at(text, at(2, 10)), "a: b.url");
        assert_eq!(path_at(text, at(4, 9)), "a: b.next");
    }
}
