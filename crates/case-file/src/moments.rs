//! Reachable moments as events anyone can log: an arrest or time in custody, a hospital or
//! A&E attendance, a return from missing, an exclusion, a disclosure, a new court order
//! (`docs/domain/practice-rules.md`, "Reachable moments"). Each one starts a follow-up clock
//! for the allocated worker ([`crate::clocks::Kind::FollowUp`]), met by a contact note that
//! names it (`Note::follow_up_of`); repeated moments of one kind raise a pattern flag
//! ([`crate::reach::patterns`]).
//! Layout: root list `moments`, each `{ id, at, kind, by, what (text), removed… }`; `kind`
//! is an id from [`crate::vocab::REACHABLE_MOMENTS`].

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record};

const LIST: &str = "moments";

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Moment {
    pub id: String,
    /// When it happened (not when it was logged).
    pub at: i64,
    /// An id from [`crate::vocab::REACHABLE_MOMENTS`].
    pub kind: String,
    /// What happened, in words.
    pub what: String,
    /// Who logged it (any agency).
    pub by: String,
    pub removal: Option<Removal>,
}

/// No case text in logs: the words are left out.
impl std::fmt::Debug for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moment")
            .field("id", &self.id)
            .field("at", &self.at)
            .field("kind", &self.kind)
            .field("removal", &self.removal)
            .finish_non_exhaustive()
    }
}

crate::schema::texts!(Moment { "what" => what });

fn read_one<D: ReadDoc>(d: &D, m: &ObjId) -> Moment {
    let mut out = Moment {
        id: doc::text(d, m, "id"),
        at: doc::int(d, m, "at"),
        kind: doc::text(d, m, "kind"),
        by: doc::text(d, m, "by"),
        removal: removal::read(d, m),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(m), Record::Moment, &mut out);
    out
}

/// Every reachable moment (removed ones included), newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Moment> {
    doc::newest_first(d, LIST, read_one, |m| m.at, |m| &m.id)
}

/// Log a reachable moment (its `what` may be empty: filled in as it is typed).
pub fn add(tx: &mut impl Transactable, m: &Moment) -> Result<(), AutomergeError> {
    let item = doc::push_item(tx, &ROOT, LIST, &m.id)?;
    tx.put(&item, "at", ScalarValue::Timestamp(m.at))?;
    tx.put(&item, "kind", m.kind.as_str())?;
    tx.put(&item, "by", m.by.as_str())?;
    schema::write_text(
        tx,
        std::slice::from_ref(&item),
        Record::Moment,
        "what",
        &m.what,
    )?;
    Ok(())
}

/// Edit what happened. False if there is no such moment.
pub fn set_what(tx: &mut impl Transactable, id: &str, what: &str) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, m| {
        schema::write_text(tx, std::slice::from_ref(m), Record::Moment, "what", what)?;
        removal::touch(tx, m)
    })
}

/// Correct when it happened and/or its kind. False if there is no such moment.
pub fn set_meta(
    tx: &mut impl Transactable,
    id: &str,
    kind: Option<&str>,
    at: Option<i64>,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, m| {
        if let Some(k) = kind {
            tx.put(m, "kind", k)?;
        }
        if let Some(t) = at {
            tx.put(m, "at", ScalarValue::Timestamp(t))?;
        }
        removal::touch(tx, m)
    })
}

/// Mark a moment removed (logged in error): it then starts no follow-up and counts towards
/// no pattern.
pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, m| removal::remove(tx, m, by, at))
}

pub fn restore(tx: &mut impl Transactable, id: &str) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, removal::restore)
}

/// A moment being logged or corrected, saved at `now`: what kind, when (not in the future),
/// and what happened. Field ids: `moment-kind`, `moment-at`, `moment-what`.
pub fn check(m: &Moment, now: i64) -> Vec<crate::validate::FieldError> {
    use crate::validate::FieldError;
    let err = |field: &str, message: &str| FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let mut errors = Vec::new();
    if !crate::vocab::REACHABLE_MOMENTS
        .iter()
        .any(|(id, _)| *id == m.kind)
    {
        errors.push(err("moment-kind", "Select what kind of moment it was"));
    }
    if m.at <= 0 {
        errors.push(err("moment-at", "Enter when it happened"));
    } else if m.at > now {
        errors.push(err(
            "moment-at",
            "When it happened must be now or in the past",
        ));
    }
    if m.what.trim().is_empty() {
        errors.push(err("moment-what", "Enter what happened"));
    }
    errors
}
