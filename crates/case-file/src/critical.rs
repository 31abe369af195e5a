//! Safety-critical single values: overall risk level, category ratings, NRM status, hazard
//! labels. When two devices set different values concurrently, **nothing picks a winner**:
//! the case shows every value with who set it and when, flagged until a person chooses.
//!
//! Each value is stored as a small map `{ value, by, at }` put on its key. Concurrent puts
//! leave Automerge with several values on the key; [`read`] returns all of them. Choosing
//! ([`set`]) puts a new map, which supersedes every value the chooser's device has seen.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, Value};

use crate::doc;

/// One value of a critical field and who set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub value: String,
    pub by: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
}

/// A critical field as stored: unset, one value, or a conflict of several.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Critical {
    /// Distinct values, newest first. Two devices that set the same value are not a conflict.
    pub candidates: Vec<Candidate>,
}

impl Critical {
    /// The value, when there is exactly one.
    pub fn value(&self) -> Option<&str> {
        match self.candidates.as_slice() {
            [one] => Some(one.value.as_str()),
            _ => None,
        }
    }

    pub fn is_conflict(&self) -> bool {
        self.candidates.len() > 1
    }

    pub fn is_unset(&self) -> bool {
        self.candidates.is_empty()
    }

    /// The single candidate (its setter and time), when settled.
    pub fn settled(&self) -> Option<&Candidate> {
        match self.candidates.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// Read a critical field, with every concurrent value.
pub fn read<D: ReadDoc>(d: &D, obj: &ObjId, key: &str) -> Critical {
    read_all(d, std::slice::from_ref(obj), key)
}

/// Read a critical field held in several concurrent copies of its parent map.
pub fn read_all<D: ReadDoc>(d: &D, objs: &[ObjId], key: &str) -> Critical {
    let mut candidates: Vec<Candidate> = Vec::new();
    let values = objs
        .iter()
        .flat_map(|obj| d.get_all(obj, key).unwrap_or_default());
    for (value, id) in values {
        let c = match value {
            Value::Object(ObjType::Map) => Candidate {
                value: doc::text(d, &id, "value"),
                by: doc::text(d, &id, "by"),
                at: doc::int(d, &id, "at"),
            },
            // A plain value (e.g. written by an older app): no setter recorded.
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Candidate {
                    value: s.to_string(),
                    by: String::new(),
                    at: 0,
                },
                _ => continue,
            },
            _ => continue,
        };
        match candidates.iter_mut().find(|x| x.value == c.value) {
            Some(same) if c.at > same.at => *same = c,
            Some(_) => {}
            None => candidates.push(c),
        }
    }
    fieldbook_sync::order::sort_by(&mut candidates, |a, b| {
        b.at.cmp(&a.at).then_with(|| a.value.cmp(&b.value))
    });
    Critical { candidates }
}

/// Set (or settle) a critical field.
pub fn set(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    value: &str,
    by: &str,
    at: i64,
) -> Result<(), AutomergeError> {
    let m = tx.put_object(obj, key, ObjType::Map)?;
    tx.put(&m, "value", value)?;
    tx.put(&m, "by", by)?;
    tx.put(&m, "at", ScalarValue::Timestamp(at))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldbook_sync::automerge::{AutoCommit, ROOT};

    #[test]
    fn different_concurrent_values_are_both_shown_with_who_and_when_until_settled() {
        let mut a = AutoCommit::new();
        set(&mut a, &ROOT, "overall", "moderate", "Worker A", 10).unwrap();
        let mut b = a.fork();
        set(&mut a, &ROOT, "overall", "high", "Worker A", 20).unwrap();
        set(&mut b, &ROOT, "overall", "emerging", "Worker B", 30).unwrap();
        a.merge(&mut b).unwrap();
        let c = read(&a, &ROOT, "overall");
        assert!(c.is_conflict());
        assert_eq!(c.value(), None, "no winner is picked");
        assert_eq!(
            c.candidates,
            vec![
                Candidate {
                    value: "emerging".into(),
                    by: "Worker B".into(),
                    at: 30
                },
                Candidate {
                    value: "high".into(),
                    by: "Worker A".into(),
                    at: 20
                },
            ]
        );
        // A manager chooses on device B; once merged, both devices see one value.
        b.merge(&mut a).unwrap();
        set(&mut b, &ROOT, "overall", "high", "Manager M", 40).unwrap();
        a.merge(&mut b).unwrap();
        let c = read(&a, &ROOT, "overall");
        assert_eq!(c.value(), Some("high"));
        assert_eq!(c.settled().unwrap().by, "Manager M");
    }

    #[test]
    fn the_same_value_set_on_two_devices_is_not_a_conflict() {
        let mut a = AutoCommit::new();
        let mut b = a.fork();
        set(&mut a, &ROOT, "nrm", "referred", "A", 1).unwrap();
        set(&mut b, &ROOT, "nrm", "referred", "B", 2).unwrap();
        a.merge(&mut b).unwrap();
        let c = read(&a, &ROOT, "nrm");
        assert!(!c.is_conflict());
        assert_eq!(c.value(), Some("referred"));
        assert_eq!(c.settled().unwrap().by, "B", "latest setter is shown");
        assert!(read(&a, &ROOT, "missing").is_unset());
    }
}
