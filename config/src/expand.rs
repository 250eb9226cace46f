//! `${VAR}` and `${VAR:-default}` in string values.
//!
//! The rules are the OpenTelemetry configuration file's: a reference is replaced by the
//! variable's value; an unset or empty variable takes the default after `:-`, or
//! becomes empty; `$$` is a literal `$`; a `$` not followed by `{` or `$` stays as it is.
//! `${env:VAR}` is accepted as a synonym. Substitution happens once: a value that itself
//! contains `${…}` is not expanded again.

/// The result of expanding one value.
#[derive(Debug, PartialEq)]
pub(crate) struct Expanded {
    /// The value with every reference replaced.
    pub(crate) text: String,
    /// Whether the value contained a reference (so its type comes from the environment).
    pub(crate) substituted: bool,
    /// Variables referenced without a default that were unset or empty.
    pub(crate) unset: Vec<String>,
}

/// Expands `text`, reading variables through `lookup`.
pub(crate) fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, String> {
    let mut out = String::with_capacity(text.len());
    let mut substituted = false;
    let mut unset = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body_and_tail) = after.strip_prefix('{') {
            let Some(end) = body_and_tail.find('}') else {
                return Err(format!(
                    "\"${{\" is not closed in {:?}: write ${{NAME}} or ${{NAME:-default}}, or $$ for a literal $",
                    crate::node::shorten(text)
                ));
            };
            let body = &body_and_tail[..end];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            let name = name.strip_prefix("env:").unwrap_or(name);
            if !is_variable_name(name) {
                return Err(format!(
                    "${{{body}}} does not name an environment variable: names are letters, digits and \
                     underscores, not starting with a digit (write ${{NAME}} or ${{NAME:-default}})"
                ));
            }
            substituted = true;
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(&value),
                None => match default {
                    Some(default) => out.push_str(default),
                    None => unset.push(name.to_owned()),
                },
            }
            rest = &body_and_tail[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(Expanded {
        text: out,
        substituted,
        unset,
    })
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("collector".into()),
            "EMPTY" => Some(String::new()),
            "NESTED" => Some("${HOST}".into()),
            _ => None,
        }
    }

    fn text(input: &str) -> String {
        expand(input, &env).unwrap().text
    }

    #[test]
    fn references_are_replaced() {
        assert_eq!(text("http://${HOST}:4317"), "http://collector:4317");
        assert_eq!(text("${env:HOST}"), "collector");
        assert_eq!(text("${HOST}${HOST}"), "collectorcollector");
    }

    #[test]
    fn defaults_apply_to_unset_and_empty_variables() {
        assert_eq!(text("${MISSING:-fallback}"), "fallback");
        assert_eq!(text("${EMPTY:-fallback}"), "fallback");
        assert_eq!(text("${HOST:-fallback}"), "collector");
        assert_eq!(text("${MISSING:-}"), "");
        assert_eq!(text("${MISSING:-a:-b}"), "a:-b");
    }

    #[test]
    fn unset_variables_without_default_are_empty_and_reported() {
        let e = expand("Bearer ${TOKEN}", &env).unwrap();
        assert_eq!(e.text, "Bearer ");
        assert_eq!(e.unset, ["TOKEN"]);
        assert!(e.substituted);
    }

    #[test]
    fn dollars_escape_and_stand_alone() {
        assert_eq!(text("$$HOST"), "$HOST");
        assert_eq!(text("cost: $5"), "cost: $5");
        assert_eq!(text("$"), "$");
        assert!(!expand("plain", &env).unwrap().substituted);
    }

    #[test]
    fn values_are_substituted_once() {
        assert_eq!(text("${NESTED}"), "${HOST}");
    }

    #[test]
    fn malformed_references_are_errors() {
        assert!(expand("${HOST", &env).unwrap_err().contains("not closed"));
        assert!(expand("${}", &env).unwrap_err().contains("does not name"));
        assert!(expand("${1X}", &env).unwrap_err().contains("does not name"));
        assert!(
            expand("${A B}", &env)
                .unwrap_err()
                .contains("does not name")
        );
    }
}
