//! openraft's storage test suite against the sled store.

use config_service::store::{self, LogStore, StateMachineStore};
use config_service::TypeConfig;
use openraft::testing::{StoreBuilder, Suite};
use openraft::{StorageError, StorageIOError};
use tempfile::TempDir;

/// A fresh store in a temporary directory per test; the directory is the guard, removed when
/// the suite drops it.
struct SledStoreBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for SledStoreBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<u64>> {
        let dir = tempfile::tempdir().map_err(|e| StorageIOError::write(&e))?;
        let (log, sm) = store::open(dir.path())?;
        Ok((dir, log, sm))
    }
}

#[test]
fn openraft_storage_suite() {
    // The suite makes its own tokio runtime per case, so this is a plain test.
    Suite::test_all(SledStoreBuilder).unwrap_or_else(|e| panic!("storage suite: {e}"));
}
