//! The young person and their hazard labels (`docs/domain/case-file.md`).

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ROOT};

use crate::critical::{self, Critical};
use crate::schema::{self, Record};
use crate::{doc, vocab};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Profile {
    pub name: String,
    pub known_as: String,
    /// ISO date `YYYY-MM-DD`, or empty.
    pub dob: String,
    pub gender: String,
    pub address: String,
    /// Placement type and location, if looked after.
    pub placement: String,
    /// The family home, kept even when the young person is placed elsewhere.
    pub family_address: String,
    pub worker: String,
    pub team: String,
    /// The single legal status older versions recorded (the raw `legalStatus` value), or
    /// empty; [`Profile::legal_statuses`] includes it. Cleared once statuses are ticked.
    pub legal_status: String,
    /// An id from [`vocab::EDUCATION`], or empty.
    pub education: String,
    pub needs: String,
    pub key_contacts: String,
    /// The young person's own words.
    pub voice: String,
    /// Every legal status that applies (ids from [`vocab::LEGAL_STATUS`]): they combine
    /// (looked after *and* a care order). Read from the older single `legal_status` too.
    pub legal_statuses: Vec<String>,
    /// The transition-to-adulthood worker, once allocated.
    pub transition_worker: String,
    /// ISO date the transition worker was allocated, or empty.
    pub transition_allocated: String,
    /// A risk level recorded by another area's tool, kept exactly as stated ("Very high").
    pub external_level: String,
    /// Which area and tool that level came from.
    pub external_source: String,
}

/// A profile field a person edits. Text fields merge character by character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileField {
    Name,
    KnownAs,
    Dob,
    Gender,
    Address,
    Placement,
    FamilyAddress,
    Worker,
    Team,
    LegalStatus,
    Education,
    Needs,
    KeyContacts,
    Voice,
    TransitionWorker,
    /// ISO date the transition worker was allocated (a plain value).
    TransitionAllocated,
    ExternalLevel,
    ExternalSource,
}

impl ProfileField {
    pub const ALL: [ProfileField; 18] = [
        ProfileField::Name,
        ProfileField::KnownAs,
        ProfileField::Dob,
        ProfileField::Gender,
        ProfileField::Address,
        ProfileField::Placement,
        ProfileField::FamilyAddress,
        ProfileField::Worker,
        ProfileField::Team,
        ProfileField::LegalStatus,
        ProfileField::Education,
        ProfileField::Needs,
        ProfileField::KeyContacts,
        ProfileField::Voice,
        ProfileField::TransitionWorker,
        ProfileField::TransitionAllocated,
        ProfileField::ExternalLevel,
        ProfileField::ExternalSource,
    ];

    /// The stored key. Stable: do not change.
    pub fn key(self) -> &'static str {
        match self {
            ProfileField::Name => "name",
            ProfileField::KnownAs => "knownAs",
            ProfileField::Dob => "dob",
            ProfileField::Gender => "gender",
            ProfileField::Address => "address",
            ProfileField::Placement => "placement",
            ProfileField::FamilyAddress => "familyAddress",
            ProfileField::Worker => "worker",
            ProfileField::Team => "team",
            ProfileField::LegalStatus => "legalStatus",
            ProfileField::Education => "education",
            ProfileField::Needs => "needs",
            ProfileField::KeyContacts => "keyContacts",
            ProfileField::Voice => "voice",
            ProfileField::TransitionWorker => "transitionWorker",
            ProfileField::TransitionAllocated => "transitionAllocated",
            ProfileField::ExternalLevel => "externalLevel",
            ProfileField::ExternalSource => "externalSource",
        }
    }

    /// Chosen from a fixed list (stored as a plain value) rather than typed.
    fn is_choice(self) -> bool {
        matches!(
            self,
            ProfileField::Dob
                | ProfileField::LegalStatus
                | ProfileField::Education
                | ProfileField::TransitionAllocated
        )
    }
}

impl Profile {
    pub fn get(&self, f: ProfileField) -> &str {
        match f {
            ProfileField::Name => &self.name,
            ProfileField::KnownAs => &self.known_as,
            ProfileField::Dob => &self.dob,
            ProfileField::Gender => &self.gender,
            ProfileField::Address => &self.address,
            ProfileField::Placement => &self.placement,
            ProfileField::FamilyAddress => &self.family_address,
            ProfileField::Worker => &self.worker,
            ProfileField::Team => &self.team,
            ProfileField::LegalStatus => &self.legal_status,
            ProfileField::Education => &self.education,
            ProfileField::Needs => &self.needs,
            ProfileField::KeyContacts => &self.key_contacts,
            ProfileField::Voice => &self.voice,
            ProfileField::TransitionWorker => &self.transition_worker,
            ProfileField::TransitionAllocated => &self.transition_allocated,
            ProfileField::ExternalLevel => &self.external_level,
            ProfileField::ExternalSource => &self.external_source,
        }
    }
}

crate::schema::texts!(Profile {
    "name" => name,
    "knownAs" => known_as,
    "gender" => gender,
    "address" => address,
    "placement" => placement,
    "familyAddress" => family_address,
    "worker" => worker,
    "team" => team,
    "needs" => needs,
    "keyContacts" => key_contacts,
    "voice" => voice,
    "transitionWorker" => transition_worker,
    "externalLevel" => external_level,
    "externalSource" => external_source,
});

/// The map of ticked legal statuses, in each copy of the profile.
const LEGAL_STATUSES: &str = "legalStatuses";

