//! The case file: every record practitioners keep about a young person, as
//! typed Rust over one Automerge document per case. IO-free; builds natively and for wasm32.
//! Domain notes: `docs/domain/case-file.md`.
//!
//! Readers (`read` in each module) turn the document into plain data the UI renders; writers
//! apply one user action inside a transaction. Writers only touch the keys they own, so
//! fields this version does not know (written by a newer app) are never dropped.
//!
//! Merge rules (each tested in `tests/merge_rules.rs`):
//! - lists (notes, assessments, actions, episodes, NRM steps, outcomes, links) only grow by
//!   appending items with their own ids; concurrent additions all survive, even if two
//!   devices created the list itself concurrently ([`doc::items`] reads every copy);
//! - typed text is Automerge text, edited by diff: concurrent edits merge; a field two
//!   devices create concurrently keeps both copies, and readers show every copy
//!   ([`schema`] lists every text field; [`doc::merged_text`]);
//! - a submitted assessment version never changes: it reads as it was submitted, and
//!   edits that arrive later are kept as late edits for a new draft ([`assessment`]);
//! - removing an item is a marked removal, never an erasure ([`removal`]): an edit made
//!   while another device removed it keeps the item visible and flagged;
//! - safety-critical single values (overall level, category ratings, NRM status, hazard
//!   labels) keep every concurrent value with who set it and when ([`critical`]) until a
//!   person chooses.
//!
//! Layout (schema 3; schema 1 had only `profile {name, knownAs, dob}` and `notes`; schema 2
//! added every section up to `outcomes`; schema 3 added `meetings`, `concerns`, the
//! assessment `review`, the profile's ticked `legalStatuses`, transition worker and level
//! from another area, the late RHI reason, the reachable-moment kind, reachable moments as
//! events and the note's `followUpOf`):
//! `{ schema, profile: { …, legalStatus (older single status), legalStatuses: { <id>: bool },
//!   transitionWorker, transitionAllocated, externalLevel, externalSource },
//!   hazards: { <id>: {value,by,at} }, notes: [ { …, reachable, reachableKind, followUpOf } ],
//!   assessments: [ { …, confirmed: {by, at} (older), review: { by, role, at, level,
//!   meetingNeeded, meetingChair, note } } ], plan: { known, review, actions: [..] },
//!   missing: [ { …, rhiLateReason, rhiLateText } ], nrm: { status, history: [..] },
//!   network: { people: [..], places: [..] }, outcomes: [..],
//!   meetings: [ { id, at, kind, chair, attendees: [ {id, name, agency} ], level,
//!   meetingNeeded, meetingChair, nrm, icpc, planHeads, nextReview, decisions, by } ]
//!   ([`meetings`]), concerns: [ { id, at, by, what } ] ([`concerns`]),
//!   moments: [ { id, at, kind, by, what } ] ([`moments`]) }`.
//!   Nothing in schema 3 needs a migration: new keys are read as empty until written, and
//!   an older single `legalStatus` is read as one of the ticked statuses.

pub mod account;
pub mod assessment;
pub mod caret;
pub mod caseload;
pub mod chronology;
pub mod clocks;
pub mod concerns;
pub mod critical;
pub mod csv;
pub mod dataset;
pub mod demo;
pub mod doc;
pub mod due;
pub mod find;
pub mod history;
pub mod language;
pub mod lone;
pub mod meetings;
pub mod missing;
pub mod moments;
pub mod network;
pub mod notes;
pub mod nrm;
pub mod outcomes;
pub mod pending;
pub mod plan;
pub mod profile;
pub mod reach;
pub mod reader;
pub mod removal;
pub mod route;
pub mod schema;
pub mod status;
pub mod stepdown;
pub mod transfer;
pub mod validate;
pub mod vocab;

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ROOT};

pub use assessment::Assessment;
pub use missing::Episode;
pub use notes::{Note, NoteField, CONTACT_TYPES};
pub use nrm::Nrm;
pub use outcomes::Outcome;
pub use plan::SafetyPlan;
pub use profile::{Hazard, Profile, ProfileField};

/// The schema this build writes. Older documents open (missing sections read as empty);
/// newer ones open too, and their unknown fields are kept untouched.
pub const SCHEMA: i64 = 3;

