//! `rustform.yml` as users write it.

mod files;
