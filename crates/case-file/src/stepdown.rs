//! Step-down and closure need evidence (issue 13): a record of stepping a case down to a
//! lower level or closing it, and the gate that refuses either while the young person has
//! not been seen face to face for longer than the service allows, unless a reason is
//! recorded. The same gate applies to submitting a risk assessment whose overall level is
//! lower than the previous submitted one ([`lowers_level`]).
//! Domain notes: `docs/domain/step-down.md`.
//!
//! Layout: root list `stepDowns`, each item `{ id, at, by, what ("step-down" | "close"),
//! date (ISO), level (the lower level, for a step-down), lastSeen (ISO), changed (text),
//! exitPlan (text), agreedBy (text), signOffBy (text), signOffDate (ISO), notSeenReason
//! (text) }`. Records are added whole and never rewritten; a later record supersedes an
//! earlier one.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::clocks::{calendar, london, Settings};
use crate::schema::{self, Record};
use crate::validate::FieldError;
use crate::{doc, removal, vocab, Case};

const LIST: &str = "stepDowns";

/// What a record does.
pub const KINDS: &[vocab::Choice] = &[
    ("step-down", "Step down to a lower level"),
    ("close", "Close the case"),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepDown {
    pub id: String,
    /// When it was recorded (ms since the epoch).
    pub at: i64,
    /// Who wrote the record.
    pub by: String,
    /// "step-down" or "close" ([`KINDS`]).
    pub what: String,
    /// ISO date (London) of the step-down or closure.
    pub date: String,
    /// For a step-down: the lower level (an id from [`vocab::LEVELS`]).
    pub level: String,
    /// ISO date the young person was last seen face to face (pre-filled from the notes).
    pub last_seen: String,
    pub changed: String,
    pub exit_plan: String,
    /// The manager who agreed it (a name).
    pub agreed_by: String,
    /// Multi-agency sign-off, required when the case has a meeting record: who, and when.
    pub sign_off_by: String,
    pub sign_off_date: String,
    /// Why they have not been seen recently, when the gate asks for it.
    pub not_seen_reason: String,
}

crate::schema::texts!(StepDown {
    "changed" => changed,
    "exitPlan" => exit_plan,
    "agreedBy" => agreed_by,
    "signOffBy" => sign_off_by,
    "notSeenReason" => not_seen_reason,
});

fn read_one<D: ReadDoc>(d: &D, s: &ObjId) -> StepDown {
    let mut out = StepDown {
        id: doc::text(d, s, "id"),
        at: doc::int(d, s, "at"),
        by: doc::text(d, s, "by"),
        what: doc::text(d, s, "what"),
        date: doc::text(d, s, "date"),
        level: doc::text(d, s, "level"),
        last_seen: doc::text(d, s, "lastSeen"),
        sign_off_date: doc::text(d, s, "signOffDate"),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(s), Record::StepDown, &mut out);
    out
}

/// Every step-down and closure record, newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<StepDown> {
    doc::newest_first(d, LIST, read_one, |s| s.at, |s| &s.id)
}

/// Add a record (the caller has run [`validate`]).
pub fn add(tx: &mut impl Transactable, s: &StepDown) -> Result<(), AutomergeError> {
    let item = doc::push_item(tx, &ROOT, LIST, &s.id)?;
    tx.put(&item, "at", ScalarValue::Timestamp(s.at))?;
    for (key, v) in [
        ("by", &s.by),
        ("what", &s.what),
        ("date", &s.date),
        ("level", &s.level),
        ("lastSeen", &s.last_seen),
        ("signOffDate", &s.sign_off_date),
    ] {
        if !v.is_empty() || key == "by" || key == "what" {
            tx.put(&item, key, v.trim())?;
        }
    }
    let copies = std::slice::from_ref(&item);
    for f in schema::fields(Record::StepDown) {
        let v = schema::Texts::text(s, f.key).unwrap_or_default();
        if !v.is_empty() {
            schema::write_text(tx, copies, Record::StepDown, f.key, v)?;
        }
    }
    Ok(())
}

/// Write a text field of record `id` (to correct it). False if there is no such record
/// or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::StepDown, key).is_none() {
        return Ok(false);
    }
    doc::on_item(tx, &ROOT, LIST, id, |tx, s| {
        schema::write_text(tx, std::slice::from_ref(s), Record::StepDown, key, value).map(|_| ())
    })
}

pub use crate::notes::face_to_face;

/// When the young person was last seen face to face, from the contact notes shown.
pub fn last_seen(case: &Case) -> Option<i64> {
    case.notes
        .iter()
        .filter(|n| removal::visible(&n.removal) && face_to_face(&n.kind))
        .map(|n| n.at)
        .max()
}

/// Whole London days from the London date of `seen` to that of `now` (0 the same day).
pub fn days_since(seen: i64, now: i64) -> i64 {
    calendar::days_between(london::date_of(seen), london::date_of(now))
}

