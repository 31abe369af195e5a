//! Reading a case again after it changed, re-reading only the notes the changes touched.
//!
//! A case with a thousand contact notes takes a whole read ([`crate::read`]) of every note to
//! show, and a page about the case is re-rendered after each burst of typing: re-reading
//! every note then blocked the next keystroke for a few hundred milliseconds on a phone.
//! [`CaseReader`] remembers the last read and the heads it was made at; when the document
//! moves it looks at the changes since those heads (a keystroke is one small change) and,
//! if every operation in them lies inside a note it already holds, re-reads just those
//! notes. Anything else — a note added or deleted, another section, a second copy of a
//! list, heads it cannot find — is a whole read. Either way the result equals
//! [`crate::read`] of the document as it is now (tested against it below).

use std::collections::{BTreeMap, BTreeSet};

use fieldbook_sync::automerge::{Automerge, ChangeHash, ObjId, ReadDoc, ROOT};

use crate::{doc, notes, Case};

/// More changes than this since the last read: read the whole case again (cheaper than
/// walking them, and a burst of typing between two re-renders stays far below it).
const MAX_CHANGES: usize = 512;
/// More distinct objects touched than this: read the whole case again.
const MAX_OBJECTS: usize = 64;

/// A case as last read, with what it takes to read it again cheaply (see the module).
#[derive(Default)]
pub struct CaseReader {
    heads: Vec<ChangeHash>,
    case: Option<Case>,
    /// Every note object the last read saw, with its position in [`Case::notes`].
    notes: BTreeMap<ObjId, usize>,
}

impl CaseReader {
    pub fn new() -> CaseReader {
        CaseReader::default()
    }

    /// The case as it is in `d` now (the same as [`crate::read`]), or `None` if `d` is not a
    /// case.
    pub fn read(&mut self, d: &Automerge) -> Option<&Case> {
        if !crate::is_case(d) {
            *self = CaseReader::default();
            return None;
        }
        let heads = d.get_heads();
        if self.case.is_none() || heads != self.heads {
            match self.touched_notes(d) {
                Some(touched) => self.reread_notes(d, &touched),
                None => self.read_all(d),
            }
            self.heads = heads;
        }
        self.case.as_ref()
    }

