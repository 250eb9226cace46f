//! The runtime's modules depend downward only. Each top-level module of `runtime/src`
//! has a layer; a `crate::module` path in a module's code (its tests left out) may name a
//! module of a lower layer, or one of its own layer that is listed as allowed, never a
//! higher one, so there is no import cycle:
//!
//! 0. `config` (the rustform-config crate), `clock`
//! 1. `metrics` (the core, the registry, the encoders), `error`, `error_label`, `gzip`,
//!    `tls`
//! 2. `trace`, `observed` (the runtime half of `#[observed]`), `catalog`, `objective`,
//!    `health`, `auth`
//! 3. `endpoint`, `export`, `http`, `shutdown`
//! 4. `install` (`init`, `Guard`) and `lib.rs`'s `__private`, the only ones that
//!    wire the others together.

use std::collections::BTreeMap;
use std::path::Path;

/// Each module's layer.
const LAYERS: &[(&str, u8)] = &[
    ("config", 0),
    ("clock", 0),
    ("error", 1),
    ("error_label", 1),
    ("gzip", 1),
    ("metrics", 1),
    ("tls", 1),
    ("objective", 2),
    ("trace", 2),
    ("observed", 2),
    ("catalog", 2),
    ("health", 2),
    ("auth", 2),
    ("endpoint", 3),
    ("export", 3),
    ("http", 3),
    ("shutdown", 3),
    ("install", 4),
    ("__private", 4),
];

/// Same-layer dependencies that are allowed (never both ways).
const SIDEWAYS: &[(&str, &str)] = &[
    ("catalog", "observed"),
    ("catalog", "objective"),
    ("observed", "objective"),
    ("observed", "trace"),
];

/// The `crate::x` module names in `text`, its tests left out.
fn named_modules(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            // `crate::{a, b::c}`: each name in the braces.
            if rest.starts_with('{') {
                let inner = &rest[1..rest.find('}').unwrap_or(rest.len())];
                out.extend(
                    inner
                        .split(',')
                        .map(|item| item.trim().split("::").next().unwrap_or("").to_owned())
                        .filter(|n| n.chars().next().is_some_and(|c| c.is_ascii_lowercase())),
                );
            } else if !name.is_empty() && rest[name.len()..].starts_with("::") {
                out.push(name);
            }
        }
    }
    out
}

fn module_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            module_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn runtime_modules_depend_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("runtime/src");
    let layers: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    module_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let Some(&layer) = layers.get(module.as_str()) else {
            problems.push(format!("{module} has no layer in this test's table"));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for named in named_modules(&text) {
            if named == module {
                continue;
            }
            let Some(&other) = layers.get(named.as_str()) else {
                // Items of the crate root (`crate::Error`, macros) are not modules.
                continue;
            };
            let sideways = other == layer && SIDEWAYS.contains(&(module.as_str(), named.as_str()));
            if other > layer || (other == layer && !sideways) {
                problems.push(format!(
                    "{} (layer {layer}) names crate::{named} (layer {other})",
                    relative.display()
                ));
            }
        }
    }
    problems.sort();
    problems.dedup();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn paths_are_found_in_code_and_braces_but_not_in_comments() {
    let text = "use crate::metrics::Counter;\n// crate::http::x\nuse crate::{trace::a, config::B};\nlet e = crate::Error::X;\n";
    assert_eq!(named_modules(text), ["metrics", "trace", "config"]);
}
