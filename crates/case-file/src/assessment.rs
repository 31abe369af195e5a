//! CCE risk assessments: 12 rated categories, a summary and an overall level set by
//! professional judgement, confirmed by a manager. Each assessment is a new version; all
//! versions stay in the document, so history (and each category's trend) is always visible.
//! Domain notes: `docs/domain/risk-assessment.md`.
//!
//! **A submitted version never changes.** Every writer refuses to change a submitted
//! version's content (it returns `Ok(false)`; a manager's confirmation is not content and
//! stays allowed). That cannot stop a device that had not yet seen the submission: its
//! offline edits land in the same objects. So the reader shows a submitted version as it
//! was in the change that submitted it (read at that change with [`History`]), and
//! compares that with the live content: anything different was changed late, and is
//! returned as [`LateEdits`] on the version (never dropped, never written by reading).
//! [`start_draft_from_late_edits`] turns them into a new draft and records what it took, so
//! they stop being offered; two devices doing that offline each get a complete draft.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{
    AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT,
};

use crate::critical::{self, Candidate, Critical};
use crate::history::{At, History};
use crate::schema::{self, Record};
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
    /// Kept for versions confirmed before reviews recorded decisions; see `review`.
    pub confirmed: Option<(String, i64)>,
    /// The review of a submitted version by the right role, with its decisions.
    pub review: Option<Review>,
    /// On a draft started from late edits: the submitted version they were made to.
    pub from_late_edits: Option<String>,
    /// On a submitted version: changes made to it by a device that had not seen its
    /// submission. The version itself reads as submitted; these wait for a new draft.
    pub late_edits: Option<LateEdits>,
    /// Why the overall level is lowered while the young person has not been seen face to
    /// face for longer than the service allows ([`crate::stepdown::gate`]); else empty.
    pub not_seen_reason: String,
}

/// Review of a submitted version: Emerging goes to a team manager for quality assurance;
/// Moderate or High to a child protection chair, who confirms three things: the overall
/// level, whether a CCE multi-agency meeting is needed, and who chairs it (team manager for
/// Moderate, the chair for High). Not a change of content: allowed on a submitted version.
/// Layout: `review: { by, role, at, level, meetingNeeded, meetingChair, note (text) }`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Review {
    pub by: String,
    /// An id from [`vocab::REVIEWERS`]: "manager" or "chair".
    pub role: String,
    pub at: i64,
    /// The overall level confirmed (an id from [`vocab::LEVELS`]).
    pub level: String,
    /// "yes" or "no" (a chair's decision; empty for a manager's review).
    pub meeting_needed: String,
    /// "manager" or "chair" when a meeting is needed, else empty.
    pub meeting_chair: String,
    pub note: String,
}

/// Who reviews a version submitted at `level`: "manager" for Emerging, "chair" for
/// Moderate or High (ids from [`vocab::REVIEWERS`]).
pub fn reviewer_for(level: &str) -> &'static str {
    match level {
        "moderate" | "high" => "chair",
        _ => "manager",
    }
}

crate::schema::texts!(Review { "note" => note });

const REVIEW: &str = "review";

/// Record the review of submitted version `id`. False (nothing written) if there is no
/// such version or it is a draft. The caller checks the person's role (and runs
/// [`crate::validate::review`]). The review sits beside the frozen content, never in it:
/// the version still reads as submitted. Each value is written on its own (the note merges
/// as text), so a second review updates the first rather than replacing the object.
pub fn review(tx: &mut impl Transactable, id: &str, r: &Review) -> Result<bool, AutomergeError> {
    let Some(a) = doc::find_item(tx, &ROOT, LIST, id) else {
        return Ok(false);
    };
    if draft(tx, id).is_some() {
        return Ok(false);
    }
    let mut copies = doc::all_objs(tx, &a, REVIEW, ObjType::Map);
    if copies.is_empty() {
        copies.push(tx.put_object(&a, REVIEW, ObjType::Map)?);
    }
    let m = copies[0].clone();
    for (key, value) in [
        ("by", &r.by),
        ("role", &r.role),
        ("level", &r.level),
        ("meetingNeeded", &r.meeting_needed),
        ("meetingChair", &r.meeting_chair),
    ] {
        tx.put(&m, key, value.as_str())?;
    }
    tx.put(&m, "at", ScalarValue::Timestamp(r.at))?;
    schema::write_text(tx, &copies, Record::Review, "note", &r.note)?;
    Ok(true)
}

