//! Reading a case as it was at an earlier point of its history.
//!
//! A submitted risk assessment is shown as it was when it was submitted, however late an
//! edit from a device that had not seen the submission arrives ([`crate::assessment`]).
//! Automerge can read any past state from its heads (`get_all_at`, `text_at`, …); [`At`]
//! wraps a document so that *every* read is such a read, so the same readers serve the
//! live document and any past state. [`History`] finds which change wrote an operation:
//! the change that submitted a version is the point its content is frozen at.

use fieldbook_sync::automerge::iter::{DocIter, Keys, ListRange, MapRange, Spans, Values};
use fieldbook_sync::automerge::marks::{Mark, MarkSet};
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::{
    hydrate, AutoCommit, Automerge, AutomergeError, Change, ChangeHash, Cursor, CursorPosition,
    MoveCursor, ObjId, ObjType, Parents, Prop, ReadDoc, Stats, TextEncoding, Value,
};
use std::ops::RangeBounds;

/// A document whose history the case file can consult. Implemented for every document type
/// Fieldbook reads a case from: [`Automerge`] (app, server), [`AutoCommit`] (tools, tests)
/// and a [`Transaction`] in progress (writers).
pub trait History: ReadDoc {
    /// The change that holds operation `op`; `None` if the operation is part of a
    /// transaction not yet committed (or is not in this document).
    fn change_of(&self, op: &ObjId) -> Option<ChangeHash>;
}

impl History for Automerge {
    fn change_of(&self, op: &ObjId) -> Option<ChangeHash> {
        self.hash_for_opid(op)
    }
}

impl History for AutoCommit {
    fn change_of(&self, op: &ObjId) -> Option<ChangeHash> {
        self.hash_for_opid(op)
    }
}

impl History for Transaction<'_> {
    fn change_of(&self, op: &ObjId) -> Option<ChangeHash> {
        self.hash_for_opid(op)
    }
}

/// `doc` as it was at `heads`: every read goes to the `*_at` variant. Reads that name their
/// own heads keep them.
pub struct At<'a, D> {
    doc: &'a D,
    heads: Vec<ChangeHash>,
}

impl<'a, D: ReadDoc> At<'a, D> {
    pub fn new(doc: &'a D, heads: Vec<ChangeHash>) -> Self {
        At { doc, heads }
    }

    fn or_mine<'h>(&'h self, heads: Option<&'h [ChangeHash]>) -> Option<&'h [ChangeHash]> {
        Some(heads.unwrap_or(&self.heads))
    }
}

