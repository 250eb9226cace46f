//! YAML for the generated files, written from a `serde_json::Value` in block style with
//! keys in insertion order. Strings are plain when YAML reads them back as the same
//! string, double-quoted (JSON escapes, which YAML shares) otherwise; multi-line strings
//! (PromQL) are literal blocks.

use serde_json::Value;

/// `value` as a YAML document (block style, two-space indent, trailing newline).
///
/// ```
/// let doc = serde_json::json!({"groups": [{"name": "api", "rules": [], "limit": "10"}]});
/// assert_eq!(
///     rustform_generate::to_yaml(&doc),
///     "groups:\n  - name: api\n    rules: []\n    limit: \"10\"\n",
/// );
/// ```
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => write_map(&mut out, map, 0),
        Value::Array(items) if !items.is_empty() => write_seq(&mut out, items, 0),
        scalar => {
            write_scalar(&mut out, scalar, 0);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

fn write_map(out: &mut String, map: &serde_json::Map<String, Value>, level: usize) {
    for (key, value) in map {
        indent(out, level);
        write_string(out, key, level, true);
        out.push(':');
        write_value_after_key(out, value, level);
    }
}

fn write_seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Value::Object(map) if !map.is_empty() => {
                // The first key on the dash's line, the rest aligned under it.
                let mut first = true;
                for (key, value) in map {
                    if !first {
                        indent(out, level + 2);
                    }
                    first = false;
                    write_string(out, key, level + 2, true);
                    out.push(':');
                    write_value_after_key(out, value, level + 2);
                }
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                write_seq(out, inner, level + 2);
            }
            scalar => {
                write_scalar(out, scalar, level + 2);
                out.push('\n');
            }
        }
    }
}

fn write_value_after_key(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            write_map(out, map, level + 2);
        }
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            write_seq(out, items, level + 2);
        }
        scalar => {
            out.push(' ');
            write_scalar(out, scalar, level + 2);
            out.push('\n');
        }
    }
}

fn write_scalar(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(out, s, level, false),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

fn write_string(out: &mut String, s: &str, level: usize, key: bool) {
    if !key && s.contains('\n') && block_safe(s) {
        // A literal block keeps PromQL readable; `|-` or `|` by the final newline.
        out.push_str(if s.ends_with('\n') { "|" } else { "|-" });
        for line in s.trim_end_matches('\n').split('\n') {
            out.push('\n');
            if !line.is_empty() {
                indent(out, level);
                out.push_str(line);
            }
        }
        return;
    }
    if plain_safe(s) {
        out.push_str(s);
    } else {
        out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned()));
    }
}

/// Whether a literal block holds `s` unchanged: printable lines, none starting with
/// white space (which would change the block's indentation), at most one final newline.
fn block_safe(s: &str) -> bool {
    let body = s.strip_suffix('\n').unwrap_or(s);
    !body.ends_with('\n')
        && body.split('\n').all(|line| {
            !line.starts_with([' ', '\t'])
                && !line.ends_with([' ', '\t'])
                && line.chars().all(|c| !c.is_control())
        })
}

/// Whether `s` can be written plain: YAML reads it back as this string (not a number,
/// boolean, null or another type, and no character with a meaning in YAML).
fn plain_safe(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true"
            | "false"
            | "yes"
            | "no"
            | "on"
            | "off"
            | "y"
            | "n"
            | "null"
            | "~"
            | ".nan"
            | ".inf"
            | "-.inf"
            | "+.inf"
    ) {
        return false;
    }
    if s.parse::<f64>().is_ok() || looks_numeric(s) {
        return false;
    }
    let first = s.as_bytes()[0];
    if b"-?:,[]{}#&*!|>'\"%@`".contains(&first) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    s.chars()
        .all(|c| c.is_ascii_graphic() || c == ' ' || (!c.is_ascii() && !c.is_control()))
}

/// Integers in other bases, times and dates YAML 1.1 readers may convert.
fn looks_numeric(s: &str) -> bool {
    let digits_and = |extra: &[char]| {
        s.chars().all(|c| c.is_ascii_digit() || extra.contains(&c))
            && s.chars().any(|c| c.is_ascii_digit())
    };
    s.starts_with("0x")
        || s.starts_with("0o")
        || s.starts_with("0b")
        || digits_and(&['_', ':', '.', '-', '+', 'e', 'E'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_read_back_as_written() {
        let doc = json!({
            "groups": [{
                "name": "api",
                "rules": [{
                    "alert": "HighErrorRate",
                    "expr": "sum(rate(x[5m]))\n/\nsum(rate(y[5m])) > 0.05",
                    "for": "5m",
                    "labels": {"severity": "page", "on": "yes"},
                    "annotations": {"summary": "Error rate: {{ $value | humanizePercentage }}"},
                }],
            }],
            "empty": {},
            "list": [],
            "numbers": [1, 2.5, "3", "0x1f", "1:30", "-", "- a", "a: b", "#x", "null", ""],
            "nested": [[1, 2], {"a": null}],
        });
        let text = to_yaml(&doc);
        let back: serde_json::Value = serde_saphyr::from_str(&text).expect(&text);
        assert_eq!(back, doc, "{text}");
    }
}
