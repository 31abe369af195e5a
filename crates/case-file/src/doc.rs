//! Reading and writing Automerge values the way every record here needs.
//!
//! Two rules make concurrent edits safe:
//! - **Containers are read from every concurrent copy.** If two devices running an app that
//!   meets an older document both create the same list (say `missing`) offline, Automerge
//!   keeps both objects as a conflict on the key; readers walk all of them ([`all_objs`]),
//!   so no device's items disappear.
//! - **Items are addressed by their own `id`, never by position**, so an edit lands on the
//!   right item wherever concurrent inserts moved it.
//! - **Every concurrent copy of a text field is shown.** Two devices that type into a field
//!   neither had seen before each create a text object at the same key; Automerge keeps
//!   both. [`merged_text`] joins every copy (in an order every replica agrees on, empty
//!   ones and exact duplicates left out), so no worker's words disappear, and
//!   [`write_text`] writes an edit of that joined value back without hiding a copy another
//!   device may still be typing into. This holds for documents already written and for any
//!   field added later: no migration (which would itself race between offline devices).

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{
    AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};

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
/// Every item of the root list `key` (every concurrent copy of it), read with `read_one`,
/// newest first by `at` (ties by `id`, so every replica shows the same order).
pub fn newest_first<D: ReadDoc, T>(
    d: &D,
    key: &str,
    read_one: impl Fn(&D, &ObjId) -> T,
    at: impl Fn(&T) -> i64,
    id: impl Fn(&T) -> &str,
) -> Vec<T> {
    let mut all: Vec<T> = items(d, &ROOT, key)
        .iter()
        .map(|o| read_one(d, o))
        .collect();
    fieldbook_sync::order::sort_by(&mut all, |a, b| {
        at(b).cmp(&at(a)).then_with(|| id(a).cmp(id(b)))
    });
    all
}

pub fn find_item<D: ReadDoc>(doc: &D, obj: &ObjId, key: &str, id: &str) -> Option<ObjId> {
    items(doc, obj, key)
        .into_iter()
        .find(|item| text(doc, item, "id") == id)
}

