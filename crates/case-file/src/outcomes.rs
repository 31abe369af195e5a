//! Outcomes recorded at each review (§3.9).

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ReadDoc, ScalarValue, ROOT};

use crate::doc;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    pub id: String,
    pub at: i64,
    /// An id from [`crate::vocab::OUTCOMES`].
    pub overall: String,
    /// Ids from [`crate::vocab::SOFT_OUTCOMES`].
    pub soft: Vec<String>,
    pub notes: String,
    pub by: String,
}

/// Oldest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Outcome> {
    let mut all: Vec<Outcome> = doc::items(d, &ROOT, "outcomes")
        .iter()
        .map(|o| Outcome {
            id: doc::text(d, o, "id"),
            at: doc::int(d, o, "at"),
            overall: doc::text(d, o, "overall"),
            soft: doc::flags(d, o, "soft"),
            notes: doc::text(d, o, "notes"),
            by: doc::text(d, o, "by"),
        })
        .collect();
    all.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    all
}

pub fn add(tx: &mut impl Transactable, o: &Outcome) -> Result<(), AutomergeError> {
    let item = doc::push_item(tx, &ROOT, "outcomes", &o.id)?;
    tx.put(&item, "at", ScalarValue::Timestamp(o.at))?;
    tx.put(&item, "overall", o.overall.as_str())?;
    for s in &o.soft {
        doc::set_flag(tx, &item, "soft", s, true)?;
    }
    doc::set_text(tx, &item, "notes", &o.notes)?;
    tx.put(&item, "by", o.by.as_str())?;
    Ok(())
}
