//! National Referral Mechanism: the current status is a safety-critical value; every
//! change is also kept in a history with its date, so a "referral" cited for months without
//! progress shows its age.
//! Domain notes: `docs/domain/nrm.md`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ScalarValue, ROOT};

use crate::critical::{self, Critical};
use crate::doc;
use crate::schema::{self, Record};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    pub id: String,
    pub at: i64,
    /// An id from [`crate::vocab::NRM_STATUS`].
    pub status: String,
    /// Why not referred, or any note on the step.
    pub reason: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nrm {
    pub status: Critical,
    /// Oldest first.
    pub history: Vec<Step>,
}

impl Nrm {
    /// Days since the current status was set, if settled.
    pub fn age_days(&self, now: i64) -> Option<i64> {
        self.status
            .settled()
            .map(|c| (now - c.at).max(0) / 86_400_000)
    }
}

crate::schema::texts!(Step { "reason" => reason });

pub fn read<D: ReadDoc>(d: &D) -> Nrm {
    let maps = doc::all_objs(d, &ROOT, "nrm", ObjType::Map);
    let mut history: Vec<Step> = maps
        .iter()
        .flat_map(|m| doc::items(d, m, "history"))
        .map(|s| {
            let mut step = Step {
                id: doc::text(d, &s, "id"),
                at: doc::int(d, &s, "at"),
                status: doc::text(d, &s, "status"),
                by: doc::text(d, &s, "by"),
                ..Default::default()
            };
            schema::fill(d, std::slice::from_ref(&s), Record::NrmStep, &mut step);
            step
        })
        .collect();
    history.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
    Nrm {
        status: critical::read_all(d, &maps, "status"),
        history,
    }
}

/// Record a new NRM status (the caller has run [`crate::validate::nrm_step`]).
pub fn set_status(tx: &mut impl Transactable, step: &Step) -> Result<(), AutomergeError> {
    let m = doc::ensure_obj(tx, &ROOT, "nrm", ObjType::Map)?;
    critical::set(tx, &m, "status", &step.status, &step.by, step.at)?;
    let s = doc::push_item(tx, &m, "history", &step.id)?;
    tx.put(&s, "at", ScalarValue::Timestamp(step.at))?;
    tx.put(&s, "status", step.status.as_str())?;
    doc::set_text(tx, &s, "reason", &step.reason)?;
    tx.put(&s, "by", step.by.as_str())?;
    Ok(())
}

/// Write a text field of history step `id` (a key from [`crate::schema::TEXT_FIELDS`], e.g.
/// to correct its reason). False if there is no such step or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::NrmStep, key).is_none() {
        return Ok(false);
    }
    doc::on_item_in(tx, "nrm", "history", id, |tx, s| {
        schema::write_text(tx, std::slice::from_ref(s), Record::NrmStep, key, value).map(|_| ())
    })
}
