//! Multi-agency meetings: strategy discussions, CCE multi-agency meetings, MACE/panel,
//! core groups and reviews. A meeting records who chaired and attended, the overall level
//! agreed, the decisions taken, the safety plan version agreed and the next review date.
//! Meetings start and stop clocks ([`crate::clocks`]) and appear in the chronology.
//! Domain notes: `docs/domain/meetings.md`.
//!
//! Layout: root list `meetings`, each item `{ id, at, kind, chair (text), by, level,
//! meetingNeeded, meetingChair, nrm, icpc, planHeads: [hash…], nextReview, decisions (text),
//! attendees: [ { id, name (text), agency (text) } ], removed… }`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ReadDoc};

use crate::removal::Removal;

/// Kinds of meeting (ids stored; labels shown).
pub const MEETING_TYPES: &[crate::vocab::Choice] = &[
    ("strategy", "Strategy discussion"),
    ("cce", "CCE multi-agency meeting"),
    ("mace", "MACE / exploitation panel"),
    ("core-group", "Core group"),
    ("review", "Review meeting"),
];

/// What the meeting decided about an NRM referral.
pub const NRM_DECISIONS: &[crate::vocab::Choice] = &[
    ("refer", "Make an NRM referral"),
    (
        "not-refer",
        "Considered, not referring (reason in the decisions)",
    ),
    ("already", "Already referred"),
    ("not-discussed", "Not discussed"),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Attendee {
    pub id: String,
    pub name: String,
    pub agency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Meeting {
    pub id: String,
    /// When it was held (ms since the epoch).
    pub at: i64,
    /// An id from [`MEETING_TYPES`].
    pub kind: String,
    pub chair: String,
    pub attendees: Vec<Attendee>,
    /// Overall level agreed (an id from [`crate::vocab::LEVELS`]), or empty.
    pub level: String,
    /// Whether a CCE multi-agency meeting is needed: "yes", "no" or "" (not decided).
    pub meeting_needed: String,
    /// Who chairs it: "manager" or "chair" (an id from [`crate::vocab::REVIEWERS`]), or "".
    pub meeting_chair: String,
    /// An id from [`NRM_DECISIONS`], or empty.
    pub nrm: String,
    /// An initial child protection conference was considered.
    pub icpc_considered: bool,
    /// The document heads when the safety plan was agreed at this meeting (empty: no plan
    /// agreed). The plan as agreed reads at these heads.
    pub plan_heads: Vec<String>,
    /// ISO date of the next review, or empty.
    pub next_review: String,
    /// The decisions and actions, in words.
    pub decisions: String,
    pub by: String,
    pub removal: Option<Removal>,
}

impl Meeting {
    pub fn plan_agreed(&self) -> bool {
        !self.plan_heads.is_empty()
    }
}

/// Every meeting (removed ones included), newest first.
pub fn read<D: ReadDoc>(_d: &D) -> Vec<Meeting> {
    Vec::new() // STAND-IN: the records helper replaces this.
}

/// Save a meeting: a new one, or what changed on an existing one (attendees by their ids).
pub fn save(_tx: &mut impl Transactable, _m: &Meeting) -> Result<(), AutomergeError> {
    Ok(()) // STAND-IN
}

pub fn remove(
    _tx: &mut impl Transactable,
    _id: &str,
    _by: &str,
    _at: i64,
) -> Result<bool, AutomergeError> {
    Ok(false) // STAND-IN
}
