//! Relationships and places (§3.7), the most sensitive part of a case: the app shows this
//! section only when someone asks for it, and it is never exported by default.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ROOT};

use crate::doc;
use crate::removal::{self, Removal};

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

pub fn read<D: ReadDoc>(d: &D, kind: LinkKind) -> Vec<Link> {
    let mut all: Vec<Link> = doc::all_objs(d, &ROOT, "network", ObjType::Map)
        .iter()
        .flat_map(|m| doc::items(d, m, kind.key()))
        .map(|l| Link {
            id: doc::text(d, &l, "id"),
            name: doc::text(d, &l, "name"),
            link: doc::text(d, &l, "link"),
            rating: doc::text(d, &l, "rating"),
            notes: doc::text(d, &l, "notes"),
            removal: removal::read(d, &l),
        })
        .collect();
    all.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    all
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
