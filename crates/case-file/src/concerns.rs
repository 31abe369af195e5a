//! "CCE concerns identified: a risk assessment is needed". The date recorded here starts
//! the 10-day risk assessment clock and, when a multi-agency meeting is required, the
//! 15-day meeting clock ([`crate::clocks`]).
//! Layout: root list `concerns`, each `{ id, at, by, what (text), removed… }`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ReadDoc};

use crate::removal::Removal;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Concern {
    pub id: String,
    /// When the concerns came to light and the need for an assessment was identified.
    pub at: i64,
    /// What the concerns are, in words.
    pub what: String,
    pub by: String,
    pub removal: Option<Removal>,
}

/// Every concern record (removed ones included), newest first.
pub fn read<D: ReadDoc>(_d: &D) -> Vec<Concern> {
    Vec::new() // STAND-IN
}

pub fn add(_tx: &mut impl Transactable, _c: &Concern) -> Result<(), AutomergeError> {
    Ok(()) // STAND-IN
}

pub fn set_what(
    _tx: &mut impl Transactable,
    _id: &str,
    _what: &str,
) -> Result<bool, AutomergeError> {
    Ok(false) // STAND-IN
}

pub fn remove(
    _tx: &mut impl Transactable,
    _id: &str,
    _by: &str,
    _at: i64,
) -> Result<bool, AutomergeError> {
    Ok(false) // STAND-IN
}
