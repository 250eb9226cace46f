//! Examples, integration tests and benchmarks of rustform.
