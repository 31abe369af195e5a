//! Relationships and places, the most sensitive part of a case: the app shows this
//! section only when someone asks for it, and it is never exported by default.
//! Domain notes: `docs/domain/case-file.md`.
//!
//! Since sign-in, they live in a **separate document per case** (the *relationships
//! document*: `{ type, case, network: { people, places } }`), linked from the case by its
//! `relationships` field, so the server can let the whole team read the case while only the
//! allocated worker, their managers and people named in a grant read this
//! (docs/ACCESS.md). Cases written before keep theirs in the case document; readers take
//! both, writers write where the case says.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ROOT};
use fieldbook_sync::DocumentId;

/// Value of a relationships document's root `type`.
pub const TYPE: &str = "fieldbook-relationships";

/// Initialise a new relationships document for `case`.
pub fn init(tx: &mut impl Transactable, case: &DocumentId) -> Result<(), AutomergeError> {
    tx.put(ROOT, "type", TYPE)?;
    tx.put(ROOT, "case", case.to_string())?;
    let network = tx.put_object(ROOT, "network", ObjType::Map)?;
    tx.put_object(&network, "people", ObjType::List)?;
    tx.put_object(&network, "places", ObjType::List)?;
    Ok(())
}

/// The case a relationships document belongs to (None if `d` is not one).
pub fn case_of<D: ReadDoc>(d: &D) -> Option<DocumentId> {
    (doc::text(d, &ROOT, "type") == TYPE)
        .then(|| doc::text(d, &ROOT, "case").parse().ok())
        .flatten()
}

/// Link a case to its relationships document.
pub fn link(tx: &mut impl Transactable, relationships: &DocumentId) -> Result<(), AutomergeError> {
    tx.put(ROOT, "relationships", relationships.to_string())?;
    Ok(())
}

/// The relationships document a case links to, if it has one (cases written before sign-in
/// keep relationships inside the case document).
pub fn linked<D: ReadDoc>(case: &D) -> Option<DocumentId> {
    doc::text(case, &ROOT, "relationships").parse().ok()
}

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    Person,
    Place,
}

impl LinkKind {
    fn key(self) -> &'static str {
        match self {
            LinkKind::Person => "people",
            LinkKind::Place => "places",
        }
    }

    pub fn record(self) -> Record {
        match self {
            LinkKind::Person => Record::Person,
            LinkKind::Place => Record::Place,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Link {
    pub id: String,
    pub name: String,
    /// An id from [`crate::vocab::LINK_TYPES`].
    pub link: String,
    /// "risk" or "protective".
    pub rating: String,
    pub notes: String,
    pub removal: Option<Removal>,
}

crate::schema::texts!(Link { "name" => name, "notes" => notes });

pub fn read<D: ReadDoc>(d: &D, kind: LinkKind) -> Vec<Link> {
    let mut all: Vec<Link> = doc::all_objs(d, &ROOT, "network", ObjType::Map)
        .iter()
        .flat_map(|m| doc::items(d, m, kind.key()))
        .map(|l| {
            let mut link = Link {
                id: doc::text(d, &l, "id"),
                link: doc::text(d, &l, "link"),
                rating: doc::text(d, &l, "rating"),
                removal: removal::read(d, &l),
                ..Default::default()
            };
            schema::fill(d, std::slice::from_ref(&l), kind.record(), &mut link);
            link
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut all, |a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    all
}

/// Write a text field of the person or place `id` (a key from
/// [`crate::schema::TEXT_FIELDS`]). False if there is no such link or field.
pub fn set_text(
    tx: &mut impl Transactable,
    kind: LinkKind,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(kind.record(), key).is_none() {
        return Ok(false);
    }
    doc::on_item_in(tx, "network", kind.key(), id, |tx, l| {
        schema::write_text(tx, std::slice::from_ref(l), kind.record(), key, value)?;
        removal::touch(tx, l)
    })
}

pub fn add(tx: &mut impl Transactable, kind: LinkKind, l: &Link) -> Result<(), AutomergeError> {
    let m = doc::ensure_obj(tx, &ROOT, "network", ObjType::Map)?;
    let item = doc::push_item(tx, &m, kind.key(), &l.id)?;
    doc::set_text(tx, &item, "name", &l.name)?;
    tx.put(&item, "link", l.link.as_str())?;
    tx.put(&item, "rating", l.rating.as_str())?;
    doc::set_text(tx, &item, "notes", &l.notes)?;
    Ok(())
}