/// The review of version `a`, from every copy of its map (two reviewers offline).
fn read_review<D: ReadDoc>(d: &D, a: &ObjId) -> Option<Review> {
    let copies = doc::all_objs(d, a, REVIEW, ObjType::Map);
    if copies.is_empty() {
        return None;
    }
    let plain = |key: &str| {
        copies
            .iter()
            .map(|c| doc::text(d, c, key))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let mut r = Review {
        by: plain("by"),
        role: plain("role"),
        at: copies
            .iter()
            .filter_map(|c| doc::opt_int(d, c, "at"))
            .max()
            .unwrap_or(0),
        level: plain("level"),
        meeting_needed: plain("meetingNeeded"),
        meeting_chair: plain("meetingChair"),
        note: String::new(),
    };
    schema::fill(d, &copies, Record::Review, &mut r);
    Some(r)
}

/// Changes that reached a submitted version after its submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateEdits {
    /// The submitted content with every late change merged in: what a new draft starts
    /// from ([`start_draft_from_late_edits`]). Not submitted; `from_late_edits` is set.
    pub content: Box<Assessment>,
    /// What changed, as the forms call it ("Summary of concerns and analysis", …).
    pub changed: Vec<String>,
    /// Who set the changed ratings or level, where recorded (text edits carry no name).
    pub by: Vec<String>,
}

crate::schema::texts!(Category { "text" => text });
crate::schema::texts!(Assessment {
    "summary" => summary,
    "completedBy" => completed_by,
    "notSeenReason" => not_seen_reason,
});

impl Assessment {
    pub fn category(&self, id: &str) -> Option<&Category> {
        self.categories.iter().find(|c| c.id == id)
    }

    /// Any safety-critical value in dispute.
    pub fn has_conflict(&self) -> bool {
        self.overall.is_conflict() || self.categories.iter().any(|c| c.rating.is_conflict())
    }

    /// The guidance's rule (DOMAIN §9, "When ratings signal exploitation"): higher concern
    /// noted *at the same time* under 1 (missing), 2 (coercion and control), 3 (abusive
    /// people and risky places) and 10 (offending and weapons) signals likely exploitation
    /// and should steer the overall level. True when all four are rated Moderate or High.
    /// Education, health and family (5, 8, 9) never count: many children in care rate
    /// higher there without being exploited. A rating in dispute does not count.
    pub fn suggests_cce(&self) -> bool {
        ["missing", "coercion", "contact", "offending"]
            .iter()
            .all(|id| {
                matches!(
                    self.category(id).and_then(|c| c.rating.value()),
                    Some("moderate" | "high")
                )
            })
    }
}

/// Every copy of the `categories` map, and of each category map in them.
fn category_copies<D: ReadDoc>(d: &D, a: &ObjId, category: &str) -> Vec<ObjId> {
    doc::all_objs(d, a, "categories", ObjType::Map)
        .iter()
        .flat_map(|c| doc::all_objs(d, c, category, ObjType::Map))
        .collect()
}

/// What a person fills in: the categories, summary, overall level and who completed it.
fn read_content<D: ReadDoc>(d: &D, a: &ObjId) -> Assessment {
    let categories = vocab::RISK_CATEGORIES
        .iter()
        .map(|(id, _)| {
            let copies = category_copies(d, a, id);
            let mut c = Category {
                id: (*id).to_owned(),
                text: String::new(),
                rating: critical::read_all(d, &copies, "rating"),
            };
            schema::fill(d, &copies, Record::Category, &mut c);
            c
        })
        .collect();
    let mut out = Assessment {
        id: doc::text(d, a, "id"),
        started: doc::int(d, a, "started"),
        categories,
        overall: critical::read(d, a, "overall"),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(a), Record::Assessment, &mut out);
    out
}

