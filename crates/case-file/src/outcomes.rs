//! Outcomes recorded at each review (`docs/domain/case-file.md`).

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::schema::{self, Record};

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

crate::schema::texts!(Outcome { "notes" => notes });

/// Oldest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Outcome> {
    let mut all: Vec<Outcome> = doc::items(d, &ROOT, "outcomes")
        .iter()
        .map(|o| {
            let mut outcome = Outcome {
                id: doc::text(d, o, "id"),
                at: doc::int(d, o, "at"),
                overall: doc::text(d, o, "overall"),
                soft: doc::flags(d, o, "soft"),
                by: doc::text(d, o, "by"),
                ..Default::default()
            };
            schema::fill(d, std::slice::from_ref(o), Record::Outcome, &mut outcome);
            outcome
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut all, |a, b| {
        a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id))
    });
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

/// Write a text field of outcome `id` (a key from [`crate::schema::TEXT_FIELDS`], e.g. to
/// add to its notes). False if there is no such outcome or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::Outcome, key).is_none() {
        return Ok(false);
    }
    doc::on_item(tx, &ROOT, "outcomes", id, |tx, o| {
        schema::write_text(tx, std::slice::from_ref(o), Record::Outcome, key, value).map(|_| ())
    })
}
