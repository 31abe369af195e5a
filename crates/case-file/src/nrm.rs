//! National Referral Mechanism: the current status is a safety-critical value; every
//! change is also kept in a history with its date, so a "referral" cited for months without
//! progress shows its age.
//! Domain notes: `docs/domain/nrm.md`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjType, ReadDoc, ScalarValue, ROOT};

use crate::critical::{self, Critical};
use crate::doc;
use crate::schema::{self, Record};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Step {
    pub id: String,
    pub at: i64,
    /// An id from [`crate::vocab::NRM_STATUS`].
    pub status: String,
    /// Why not referred, or any note on the step.
    pub reason: String,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nrm {
    pub status: Critical,
    /// Oldest first.
    pub history: Vec<Step>,
    /// ISO date (London) the referral was made, or empty.
    pub referral_date: String,
    /// The referral's reference number.
    pub reference: String,
    /// Reasonable-grounds decision ("positive" / "negative"), a critical value.
    pub rg: Critical,
    pub rg_date: String,
    /// Conclusive-grounds decision ("positive" / "negative"), a critical value.
    pub cg: Critical,
    pub cg_date: String,
    /// Whether the young person was told of the latest decision: "yes", "no" or "".
    pub told: String,
    pub told_date: String,
}

impl Nrm {
    /// Days since the current status was set, if settled.
    pub fn age_days(&self, now: i64) -> Option<i64> {
        self.status
            .settled()
            .map(|c| (now - c.at).max(0) / 86_400_000)
    }
}

crate::schema::texts!(Step { "reason" => reason });
crate::schema::texts!(Nrm { "reference" => reference });
crate::schema::texts!(Tracker { "reference" => reference });

pub fn read<D: ReadDoc>(d: &D) -> Nrm {
    let maps = doc::all_objs(d, &ROOT, "nrm", ObjType::Map);
    let mut history: Vec<Step> = maps
        .iter()
        .flat_map(|m| doc::items(d, m, "history"))
        .map(|s| {
            let mut step = Step {
                id: doc::text(d, &s, "id"),
                at: doc::int(d, &s, "at"),
                status: doc::text(d, &s, "status"),
                by: doc::text(d, &s, "by"),
                ..Default::default()
            };
            schema::fill(d, std::slice::from_ref(&s), Record::NrmStep, &mut step);
            step
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut history, |a, b| {
        a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id))
    });
    // A plain value from any copy of the map (two devices may each have created it).
    let plain = |key: &str| {
        maps.iter()
            .map(|m| doc::text(d, m, key))
            .find(|v| !v.is_empty())
            .unwrap_or_default()
    };
    let mut n = Nrm {
        status: critical::read_all(d, &maps, "status"),
        history,
        referral_date: plain("referralDate"),
        rg: critical::read_all(d, &maps, "rg"),
        rg_date: plain("rgDate"),
        cg: critical::read_all(d, &maps, "cg"),
        cg_date: plain("cgDate"),
        told: plain("told"),
        told_date: plain("toldDate"),
        ..Default::default()
    };
    schema::fill(d, &maps, Record::Nrm, &mut n);
    n
}

/// Record a new NRM status (the caller has run [`crate::validate::nrm_step`]).
pub fn set_status(tx: &mut impl Transactable, step: &Step) -> Result<(), AutomergeError> {
    let m = doc::ensure_obj(tx, &ROOT, "nrm", ObjType::Map)?;
    critical::set(tx, &m, "status", &step.status, &step.by, step.at)?;
    let s = doc::push_item(tx, &m, "history", &step.id)?;
    tx.put(&s, "at", ScalarValue::Timestamp(step.at))?;
    tx.put(&s, "status", step.status.as_str())?;
    doc::set_text(tx, &s, "reason", &step.reason)?;
    tx.put(&s, "by", step.by.as_str())?;
    Ok(())
}

/// Write a text field of history step `id` (a key from [`crate::schema::TEXT_FIELDS`], e.g.
/// to correct its reason). False if there is no such step or field.
pub fn set_text(
    tx: &mut impl Transactable,
    id: &str,
    key: &str,
    value: &str,
) -> Result<bool, AutomergeError> {
    if schema::field(Record::NrmStep, key).is_none() {
        return Ok(false);
    }
    doc::on_item_in(tx, "nrm", "history", id, |tx, s| {
        schema::write_text(tx, std::slice::from_ref(s), Record::NrmStep, key, value).map(|_| ())
    })
}