/// Everything shown about a case except relationships and places, which are read only on
/// request ([`network::read`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Case {
    /// The document's schema version (1 if it predates the field).
    pub schema: i64,
    pub profile: Profile,
    pub hazards: Vec<Hazard>,
    /// Newest first.
    pub notes: Vec<Note>,
    /// Oldest first, drafts last.
    pub assessments: Vec<Assessment>,
    pub plan: SafetyPlan,
    /// Newest first.
    pub missing: Vec<Episode>,
    pub nrm: Nrm,
    /// Oldest first.
    pub outcomes: Vec<Outcome>,
    /// Multi-agency meetings, newest first.
    pub meetings: Vec<meetings::Meeting>,
    /// "A risk assessment is needed" records, newest first.
    pub concerns: Vec<concerns::Concern>,
    /// Reachable moments logged as events, newest first.
    pub moments: Vec<moments::Moment>,
    /// Step-down and closure records, newest first ([`stepdown`]).
    pub step_downs: Vec<stepdown::StepDown>,
}

impl Case {
    /// Written by a newer Fieldbook: show a notice; edits still keep what we do not know.
    pub fn is_newer_than_app(&self) -> bool {
        self.schema > SCHEMA
    }

    /// Hazard labels to show on every screen of the case. "NRM referral in place" is
    /// derived from the NRM status ([`nrm::hazard`]); a value set by hand on an older
    /// device stays in the document but no longer decides.
    pub fn shown_hazards(&self) -> Vec<Hazard> {
        let mut out: Vec<Hazard> = self
            .hazards
            .iter()
            .filter(|h| h.id != "nrm" && h.shown())
            .cloned()
            .collect();
        if let Some(h) = nrm::hazard(&self.nrm) {
            out.push(h);
            let order = |id: &str| {
                vocab::HAZARDS
                    .iter()
                    .position(|(h, _)| *h == id)
                    .unwrap_or(usize::MAX)
            };
            fieldbook_sync::order::sort_by_key(&mut out, |h| (order(&h.id), h.id.clone()));
        }
        out
    }

    /// Safety-critical values in dispute anywhere in the case, each with every competing
    /// value (who set it and when) and where it lives, so a person can settle it.
    pub fn conflicts(&self) -> Vec<Dispute> {
        let mut out = Vec::new();
        let mut add = |what, label, value: &critical::Critical| {
            if value.is_conflict() {
                out.push(Dispute {
                    what,
                    label,
                    value: value.clone(),
                });
            }
        };
        // The NRM label follows the NRM status: a hand-set value no longer decides.
        for h in self.hazards.iter().filter(|h| h.id != "nrm") {
            add(
                Disputed::Hazard(h.id.clone()),
                format!("Hazard label \"{}\"", h.label),
                &h.state,
            );
        }
        for a in &self.assessments {
            let assessment = a.id.clone();
            add(
                Disputed::Overall {
                    assessment: assessment.clone(),
                },
                "Overall risk level".to_owned(),
                &a.overall,
            );
            for c in &a.categories {
                let label = format!("Rating: {}", vocab::label(vocab::RISK_CATEGORIES, &c.id));
                add(
                    Disputed::Rating {
                        assessment: assessment.clone(),
                        category: c.id.clone(),
                    },
                    label,
                    &c.rating,
                );
            }
        }
        add(Disputed::Nrm, "NRM status".to_owned(), &self.nrm.status);
        add(
            Disputed::NrmDecision("rg".to_owned()),
            "NRM reasonable grounds decision".to_owned(),
            &self.nrm.rg,
        );
        add(
            Disputed::NrmDecision("cg".to_owned()),
            "NRM conclusive grounds decision".to_owned(),
            &self.nrm.cg,
        );
        out
    }
}

/// A safety-critical value set two ways at once ([`Case::conflicts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub what: Disputed,
    /// What it is, for people: "Overall risk level", "Rating: Coercion and control", …
    pub label: String,
    /// Every competing value, newest first.
    pub value: critical::Critical,
}

/// Which value is in dispute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disputed {
    /// A hazard label (its id); values are "on" / "off".
    Hazard(String),
    Overall {
        assessment: String,
    },
    Rating {
        assessment: String,
        category: String,
    },
    Nrm,
    /// An NRM decision: "rg" (reasonable grounds) or "cg" (conclusive grounds).
    NrmDecision(String),
}

impl Disputed {
    /// The list its values come from (ids and labels).
    pub fn choices(&self) -> &'static [vocab::Choice] {
        match self {
            Disputed::Hazard(_) => vocab::HAZARD_STATES,
            Disputed::Overall { .. } => vocab::LEVELS,
            Disputed::Rating { .. } => vocab::RATINGS,
            Disputed::Nrm => vocab::NRM_STATUS,
            Disputed::NrmDecision(_) => nrm::DECISIONS,
        }
    }
}

