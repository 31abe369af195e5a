//! "CCE concerns identified: a risk assessment is needed". The date recorded here starts
//! the 10-day risk assessment clock and, when a multi-agency meeting is required, the
//! 15-day meeting clock ([`crate::clocks`]).
//! Layout: root list `concerns`, each `{ id, at, by, what (text), types: { <id>: bool },
//! removed… }` (`types`: ids from [`crate::vocab::CONCERN_TYPES`], added for the monthly
//! dataset; older records read as none ticked).

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record};

const LIST: &str = "concerns";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Concern {
    pub id: String,
    /// When the concerns came to light and the need for an assessment was identified.
    pub at: i64,
    /// What the concerns are, in words.
    pub what: String,
    pub by: String,
    /// Which kinds of exploitation the concerns are about (ids from
    /// [`crate::vocab::CONCERN_TYPES`]); more than one may be ticked.
    pub types: Vec<String>,
    pub removal: Option<Removal>,
}

crate::schema::texts!(Concern { "what" => what });

fn read_one<D: ReadDoc>(d: &D, c: &ObjId) -> Concern {
    let mut out = Concern {
        id: doc::text(d, c, "id"),
        at: doc::int(d, c, "at"),
        by: doc::text(d, c, "by"),
        types: doc::flags(d, c, "types"),
        removal: removal::read(d, c),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(c), Record::Concern, &mut out);
    out
}

/// Every concern record (removed ones included), newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Concern> {
    doc::newest_first(d, LIST, read_one, |c| c.at, |c| &c.id)
}

/// Record that concerns came to light (its `what` may be empty: filled in as it is typed).
pub fn add(tx: &mut impl Transactable, c: &Concern) -> Result<(), AutomergeError> {
    let item = doc::push_item(tx, &ROOT, LIST, &c.id)?;
    tx.put(&item, "at", ScalarValue::Timestamp(c.at))?;
    tx.put(&item, "by", c.by.as_str())?;
    schema::write_text(
        tx,
        std::slice::from_ref(&item),
        Record::Concern,
        "what",
        &c.what,
    )?;
    for t in &c.types {
        doc::set_flag(tx, &item, "types", t, true)?;
    }
    Ok(())
}

/// Tick or untick one kind of exploitation (an id from [`crate::vocab::CONCERN_TYPES`]).
/// False if there is no such record.
pub fn set_type(
    tx: &mut impl Transactable,
    id: &str,
    kind: &str,
    on: bool,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, c| {
        doc::set_flag(tx, c, "types", kind, on)?;
        removal::touch(tx, c)
    })
}

/// Edit what the concerns are. False if there is no such record.
pub fn set_what(tx: &mut impl Transactable, id: &str, what: &str) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, c| {
        schema::write_text(tx, std::slice::from_ref(c), Record::Concern, "what", what)?;
        removal::touch(tx, c)
    })
}

pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, c| removal::remove(tx, c, by, at))
}
