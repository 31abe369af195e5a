//! What the app's header and banner say about syncing: the connection ([`Status`]), what on
//! this device the server has not confirmed ([`Tracker`], counted in records by
//! [`crate::pending`]), and how many of the caseload's cases are here ([`progress`]).
//! Plain Rust, so the decisions are tested natively; the browser driver only feeds it.

use std::collections::{BTreeMap, BTreeSet};

use fieldbook_sync::automerge::{Automerge, ChangeHash};
use fieldbook_sync::health;
use fieldbook_sync::DocumentId;

use crate::pending::{self, Waiting};

/// The connection as the header shows it (see `fieldbook_sync::health::Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Offline,
    Connecting,
    Sending,
    EverythingSent,
}

impl Status {
    /// The status and, when everything is sent, when the server last confirmed it.
    pub fn of(h: health::Status) -> (Status, Option<u64>) {
        match h {
            health::Status::Offline => (Status::Offline, None),
            health::Status::Connecting => (Status::Connecting, None),
            health::Status::Sending => (Status::Sending, None),
            health::Status::EverythingSent { at } => (Status::EverythingSent, Some(at)),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Offline => "Offline",
            Status::Connecting => "Connecting…",
            Status::Sending => "Sending…",
            Status::EverythingSent => "Everything sent",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Status::Offline => "fb-status fb-status-offline",
            Status::Connecting => "fb-status fb-status-connecting",
            Status::Sending => "fb-status fb-status-sending",
            Status::EverythingSent => "fb-status fb-status-uptodate",
        }
    }
}

