//! A label set of enums and `bool`s has a fixed number of values, numbered densely:
//! `from_dense_index(dense_index(x)) == x` for every value, through the `LabelSet` trait,
//! and no value lies past `CARDINALITY`.

#![deny(warnings)]

use rustform::metrics::LabelSet;
use rustform::{LabelSet, LabelValue};

#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum Method {
    Get,
    Post,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum Tier {
    Free,
    Paid,
}

#[derive(Debug, PartialEq, LabelSet)]
struct Request {
    method: Method,
    cached: bool,
    tier: Tier,
}

#[derive(Debug, PartialEq, LabelSet)]
struct One {
    method: Method,
}

fn round_trips<L: LabelSet + PartialEq + std::fmt::Debug>(values: &[L]) {
    let n = L::CARDINALITY.expect("a fixed cardinality");
    assert_eq!(values.len(), n);
    let mut seen = vec![false; n];
    for value in values {
        let index = value.dense_index();
        assert!(index < n, "{value:?} has index {index} of {n}");
        assert!(!seen[index], "two values have index {index}");
        seen[index] = true;
        assert_eq!(L::from_dense_index(index).as_ref(), Some(value));
    }
    for index in 0..n {
        let value = L::from_dense_index(index).expect("every index below the cardinality");
        assert_eq!(value.dense_index(), index);
    }
    assert_eq!(L::from_dense_index(n), None);
    assert_eq!(L::from_dense_index(n * 7 + 1), None);
}

fn main() {
    let mut requests = Vec::new();
    for method in [Method::Get, Method::Post, Method::Delete] {
        for cached in [false, true] {
            for tier in [Tier::Free, Tier::Paid] {
                requests.push(Request {
                    method,
                    cached,
                    tier,
                });
            }
        }
    }
    assert_eq!(Request::CARDINALITY, Some(12));
    round_trips(&requests);
    // The first field is the most significant.
    assert_eq!(
        Request {
            method: Method::Post,
            cached: false,
            tier: Tier::Free
        }
        .dense_index(),
        4
    );
    round_trips(&[
        One {
            method: Method::Get,
        },
        One {
            method: Method::Post,
        },
        One {
            method: Method::Delete,
        },
    ]);
}
