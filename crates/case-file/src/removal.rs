//! Deleting an item (a note, a safety-plan action, a missing episode…) without losing a
//! colleague's work.
//!
//! **The rule.** Nothing a practitioner wrote is ever erased from the document. Removing an
//! item records who removed it and when, plus how many edits the item had at that moment.
//! Every edit to an item bumps its `edits` counter (an Automerge counter, so concurrent
//! bumps add up). If, after merging, the item has more edits than the removal saw, someone
//! changed it after or while it was being removed: the item stays visible, flagged
//! "removed by X, but changed since", until a person removes it again or restores it.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue};

use crate::doc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    pub by: String,
    pub at: i64,
    /// Someone edited the item after (or concurrently with) its removal.
    pub changed_since: bool,
}

/// Whether an item is removed, and whether that removal must be confirmed.
pub fn read<D: ReadDoc>(d: &D, item: &ObjId) -> Option<Removal> {
    let r = doc::obj_at(d, item, "removed", ObjType::Map)?;
    Some(Removal {
        by: doc::text(d, &r, "by"),
        at: doc::int(d, &r, "at"),
        changed_since: doc::int(d, item, "edits") > doc::int(d, &r, "edits"),
    })
}

/// Whether a list should show the item: not removed, or removed but changed since.
pub fn visible(removal: &Option<Removal>) -> bool {
    removal.as_ref().is_none_or(|r| r.changed_since)
}

/// Count one edit of `item`. Every writer that changes an item calls this.
pub fn touch(tx: &mut impl Transactable, item: &ObjId) -> Result<(), AutomergeError> {
    if doc::opt_int(tx, item, "edits").is_some() {
        tx.increment(item, "edits", 1)
    } else {
        // An item written before edits were counted.
        tx.put(item, "edits", ScalarValue::counter(1))
    }
}

/// Remove `item` (or confirm a removal that was flagged).
pub fn remove(
    tx: &mut impl Transactable,
    item: &ObjId,
    by: &str,
    at: i64,
) -> Result<(), AutomergeError> {
    let edits = doc::int(tx, item, "edits");
    let r = tx.put_object(item, "removed", ObjType::Map)?;
    tx.put(&r, "by", by)?;
    tx.put(&r, "at", ScalarValue::Timestamp(at))?;
    tx.put(&r, "edits", edits)?;
    Ok(())
}

/// Bring a removed item back.
pub fn restore(tx: &mut impl Transactable, item: &ObjId) -> Result<(), AutomergeError> {
    if doc::obj_at(tx, item, "removed", ObjType::Map).is_some() {
        tx.delete(item, "removed")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_sync::automerge::{AutoCommit, ROOT};

    fn item(d: &mut AutoCommit) -> ObjId {
        doc::push_item(d, &ROOT, "things", "t1").unwrap()
    }

    #[test]
    fn an_edit_concurrent_with_a_removal_keeps_the_item_visible_and_flagged() {
        let mut a = AutoCommit::new();
        let it = item(&mut a);
        doc::set_text(&mut a, &it, "text", "first draft").unwrap();
        touch(&mut a, &it).unwrap();
        let mut b = a.fork();
        remove(&mut a, &it, "Worker A", 100).unwrap();
        doc::set_text(&mut b, &it, "text", "first draft, and what B added").unwrap();
        touch(&mut b, &it).unwrap();
        a.merge(&mut b).unwrap();
        let r = read(&a, &it).expect("still marked removed");
        assert_eq!(
            (r.by.as_str(), r.at, r.changed_since),
            ("Worker A", 100, true)
        );
        assert!(visible(&Some(r)));
        assert_eq!(doc::text(&a, &it, "text"), "first draft, and what B added");
        // Confirming the removal after seeing B's edit hides it.
        remove(&mut a, &it, "Worker A", 200).unwrap();
        assert!(!visible(&read(&a, &it)));
        restore(&mut a, &it).unwrap();
        assert_eq!(read(&a, &it), None);
    }

    #[test]
    fn a_plain_removal_hides_the_item_but_keeps_its_content() {
        let mut a = AutoCommit::new();
        let it = item(&mut a);
        doc::set_text(&mut a, &it, "text", "kept").unwrap();
        touch(&mut a, &it).unwrap();
        remove(&mut a, &it, "Worker A", 5).unwrap();
        assert!(!visible(&read(&a, &it)));
        assert_eq!(doc::text(&a, &it, "text"), "kept");
    }
}
