//! CCE risk assessments (§3.2): 12 rated categories, a summary and an overall level set by
//! professional judgement, confirmed by a manager. Each assessment is a new version; all
//! versions stay in the document, so history (and each category's trend) is always visible.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ObjType, ReadDoc, ScalarValue, ROOT};

use crate::critical::{self, Critical};
use crate::{doc, vocab};

const LIST: &str = "assessments";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    /// An id from [`vocab::RISK_CATEGORIES`].
    pub id: String,
    pub text: String,
    /// Strength / Emerging / Moderate / High (ids from [`vocab::RATINGS`]).
    pub rating: Critical,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assessment {
    pub id: String,
    /// When it was started (ms since the epoch).
    pub started: i64,
    /// Set when submitted; a draft has none.
    pub submitted: Option<i64>,
    /// Who completed it and their roles, e.g. "A. Worker (social care), B. Officer (youth justice)".
    pub completed_by: String,
    /// All 12 categories, in the fixed order.
    pub categories: Vec<Category>,
    pub summary: String,
    /// Emerging / Moderate / High (ids from [`vocab::LEVELS`]).
    pub overall: Critical,
    /// The manager (or child protection chair) who confirmed the overall level, and when.
    pub confirmed: Option<(String, i64)>,
}

impl Assessment {
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// Any safety-critical value in dispute.
    pub fn has_conflict(&self) -> bool {
        self.overall.is_conflict() || self.categories.iter().any(|c| c.rating.is_conflict())
    }

    /// Guidance (§3.2): high ratings *together* in missing, coercion, contact and offending
    /// strongly suggest criminal exploitation. True when two or more of them are High.
    pub fn suggests_cce(&self) -> bool {
        ["missing", "coercion", "contact", "offending"]
            .iter()
            .filter(|id| self.category(id).and_then(|c| c.rating.value()) == Some("high"))
            .count()
            >= 2
    }
}

fn read_one<D: ReadDoc>(d: &D, a: &ObjId) -> Assessment {
    let cats = doc::all_objs(d, a, "categories", ObjType::Map);
    let categories = vocab::RISK_CATEGORIES
        .iter()
        .map(|(id, _)| {
            let copies: Vec<ObjId> = cats
                .iter()
                .flat_map(|c| doc::all_objs(d, c, id, ObjType::Map))
                .collect();
            Category {
                id: (*id).to_owned(),
                text: copies
                    .iter()
                    .map(|c| doc::text(d, c, "text"))
                    .find(|t| !t.is_empty())
                    .unwrap_or_default(),
                rating: critical::read_all(d, &copies, "rating"),
            }
        })
        .collect();
    let confirmed = doc::obj_at(d, a, "confirmed", ObjType::Map)
        .map(|c| (doc::text(d, &c, "by"), doc::int(d, &c, "at")));
    Assessment {
        id: doc::text(d, a, "id"),
        started: doc::int(d, a, "started"),
        submitted: doc::opt_int(d, a, "submitted"),
        completed_by: doc::text(d, a, "completedBy"),
        categories,
        summary: doc::text(d, a, "summary"),
        overall: critical::read(d, a, "overall"),
        confirmed,
    }
}

/// Every assessment, oldest first (drafts last).
pub fn read<D: ReadDoc>(d: &D) -> Vec<Assessment> {
    let mut all: Vec<Assessment> = doc::items(d, &ROOT, LIST)
        .iter()
        .map(|a| read_one(d, a))
        .collect();
    all.sort_by_key(|a| {
        (
            a.submitted.is_none(),
            a.submitted.unwrap_or(a.started),
            a.id.clone(),
        )
    });
    all
}