// ---- The tracker: referral, decisions, telling the young person (issue 13) ----
//
// Layout, beside `status` and `history` in the `nrm` map: `referralDate` (ISO London date),
// `reference` (text), `rg` and `cg` (critical values "positive" / "negative": the
// reasonable-grounds and conclusive-grounds decisions), `rgDate`, `cgDate` (ISO dates),
// `told` ("yes" / "no") and `toldDate`. A document with the status only reads with these
// empty; nothing is migrated.

/// The decisions a referral can get.
pub const DECISIONS: &[crate::vocab::Choice] =
    &[("positive", "Positive"), ("negative", "Negative")];

/// What the NRM screen edits, as plain values (a decision is its settled value, or empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tracker {
    /// ISO date (London) the referral was made.
    pub referral_date: String,
    pub reference: String,
    /// Reasonable-grounds decision: "positive", "negative" or "".
    pub rg: String,
    pub rg_date: String,
    /// Conclusive-grounds decision: "positive", "negative" or "".
    pub cg: String,
    pub cg_date: String,
    /// Whether the young person was told of the latest decision: "yes", "no" or "".
    pub told: String,
    pub told_date: String,
}

impl Nrm {
    /// The tracker's current values. A decision in dispute reads as empty here (the
    /// dispute banner settles it).
    pub fn tracker(&self) -> Tracker {
        Tracker {
            referral_date: self.referral_date.clone(),
            reference: self.reference.clone(),
            rg: self.rg.value().unwrap_or_default().to_owned(),
            rg_date: self.rg_date.clone(),
            cg: self.cg.value().unwrap_or_default().to_owned(),
            cg_date: self.cg_date.clone(),
            told: self.told.clone(),
            told_date: self.told_date.clone(),
        }
    }

    /// Whether an NRM referral is in place, which is what the "NRM referral in place" hazard
    /// label shows: the status is "referred", or a reasonable-grounds or conclusive-grounds
    /// decision that is not recorded as negative (an older document with the decision's
    /// status only counts as positive: the safer reading). With the status in dispute, any
    /// value that would show it shows it.
    pub fn in_place(&self) -> bool {
        // Not recorded as negative: unset, positive, or in dispute with a positive value.
        let not_negative =
            |c: &Critical| c.candidates.iter().any(|x| x.value != "negative") || c.is_unset();
        self.status
            .candidates
            .iter()
            .any(|s| match s.value.as_str() {
                "referred" => true,
                "reasonable-grounds" => not_negative(&self.rg),
                "conclusive-grounds" => not_negative(&self.cg),
                _ => false,
            })
    }

    /// When the referral was made: the London midnight starting its referral date when
    /// recorded, else None.
    pub fn referred_on(&self) -> Option<i64> {
        crate::validate::parse_iso_date(self.referral_date.trim())
            .map(crate::clocks::london::midnight)
    }
}

/// The "NRM referral in place" hazard label, derived from the status ([`Nrm::in_place`]);
/// None when it is not shown. Who and when: whoever set the status that puts it in place.
pub fn hazard(n: &Nrm) -> Option<crate::Hazard> {
    if !n.in_place() {
        return None;
    }
    let mut state = Critical::default();
    if let Some(c) = n.status.candidates.first() {
        state.candidates.push(critical::Candidate {
            value: "on".into(),
            by: c.by.clone(),
            at: c.at,
        });
    }
    Some(crate::Hazard {
        id: "nrm".into(),
        label: crate::vocab::label(crate::vocab::HAZARDS, "nrm"),
        state,
    })
}

/// Every copy of the `nrm` map (creating one if there is none).
fn maps(
    tx: &mut impl Transactable,
) -> Result<Vec<fieldbook_sync::automerge::ObjId>, AutomergeError> {
    let mut copies = doc::all_objs(tx, &ROOT, "nrm", ObjType::Map);
    if copies.is_empty() {
        copies.push(doc::ensure_obj(tx, &ROOT, "nrm", ObjType::Map)?);
    }
    Ok(copies)
}