/// The flag "Not seen face to face for N days", shown on the case and on the home card when
/// the last face-to-face contact is more than [`Settings::not_seen_days`] days ago, or
/// "No face-to-face contact recorded" when contact notes go back further than that with
/// none face to face. It is a flag, never a lower risk. None otherwise.
pub fn not_seen_flag(case: &Case, now: i64, settings: &Settings) -> Option<String> {
    let limit = settings.not_seen_days.max(0);
    match last_seen(case) {
        Some(seen) => {
            let days = days_since(seen, now);
            (days > limit).then(|| format!("Not seen face to face for {days} days"))
        }
        None => case
            .notes
            .iter()
            .filter(|n| removal::visible(&n.removal))
            .map(|n| n.at)
            .min()
            .filter(|first| days_since(*first, now) > limit)
            .map(|_| "No face-to-face contact recorded".to_owned()),
    }
}

/// Why the gate refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Days since last seen face to face; None when never seen.
    pub days: Option<i64>,
    /// The service's limit ([`Settings::not_seen_days`]).
    pub limit: i64,
}

impl Refusal {
    /// What the person is told, naming what to do.
    pub fn message(&self, doing: &str) -> String {
        match self.days {
            Some(d) => format!(
                "Enter why you are {doing} when they have not been seen face to face for {d} days (more than {})",
                vocab::count(self.limit as usize, "day", "days")
            ),
            None => format!(
                "Enter why you are {doing} when no face-to-face contact is recorded"
            ),
        }
    }
}

/// The gate, for lowering the overall level or closing: refused while the young person was
/// last seen face to face (`last_seen`, ms; None: never) more than `settings.not_seen_days`
/// London days before `now` (exactly that many days is allowed), unless `reason` is
/// recorded.
pub fn gate(
    last_seen: Option<i64>,
    now: i64,
    settings: &Settings,
    reason: &str,
) -> Result<(), Refusal> {
    let limit = settings.not_seen_days.max(0);
    let days = last_seen.map(|s| days_since(s, now));
    let recent = days.is_some_and(|d| d <= limit);
    if recent || !reason.trim().is_empty() {
        Ok(())
    } else {
        Err(Refusal { days, limit })
    }
}

/// The order of levels, lowest first: a level not in [`vocab::LEVELS`] ranks below all.
pub fn rank(level: &str) -> usize {
    vocab::LEVELS
        .iter()
        .position(|(l, _)| *l == level)
        .map_or(0, |p| p + 1)
}

/// Whether going from `from` to `to` lowers the level (None: no level before; never a
/// lowering).
pub fn lowers(from: Option<&str>, to: &str) -> bool {
    from.is_some_and(|f| rank(to) < rank(f))
}

/// The overall level of the latest submitted version other than `draft`, when submitting
/// `draft` at `level` would lower it.
pub fn lowers_level<'a>(case: &'a Case, draft: &str, level: &str) -> Option<&'a str> {
    let previous = case
        .assessments
        .iter()
        .filter(|a| a.id != draft)
        .filter_map(|a| a.submitted.map(|t| (t, a)))
        .max_by(|x, y| (x.0, &x.1.id).cmp(&(y.0, &y.1.id)))
        .and_then(|(_, a)| {
            // In dispute: the highest value in dispute (the safer reading).
            a.overall
                .candidates
                .iter()
                .map(|c| c.value.as_str())
                .max_by_key(|v| rank(v))
        })?;
    lowers(Some(previous), level).then_some(previous)
}

/// The level the case is at now: the latest of the latest submitted assessment, the latest
/// meeting that agreed a level and the latest step-down record.
pub fn current_level(case: &Case) -> Option<String> {
    let assessed = case
        .assessments
        .iter()
        .filter_map(|a| Some((a.submitted?, a.overall.value()?)))
        .max_by_key(|(t, _)| *t);
    let met = case
        .meetings
        .iter()
        .filter(|m| removal::visible(&m.removal) && !m.level.is_empty())
        .map(|m| (m.at, m.level.as_str()))
        .max_by_key(|(t, _)| *t);
    let stepped = read_list(case)
        .iter()
        .filter(|s| s.what == "step-down" && !s.level.is_empty())
        .map(|s| (s.at, s.level.as_str()))
        .max_by_key(|(t, _)| *t);
    [assessed, met, stepped]
        .into_iter()
        .flatten()
        .max_by_key(|(t, _)| *t)
        .map(|(_, l)| l.to_owned())
}

fn read_list(case: &Case) -> &[StepDown] {
    &case.step_downs
}

/// The closure in force: the latest record, when it closes the case.
pub fn closed(case: &Case) -> Option<&StepDown> {
    case.step_downs
        .iter()
        .max_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)))
        .filter(|s| s.what == "close")
}

/// Whether the case has a multi-agency meeting record (then a step-down or closure needs
/// multi-agency sign-off).
pub fn needs_sign_off(case: &Case) -> bool {
    case.meetings.iter().any(|m| removal::visible(&m.removal))
}

