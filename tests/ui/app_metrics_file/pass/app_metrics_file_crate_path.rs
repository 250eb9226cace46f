//! `#[metrics(crate = path)]`: the expansion reaches the runtime through the given path,
//! for a crate that renames `rustform`.

#![deny(warnings)]

extern crate rustform as renamed;

renamed::app_metrics!(
    #[metrics(crate = renamed)]
    struct Renamed = "app_metrics_file_crate_path.yml"
);

fn main() {
    Renamed::global().renamed_visits_total.inc();
    assert!(
        renamed::metrics::default_registry()
            .render()
            .contains("renamed_visits_total 1\n")
    );
}