/// Each category's ratings across submitted versions, oldest first (for the trend view).
pub fn trend(all: &[Assessment]) -> Vec<(String, Vec<Option<String>>)> {
    let submitted: Vec<&Assessment> = all.iter().filter(|a| a.submitted.is_some()).collect();
    vocab::RISK_CATEGORIES
        .iter()
        .map(|(id, _)| {
            let ratings = submitted
                .iter()
                .map(|a| {
                    a.category(id)
                        .and_then(|c| c.rating.value())
                        .map(str::to_owned)
                })
                .collect();
            ((*id).to_owned(), ratings)
        })
        .collect()
}

/// Start a new version. Texts and ratings are copied from `previous` (the last submitted
/// version), so a review starts from what was known rather than from blank.
pub fn start(
    tx: &mut impl Transactable,
    id: &str,
    at: i64,
    previous: Option<&Assessment>,
    by: &str,
) -> Result<(), AutomergeError> {
    let a = doc::push_item(tx, &ROOT, LIST, id)?;
    tx.put(&a, "started", ScalarValue::Timestamp(at))?;
    let cats = tx.put_object(&a, "categories", ObjType::Map)?;
    for (cid, _) in vocab::RISK_CATEGORIES {
        let c = tx.put_object(&cats, *cid, ObjType::Map)?;
        let prev = previous.and_then(|p| p.category(cid));
        doc::set_text(tx, &c, "text", prev.map(|p| p.text.as_str()).unwrap_or(""))?;
        if let Some(r) = prev.and_then(|p| p.rating.value()) {
            critical::set(tx, &c, "rating", r, by, at)?;
        }
    }
    doc::set_text(
        tx,
        &a,
        "summary",
        previous.map(|p| p.summary.as_str()).unwrap_or(""),
    )?;
    doc::set_text(tx, &a, "completedBy", "")?;
    Ok(())
}

fn category_obj(
    tx: &mut impl Transactable,
    id: &str,
    category: &str,
) -> Result<Option<ObjId>, AutomergeError> {
    let Some(a) = doc::find_item(tx, &ROOT, LIST, id) else {
        return Ok(None);
    };
    let cats = doc::ensure_obj(tx, &a, "categories", ObjType::Map)?;
    Ok(Some(doc::ensure_obj(tx, &cats, category, ObjType::Map)?))
}

pub fn set_category_text(
    tx: &mut impl Transactable,
    id: &str,
    category: &str,
    text: &str,
) -> Result<bool, AutomergeError> {
    let Some(c) = category_obj(tx, id, category)? else {
        return Ok(false);
    };
    doc::set_text(tx, &c, "text", text)?;
    Ok(true)
}

pub fn set_rating(
    tx: &mut impl Transactable,
    id: &str,
    category: &str,
    rating: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(c) = category_obj(tx, id, category)? else {
        return Ok(false);
    };
    critical::set(tx, &c, "rating", rating, by, at)?;
    Ok(true)
}

/// A text field of the assessment itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentField {
    Summary,
    CompletedBy,
}

pub fn set_field(
    tx: &mut impl Transactable,
    id: &str,
    field: AssessmentField,
    text: &str,
) -> Result<bool, AutomergeError> {
    let key = match field {
        AssessmentField::Summary => "summary",
        AssessmentField::CompletedBy => "completedBy",
    };
    doc::on_item(tx, &ROOT, LIST, id, |tx, a| doc::set_text(tx, a, key, text))
}

pub fn set_overall(
    tx: &mut impl Transactable,
    id: &str,
    level: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, a| {
        critical::set(tx, a, "overall", level, by, at)
    })
}

/// Submit (the caller has run [`crate::validate::assessment`]).
pub fn submit(tx: &mut impl Transactable, id: &str, at: i64) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, a| {
        tx.put(a, "submitted", ScalarValue::Timestamp(at))
    })
}

/// A manager confirms the overall level.
pub fn confirm(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, a| {
        let c = tx.put_object(a, "confirmed", ObjType::Map)?;
        tx.put(&c, "by", by)?;
        tx.put(&c, "at", ScalarValue::Timestamp(at))
    })
}
