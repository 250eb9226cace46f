//! The checks registered in code, by name.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, PoisonError, RwLock};

/// One run of a check.
pub(crate) type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// A registered check: starts one run each time it is called.
pub(crate) type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// Checks by name, sorted so that unlisted checks are reported in a stable order.
#[derive(Clone, Default)]
pub(crate) struct CheckRegistry {
    checks: Arc<RwLock<BTreeMap<String, CheckFn>>>,
}

/// The process-wide registry that [`super::register`] fills.
pub(crate) fn global() -> &'static CheckRegistry {
    static GLOBAL: LazyLock<CheckRegistry> = LazyLock::new(CheckRegistry::default);
    &GLOBAL
}

impl CheckRegistry {
    /// Adds or replaces the check named `name`.
    pub(crate) fn insert<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move || -> CheckFuture { Box::pin(check()) });
        // A panic never happens under this lock (nothing user-supplied runs while it is
        // held), but a poisoned lock is still usable: the map is always consistent.
        self.checks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), check);
    }

    /// The registered checks as they are now; the lock is released before any runs.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, CheckFn> {
        self.checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registering_again_replaces() {
        let registry = CheckRegistry::default();
        registry.insert("db", || async { Err("first".to_owned()) });
        registry.insert("db", || async { Ok(()) });
        let checks = registry.snapshot();
        assert_eq!(checks.len(), 1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(checks["db"]()), Ok(()));
    }

    #[test]
    fn sorted_by_name() {
        let registry = CheckRegistry::default();
        for name in ["b", "c", "a"] {
            registry.insert(name, || async { Ok(()) });
        }
        let names: Vec<_> = registry.snapshot().into_keys().collect();
        assert_eq!(names, ["a", "b", "c"]);
    }
}