fn err(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Field ids of the step-down form, for error summaries.
pub mod field {
    pub const WHAT: &str = "stepdown-what";
    pub const DATE: &str = "stepdown-date";
    pub const LEVEL: &str = "stepdown-level";
    pub const LAST_SEEN: &str = "stepdown-last-seen";
    pub const CHANGED: &str = "stepdown-changed";
    pub const EXIT_PLAN: &str = "stepdown-exit-plan";
    pub const AGREED_BY: &str = "stepdown-agreed-by";
    pub const SIGN_OFF_BY: &str = "stepdown-sign-off-by";
    pub const SIGN_OFF_DATE: &str = "stepdown-sign-off-date";
    pub const REASON: &str = "stepdown-reason";
}

/// A new step-down or closure record, on `case` at `now`: every field the record needs,
/// dates real and not in the future, a step-down to a level lower than the current one,
/// sign-off when the case has a meeting record, and the gate ([`gate`]) on the later of
/// the notes' last face-to-face contact and the date entered.
pub fn validate(s: &StepDown, case: &Case, now: i64, settings: &Settings) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let today = london::date_of(now);
    let date = |field: &str, v: &str, what: &str, errors: &mut Vec<FieldError>| {
        match crate::validate::parse_iso_date(v.trim()) {
            None if v.trim().is_empty() => {
                errors.push(err(field, format!("Enter {what}")));
                None
            }
            None => {
                errors.push(err(field, format!("{} must be a real date", capital(what))));
                None
            }
            Some(d) if d > today => {
                errors.push(err(
                    field,
                    format!("{} must be today or in the past", capital(what)),
                ));
                None
            }
            Some(d) => Some(d),
        }
    };
    let doing = match s.what.as_str() {
        "close" => "closing the case",
        "step-down" => "stepping down",
        _ => {
            errors.push(err(
                field::WHAT,
                "Select whether you are stepping down or closing the case",
            ));
            "stepping down"
        }
    };
    date(field::DATE, &s.date, "the date", &mut errors);
    if s.what == "step-down" {
        let current = current_level(case);
        if !vocab::LEVELS.iter().any(|(l, _)| *l == s.level) {
            errors.push(err(field::LEVEL, "Select the level the case steps down to"));
        } else if let Some(c) = &current {
            if !lowers(Some(c), &s.level) {
                errors.push(err(
                    field::LEVEL,
                    format!(
                        "Select a level lower than the current level ({})",
                        vocab::label(vocab::LEVELS, c)
                    ),
                ));
            }
        }
    }
    if !s.last_seen.trim().is_empty() {
        date(
            field::LAST_SEEN,
            &s.last_seen,
            "the date last seen face to face",
            &mut errors,
        );
    }
    if s.changed.trim().is_empty() {
        errors.push(err(
            field::CHANGED,
            "Enter what has changed and how you know",
        ));
    }
    if s.exit_plan.trim().is_empty() {
        errors.push(err(field::EXIT_PLAN, "Enter the exit safety plan"));
    }
    if s.agreed_by.trim().is_empty() {
        errors.push(err(
            field::AGREED_BY,
            "Enter the name of the manager who agreed it",
        ));
    }
    if needs_sign_off(case) {
        if s.sign_off_by.trim().is_empty() {
            errors.push(err(
                field::SIGN_OFF_BY,
                "Enter who gave multi-agency sign-off: the case has had a multi-agency meeting",
            ));
        }
        date(
            field::SIGN_OFF_DATE,
            &s.sign_off_date,
            "the date of multi-agency sign-off",
            &mut errors,
        );
    }
    // The gate goes on the contact notes, the evidence, not on the date typed here: a
    // visit not yet written up is written up first (or the reason says so), so the typed
    // date can never be what lets a case close.
    if let Err(r) = gate(last_seen(case), now, settings, &s.not_seen_reason) {
        errors.push(err(field::REASON, r.message(doing)));
    }
    errors
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The field id of the assessment's reason, on its check-your-answers page.
pub const ASSESSMENT_REASON_FIELD: &str = "not-seen-reason";

/// Before submitting draft `draft` of `case` at `now`: a draft whose overall level is lower
/// than the previous submitted version's goes through the [`gate`], with the draft's
/// `not_seen_reason`.
pub fn validate_assessment(
    case: &Case,
    draft: &crate::Assessment,
    now: i64,
    settings: &Settings,
) -> Vec<FieldError> {
    let Some(level) = draft.overall.value() else {
        return Vec::new();
    };
    if lowers_level(case, &draft.id, level).is_none() {
        return Vec::new();
    }
    match gate(last_seen(case), now, settings, &draft.not_seen_reason) {
        Ok(()) => Vec::new(),
        Err(r) => vec![err(
            ASSESSMENT_REASON_FIELD,
            r.message("lowering the overall level"),
        )],
    }
}

/// Days from the London date `iso` to `now`'s (None for a date that is not valid).
pub fn days_from_date(iso: &str, now: i64) -> Option<i64> {
    crate::validate::parse_iso_date(iso.trim())
        .map(|d| calendar::days_between(d, london::date_of(now)))
}