impl<D: ReadDoc> ReadDoc for At<'_, D> {
    fn parents<O: AsRef<ObjId>>(&self, obj: O) -> Result<Parents<'_>, AutomergeError> {
        self.doc.parents_at(obj, &self.heads)
    }

    fn parents_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Parents<'_>, AutomergeError> {
        self.doc.parents_at(obj, heads)
    }

    fn keys<O: AsRef<ObjId>>(&self, obj: O) -> Keys<'_> {
        self.doc.keys_at(obj, &self.heads)
    }

    fn keys_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Keys<'_> {
        self.doc.keys_at(obj, heads)
    }

    fn iter_at<O: AsRef<ObjId>>(&self, obj: O, heads: Option<&[ChangeHash]>) -> DocIter<'_> {
        self.doc.iter_at(obj, self.or_mine(heads))
    }

    fn map_range<'a, O: AsRef<ObjId>, R: RangeBounds<String> + 'a>(
        &'a self,
        obj: O,
        range: R,
    ) -> MapRange<'a> {
        self.doc.map_range_at(obj, range, &self.heads)
    }

    fn map_range_at<'a, O: AsRef<ObjId>, R: RangeBounds<String> + 'a>(
        &'a self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> MapRange<'a> {
        self.doc.map_range_at(obj, range, heads)
    }

    fn list_range<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
    ) -> ListRange<'_> {
        self.doc.list_range_at(obj, range, &self.heads)
    }

    fn list_range_at<O: AsRef<ObjId>, R: RangeBounds<usize>>(
        &self,
        obj: O,
        range: R,
        heads: &[ChangeHash],
    ) -> ListRange<'_> {
        self.doc.list_range_at(obj, range, heads)
    }

    fn values<O: AsRef<ObjId>>(&self, obj: O) -> Values<'_> {
        self.doc.values_at(obj, &self.heads)
    }

    fn values_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> Values<'_> {
        self.doc.values_at(obj, heads)
    }

    fn length<O: AsRef<ObjId>>(&self, obj: O) -> usize {
        self.doc.length_at(obj, &self.heads)
    }

    fn length_at<O: AsRef<ObjId>>(&self, obj: O, heads: &[ChangeHash]) -> usize {
        self.doc.length_at(obj, heads)
    }

    fn object_type<O: AsRef<ObjId>>(&self, obj: O) -> Result<ObjType, AutomergeError> {
        self.doc.object_type(obj)
    }

    fn marks<O: AsRef<ObjId>>(&self, obj: O) -> Result<Vec<Mark>, AutomergeError> {
        self.doc.marks_at(obj, &self.heads)
    }

    fn marks_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Vec<Mark>, AutomergeError> {
        self.doc.marks_at(obj, heads)
    }

    fn get_marks<O: AsRef<ObjId>>(
        &self,
        obj: O,
        index: usize,
        heads: Option<&[ChangeHash]>,
    ) -> Result<MarkSet, AutomergeError> {
        self.doc.get_marks(obj, index, self.or_mine(heads))
    }

    fn text<O: AsRef<ObjId>>(&self, obj: O) -> Result<String, AutomergeError> {
        self.doc.text_at(obj, &self.heads)
    }

    fn text_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<String, AutomergeError> {
        self.doc.text_at(obj, heads)
    }

    fn spans<O: AsRef<ObjId>>(&self, obj: O) -> Result<Spans<'_>, AutomergeError> {
        self.doc.spans_at(obj, &self.heads)
    }

    fn spans_at<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: &[ChangeHash],
    ) -> Result<Spans<'_>, AutomergeError> {
        self.doc.spans_at(obj, heads)
    }

    fn get_cursor<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
    ) -> Result<Cursor, AutomergeError> {
        self.doc.get_cursor(obj, position, self.or_mine(at))
    }

    fn get_cursor_moving<O: AsRef<ObjId>, I: Into<CursorPosition>>(
        &self,
        obj: O,
        position: I,
        at: Option<&[ChangeHash]>,
        move_cursor: MoveCursor,
    ) -> Result<Cursor, AutomergeError> {
        self.doc
            .get_cursor_moving(obj, position, self.or_mine(at), move_cursor)
    }

    fn get_cursor_position<O: AsRef<ObjId>>(
        &self,
        obj: O,
        cursor: &Cursor,
        at: Option<&[ChangeHash]>,
    ) -> Result<usize, AutomergeError> {
        self.doc.get_cursor_position(obj, cursor, self.or_mine(at))
    }

    fn get<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_at(obj, prop, &self.heads)
    }

    fn get_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Option<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_at(obj, prop, heads)
    }

    fn hydrate<O: AsRef<ObjId>>(
        &self,
        obj: O,
        heads: Option<&[ChangeHash]>,
    ) -> Result<hydrate::Value, AutomergeError> {
        self.doc.hydrate(obj, self.or_mine(heads))
    }

    fn get_all<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_all_at(obj, prop, &self.heads)
    }

    fn get_all_at<O: AsRef<ObjId>, P: Into<Prop>>(
        &self,
        obj: O,
        prop: P,
        heads: &[ChangeHash],
    ) -> Result<Vec<(Value<'_>, ObjId)>, AutomergeError> {
        self.doc.get_all_at(obj, prop, heads)
    }

    fn get_missing_deps(&self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        self.doc.get_missing_deps(heads)
    }

    fn get_change_by_hash(&self, hash: &ChangeHash) -> Option<Change> {
        self.doc.get_change_by_hash(hash)
    }

    fn stats(&self) -> Stats {
        self.doc.stats()
    }

    fn text_encoding(&self) -> TextEncoding {
        self.doc.text_encoding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc;
    use fieldbook_sync::automerge::transaction::Transactable;
    use fieldbook_sync::automerge::ROOT;

    #[test]
    fn reads_through_at_see_the_document_as_it_was() {
        let mut d = AutoCommit::new();
        doc::set_text(&mut d, &ROOT, "t", "before").unwrap();
        d.put(ROOT, "n", 1).unwrap();
        let then = d.get_heads();
        doc::set_text(&mut d, &ROOT, "t", "before and after").unwrap();
        d.put(ROOT, "n", 2).unwrap();
        d.put(ROOT, "new", "x").unwrap();
        let past = At::new(&d, then);
        assert_eq!(doc::text(&past, &ROOT, "t"), "before");
        assert_eq!(doc::int(&past, &ROOT, "n"), 1);
        assert_eq!(past.keys(&ROOT).count(), 2);
        assert_eq!(doc::text(&d, &ROOT, "t"), "before and after");
        // The op that wrote `n = 2` is in the open transaction: no change yet.
        let (_, op) = d.get(&ROOT, "n").unwrap().unwrap();
        assert_eq!(d.change_of(&op), None);
        d.commit();
        assert_eq!(d.change_of(&op), Some(d.get_heads()[0]));
    }
}
