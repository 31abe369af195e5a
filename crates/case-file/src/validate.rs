//! Validation rules, in one place so the app and (later) the server apply the same ones.
//! Messages follow GOV.UK error message style: say what to do, in plain words. `field` is the
//! id of the form control, so an error summary can link to it.

use crate::assessment::{Assessment, Review};
use crate::concerns::Concern;
use crate::meetings::{Meeting, MEETING_TYPES};
use crate::missing::Episode;
use crate::nrm::Step;
use crate::plan::Action;
use crate::profile::Profile;
use crate::vocab;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

const HOUR: i64 = 3_600_000;

/// A new or edited case profile.
pub fn profile(p: &Profile) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if p.name.trim().is_empty() {
        errors.push(err("case-name", "Enter the young person's name"));
    }
    if !p.dob.is_empty() && !is_iso_date(&p.dob) {
        errors.push(err("case-dob", "Date of birth must be a real date"));
    }
    errors
}

/// Before an assessment is submitted: every category rated, summary, overall level, who
/// completed it, and no rating or level still in dispute.
pub fn assessment(a: &Assessment) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if a.completed_by.trim().is_empty() {
        errors.push(err(
            "completed-by",
            "Enter who completed the assessment and their roles",
        ));
    }
    for (c, (id, label)) in a.categories.iter().zip(vocab::RISK_CATEGORIES) {
        if c.rating.is_unset() {
            errors.push(err(
                format!("rating-{id}"),
                format!("Select a rating for {label}"),
            ));
        } else if c.rating.is_conflict() {
            errors.push(err(
                format!("rating-{id}"),
                format!("Choose one rating for {label}: two were set at the same time"),
            ));
        }
    }
    if a.summary.trim().is_empty() {
        errors.push(err("summary", "Enter a summary of concerns and analysis"));
    }
    if a.overall.is_unset() {
        errors.push(err("overall", "Select the overall risk level"));
    } else if a.overall.is_conflict() {
        errors.push(err(
            "overall",
            "Choose one overall risk level: two were set at the same time",
        ));
    }
    errors
}

/// A missing episode. `now` is when it is being saved.
pub fn missing(e: &Episode, now: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if e.start <= 0 {
        errors.push(err("missing-start", "Enter when they went missing"));
    }
    if e.start > now + HOUR {
        errors.push(err(
            "missing-start",
            "When they went missing must be in the past",
        ));
    }
    if let Some(end) = e.end {
        if end < e.start {
            errors.push(err(
                "missing-end",
                "When they returned must be after they went missing",
            ));
        }
    }
    if !["home", "care"].contains(&e.from.as_str()) {
        errors.push(err(
            "missing-from",
            "Select whether they went missing from home or from care",
        ));
    }
    let Some(end) = e.end else {
        return errors; // still missing: no RHI yet
    };
    match e.rhi.as_str() {
        "completed" => match e.rhi_completed {
            None => errors.push(err("rhi-completed", "Enter when the return home interview was completed")),
            Some(t) if t < end => errors.push(err(
                "rhi-completed",
                "The return home interview must be after they returned",
            )),
            _ => {}
        },
        "pending" if now > end + 72 * HOUR => errors.push(err(
            "rhi",
            "It is more than 72 hours since they returned: record the interview or why it was not completed",
        )),
        "pending" => {}
        "not-completed" => {
            if !vocab::RHI_REASONS.iter().any(|(id, _)| *id == e.rhi_reason) {
                errors.push(err(
                    "rhi-reason",
                    "Select why the return home interview was not completed",
                ));
            } else if e.rhi_reason == "other" && e.rhi_reason_text.trim().is_empty() {
                errors.push(err(
                    "rhi-reason-text",
                    "Enter why the return home interview was not completed",
                ));
            }
        }
        _ => errors.push(err(
            "rhi",
            "Select whether the return home interview was completed",
        )),
    }
    errors
}

/// Why a return home interview was late, when it was: `due` is when it was due (from
/// [`crate::clocks`]: 72 hours after return, 48 where exploitation is suspected). When the
/// interview was completed after `due`, a reason is required, and words when it is "Other".
pub fn rhi_late(e: &Episode, due: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let late = e.rhi == "completed" && e.rhi_completed.is_some_and(|t| t > due);
    if !late {
        return errors;
    }
    if !vocab::RHI_LATE_REASONS
        .iter()
        .any(|(id, _)| *id == e.rhi_late_reason)
    {
        errors.push(err(
            "rhi-late-reason",
            "Select why the return home interview was late",
        ));
    } else if e.rhi_late_reason == "other" && e.rhi_late_text.trim().is_empty() {
        errors.push(err(
            "rhi-late-text",
            "Enter why the return home interview was late",
        ));
    }
    errors
}

/// A multi-agency meeting, when saved at `now`. Field ids: `meeting-date`, `meeting-kind`,
/// `meeting-chair`, `meeting-chaired-by` (who chairs the CCE meeting, when one is needed),
/// `meeting-next-review`.
pub fn meeting(m: &Meeting, now: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if m.at <= 0 {
        errors.push(err("meeting-date", "Enter the date of the meeting"));
    } else if m.at > now + HOUR {
        errors.push(err(
            "meeting-date",
            "The date of the meeting must be today or in the past",
        ));
    }
    if !MEETING_TYPES.iter().any(|(id, _)| *id == m.kind) {
        errors.push(err("meeting-kind", "Select the type of meeting"));
    }
    if m.chair.trim().is_empty() {
        errors.push(err("meeting-chair", "Enter who chaired the meeting"));
    }
    if m.meeting_needed == "yes"
        && !vocab::REVIEWERS
            .iter()
            .any(|(id, _)| *id == m.meeting_chair)
    {
        errors.push(err(
            "meeting-chaired-by",
            "Select who chairs the CCE multi-agency meeting",
        ));
    }
    if !m.next_review.is_empty() && !is_iso_date(&m.next_review) {
        errors.push(err(
            "meeting-next-review",
            "Next review date must be a real date",
        ));
    }
    errors
}