/// [`find_item`], trying `hint` first (where the item was found before): if it is still an
/// item with this `id`, visible in a copy of the list at `key`, it is the answer without
/// walking the list. Typing into one note of a long case finds it once, not per keystroke.
pub fn find_item_near<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    id: &str,
    hint: Option<&ObjId>,
) -> Option<ObjId> {
    let still_there = |item: &ObjId| {
        if text(doc, item, "id") != id {
            return false;
        }
        let Some(parent) = doc.parents(item).ok().and_then(|mut p| p.next()) else {
            return false;
        };
        parent.visible && all_objs(doc, obj, key, ObjType::List).contains(&parent.obj)
    };
    if let Some(item) = hint.filter(|item| still_there(item)) {
        return Some(item.clone());
    }
    // Newest (last added) first: the item typed into is most often the one just added.
    all_objs(doc, obj, key, ObjType::List)
        .into_iter()
        .find_map(|list| {
            (0..doc.length(&list))
                .rev()
                .find_map(|i| match doc.get(&list, i) {
                    Ok(Some((Value::Object(ObjType::Map), item)))
                        if text(doc, &item, "id") == id =>
                    {
                        Some(item)
                    }
                    _ => None,
                })
        })
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

/// Apply `f` to item `id` of the list `list` in whichever copy of the map at `parent` (on
/// the document root) holds it; false if none does. Sections such as the plan, NRM and
/// network may exist twice after two devices created them offline.
pub fn on_item_in<T: Transactable>(
    tx: &mut T,
    parent: &str,
    list: &str,
    id: &str,
    f: impl FnOnce(&mut T, &ObjId) -> Result<(), AutomergeError>,
) -> Result<bool, AutomergeError> {
    let holder = all_objs(tx, &ROOT, parent, ObjType::Map)
        .into_iter()
        .find(|m| find_item(tx, m, list, id).is_some());
    match holder {
        Some(m) => on_item(tx, &m, list, id, f),
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

/// A single string value (an id, a choice, a date) from a plain string or Automerge text;
/// empty if absent. Free text is read with [`merged_text`] instead.
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

/// One stored copy of a text field: Automerge text, or a plain string (written by an
/// older app or another tool).
enum TextCopy {
    Text(ObjId),
    Plain(String),
}

/// Every copy of the text field `key` in every copy of its parent, in document order: the
/// parents as given, then Automerge's order of conflicting values, the same on every replica.
fn copies<D: ReadDoc>(d: &D, parents: &[ObjId], key: &str) -> Vec<(ObjId, TextCopy)> {
    parents
        .iter()
        .flat_map(|p| {
            d.get_all(p, key)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(v, id)| match v {
                    Value::Object(ObjType::Text) => Some((p.clone(), TextCopy::Text(id))),
                    Value::Scalar(s) => match s.as_ref() {
                        ScalarValue::Str(s) => Some((p.clone(), TextCopy::Plain(s.to_string()))),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A free-text field as people see it: every concurrent copy at `key` in any of `parents`,
/// empty ones and exact duplicates left out, joined with `separator`. One copy reads as is.
pub fn merged_text<D: ReadDoc>(d: &D, parents: &[ObjId], key: &str, separator: &str) -> String {
    let mut shown: Vec<String> = Vec::new();
    for (_, c) in copies(d, parents, key) {
        let s = match c {
            TextCopy::Text(t) => d.text(&t).unwrap_or_default(),
            TextCopy::Plain(s) => s,
        };
        if !s.is_empty() && !shown.contains(&s) {
            shown.push(s);
        }
    }
    shown.join(separator)
}

/// Write a free-text field whose value a person edited (as [`merged_text`] showed it).
///
/// With one copy, only what changed is written (`update_text`), so a concurrent edit
/// elsewhere in the text merges. With several, the whole value goes into the first text
/// object (the same one on every replica) and the other text objects are emptied by
/// splicing, never replaced: a device still typing into one of them offline has its words
/// show up after the next merge. Plain-string copies are overwritten with "" (nobody can be
/// typing into them) unless their parent also holds a text object, where an overwrite would
/// hide it: they stay and are shown. With no copy yet, a text object is created in the
/// first parent. `parents` must not be empty.
pub fn write_text(
    tx: &mut impl Transactable,
    parents: &[ObjId],
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    let all = copies(tx, parents, key);
    let texts: Vec<&ObjId> = all
        .iter()
        .filter_map(|(_, c)| match c {
            TextCopy::Text(t) => Some(t),
            TextCopy::Plain(_) => None,
        })
        .collect();
    let keeper = match texts.split_first() {
        Some((first, rest)) => {
            let first = (*first).clone();
            for t in rest {
                let n = tx.length(*t);
                if n > 0 {
                    tx.splice_text(*t, 0, n as isize, "")?;
                }
            }
            tx.update_text(&first, value)?;
            None
        }
        None => Some(
            all.first()
                .map_or_else(|| parents[0].clone(), |(p, _)| p.clone()),
        ),
    };
    // Parents holding only plain copies.
    let mut plain: Vec<&ObjId> = Vec::new();
    for (p, c) in &all {
        let has_text = all
            .iter()
            .any(|(q, c)| q == p && matches!(c, TextCopy::Text(_)));
        if matches!(c, TextCopy::Plain(s) if !s.is_empty()) && !has_text && !plain.contains(&p) {
            plain.push(p);
        }
    }
    for p in plain {
        if keeper.as_ref() != Some(p) {
            tx.put(p, key, "")?;
        }
    }
    if let Some(p) = keeper {
        let t = tx.put_object(&p, key, ObjType::Text)?;
        tx.splice_text(&t, 0, 0, value)?;
    }
    Ok(())
}

/// [`write_text`] in one parent object.
pub fn set_text(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    value: &str,
) -> Result<(), AutomergeError> {
    write_text(tx, std::slice::from_ref(obj), key, value)
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