/// Read a whole case. Missing parts read as empty: a half-synced document still renders.
/// Submitted assessments read as they were submitted ([`history::History`]).
pub fn read<D: history::History>(d: &D) -> Case {
    Case {
        schema: doc::opt_int(d, &ROOT, "schema").unwrap_or(1),
        profile: profile::read(d),
        hazards: profile::hazards(d),
        notes: notes::read(d),
        assessments: assessment::read(d),
        plan: plan::read(d),
        missing: missing::read(d),
        nrm: nrm::read(d),
        outcomes: outcomes::read(d),
        meetings: meetings::read(d),
        concerns: concerns::read(d),
        moments: moments::read(d),
        step_downs: stepdown::read(d),
    }
}

/// Whether `doc` is a case (has a profile), as opposed to an index or an unrelated document.
pub fn is_case<D: ReadDoc>(d: &D) -> bool {
    doc::obj_at(d, &ROOT, "profile", ObjType::Map).is_some()
}

/// Initialise a new case document with every section, so devices never race to create them.
pub fn create(tx: &mut impl Transactable, p: &Profile) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schema", SCHEMA)?;
    tx.put_object(ROOT, "profile", ObjType::Map)?;
    for f in ProfileField::ALL {
        let v = p.get(f);
        if !v.is_empty() || matches!(f, ProfileField::Name | ProfileField::KnownAs) {
            profile::set_field(tx, f, v)?;
        }
    }
    for s in &p.legal_statuses {
        profile::set_legal_status(tx, s, true)?;
    }
    tx.put_object(ROOT, "hazards", ObjType::Map)?;
    for list in [
        "notes",
        "assessments",
        "missing",
        "outcomes",
        "meetings",
        "concerns",
        "moments",
        "stepDowns",
    ] {
        tx.put_object(ROOT, list, ObjType::List)?;
    }
    let plan = tx.put_object(ROOT, "plan", ObjType::Map)?;
    tx.put_object(&plan, "actions", ObjType::List)?;
    let nrm = tx.put_object(ROOT, "nrm", ObjType::Map)?;
    tx.put_object(&nrm, "history", ObjType::List)?;
    let network = tx.put_object(ROOT, "network", ObjType::Map)?;
    tx.put_object(&network, "people", ObjType::List)?;
    tx.put_object(&network, "places", ObjType::List)?;
    Ok(())
}

/// Bring an older document up to this schema. Only the version number changes: sections an
/// older document lacks are created when first written (readers merge any copies two
/// devices create concurrently), and values kept in an older form (a single `legalStatus`,
/// retired vocabulary ids) are read as they are, so nothing is dropped.
pub fn migrate(tx: &mut impl Transactable) -> Result<bool, AutomergeError> {
    let schema = doc::opt_int(tx, &ROOT, "schema").unwrap_or(1);
    if schema >= SCHEMA {
        return Ok(false);
    }
    tx.put(ROOT, "schema", SCHEMA)?;
    Ok(true)
}

// Names the app and tools used before the modules existed.
pub use notes::add as add_note;
pub use notes::set_field as set_note_field;
pub use notes::set_meta as set_note_meta;

/// Month names, January first.
pub(crate) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A date as practitioners write it ("24 August 2010"); other text is shown as is.
pub fn long_date(iso: &str) -> String {
    match validate::parse_iso_date(iso) {
        Some((y, m, d)) => format!("{d} {} {y}", MONTHS[m as usize - 1]),
        None => iso.to_owned(),
    }
}

/// The line under a case's name: known-as and date of birth, leaving out what is blank.
pub fn profile_summary(p: &Profile) -> String {
    let mut parts = Vec::new();
    if !p.known_as.trim().is_empty() {
        parts.push(format!("Known as {}", p.known_as.trim()));
    }
    if !p.dob.trim().is_empty() {
        parts.push(format!("Born {}", long_date(p.dob.trim())));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_sync::automerge::AutoCommit;

    #[test]
    fn the_profile_line_reads_naturally_and_skips_blanks() {
        let mut p = Profile {
            name: "Test Person".into(),
            known_as: "TP".into(),
            dob: "2010-08-24".into(),
            ..Default::default()
        };
        assert_eq!(profile_summary(&p), "Known as TP · Born 24 August 2010");
        p.known_as.clear();
        assert_eq!(profile_summary(&p), "Born 24 August 2010");
        p.dob = "sometime in 2010".into();
        assert_eq!(profile_summary(&p), "Born sometime in 2010");
        p.dob.clear();
        assert_eq!(profile_summary(&p), "");
        assert_eq!(long_date("2010-13-01"), "2010-13-01");
    }

    #[test]
    fn only_documents_with_a_profile_are_cases() {
        let mut d = AutoCommit::new();
        assert!(!is_case(&d));
        create(&mut d, &Profile::default()).unwrap();
        assert!(is_case(&d));
    }
}