/// Save the tracker, writing only what differs from `old` (the case as read). A new
/// referral date moves the status to "referred" (unless a referral or decision is already
/// recorded); a new or changed decision is a critical value and moves the status to its
/// decision, with a history step each. `ids` gives each new history step its id. The
/// caller has run [`crate::validate::nrm_tracker`].
pub fn save(
    tx: &mut impl Transactable,
    old: &Nrm,
    new: &Tracker,
    by: &str,
    at: i64,
    ids: &mut dyn FnMut() -> String,
) -> Result<(), AutomergeError> {
    let was = old.tracker();
    let copies = maps(tx)?;
    let m = copies[0].clone();
    let status = old.status.value().unwrap_or_default().to_owned();
    for (key, before, after) in [
        ("referralDate", &was.referral_date, &new.referral_date),
        ("rgDate", &was.rg_date, &new.rg_date),
        ("cgDate", &was.cg_date, &new.cg_date),
        ("told", &was.told, &new.told),
        ("toldDate", &was.told_date, &new.told_date),
    ] {
        if before.trim() != after.trim() {
            tx.put(&m, key, after.trim())?;
        }
    }
    if was.reference != new.reference {
        schema::write_text(tx, &copies, Record::Nrm, "reference", &new.reference)?;
    }
    let mut steps = Vec::new();
    if was.referral_date.trim().is_empty()
        && !new.referral_date.trim().is_empty()
        && !NRM_IN_PROGRESS.contains(&status.as_str())
    {
        let on = crate::long_date(new.referral_date.trim());
        steps.push((
            "referred",
            match new.reference.trim() {
                "" => format!("Referred on {on}"),
                r => format!("Referred on {on}, reference {r}"),
            },
        ));
    }
    let decided = |v: &str, date: &str| {
        let what = if v == "positive" {
            "Positive"
        } else {
            "Negative"
        };
        match date.trim() {
            "" => format!("{what} decision"),
            d => format!("{what} decision on {}", crate::long_date(d)),
        }
    };
    let rg_new = !new.rg.is_empty() && new.rg != was.rg;
    let cg_new = !new.cg.is_empty() && new.cg != was.cg;
    if rg_new && !cg_new && status != "conclusive-grounds" {
        steps.push(("reasonable-grounds", decided(&new.rg, &new.rg_date)));
    }
    if cg_new {
        steps.push(("conclusive-grounds", decided(&new.cg, &new.cg_date)));
    }
    if rg_new {
        critical::set(tx, &m, "rg", &new.rg, by, at)?;
    }
    if cg_new {
        critical::set(tx, &m, "cg", &new.cg, by, at)?;
    }
    for (status, reason) in steps {
        set_status(
            tx,
            &Step {
                id: ids(),
                at,
                status: status.to_owned(),
                reason,
                by: by.to_owned(),
            },
        )?;
    }
    Ok(())
}

/// Statuses that mean a referral has been made.
const NRM_IN_PROGRESS: [&str; 3] = ["referred", "reasonable-grounds", "conclusive-grounds"];

/// Should the worker be prompted to refer, or record why not? True when the NRM status is
/// "not considered" (or never recorded) and something suggests exploitation
/// ([`prompt_reasons`]).
pub fn prompt(case: &crate::Case, now: i64) -> bool {
    !prompt_reasons(case, now).is_empty()
}

/// How far back a contact note's ticked indicators count as "recent" for [`prompt`].
pub const RECENT_INDICATOR_DAYS: i64 = 90;

/// Why the prompt to refer shows, in words (empty: no prompt). Only while the status is
/// "not considered" or unset; each of: indicators ticked on a contact note in the last
/// [`RECENT_INDICATOR_DAYS`] days; the latest submitted assessment's ratings signal
/// exploitation (the category rule, [`crate::Assessment::suggests_cce`]); a strategy
/// discussion, CCE multi-agency meeting or MACE panel was held (each is held about CCE
/// concerns; whatever it said about the NRM, "not considered" no longer fits).
pub fn prompt_reasons(case: &crate::Case, now: i64) -> Vec<&'static str> {
    let n = &case.nrm;
    let open = n.status.is_unset()
        || n.status
            .candidates
            .iter()
            .all(|c| c.value == "not-considered");
    if !open {
        return Vec::new();
    }
    let mut out = Vec::new();
    let since = now.saturating_sub(RECENT_INDICATOR_DAYS * 86_400_000);
    if case.notes.iter().any(|x| {
        crate::removal::visible(&x.removal)
            && x.at >= since
            && x.at <= now
            && !x.indicators.is_empty()
    }) {
        out.push("indicators of exploitation were ticked on a recent contact note");
    }
    let latest = case
        .assessments
        .iter()
        .filter(|a| a.submitted.is_some())
        .max_by_key(|a| (a.submitted, a.id.clone()));
    if latest.is_some_and(|a| a.suggests_cce()) {
        out.push("the latest risk assessment's ratings signal exploitation");
    }
    if case.meetings.iter().any(|m| {
        crate::removal::visible(&m.removal)
            && ["strategy", "cce", "mace"].contains(&m.kind.as_str())
    }) {
        out.push("a multi-agency meeting recorded CCE concerns");
    }
    out
}