    fn read_all(&mut self, d: &Automerge) {
        let case = crate::read(d);
        let objs = doc::items(d, &ROOT, notes::LIST);
        // Positions by id: `read` sorts, so find each object's note again.
        let by_id: BTreeMap<&str, usize> = case
            .notes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.id.as_str(), i))
            .collect();
        self.notes = objs
            .into_iter()
            .filter_map(|o| {
                let i = *by_id.get(doc::text(d, &o, "id").as_str())?;
                Some((o, i))
            })
            .collect();
        // Two note objects with one id (never written so, but possible in a damaged or
        // hand-made document) cannot be told apart by position: always read such a case whole.
        if self.notes.len() != case.notes.len() {
            self.notes.clear();
        }
        self.case = Some(case);
    }

    /// The notes the changes since the last read touched, if every operation in them lies
    /// inside a note this reader holds; `None` if the whole case must be read again.
    fn touched_notes(&self, d: &Automerge) -> Option<BTreeSet<ObjId>> {
        self.case.as_ref()?;
        if self.notes.is_empty() {
            return None;
        }
        // Heads this document does not have (it was reloaded, or replaced): start afresh.
        if self
            .heads
            .iter()
            .any(|h| d.get_change_meta_by_hash(h).is_none())
        {
            return None;
        }
        let changes = d.get_changes(&self.heads);
        if changes.len() > MAX_CHANGES {
            return None;
        }
        let mut objects = BTreeSet::new();
        for change in &changes {
            for op in change.decode().operations {
                objects.insert(op.obj.to_string());
                if objects.len() > MAX_OBJECTS {
                    return None;
                }
            }
        }
        let mut touched = BTreeSet::new();
        for obj in objects {
            let (obj, _) = d.import(&obj).ok()?;
            touched.insert(self.note_holding(d, obj)?);
        }
        Some(touched)
    }

    /// The note (one this reader holds) that `obj` is, or lies inside.
    fn note_holding(&self, d: &Automerge, obj: ObjId) -> Option<ObjId> {
        if self.notes.contains_key(&obj) {
            return Some(obj);
        }
        let parents = d.parents(&obj).ok()?;
        for p in parents {
            if self.notes.contains_key(&p.obj) {
                return Some(p.obj);
            }
        }
        None
    }

    fn reread_notes(&mut self, d: &Automerge, touched: &BTreeSet<ObjId>) {
        let Some(case) = self.case.as_mut() else {
            return;
        };
        for obj in touched {
            if let Some(&i) = self.notes.get(obj) {
                case.notes[i] = notes::read_one(d, obj);
            }
        }
        // A note's time may have changed: keep `read`'s order (newest first, ties by id)
        // and the positions that point into it.
        let mut order: Vec<usize> = (0..case.notes.len()).collect();
        fieldbook_sync::order::sort_by(&mut order, |&a, &b| {
            let (a, b) = (&case.notes[a], &case.notes[b]);
            b.at.cmp(&a.at).then_with(|| a.id.cmp(&b.id))
        });
        if order.iter().enumerate().any(|(new, &old)| new != old) {
            let mut moved_to = vec![0; order.len()];
            for (new, &old) in order.iter().enumerate() {
                moved_to[old] = new;
            }
            let mut old: Vec<Option<_>> = std::mem::take(&mut case.notes)
                .into_iter()
                .map(Some)
                .collect();
            case.notes = order.iter().filter_map(|&o| old[o].take()).collect();
            for i in self.notes.values_mut() {
                *i = moved_to[*i];
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::notes::NoteField;
    use crate::{Note, Profile};
    use fieldbook_sync::automerge::transaction::Transactable;

    /// The case's list of notes (to change it as a stock client could).
    fn notes_list(
        tx: &mut fieldbook_sync::automerge::transaction::Transaction<'_>,
    ) -> fieldbook_sync::automerge::ObjId {
        doc::obj_at(
            tx,
            &ROOT,
            notes::LIST,
            fieldbook_sync::automerge::ObjType::List,
        )
        .unwrap()
    }

    /// A case of `notes` notes with ids `n0000`…, also used by `pending`'s tests.
    pub(crate) fn case_with(notes: usize) -> Automerge {
        let mut d = Automerge::new();
        d.transact::<_, _, fieldbook_sync::automerge::AutomergeError>(|tx| {
            crate::create(
                tx,
                &Profile {
                    name: "Sam Example".into(),
                    ..Default::default()
                },
            )?;
            for i in 0..notes {
                crate::add_note(
                    tx,
                    &Note {
                        id: format!("n{i:04}"),
                        at: 1_700_000_000_000 + (i as i64 % 7) * 60_000,
                        kind: "Visit".into(),
                        text: format!("note {i}"),
                        by: "Worker".into(),
                        ..Default::default()
                    },
                )?;
            }
            Ok(())
        })
        .unwrap();
        d
    }

    fn edit(
        d: &mut Automerge,
        f: impl FnOnce(&mut fieldbook_sync::automerge::transaction::Transaction<'_>),
    ) {
        let mut tx = d.transaction();
        f(&mut tx);
        tx.commit();
    }

    /// Reads after each step agree with a whole read.
    fn agrees(r: &mut CaseReader, d: &Automerge) {
        assert_eq!(r.read(d), Some(&crate::read(d)));
    }

    #[test]
    fn typing_into_one_note_rereads_it_and_agrees_with_a_whole_read() {
        let mut d = case_with(50);
        let mut r = CaseReader::new();
        agrees(&mut r, &d);
        let mut text = String::from("note 7");
        for ch in "met at the library".chars() {
            text.push(ch);
            edit(&mut d, |tx| {
                assert!(notes::set_field(tx, "n0007", NoteField::Text, &text).unwrap());
            });
            assert!(r.touched_notes(&d).is_some_and(|t| t.len() == 1));
            agrees(&mut r, &d);
        }
        // Several keystrokes between two reads, in two notes.
        for (id, v) in [("n0003", "a"), ("n0040", "b"), ("n0003", "ab")] {
            edit(&mut d, |tx| {
                assert!(notes::set_field(tx, id, NoteField::Place, v).unwrap());
            });
        }
        assert!(r.touched_notes(&d).is_some_and(|t| t.len() == 2));
        agrees(&mut r, &d);
    }

    #[test]
    fn a_note_moved_in_time_is_put_back_in_order() {
        let mut d = case_with(30);
        let mut r = CaseReader::new();
        agrees(&mut r, &d);
        edit(&mut d, |tx| {
            assert!(notes::set_meta(tx, "n0011", None, Some(1_600_000_000_000)).unwrap());
        });
        agrees(&mut r, &d);
        edit(&mut d, |tx| {
            assert!(notes::set_meta(tx, "n0012", None, Some(1_800_000_000_000)).unwrap());
            assert!(notes::set_field(tx, "n0001", NoteField::Text, "later").unwrap());
        });
        agrees(&mut r, &d);
        assert_eq!(r.read(&d).unwrap().notes[0].id, "n0012");
    }

    #[test]
    fn anything_but_an_edit_inside_a_known_note_is_a_whole_read() {
        let mut d = case_with(10);
        let mut r = CaseReader::new();
        agrees(&mut r, &d);
        // A new note: the list itself changed.
        edit(&mut d, |tx| {
            crate::add_note(
                tx,
                &Note {
                    id: "new".into(),
                    at: 1_900_000_000_000,
                    ..Default::default()
                },
            )
            .unwrap();
        });
        assert!(r.touched_notes(&d).is_none());
        agrees(&mut r, &d);
        // Another section.
        edit(&mut d, |tx| {
            crate::profile::set_field(tx, crate::ProfileField::Name, "Sam Other").unwrap();
        });
        assert!(r.touched_notes(&d).is_none());
        agrees(&mut r, &d);
        // A note deleted outright (a stock client could): the list changed.
        edit(&mut d, |tx| {
            let list = notes_list(tx);
            tx.delete(&list, 2).unwrap();
        });
        assert!(r.touched_notes(&d).is_none());
        agrees(&mut r, &d);
        // The edit after them is cheap again.
        edit(&mut d, |tx| {
            assert!(notes::set_field(tx, "n0005", NoteField::Text, "x").unwrap());
        });
        assert!(r.touched_notes(&d).is_some());
        agrees(&mut r, &d);
    }

    #[test]
    fn a_merged_edit_from_another_device_is_reread() {
        let mut a = case_with(20);
        let mut b = a.fork();
        let mut r = CaseReader::new();
        agrees(&mut r, &a);
        edit(&mut a, |tx| {
            assert!(notes::set_field(tx, "n0004", NoteField::Text, "from A").unwrap());
        });
        agrees(&mut r, &a);
        edit(&mut b, |tx| {
            assert!(notes::set_field(tx, "n0004", NoteField::Text, "from B").unwrap());
            assert!(notes::set_field(tx, "n0009", NoteField::OwnWords, "said").unwrap());
        });
        a.merge(&mut b).unwrap();
        assert!(r.touched_notes(&a).is_some_and(|t| t.len() == 2));
        agrees(&mut r, &a);
    }

    #[test]
    fn a_remembered_note_is_used_only_while_it_is_still_that_note() {
        let mut d = case_with(20);
        let mut hint = None;
        edit(&mut d, |tx| {
            assert!(notes::set_field_near(tx, "n0013", &mut hint, NoteField::Text, "one").unwrap());
        });
        let found = hint.clone().expect("remembered");
        edit(&mut d, |tx| {
            assert!(
                notes::set_field_near(tx, "n0013", &mut hint, NoteField::Text, "one two").unwrap()
            );
        });
        assert_eq!(hint.as_ref(), Some(&found));
        // Remembered for another note: not used for this one.
        edit(&mut d, |tx| {
            assert!(
                notes::set_field_near(tx, "n0002", &mut hint, NoteField::Text, "other").unwrap()
            );
        });
        assert_ne!(hint.as_ref(), Some(&found));
        let read = crate::read(&d);
        let text = |id: &str| read.notes.iter().find(|n| n.id == id).unwrap().text.clone();
        assert_eq!(
            (text("n0013"), text("n0002")),
            ("one two".to_owned(), "other".to_owned())
        );
        // The note deleted outright: the remembered object is no longer in the list.
        let mut hint = Some(found);
        edit(&mut d, |tx| {
            let list = notes_list(tx);
            let i = (0..tx.length(&list))
                .find(|&i| matches!(tx.get(&list, i), Ok(Some((_, o))) if doc::text(tx, &o, "id") == "n0013"))
                .unwrap();
            tx.delete(&list, i).unwrap();
        });
        edit(&mut d, |tx| {
            assert!(
                !notes::set_field_near(tx, "n0013", &mut hint, NoteField::Text, "lost").unwrap()
            );
        });
        assert_eq!(hint, None);
    }

    #[test]
    fn a_different_document_is_read_whole() {
        let mut r = CaseReader::new();
        let a = case_with(5);
        agrees(&mut r, &a);
        let b = case_with(6);
        agrees(&mut r, &b);
        assert_eq!(r.read(&Automerge::new()), None);
        agrees(&mut r, &a);
    }
}
