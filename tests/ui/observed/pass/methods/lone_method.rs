//! `#[observed]` on one method of a plain `impl` block: the type's name is found at run
//! time, so the function is still labeled `Type::method`.

#![deny(warnings)]

#[path = "../../../support.rs"]
mod support;

use std::collections::HashMap;

use rustform::observed;

struct Cache {
    entries: HashMap<String, u32>,
}

impl Cache {
    #[observed]
    fn new() -> Self {
        Cache {
            entries: HashMap::new(),
        }
    }

    #[observed]
    fn get(&self, key: &str) -> Option<u32> {
        self.entries.get(key).copied()
    }

    #[observed]
    fn put(&mut self, key: &str, value: u32) {
        self.entries.insert(key.to_owned(), value);
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

fn main() {
    let (_, spans) = support::capture(|| {
        let mut cache = Cache::new();
        cache.put("a", 1);
        assert_eq!(cache.get("a"), Some(1));
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.len(), 1);
    });

    assert_eq!(support::calls("Cache::new", "ok", &[]), 1);
    assert_eq!(support::calls("Cache::put", "ok", &[]), 1);
    assert_eq!(support::calls("Cache::get", "ok", &[]), 2);
    assert!(!support::has_series("Cache::len"));

    let get = spans
        .iter()
        .find(|s| s.name == "get")
        .expect("a span for get");
    assert_eq!(get.field("code.function.name"), Some("Cache::get"));
}
