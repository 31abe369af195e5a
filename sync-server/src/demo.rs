//! `--demo`: invented cases (`fieldbook_case::demo`) so a newcomer sees a working caseload.

use fieldbook_case::{caseload, demo};

use crate::caseload::{Offline, SeedError};
use crate::storage::Store;

/// Setting that records the demo was seeded, so a restart with `--demo` adds nothing twice.
const SEEDED: &str = "demo_seeded";

/// Seed the demo caseload once: invented cases covering every record, all listed in the index.
/// Returns how many cases were added (0 if seeded before).
/// `index` is the caseload index, already prepared by [`crate::caseload::ensure_index`].
pub async fn seed<S: Store>(
    store: &S,
    index: fieldbook_sync::DocumentId,
    now_ms: i64,
) -> Result<usize, SeedError> {
    if store.get_setting(SEEDED).await?.is_some() {
        return Ok(0);
    }
    let mut offline = Offline::new(store, now_ms as u64);
    offline.open(index).await?;
    let mut ids = Vec::new();
    for i in 0..demo::PEOPLE.len() {
        ids.push(offline.create(|tx| demo::write(tx, i, now_ms))?);
    }
    offline.change(index, |tx| {
        for id in &ids {
            caseload::add(tx, id, now_ms)?;
        }
        Ok(())
    })?;
    offline.commit().await?;
    // Not in the same transaction as the cases: a crash between the two seeds a second set
    // on the next `--demo` start, which is harmless for invented data.
    store.put_setting(SEEDED, "1").await?;
    Ok(ids.len())
}
