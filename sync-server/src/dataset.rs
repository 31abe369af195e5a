//! The monthly service dataset from every case in the store (`admin dataset --month`), with
//! the same arithmetic and CSV as a manager's device (`fieldbook_case::dataset`).
//!
//! Documents are read exactly as the engine loads them (`StoredDocument::to_automerge`:
//! snapshot first, one strict pass); anything that is not a case (caseload indexes, relationships
//! documents) is skipped.

use fieldbook_case::dataset::{self, Month};
use fieldbook_case::Case;
use fieldbook_sync::{DocumentId, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("document {doc} could not be read: {reason}")]
    Unreadable { doc: DocumentId, reason: String },
}

/// Every case stored, read as a device reads it.
pub async fn read_cases<S: Store>(store: &S) -> Result<Vec<Case>, DatasetError> {
    let mut cases = Vec::new();
    for doc in store.list_documents().await? {
        let Some(stored) = store.load(doc).await? else {
            continue;
        };
        let Some(am) = stored
            .to_automerge()
            .map_err(|e| DatasetError::Unreadable {
                doc,
                reason: e.to_string(),
            })?
        else {
            continue;
        };
        if fieldbook_case::is_case(&am) {
            cases.push(fieldbook_case::read(&am));
        }
    }
    Ok(cases)
}

/// The dataset CSV for `month` from every case in `store`, as it stands at `now`.
pub async fn csv<S: Store>(store: &S, month: Month, now: i64) -> Result<String, DatasetError> {
    let cases = read_cases(store).await?;
    Ok(dataset::to_csv(&dataset::monthly(&cases, month, now)))
}