/// Read the profile from every concurrent copy of its map (an older document may have two).
pub fn read<D: ReadDoc>(d: &D) -> Profile {
    let copies = doc::all_objs(d, &ROOT, "profile", ObjType::Map);
    let mut p = Profile::default();
    schema::fill(d, &copies, Record::Profile, &mut p);
    let choice = |key: &str| {
        copies
            .iter()
            .map(|c| doc::text(d, c, key))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    p.dob = choice(ProfileField::Dob.key());
    p.legal_status = choice(ProfileField::LegalStatus.key());
    p.education = choice(ProfileField::Education.key());
    p.transition_allocated = choice(ProfileField::TransitionAllocated.key());
    // Ticked statuses, with the single status older versions recorded: never dropped.
    let mut statuses: std::collections::BTreeSet<String> = copies
        .iter()
        .flat_map(|c| doc::flags(d, c, LEGAL_STATUSES))
        .collect();
    for c in &copies {
        let old = doc::text(d, c, ProfileField::LegalStatus.key());
        if !old.is_empty() {
            statuses.insert(old);
        }
    }
    // In the order they are offered; retired and unknown ids after, as stored.
    let order = |id: &str| {
        vocab::LEGAL_STATUS
            .iter()
            .position(|(s, _)| *s == id)
            .unwrap_or(usize::MAX)
    };
    p.legal_statuses = statuses.into_iter().collect();
    fieldbook_sync::order::sort_by_key(&mut p.legal_statuses, |s| order(s));
    p
}

/// Tick (or untick) legal status `id` (from [`vocab::LEGAL_STATUS`]). On the first such
/// write, the single status an older version recorded (`legalStatus`) is copied into the
/// ticked statuses and then deleted, in the same transaction, so nothing is dropped and it
/// can be unticked like any other. One exception: an old "none" is not carried into a
/// profile that is being given a status (it said there was none; now there is one).
pub fn set_legal_status(
    tx: &mut impl Transactable,
    id: &str,
    on: bool,
) -> Result<(), AutomergeError> {
    let mut copies = doc::all_objs(tx, &ROOT, "profile", ObjType::Map);
    if copies.is_empty() {
        copies.push(tx.put_object(ROOT, "profile", ObjType::Map)?);
    }
    let old_key = ProfileField::LegalStatus.key();
    for c in &copies {
        let old = doc::text(tx, c, old_key);
        if tx.get_all(c, old_key)?.is_empty() {
            continue;
        }
        let carry = match old.as_str() {
            "" => false,
            "none" => !on,
            _ => true,
        };
        if carry {
            doc::set_flag(tx, c, LEGAL_STATUSES, &old, true)?;
        }
        tx.delete(c, old_key)?;
    }
    if on {
        doc::set_flag(tx, &copies[0], LEGAL_STATUSES, id, true)?;
    } else {
        // Off in every copy that has it, so no copy keeps it ticked.
        for c in &copies {
            for m in doc::all_objs(tx, c, LEGAL_STATUSES, ObjType::Map) {
                if !tx.get_all(&m, id)?.is_empty() {
                    tx.put(&m, id, false)?;
                }
            }
        }
    }
    Ok(())
}

pub fn set_field(
    tx: &mut impl Transactable,
    field: ProfileField,
    value: &str,
) -> Result<(), AutomergeError> {
    if field.is_choice() {
        // Into every copy of the profile, so no copy keeps an older choice.
        let mut copies = doc::all_objs(tx, &ROOT, "profile", ObjType::Map);
        if copies.is_empty() {
            copies.push(tx.put_object(ROOT, "profile", ObjType::Map)?);
        }
        for p in copies {
            tx.put(&p, field.key(), value)?;
        }
        Ok(())
    } else {
        set_text(tx, field.key(), value).map(|_| ())
    }
}

/// Write a text field of the profile (a key from [`crate::schema::TEXT_FIELDS`]); false
/// for any other key.
pub fn set_text(
    tx: &mut impl Transactable,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    let mut copies = doc::all_objs(tx, &ROOT, "profile", ObjType::Map);
    if copies.is_empty() {
        copies.push(tx.put_object(ROOT, "profile", ObjType::Map)?);
    }
    schema::write_text(tx, &copies, Record::Profile, key, value)
}

/// One hazard label and its (possibly conflicting) on/off state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    pub id: String,
    pub label: String,
    pub state: Critical,
}

impl Hazard {
    /// Shown as a label: on, or in dispute (a removal is not trusted until settled).
    pub fn shown(&self) -> bool {
        self.state.is_conflict() || self.state.value() == Some("on")
    }
}

/// Every hazard ever set on this case (on, off or disputed), in the fixed list's order.
pub fn hazards<D: ReadDoc>(d: &D) -> Vec<Hazard> {
    let maps = doc::all_objs(d, &ROOT, "hazards", ObjType::Map);
    let mut ids: Vec<String> = maps.iter().flat_map(|m| d.keys(m)).collect();
    fieldbook_sync::order::sort(&mut ids);
    ids.dedup();
    let order = |id: &str| {
        vocab::HAZARDS
            .iter()
            .position(|(h, _)| *h == id)
            .unwrap_or(usize::MAX)
    };
    fieldbook_sync::order::sort_by_key(&mut ids, |id| (order(id), id.clone()));
    ids.into_iter()
        .map(|id| Hazard {
            label: vocab::label(vocab::HAZARDS, &id),
            state: critical::read_all(d, &maps, &id),
            id,
        })
        .collect()
}

/// Put a hazard label on (or take it off). Taking one off is itself a critical change: a
/// concurrent "on" elsewhere makes it a visible dispute, never a silent removal.
pub fn set_hazard(
    tx: &mut impl Transactable,
    id: &str,
    on: bool,
    by: &str,
    at: i64,
) -> Result<(), AutomergeError> {
    let h = doc::ensure_obj(tx, &ROOT, "hazards", ObjType::Map)?;
    critical::set(tx, &h, id, if on { "on" } else { "off" }, by, at)
}
