//! Name rules and spelling help shared by the macros.

pub(crate) use rustform_config::names::label_name_problem;

/// `NotFound` → `not_found`, `HTTPError` → `http_error`, `IoError2` → `io_error2`.
pub(crate) fn snake_case(ident: &str) -> String {
    let chars: Vec<char> = ident.trim_start_matches("r#").chars().collect();
    let mut out = String::with_capacity(chars.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The closest of `candidates` to `given`, if one is close enough to be a misspelling.
pub(crate) fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(given, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words_and_acronyms() {
        assert_eq!(snake_case("NotFound"), "not_found");
        assert_eq!(snake_case("HTTPError"), "http_error");
        assert_eq!(snake_case("Io"), "io");
        assert_eq!(snake_case("IoError2"), "io_error2");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("r#Type"), "type");
    }

    #[test]
    fn suggestions_need_a_close_match() {
        assert_eq!(closest("lables", &["labels", "level"]), Some("labels"));
        assert_eq!(closest("zzz", &["labels", "level"]), None);
    }

    #[test]
    fn label_rules() {
        assert!(label_name_problem("tier").is_none());
        assert!(label_name_problem("le").is_some());
        assert!(label_name_problem("__x").is_some());
        assert!(label_name_problem("a-b").is_some());
    }
}
