//! Reading and writing Automerge values the way every record here needs.
//!
//! Two rules make concurrent edits safe:
//! - **Containers are read from every concurrent copy.** If two devices running an app that
//!   meets an older document both create the same list (say `missing`) offline, Automerge
//!   keeps both objects as a conflict on the key; readers walk all of them ([`all_objs`]),
//!   so no device's items disappear.
//! - **Items are addressed by their own `id`, never by position**, so an edit lands on the
//!   right item wherever concurrent inserts moved it.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value};

/// Every object of type `ty` stored at `key` (one normally; more after concurrent creation).
pub fn all_objs<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str, ty: ObjType) -> Vec<ObjId> {
    doc.get_all(obj, key)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(v, id)| matches!(v, Value::Object(t) if t == ty).then_some(id))
        .collect()
}

/// The winning object of type `ty` at `key`, if any.
pub fn obj_at<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str, ty: ObjType) -> Option<ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(t), id))) if t == ty => Some(id),
        _ => None,
    }
}

/// The object at `key`, created if absent.
pub fn ensure_obj(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    ty: ObjType,
) -> Result<ObjId, AutomergeError> {
    match obj_at(tx, obj, key, ty) {
        Some(o) => Ok(o),
        None => tx.put_object(obj, key, ty),
    }
}

/// Every map item of every copy of the list at `key`.
pub fn items<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Vec<ObjId> {
    all_objs(doc, obj, key, ObjType::List)
        .into_iter()
        .flat_map(|list| {
            (0..doc.length(&list))
                .filter_map(|i| match doc.get(&list, i) {
                    Ok(Some((Value::Object(ObjType::Map), item))) => Some(item),
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The item whose `id` is `id` in the list at `key`.
pub fn find_item<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str, id: &str) -> Option<ObjId> {
    items(doc, obj, key)
        .into_iter()
        .find(|item| text(doc, item, "id") == id)
}

/// Apply `f` to the item `id` of the list at `key`. Returns false if there is no such item
/// (removed on another device and compacted away, or a stale link): the caller decides.
pub fn on_item<T: Transactable>(
    tx: &mut T,
    obj: &ObjId,
    key: &str,
    id: &str,
    f: impl FnOnce(&mut T, &ObjId) -> Result<(), AutomergeError>,
) -> Result<bool, AutomergeError> {
    match find_item(tx, obj, key, id) {
        Some(item) => f(tx, &item).map(|()| true),
        None => Ok(false),
    }
}

/// Append a new map item (with its `id` and an `edits` counter) to the list at `key`.
pub fn push_item(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    id: &str,
) -> Result<ObjId, AutomergeError> {
    let list = ensure_obj(tx, obj, key, ObjType::List)?;
    let n = tx.length(&list);
    let item = tx.insert_object(&list, n, ObjType::Map)?;
    tx.put(&item, "id", id)?;
    tx.put(&item, "edits", ScalarValue::counter(0))?;
    Ok(item)
}

/// A string from Automerge text or a plain string scalar; empty if absent.
pub fn text<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> String {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).unwrap_or_default(),
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

/// An integer, timestamp or counter; 0 if absent.
pub fn int<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> i64 {
    opt_int(doc, obj, key).unwrap_or(0)
}

pub fn opt_int<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Option<i64> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(*i),
            ScalarValue::Uint(u) => Some(*u as i64),
            ScalarValue::Counter(c) => Some(i64::from(c)),
            _ => None,
        },
        _ => None,
    }
}

pub fn boolean<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> bool {
    matches!(doc.get(obj, key), Ok(Some((Value::Scalar(s), _))) if matches!(s.as_ref(), ScalarValue::Boolean(true)))
}

/// Keys of the map at `key` whose value is `true` (a set of checklist ids).
pub fn flags<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str) -> Vec<String> {
    all_objs(doc, obj, key, ObjType::Map)
        .into_iter()
        .flat_map(|m| {
            doc.keys(&m)
                .filter(|k| boolean(doc, &m, k))
                .collect::<Vec<_>>()
        })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Set a text field to `value`, editing only what changed (Automerge's `update_text`), so a
/// concurrent edit elsewhere in the same text merges instead of being overwritten.
pub fn set_text(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    match obj_at(tx, obj, key, ObjType::Text) {
        Some(t) => tx.update_text(&t, value),
        None => {
            let t = tx.put_object(obj, key, ObjType::Text)?;
            tx.splice_text(&t, 0, 0, value)
        }
    }
}

/// Mark a checklist entry on or off.
pub fn set_flag(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    flag: &str,
    on: bool,
) -> Result<(), AutomergeError> {
    let m = ensure_obj(tx, obj, key, ObjType::Map)?;
    tx.put(&m, flag, on)
}