/// A "concerns identified" record, when saved at `now`. Field ids: `concern-date`,
/// `concern-what`.
pub fn concern(c: &Concern, now: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if c.at <= 0 {
        errors.push(err("concern-date", "Enter when the concerns came to light"));
    } else if c.at > now + HOUR {
        errors.push(err(
            "concern-date",
            "When the concerns came to light must be today or in the past",
        ));
    }
    if c.what.trim().is_empty() {
        errors.push(err("concern-what", "Enter what the concerns are"));
    }
    errors
}

/// The review of a version submitted at `submitted_level`. The level is always confirmed;
/// a child protection chair (who reviews Moderate and High versions,
/// [`crate::assessment::reviewer_for`]) also decides whether a CCE multi-agency meeting is
/// needed and, if it is, who chairs it. Field ids: `review-level`, `review-meeting-needed`,
/// `review-meeting-chair`.
pub fn review(r: &Review, submitted_level: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !vocab::LEVELS.iter().any(|(id, _)| *id == r.level) {
        errors.push(err("review-level", "Select the overall risk level"));
    }
    let chair = r.role == "chair" || crate::assessment::reviewer_for(submitted_level) == "chair";
    if chair {
        match r.meeting_needed.as_str() {
            "yes" => {
                if !vocab::REVIEWERS
                    .iter()
                    .any(|(id, _)| *id == r.meeting_chair)
                {
                    errors.push(err(
                        "review-meeting-chair",
                        "Select who chairs the CCE multi-agency meeting",
                    ));
                }
            }
            "no" => {}
            _ => errors.push(err(
                "review-meeting-needed",
                "Select whether a CCE multi-agency meeting is needed",
            )),
        }
    }
    errors
}

/// A new NRM status: "considered, not referred" needs a written reason.
pub fn nrm_step(s: &Step) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !vocab::NRM_STATUS.iter().any(|(id, _)| *id == s.status) {
        errors.push(err("nrm-status", "Select the NRM status"));
    } else if s.status == "not-referred" && s.reason.trim().is_empty() {
        errors.push(err(
            "nrm-reason",
            "Enter why the young person was not referred",
        ));
    }
    errors
}

/// A safety plan action.
pub fn action(a: &Action) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if a.text.trim().is_empty() {
        errors.push(err("action-text", "Enter the action"));
    }
    if a.owner.trim().is_empty() {
        errors.push(err("action-owner", "Enter who owns this action"));
    }
    // Optional: some actions are open-ended ("Appointments at 3pm").
    if !a.due.is_empty() && !is_iso_date(&a.due) {
        errors.push(err("action-due", "Due date must be a real date"));
    }
    errors
}

/// How far ahead of this device's clock a contact time may be (clocks drift a little).
pub const CONTACT_TIME_SLACK: i64 = 5 * 60_000;

/// The date and time of a contact note. Notes record what happened, so a time later than
/// `now` (beyond [`CONTACT_TIME_SLACK`]) is refused.
pub fn contact_time(at: i64, now: i64) -> Vec<FieldError> {
    if at > now + CONTACT_TIME_SLACK {
        vec![err(
            "note-at",
            "Date and time of the contact must be now or in the past",
        )]
    } else {
        Vec::new()
    }
}

/// Age in whole years on `today` (both `YYYY-MM-DD`): `None` when either is not a real date
/// or the birth date is after today. Someone born on 29 February has their birthday on
/// 1 March in other years.
pub fn age_on(dob: &str, today: &str) -> Option<u32> {
    let (by, bm, bd) = parse_iso_date(dob)?;
    let (ty, tm, td) = parse_iso_date(today)?;
    if (by, bm, bd) > (ty, tm, td) {
        return None;
    }
    let had_birthday = (tm, td) >= (bm, bd);
    Some((ty - by) as u32 - u32::from(!had_birthday))
}

/// A review outcome: how things have changed must be chosen.
pub fn outcome(o: &crate::Outcome) -> Vec<FieldError> {
    if vocab::OUTCOMES.iter().any(|(id, _)| *id == o.overall) {
        Vec::new()
    } else {
        vec![err(
            "outcome-overall",
            "Select how things have changed since the last review",
        )]
    }
}

/// A person or place linked to the young person.
pub fn link(l: &crate::network::Link) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if l.name.trim().is_empty() {
        errors.push(err("link-name", "Enter a name or description"));
    }
    if !vocab::LINK_TYPES.iter().any(|(id, _)| *id == l.link) {
        errors.push(err("link-type", "Select how they are linked"));
    }
    if !["risk", "protective"].contains(&l.rating.as_str()) {
        errors.push(err(
            "link-rating",
            "Select whether this is a risk or protective",
        ));
    }
    errors
}

/// `YYYY-MM-DD` naming a real calendar date.
pub fn is_iso_date(s: &str) -> bool {
    parse_iso_date(s).is_some()
}

/// `(year, month, day)` of a `YYYY-MM-DD` string naming a real calendar date.
pub fn parse_iso_date(s: &str) -> Option<(i32, u32, u32)> {
    let parts: Vec<&str> = s.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return None;
    };
    let (y, m, d) = (
        y.parse::<i32>().ok()?,
        m.parse::<u32>().ok()?,
        d.parse::<u32>().ok()?,
    );
    if parts[0].len() != 4 || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    (d <= days[m as usize - 1]).then_some((y, m, d))
}
