//! `#[derive(LabelValue)]`: variant names in snake_case or `#[label(rename = "...")]`, a
//! fixed cardinality with dense indices, and an empty enum.

#![deny(warnings)]

use rustform::LabelValue;
use rustform::metrics::LabelValue as _;

#[derive(Debug, Clone, Copy, PartialEq, LabelValue)]
enum Status {
    Pending,
    NotFound,
    HTTPError,
    #[label(rename = "cancelled_by_user")]
    Cancelled,
    #[label(rename = "Paid in full")]
    Paid,
}

#[derive(LabelValue)]
enum Never {}

fn main() {
    let all = [
        Status::Pending,
        Status::NotFound,
        Status::HTTPError,
        Status::Cancelled,
        Status::Paid,
    ];
    let labels: Vec<String> = all.iter().map(|s| s.with_str(str::to_owned)).collect();
    assert_eq!(
        labels,
        [
            "pending",
            "not_found",
            "http_error",
            "cancelled_by_user",
            "Paid in full"
        ]
    );
    assert_eq!(
        <Status as rustform::metrics::LabelValue>::CARDINALITY,
        Some(5)
    );
    for (index, status) in all.iter().enumerate() {
        assert_eq!(status.dense_index(), index);
        assert_eq!(Status::from_dense_index(index), Some(*status));
    }
    assert_eq!(Status::from_dense_index(5), None);

    assert_eq!(
        <Never as rustform::metrics::LabelValue>::CARDINALITY,
        Some(0)
    );
    assert!(Never::from_dense_index(0).is_none());
}