/// Settle a decision ("rg" or "cg") set two ways at once: the kept value is set again.
pub fn set_decision(
    tx: &mut impl Transactable,
    stage: &str,
    value: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    if !["rg", "cg"].contains(&stage) {
        return Ok(false);
    }
    let m = maps(tx)?[0].clone();
    critical::set(tx, &m, stage, value, by, at)?;
    Ok(true)
}

/// Field ids of the NRM screen, for error summaries.
pub mod field {
    pub const REFERRAL_DATE: &str = "nrm-referral-date";
    pub const REFERENCE: &str = "nrm-reference";
    pub const RG: &str = "nrm-rg";
    pub const RG_DATE: &str = "nrm-rg-date";
    pub const CG: &str = "nrm-cg";
    pub const CG_DATE: &str = "nrm-cg-date";
    pub const TOLD: &str = "nrm-told";
    pub const TOLD_DATE: &str = "nrm-told-date";
}

/// The NRM screen before it is saved, at `now`: dates real, London dates not in the
/// future; a decision needs its date and a referral date, and is not dated before the
/// referral; a conclusive-grounds decision follows a positive reasonable-grounds one; "told"
/// needs the date they were told.
pub fn validate(t: &Tracker, now: i64) -> Vec<crate::validate::FieldError> {
    use crate::validate::FieldError;
    let mut errors: Vec<FieldError> = Vec::new();
    let today = crate::clocks::london::date_of(now);
    let mut push = |field: &str, message: String| {
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        })
    };
    let mut date = |field: &str, v: &str, what: &str, required: bool| {
        let v = v.trim();
        match crate::validate::parse_iso_date(v) {
            None if v.is_empty() => {
                if required {
                    push(field, format!("Enter {what}"));
                }
                None
            }
            None => {
                push(field, format!("Enter {what} as a real date"));
                None
            }
            Some(d) if d > today => {
                push(
                    field,
                    format!("Enter {what}: it must be today or in the past"),
                );
                None
            }
            Some(d) => Some(d),
        }
    };
    let decided = !t.rg.is_empty() || !t.cg.is_empty();
    let referred = date(
        field::REFERRAL_DATE,
        &t.referral_date,
        "the date of the referral",
        decided,
    );
    let rg = date(
        field::RG_DATE,
        &t.rg_date,
        "the date of the reasonable grounds decision",
        !t.rg.is_empty(),
    );
    let cg = date(
        field::CG_DATE,
        &t.cg_date,
        "the date of the conclusive grounds decision",
        !t.cg.is_empty(),
    );
    date(
        field::TOLD_DATE,
        &t.told_date,
        "the date the young person was told",
        t.told == "yes",
    );
    let known = |v: &str| v.is_empty() || DECISIONS.iter().any(|(id, _)| *id == v);
    if !known(&t.rg) {
        push(
            field::RG,
            "Select the reasonable grounds decision".to_owned(),
        );
    }
    if !known(&t.cg) {
        push(
            field::CG,
            "Select the conclusive grounds decision".to_owned(),
        );
    }
    if !t.cg.is_empty() && t.rg != "positive" {
        push(
            field::CG,
            "A conclusive grounds decision follows a positive reasonable grounds decision: record that first".to_owned(),
        );
    }
    if !t.rg_date.trim().is_empty() && t.rg.is_empty() {
        push(
            field::RG,
            "Select the reasonable grounds decision, or clear its date".to_owned(),
        );
    }
    if !t.cg_date.trim().is_empty() && t.cg.is_empty() {
        push(
            field::CG,
            "Select the conclusive grounds decision, or clear its date".to_owned(),
        );
    }
    if let (Some(r), Some(d)) = (referred, rg) {
        if d < r {
            push(
                field::RG_DATE,
                "The reasonable grounds decision must be on or after the referral date".to_owned(),
            );
        }
    }
    if let (Some(r), Some(d)) = (rg.or(referred), cg) {
        if d < r {
            push(field::CG_DATE, "The conclusive grounds decision must be on or after the reasonable grounds decision".to_owned());
        }
    }
    if !["", "yes", "no"].contains(&t.told.as_str()) {
        push(
            field::TOLD,
            "Select whether the young person was told".to_owned(),
        );
    }
    errors
}