/// The point a submitted version is frozen at: the change(s) that recorded its submission
/// (two devices may both have submitted it). None for a draft, and for a submission still
/// in an open transaction (nothing can have arrived after it yet).
fn frozen_at<D: History>(d: &D, a: &ObjId) -> Option<Vec<ChangeHash>> {
    let ops = d.get_all(a, "submitted").unwrap_or_default();
    if ops.is_empty() {
        return None;
    }
    ops.iter().map(|(_, op)| d.change_of(op)).collect()
}

/// Heads recorded by [`start_draft_from_late_edits`]: late edits seen by then are taken.
fn taken_at<D: ReadDoc>(d: &D, a: &ObjId) -> Vec<ChangeHash> {
    let mut heads = Vec::new();
    for m in doc::all_objs(d, a, "lateEdits", ObjType::Map) {
        for draft in d.keys(&m).collect::<Vec<_>>() {
            for e in doc::all_objs(d, &m, &draft, ObjType::Map) {
                for seen in doc::all_objs(d, &e, "seen", ObjType::List) {
                    for i in 0..d.length(&seen) {
                        if let Ok(Some((Value::Scalar(s), _))) = d.get(&seen, i) {
                            if let ScalarValue::Str(h) = s.as_ref() {
                                if let Ok(h) = h.parse::<ChangeHash>() {
                                    heads.push(h);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    heads
}

fn values(c: &Critical) -> Vec<&str> {
    c.candidates.iter().map(|x| x.value.as_str()).collect()
}

/// What differs between `then` and `now`, as labels, and who set the new critical values.
fn late_changes(then: &Assessment, now: &Assessment) -> (Vec<String>, Vec<String>) {
    let mut changed = Vec::new();
    let mut by: Vec<String> = Vec::new();
    let mut critical_changed = |label: String, t: &Critical, n: &Critical| {
        if values(t) != values(n) {
            changed.push(label);
            for c in n
                .candidates
                .iter()
                .filter(|c| !values(t).contains(&c.value.as_str()))
            {
                if !c.by.is_empty() && !by.contains(&c.by) {
                    by.push(c.by.clone());
                }
            }
        }
    };
    for ((t, n), (_, label)) in then
        .categories
        .iter()
        .zip(&now.categories)
        .zip(vocab::RISK_CATEGORIES)
    {
        critical_changed(format!("{label}: rating"), &t.rating, &n.rating);
    }
    critical_changed("Overall risk level".into(), &then.overall, &now.overall);
    let mut texts = Vec::new();
    for ((t, n), (_, label)) in then
        .categories
        .iter()
        .zip(&now.categories)
        .zip(vocab::RISK_CATEGORIES)
    {
        if t.text != n.text {
            texts.push(format!("{label}: information and analysis"));
        }
    }
    for f in schema::fields(Record::Assessment) {
        if schema::Texts::text(then, f.key) != schema::Texts::text(now, f.key) {
            texts.push(f.label.to_owned());
        }
    }
    texts.append(&mut changed);
    (texts, by)
}

/// Where a dispute frozen into a submitted version is settled: `settled: { overall: {…},
/// "rating:<category>": {…} }`, critical values read live. Two devices that both submitted
/// the same draft offline with different levels leave the submitted content in dispute; a
/// person settles it by choosing one of the values it was submitted with. That is not a
/// change of content, so it is kept beside the frozen content instead of inside it.
const SETTLED: &str = "settled";

fn settlement_key(category: Option<&str>) -> String {
    match category {
        None => "overall".to_owned(),
        Some(c) => format!("rating:{c}"),
    }
}

/// Replace each disputed frozen value by its settlement, when the settlement picks among
/// the values the version was submitted with (anything else is ignored: no new content).
fn apply_settlements<D: ReadDoc>(d: &D, a: &ObjId, version: &mut Assessment) {
    let maps = doc::all_objs(d, a, SETTLED, ObjType::Map);
    if maps.is_empty() {
        return;
    }
    let settle = |frozen: &mut Critical, key: String| {
        if !frozen.is_conflict() {
            return;
        }
        let chosen = critical::read_all(d, &maps, &key);
        let allowed = values(frozen);
        if !chosen.is_unset()
            && chosen
                .candidates
                .iter()
                .all(|c| allowed.contains(&c.value.as_str()))
        {
            *frozen = chosen;
        }
    };
    settle(&mut version.overall, settlement_key(None));
    for c in &mut version.categories {
        let key = settlement_key(Some(&c.id));
        settle(&mut c.rating, key);
    }
}

/// Settle a dispute frozen into submitted version `a` by choosing one of its values.
/// False (nothing written) when that value is not in dispute there or not one of its values.
fn settle_submitted<T: Transactable + History>(
    tx: &mut T,
    a: &ObjId,
    category: Option<&str>,
    value: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(frozen) = frozen_at(tx, a) else {
        return Ok(false);
    };
    let mut version = read_content(&At::new(tx, frozen), a);
    apply_settlements(tx, a, &mut version);
    let current = match category {
        None => &version.overall,
        Some(c) => match version.category(c) {
            Some(cat) => &cat.rating,
            None => return Ok(false),
        },
    };
    if !current.is_conflict() || !values(current).contains(&value) {
        return Ok(false);
    }
    let m = doc::ensure_obj(tx, a, SETTLED, ObjType::Map)?;
    critical::set(tx, &m, &settlement_key(category), value, by, at)?;
    Ok(true)
}

fn read_one<D: History>(d: &D, a: &ObjId) -> Assessment {
    let live = read_content(d, a);
    let mut out = match frozen_at(d, a) {
        None => live.clone(),
        Some(frozen) => {
            let mut version = read_content(&At::new(d, frozen.clone()), a);
            let taken = taken_at(d, a);
            let reference = if taken.is_empty() {
                version.clone()
            } else {
                read_content(&At::new(d, [frozen, taken].concat()), a)
            };
            let (changed, by) = late_changes(&reference, &live);
            apply_settlements(d, a, &mut version);
            version.late_edits = (!changed.is_empty()).then(|| LateEdits {
                content: Box::new(Assessment {
                    from_late_edits: Some(live.id.clone()),
                    ..live
                }),
                changed,
                by,
            });
            version
        }
    };
    out.submitted = doc::opt_int(d, a, "submitted");
    out.review = read_review(d, a);
    // A review confirms the level; versions confirmed before reviews keep their record.
    out.confirmed = match &out.review {
        Some(r) => Some((r.by.clone(), r.at)),
        None => doc::obj_at(d, a, "confirmed", ObjType::Map)
            .map(|c| (doc::text(d, &c, "by"), doc::int(d, &c, "at"))),
    };
    out.from_late_edits = Some(doc::text(d, a, "fromLateEdits")).filter(|s| !s.is_empty());
    out
}

/// Every assessment, oldest first (drafts last); submitted versions as they were submitted.
pub fn read<D: History>(d: &D) -> Vec<Assessment> {
    let mut all: Vec<Assessment> = doc::items(d, &ROOT, LIST)
        .iter()
        .map(|a| read_one(d, a))
        .collect();
    fieldbook_sync::order::sort_by_key(&mut all, |a| {
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
    write_draft(tx, id, at, previous, |_, p| {
        p.value().map(|v| Candidate {
            value: v.to_owned(),
            by: by.to_owned(),
            at,
        })
    })?;
    Ok(())
}

/// A new draft `id` holding `from`'s texts and the ratings `pick` chooses from its ratings
/// (given each category's id).
fn write_draft(
    tx: &mut impl Transactable,
    id: &str,
    at: i64,
    from: Option<&Assessment>,
    pick: impl Fn(&str, &Critical) -> Option<Candidate>,
) -> Result<ObjId, AutomergeError> {
    let a = doc::push_item(tx, &ROOT, LIST, id)?;
    tx.put(&a, "started", ScalarValue::Timestamp(at))?;
    let cats = tx.put_object(&a, "categories", ObjType::Map)?;
    for (cid, _) in vocab::RISK_CATEGORIES {
        let c = tx.put_object(&cats, *cid, ObjType::Map)?;
        let prev = from.and_then(|p| p.category(cid));
        doc::set_text(tx, &c, "text", prev.map(|p| p.text.as_str()).unwrap_or(""))?;
        if let Some(r) = prev.and_then(|p| pick(cid, &p.rating)) {
            critical::set(tx, &c, "rating", &r.value, &r.by, r.at)?;
        }
    }
    doc::set_text(
        tx,
        &a,
        "summary",
        from.map(|p| p.summary.as_str()).unwrap_or(""),
    )?;
    doc::set_text(tx, &a, "completedBy", "")?;
    Ok(a)
}

/// The draft `id`, or None if there is no such version or it has been submitted: a
/// submitted version's content is never changed.
fn draft(tx: &impl ReadDoc, id: &str) -> Option<ObjId> {
    doc::find_item(tx, &ROOT, LIST, id)
        .filter(|a| tx.get_all(a, "submitted").is_ok_and(|s| s.is_empty()))
}

/// Whether version `id` has been submitted (as far as this device knows): its content can
/// no longer be changed.
pub fn is_submitted(d: &impl ReadDoc, id: &str) -> bool {
    doc::find_item(d, &ROOT, LIST, id).is_some() && draft(d, id).is_none()
}

/// Every copy of a category's map in draft `a` (created if absent).
fn category_objs(
    tx: &mut impl Transactable,
    a: &ObjId,
    category: &str,
) -> Result<Vec<ObjId>, AutomergeError> {
    let copies = category_copies(tx, a, category);
    if !copies.is_empty() {
        return Ok(copies);
    }
    let cats = doc::ensure_obj(tx, a, "categories", ObjType::Map)?;
    Ok(vec![tx.put_object(&cats, category, ObjType::Map)?])
}

/// False (nothing written) if there is no such draft: none, or it has been submitted.
pub fn set_category_text(
    tx: &mut impl Transactable,
    id: &str,
    category: &str,
    text: &str,
) -> Result<bool, AutomergeError> {
    if !vocab::RISK_CATEGORIES.iter().any(|(c, _)| *c == category) {
        return Ok(false);
    }
    let Some(a) = draft(tx, id) else {
        return Ok(false);
    };
    let copies = category_objs(tx, &a, category)?;
    schema::write_text(tx, &copies, Record::Category, "text", text)
}

/// Set a category rating of draft `id`. On a submitted version it only settles a dispute
/// frozen into it (choosing one of the values it was submitted with); otherwise false
/// (nothing written), as when there is no such version.
pub fn set_rating<T: Transactable + History>(
    tx: &mut T,
    id: &str,
    category: &str,
    rating: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(a) = draft(tx, id) else {
        return match doc::find_item(tx, &ROOT, LIST, id) {
            Some(a) => settle_submitted(tx, &a, Some(category), rating, by, at),
            None => Ok(false),
        };
    };
    // In every copy, so no copy keeps an older value beside the new one.
    for c in category_objs(tx, &a, category)? {
        critical::set(tx, &c, "rating", rating, by, at)?;
    }
    Ok(true)
}

/// A text field of the assessment itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssessmentField {
    Summary,
    CompletedBy,
    /// Why the level is lowered without a recent face-to-face contact.
    NotSeenReason,
}

impl AssessmentField {
    /// The stored key (as listed in [`crate::schema::TEXT_FIELDS`]).
    pub fn key(self) -> &'static str {
        match self {
            AssessmentField::Summary => "summary",
            AssessmentField::CompletedBy => "completedBy",
            AssessmentField::NotSeenReason => "notSeenReason",
        }
    }
}

pub fn set_field(
    tx: &mut impl Transactable,
    id: &str,
    field: AssessmentField,
    text: &str,
) -> Result<bool, AutomergeError> {
    set_text(tx, id, field.key(), text)
}

/// Write a text field of draft `id` (a key from [`crate::schema::TEXT_FIELDS`]). False
/// (nothing written) if there is no such draft (none, or submitted) or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    text: &str,
) -> Result<bool, AutomergeError> {
    let Some(a) = draft(tx, id) else {
        return Ok(false);
    };
    schema::write_text(tx, &[a], Record::Assessment, key, text)
}

/// Set the overall level of draft `id`. On a submitted version it only settles a dispute
/// frozen into it (see [`set_rating`]).
pub fn set_overall<T: Transactable + History>(
    tx: &mut T,
    id: &str,
    level: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    let Some(a) = draft(tx, id) else {
        return match doc::find_item(tx, &ROOT, LIST, id) {
            Some(a) => settle_submitted(tx, &a, None, level, by, at),
            None => Ok(false),
        };
    };
    critical::set(tx, &a, "overall", level, by, at)?;
    Ok(true)
}

/// Submit (the caller has run [`crate::validate::assessment`]). From then on the version
/// reads as it is now. False if there is no such draft (none, or already submitted: a
/// second submission would move what the first one froze).
pub fn submit(tx: &mut impl Transactable, id: &str, at: i64) -> Result<bool, AutomergeError> {
    let Some(a) = draft(tx, id) else {
        return Ok(false);
    };
    tx.put(&a, "submitted", ScalarValue::Timestamp(at))?;
    Ok(true)
}

/// A manager confirms the overall level (of a submitted version: not a change of content).
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

/// Turn the late edits of submitted version `id` into a new draft `new_id`: its content
/// with every late change (a rating or level set two ways keeps the late value, with who
/// set it and when). Records on the submitted version what this device had seen, so those
/// late edits are no longer offered; edits arriving later still are. False (nothing
/// written) if the version has no late edits, so pressing twice makes one draft; two
/// devices doing it offline make two complete drafts, and lose nothing.
pub fn start_draft_from_late_edits<T: Transactable + History>(
    tx: &mut T,
    id: &str,
    new_id: &str,
    at: i64,
    by: &str,
) -> Result<bool, AutomergeError> {
    let Some(a) = doc::find_item(tx, &ROOT, LIST, id) else {
        return Ok(false);
    };
    let version = read_one(tx, &a);
    let Some(late) = version.late_edits.clone() else {
        return Ok(false);
    };
    let seen = tx.base_heads();
    let content = &late.content;
    // The late value of a disputed rating or level: the candidate the submitted version
    // did not have (newest first).
    let pick = |now: &Critical, then: &Critical| -> Option<Candidate> {
        now.settled()
            .or_else(|| {
                now.candidates
                    .iter()
                    .find(|c| !values(then).contains(&c.value.as_str()))
            })
            .or(now.candidates.first())
            .cloned()
    };
    // Carried into the draft by the person starting it, so recorded as theirs (see below).
    let d = write_draft(tx, new_id, at, Some(content), |cid, now| {
        let then = version.category(cid).map(|c| c.rating.clone());
        pick(now, &then.unwrap_or_default()).map(|c| Candidate {
            by: by.to_owned(),
            ..c
        })
    })?;
    doc::set_text(tx, &d, "completedBy", &content.completed_by)?;
    // The person starting the draft carries the level into it, so it is recorded as theirs:
    // a change may only name its own author (docs/ACCESS.md, "Authorship"); who set it
    // first stays on the submitted version.
    if let Some(o) = pick(&content.overall, &version.overall) {
        critical::set(tx, &d, "overall", &o.value, by, o.at)?;
    }
    tx.put(&d, "fromLateEdits", id)?;
    // What was taken, on the submitted version (not content: the version is unchanged).
    let taken = doc::ensure_obj(tx, &a, "lateEdits", ObjType::Map)?;
    let e = tx.put_object(&taken, new_id, ObjType::Map)?;
    tx.put(&e, "by", by)?;
    tx.put(&e, "at", ScalarValue::Timestamp(at))?;
    let list = tx.put_object(&e, "seen", ObjType::List)?;
    for (i, h) in seen.iter().enumerate() {
        tx.insert(&list, i, h.to_string())?;
    }
    Ok(true)
}
