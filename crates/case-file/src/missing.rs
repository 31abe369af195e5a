//! Missing episodes and return home interviews (§3.5). An episode is written with one
//! "Save" after validation ([`crate::validate::missing`]): "no reason recorded" for an RHI
//! that was not completed must not be possible.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::removal::{self, Removal};

const LIST: &str = "missing";

/// Where the return home interview stands.
pub const RHI_STATES: &[crate::vocab::Choice] = &[
    ("pending", "Not yet (within 72 hours of return)"),
    ("completed", "Completed"),
    ("not-completed", "Not completed"),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Episode {
    pub id: String,
    /// Went missing (ms since the epoch).
    pub start: i64,
    /// Found or returned; None while still missing.
    pub end: Option<i64>,
    pub found_where: String,
    pub found_with: String,
    pub reported_by: String,
    /// "home" or "care".
    pub from: String,
    pub injuries: String,
    pub rhi_offered: Option<i64>,
    /// One of [`RHI_STATES`].
    pub rhi: String,
    pub rhi_completed: Option<i64>,
    /// An id from [`crate::vocab::RHI_REASONS`] when `rhi` is "not-completed".
    pub rhi_reason: String,
    pub rhi_reason_text: String,
    pub removal: Option<Removal>,
}

impl Episode {
    pub fn duration_ms(&self) -> Option<i64> {
        self.end.map(|e| e - self.start)
    }
}

fn read_one<D: ReadDoc>(d: &D, e: &ObjId) -> Episode {
    Episode {
        id: doc::text(d, e, "id"),
        start: doc::int(d, e, "start"),
        end: doc::opt_int(d, e, "end"),
        found_where: doc::text(d, e, "foundWhere"),
        found_with: doc::text(d, e, "foundWith"),
        reported_by: doc::text(d, e, "reportedBy"),
        from: doc::text(d, e, "from"),
        injuries: doc::text(d, e, "injuries"),
        rhi_offered: doc::opt_int(d, e, "rhiOffered"),
        rhi: doc::text(d, e, "rhi"),
        rhi_completed: doc::opt_int(d, e, "rhiCompleted"),
        rhi_reason: doc::text(d, e, "rhiReason"),
        rhi_reason_text: doc::text(d, e, "rhiReasonText"),
        removal: removal::read(d, e),
    }
}

/// Every episode, newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Episode> {
    let mut all: Vec<Episode> = doc::items(d, &ROOT, LIST)
        .iter()
        .map(|e| read_one(d, e))
        .collect();
    all.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.id.cmp(&b.id)));
    all
}

fn put_time(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    t: Option<i64>,
) -> Result<(), AutomergeError> {
    match t {
        Some(t) => tx.put(obj, key, ScalarValue::Timestamp(t)),
        None if doc::opt_int(tx, obj, key).is_some() => tx.delete(obj, key),
        None => Ok(()),
    }
}

/// Save an episode: a new one, or the fields of an existing one (only what changed is
/// written, so a colleague's concurrent edit to another field is kept).
pub fn save(tx: &mut impl Transactable, e: &Episode) -> Result<(), AutomergeError> {
    let item = match doc::find_item(tx, &ROOT, LIST, &e.id) {
        Some(item) => {
            removal::touch(tx, &item)?;
            item
        }
        None => doc::push_item(tx, &ROOT, LIST, &e.id)?,
    };
    put_time(tx, &item, "start", Some(e.start))?;
    put_time(tx, &item, "end", e.end)?;
    put_time(tx, &item, "rhiOffered", e.rhi_offered)?;
    put_time(tx, &item, "rhiCompleted", e.rhi_completed)?;
    for (key, value) in [
        ("foundWhere", &e.found_where),
        ("foundWith", &e.found_with),
        ("reportedBy", &e.reported_by),
        ("injuries", &e.injuries),
        ("rhiReasonText", &e.rhi_reason_text),
    ] {
        if doc::text(tx, &item, key) != *value {
            doc::set_text(tx, &item, key, value)?;
        }
    }
    for (key, value) in [
        ("from", &e.from),
        ("rhi", &e.rhi),
        ("rhiReason", &e.rhi_reason),
    ] {
        if doc::text(tx, &item, key) != *value {
            tx.put(&item, key, value.as_str())?;
        }
    }
    Ok(())
}

pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(e) = doc::find_item(tx, &ROOT, LIST, id) else {
        return Ok(false);
    };
    removal::remove(tx, &e, by, at)?;
    Ok(true)
}