/// The banner under the header. `sent_when` is when everything was sent, already worded
/// for the device's clock ("at 14:02"); `waiting` is [`Summary::description`].
pub fn banner(status: Status, sent_when: Option<&str>, waiting: Option<&str>) -> String {
    match (status, sent_when, waiting) {
        (Status::EverythingSent, Some(at), _) => format!("Everything sent {at}"),
        (_, _, Some(what)) => format!("{} waiting to send", capitalised(what)),
        (_, _, None) => "Nothing waiting to send".to_owned(),
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "Fetching cases from the server: k of N" while cases listed in the caseload index are
/// not yet on this device; `None` before the index is known (or when it lists nothing).
pub fn progress((have, total): (usize, usize)) -> Option<String> {
    (total > 0).then(|| {
        if have < total {
            format!("Fetching cases from the server: {have} of {total}")
        } else if total == 1 {
            "The 1 case in your caseload is on this device".to_owned()
        } else {
            format!("All {total} cases in your caseload are on this device")
        }
    })
}

/// A document's "what is waiting" is recounted at most this often while it keeps changing
/// (a diff over the whole document; typing must stay quick in a long case).
pub const RECOUNT_EVERY_MS: u64 = 1_000;

/// What is waiting, over every document on the device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub waiting: Waiting,
    /// Some document has changes the server has not confirmed.
    pub unconfirmed: bool,
    /// A count was kept from earlier because it was recounted too recently: count again
    /// after [`RECOUNT_EVERY_MS`] so the last keystroke is not left out.
    pub stale: bool,
}

impl Summary {
    /// The banner's "… waiting to send", or `None` if nothing is.
    pub fn description(&self) -> Option<String> {
        self.waiting.describe().or_else(|| {
            // Changes that are not records (e.g. a newer app's schema number) still wait.
            self.unconfirmed.then(|| "Changes".to_owned())
        })
    }
}

struct Count {
    heads: Vec<ChangeHash>,
    confirmed: Vec<ChangeHash>,
    waiting: Waiting,
    at: u64,
}

/// Remembers each document's count and for which heads it was made, so unchanged documents
/// are not diffed again and a document being typed into is recounted at most once per
/// [`RECOUNT_EVERY_MS`].
///
/// Only documents with something unconfirmed are kept, and [`Tracker::recount`] looks only
/// at the documents a batch touched: after a keystroke the work is one document's, however
/// big the caseload (500 cases and their history).
#[derive(Default)]
pub struct Tracker {
    /// Every document with changes the server has not confirmed, and its last count.
    counts: BTreeMap<DocumentId, Count>,
    /// Documents whose count was kept because it was made too recently: counted again at
    /// the next [`Tracker::recount`] once the throttle allows.
    stale: BTreeSet<DocumentId>,
}

impl Tracker {
    /// Count what is waiting in `docs` (each with the heads the server is known to have;
    /// empty if the server is unknown, so everything is new to it) at time `now` (ms).
    /// Documents not in `docs` are forgotten. Looks at every document: use it when anything
    /// may have changed (a connection opened or closed); after a batch, [`Tracker::recount`].
    pub fn update<'a>(
        &mut self,
        docs: impl IntoIterator<Item = (DocumentId, &'a Automerge, Vec<ChangeHash>)>,
        now: u64,
    ) -> Summary {
        let mut seen = BTreeSet::new();
        for (doc, am, confirmed) in docs {
            seen.insert(doc);
            self.count(doc, Some((am, confirmed)), now);
        }
        self.counts.retain(|d, _| seen.contains(d));
        self.stale.retain(|d| seen.contains(d));
        self.summary()
    }

    /// Count again only the documents in `touched` (changed, loaded, deleted, or what the
    /// server confirmed of them moved) and those whose count was held back by the
    /// throttle. `get(doc)` gives a document and the heads the server is known to have
    /// (as for [`Tracker::update`]), or `None` if it is no longer on the device.
    pub fn recount<'a>(
        &mut self,
        touched: impl IntoIterator<Item = DocumentId>,
        get: impl Fn(&DocumentId) -> Option<(&'a Automerge, Vec<ChangeHash>)>,
        now: u64,
    ) -> Summary {
        let mut docs: BTreeSet<DocumentId> = touched.into_iter().collect();
        docs.append(&mut std::mem::take(&mut self.stale));
        for doc in docs {
            self.count(doc, get(&doc), now);
        }
        self.summary()
    }

    /// The documents with changes the server has not confirmed, as last counted.
    pub fn unconfirmed(&self) -> impl Iterator<Item = &DocumentId> {
        self.counts.keys()
    }

    fn count(&mut self, doc: DocumentId, state: Option<(&Automerge, Vec<ChangeHash>)>, now: u64) {
        let Some((am, confirmed)) = state else {
            self.counts.remove(&doc);
            self.stale.remove(&doc);
            return;
        };
        let heads = am.get_heads();
        if same_heads(&heads, &confirmed) {
            self.counts.remove(&doc);
            self.stale.remove(&doc);
            return;
        }
        let old = self.counts.get(&doc);
        let fresh = old.is_some_and(|c| c.heads == heads && c.confirmed == confirmed);
        let recent = old.is_some_and(|c| now.saturating_sub(c.at) < RECOUNT_EVERY_MS);
        if fresh {
            self.stale.remove(&doc);
        } else if recent {
            self.stale.insert(doc);
        } else {
            let waiting = pending::waiting(am, &confirmed);
            self.counts.insert(
                doc,
                Count {
                    heads,
                    confirmed,
                    waiting,
                    at: now,
                },
            );
            self.stale.remove(&doc);
        }
    }

    /// What is waiting over every document counted (only those with something waiting are
    /// kept, so this is cheap).
    fn summary(&self) -> Summary {
        let mut summary = Summary {
            unconfirmed: !self.counts.is_empty(),
            stale: !self.stale.is_empty(),
            ..Summary::default()
        };
        for c in self.counts.values() {
            summary.waiting.add(&c.waiting);
        }
        summary
    }
}

/// Whether two sets of heads are the same (in any order).
pub fn same_heads(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    fieldbook_sync::order::sort(&mut a);
    fieldbook_sync::order::sort(&mut b);
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, Profile};
    use fieldbook_sync::automerge::transaction::Transactable;

    /// A case the server has (its heads are returned as confirmed), with `n` notes added since.
    fn case_with_notes(n: usize) -> (Automerge, Vec<ChangeHash>) {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        crate::create(&mut tx, &Profile::default()).unwrap();
        tx.commit();
        let confirmed = doc.get_heads();
        for i in 0..n {
            add_note(&mut doc, &format!("n{i}"));
        }
        (doc, confirmed)
    }

    fn add_note(doc: &mut Automerge, id: &str) {
        let mut tx = doc.transaction();
        let note = Note {
            id: id.to_owned(),
            ..Default::default()
        };
        crate::add_note(&mut tx, &note).unwrap();
        tx.commit();
    }

    #[test]
    fn health_status_maps_to_what_the_header_shows() {
        assert_eq!(Status::of(health::Status::Offline), (Status::Offline, None));
        assert_eq!(
            Status::of(health::Status::Connecting),
            (Status::Connecting, None)
        );
        assert_eq!(Status::of(health::Status::Sending), (Status::Sending, None));
        assert_eq!(
            Status::of(health::Status::EverythingSent { at: 42 }),
            (Status::EverythingSent, Some(42))
        );
        assert_eq!(Status::Connecting.label(), "Connecting…");
        assert!(Status::EverythingSent.class().contains("uptodate"));
    }

    #[test]
    fn the_banner_says_everything_sent_only_with_a_time() {
        assert_eq!(
            banner(Status::EverythingSent, Some("at 14:02"), None),
            "Everything sent at 14:02"
        );
        assert_eq!(
            banner(Status::EverythingSent, None, None),
            "Nothing waiting to send"
        );
        assert_eq!(
            banner(Status::Offline, None, Some("3 notes and 1 safety plan")),
            "3 notes and 1 safety plan waiting to send"
        );
        assert_eq!(
            banner(Status::Sending, None, Some("an update to the case list")),
            "An update to the case list waiting to send"
        );
    }

    #[test]
    fn progress_counts_cases_on_this_device() {
        assert_eq!(progress((0, 0)), None);
        assert_eq!(
            progress((2, 5)).unwrap(),
            "Fetching cases from the server: 2 of 5"
        );
        assert_eq!(
            progress((1, 1)).unwrap(),
            "The 1 case in your caseload is on this device"
        );
        assert_eq!(
            progress((8, 8)).unwrap(),
            "All 8 cases in your caseload are on this device"
        );
    }

    #[test]
    fn confirmed_documents_wait_for_nothing_and_unknown_servers_have_nothing() {
        let (doc, base) = case_with_notes(2);
        let id = DocumentId::random();
        let mut t = Tracker::default();
        let all = t.update([(id, &doc, doc.get_heads())], 0);
        assert_eq!(all, Summary::default());
        assert_eq!(all.description(), None);
        let two = t.update([(id, &doc, base)], 0);
        assert!(two.unconfirmed);
        assert_eq!(two.description().unwrap(), "2 notes");
        // A server never heard from has nothing: the whole case is new to it.
        let mut t = Tracker::default();
        let new = t.update([(id, &doc, Vec::new())], 0);
        assert_eq!(new.description().unwrap(), "1 new case");
    }

    #[test]
    fn a_document_changing_quickly_is_recounted_at_most_once_a_second() {
        let (mut doc, base) = case_with_notes(1);
        let id = DocumentId::random();
        let mut t = Tracker::default();
        let first = t.update([(id, &doc, base.clone())], 1_000);
        assert_eq!(first.waiting.count(pending::Kind::Note), 1);
        assert!(!first.stale);

        add_note(&mut doc, "second");
        // Within the throttle: the old count is shown, flagged stale.
        let soon = t.update([(id, &doc, base.clone())], 1_500);
        assert_eq!(soon.waiting.count(pending::Kind::Note), 1);
        assert!(soon.stale);
        // Control: once the throttle allows, the new note is counted.
        let later = t.update([(id, &doc, base.clone())], 2_000);
        assert_eq!(later.waiting.count(pending::Kind::Note), 2);
        assert!(!later.stale);
        // Unchanged since: the count is fresh, nothing to recount.
        let again = t.update([(id, &doc, base)], 2_100);
        assert_eq!(again, later);
    }

    #[test]
    fn documents_no_longer_loaded_are_forgotten() {
        let (a, ca) = case_with_notes(1);
        let (b, cb) = case_with_notes(3);
        let (ia, ib) = (DocumentId::random(), DocumentId::random());
        let mut t = Tracker::default();
        let both = t.update([(ia, &a, ca.clone()), (ib, &b, cb)], 0);
        assert_eq!(both.waiting.count(pending::Kind::Note), 4);
        let one = t.update([(ia, &a, ca)], 10);
        assert_eq!(one.waiting.count(pending::Kind::Note), 1);
        assert_eq!(t.counts.len(), 1);
    }

    #[test]
    fn a_recount_looks_only_at_the_documents_touched() {
        let (mut a, ca) = case_with_notes(1);
        let (mut b, cb) = case_with_notes(2);
        let (ia, ib) = (DocumentId::random(), DocumentId::random());
        let mut t = Tracker::default();
        let both = t.update([(ia, &a, ca.clone()), (ib, &b, cb.clone())], 0);
        assert_eq!(both.waiting.count(pending::Kind::Note), 3);

        // A note added to each, but only `a` touched: `b` keeps its count (nothing asks
        // for it), `a` is recounted.
        add_note(&mut a, "a2");
        add_note(&mut b, "b3");
        let docs = [(ia, &a, ca.clone()), (ib, &b, cb.clone())];
        let get = |d: &DocumentId| {
            docs.iter()
                .find(|(i, _, _)| i == d)
                .map(|(_, am, c)| (*am, c.clone()))
        };
        let asked = std::cell::RefCell::new(Vec::new());
        let watched = |d: &DocumentId| {
            asked.borrow_mut().push(*d);
            get(d)
        };
        let one = t.recount([ia], watched, 5_000);
        assert_eq!(*asked.borrow(), [ia], "only the touched document is read");
        assert_eq!(one.waiting.count(pending::Kind::Note), 2 + 2);
        // Control: touching `b` too counts its new note.
        let two = t.recount([ib], get, 5_000);
        assert_eq!(two.waiting.count(pending::Kind::Note), 2 + 3);
        assert!(two.unconfirmed);
        assert_eq!(t.unconfirmed().count(), 2);

        // The server confirms `a` (its confirmed heads are now its heads): it waits for
        // nothing and is no longer listed as unconfirmed.
        let ha = a.get_heads();
        let confirmed = [(ia, &a, ha), (ib, &b, cb)];
        let get = |d: &DocumentId| {
            confirmed
                .iter()
                .find(|(i, _, _)| i == d)
                .map(|(_, am, c)| (*am, c.clone()))
        };
        let sent = t.recount([ia], get, 6_000);
        assert_eq!(sent.waiting.count(pending::Kind::Note), 3);
        assert_eq!(t.unconfirmed().copied().collect::<Vec<_>>(), [ib]);
        // A document gone from the device is forgotten.
        let gone = t.recount([ib], |_| None, 7_000);
        assert_eq!(gone, Summary::default());
    }

    #[test]
    fn a_recount_held_back_by_the_throttle_is_made_at_the_next_recount() {
        let (mut doc, base) = case_with_notes(1);
        let id = DocumentId::random();
        let mut t = Tracker::default();
        t.recount([id], |_| Some((&doc, base.clone())), 1_000);
        add_note(&mut doc, "second");
        let soon = t.recount([id], |_| Some((&doc, base.clone())), 1_500);
        assert!(soon.stale);
        assert_eq!(soon.waiting.count(pending::Kind::Note), 1);
        // Nothing touched since, but the held-back count is made once the throttle allows.
        let later = t.recount([], |_| Some((&doc, base.clone())), 2_000);
        assert!(!later.stale);
        assert_eq!(later.waiting.count(pending::Kind::Note), 2);
    }

    #[test]
    fn heads_compare_in_any_order() {
        let mut a = Automerge::new();
        let mut b = a.fork();
        let mut tx = a.transaction();
        tx.put(fieldbook_sync::automerge::ROOT, "x", 1).unwrap();
        tx.commit();
        let mut tx = b.transaction();
        tx.put(fieldbook_sync::automerge::ROOT, "y", 2).unwrap();
        tx.commit();
        a.merge(&mut b).unwrap();
        let mut heads = a.get_heads();
        assert_eq!(heads.len(), 2);
        heads.reverse();
        assert!(same_heads(&a.get_heads(), &heads));
        assert!(!same_heads(&a.get_heads(), &heads[..1]));
    }
}
