//! The chronology: every dated event of a case in one time line, filterable by type,
//! so a multi-agency meeting sees the whole picture.
//! Domain notes: `docs/domain/case-file.md`.

use crate::{removal, vocab, Case};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    Contact,
    Missing,
    Returned,
    ReturnInterview,
    Assessment,
    Nrm,
    Outcome,
    Concern,
    Meeting,
    /// A reachable moment logged as an event ([`crate::moments`]).
    Moment,
    /// A step-down to a lower level or a closure ([`crate::stepdown`]).
    StepDown,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::Contact,
        EventKind::Missing,
        EventKind::Returned,
        EventKind::ReturnInterview,
        EventKind::Assessment,
        EventKind::Nrm,
        EventKind::Outcome,
        EventKind::Concern,
        EventKind::Meeting,
        EventKind::Moment,
        EventKind::StepDown,
    ];

    pub fn label(self) -> &'static str {
        match self {
            EventKind::Contact => "Contact",
            EventKind::Missing => "Went missing",
            EventKind::Returned => "Returned",
            EventKind::ReturnInterview => "Return home interview",
            EventKind::Assessment => "Risk assessment",
            EventKind::Nrm => "NRM",
            EventKind::Outcome => "Review outcome",
            EventKind::Concern => "Concerns identified",
            EventKind::Meeting => "Meeting",
            EventKind::Moment => "Reachable moment",
            EventKind::StepDown => "Step-down or closure",
        }
    }

    /// Stable id for filters and URLs.
    pub fn id(self) -> &'static str {
        match self {
            EventKind::Contact => "contact",
            EventKind::Missing => "missing",
            EventKind::Returned => "returned",
            EventKind::ReturnInterview => "rhi",
            EventKind::Assessment => "assessment",
            EventKind::Nrm => "nrm",
            EventKind::Outcome => "outcome",
            EventKind::Concern => "concern",
            EventKind::Meeting => "meeting",
            EventKind::Moment => "moment",
            EventKind::StepDown => "stepdown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: i64,
    pub kind: EventKind,
    pub title: String,
    pub detail: String,
    /// The record it comes from (note id, episode id, …).
    pub source: String,
}

/// Every dated event, oldest first. Removed items are left out unless changed since removal.
pub fn build(case: &Case) -> Vec<Event> {
    let mut out = Vec::new();
    for n in case.notes.iter().filter(|n| removal::visible(&n.removal)) {
        out.push(Event {
            at: n.at,
            kind: EventKind::Contact,
            title: match (n.reachable, n.reachable_kind.as_str()) {
                (false, _) => n.kind.clone(),
                (true, "") => format!("{} (reachable moment)", n.kind),
                (true, k) => format!(
                    "{} (reachable moment: {})",
                    n.kind,
                    vocab::label(vocab::REACHABLE_MOMENTS, k)
                ),
            },
            detail: n.text.clone(),
            source: n.id.clone(),
        });
    }
    for e in case.missing.iter().filter(|e| removal::visible(&e.removal)) {
        out.push(Event {
            at: e.start,
            kind: EventKind::Missing,
            title: format!("Went missing from {}", e.from),
            detail: match e.reported_by.trim() {
                "" => String::new(),
                who => format!("Reported by {who}"),
            },
            source: e.id.clone(),
        });
        if let Some(end) = e.end {
            out.push(Event {
                at: end,
                kind: EventKind::Returned,
                title: "Returned".into(),
                detail: [e.found_where.as_str(), e.found_with.as_str()]
                    .iter()
                    .filter(|s| !s.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", with "),
                source: e.id.clone(),
            });
        }
        if let (Some(t), "completed") = (e.rhi_completed, e.rhi.as_str()) {
            out.push(Event {
                at: t,
                kind: EventKind::ReturnInterview,
                title: "Return home interview completed".into(),
                detail: String::new(),
                source: e.id.clone(),
            });
        }
        if e.rhi == "not-completed" {
            out.push(Event {
                at: e.end.unwrap_or(e.start),
                kind: EventKind::ReturnInterview,
                title: "Return home interview not completed".into(),
                detail: vocab::label(vocab::RHI_REASONS, &e.rhi_reason),
                source: e.id.clone(),
            });
        }
    }
    for a in &case.assessments {
        if let Some(at) = a.submitted {
            out.push(Event {
                at,
                kind: EventKind::Assessment,
                title: match a.overall.value() {
                    Some(l) => format!("Risk assessment: {}", vocab::label(vocab::LEVELS, l)),
                    None => "Risk assessment: overall level in dispute".into(),
                },
                detail: a.completed_by.clone(),
                source: a.id.clone(),
            });
        }
    }
    for a in &case.assessments {
        if let (Some(r), Some(_)) = (&a.review, a.submitted) {
            let who = vocab::label(vocab::REVIEWERS, &r.role).to_lowercase();
            out.push(Event {
                at: r.at,
                kind: EventKind::Assessment,
                title: match r.level.as_str() {
                    "" => format!("Reviewed by {who}"),
                    l => format!("Reviewed by {who}: {}", vocab::label(vocab::LEVELS, l)),
                },
                detail: r.by.clone(),
                source: a.id.clone(),
            });
        }
    }
    for c in case
        .concerns
        .iter()
        .filter(|c| removal::visible(&c.removal))
    {
        out.push(Event {
            at: c.at,
            kind: EventKind::Concern,
            title: "Concerns identified".into(),
            detail: c.what.clone(),
            source: c.id.clone(),
        });
    }
    for m in case
        .meetings
        .iter()
        .filter(|m| removal::visible(&m.removal))
    {
        let mut detail = Vec::new();
        if !m.chair.trim().is_empty() {
            detail.push(format!("Chaired by {}", m.chair.trim()));
        }
        if !m.level.is_empty() {
            detail.push(format!(
                "Level agreed: {}",
                vocab::label(vocab::LEVELS, &m.level)
            ));
        }
        out.push(Event {
            at: m.at,
            kind: EventKind::Meeting,
            title: vocab::label(crate::meetings::MEETING_TYPES, &m.kind),
            detail: detail.join(" · "),
            source: m.id.clone(),
        });
    }
    for m in case.moments.iter().filter(|m| removal::visible(&m.removal)) {
        out.push(Event {
            at: m.at,
            kind: EventKind::Moment,
            title: match m.kind.as_str() {
                "" => "Reachable moment".into(),
                k => format!(
                    "Reachable moment: {}",
                    vocab::label(vocab::REACHABLE_MOMENTS, k)
                ),
            },
            detail: match m.by.trim() {
                "" => m.what.clone(),
                by => [m.what.trim(), &format!("Logged by {by}")]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" · "),
            },
            source: m.id.clone(),
        });
    }
    // A step-down or closure is dated by the day it takes effect (London), or when it was
    // recorded if that date cannot be read; it names who agreed it.
    for s in &case.step_downs {
        let at = crate::validate::parse_iso_date(&s.date)
            .map(crate::clocks::london::midnight)
            .unwrap_or(s.at);
        let title = match s.what.as_str() {
            "close" => "Case closed".to_owned(),
            _ if !s.level.is_empty() => {
                format!("Stepped down to {}", vocab::label(vocab::LEVELS, &s.level))
            }
            _ => "Stepped down".to_owned(),
        };
        let detail = match s.agreed_by.trim() {
            "" => String::new(),
            by => format!("Agreed by {by}"),
        };
        out.push(Event {
            at,
            kind: EventKind::StepDown,
            title,
            detail,
            source: s.id.clone(),
        });
    }
    for s in &case.nrm.history {
        out.push(Event {
            at: s.at,
            kind: EventKind::Nrm,
            title: format!("NRM: {}", vocab::label(vocab::NRM_STATUS, &s.status)),
            detail: s.reason.clone(),
            source: s.id.clone(),
        });
    }
    for o in &case.outcomes {
        out.push(Event {
            at: o.at,
            kind: EventKind::Outcome,
            title: format!("Review: {}", vocab::label(vocab::OUTCOMES, &o.overall)),
            detail: o.notes.clone(),
            source: o.id.clone(),
        });
    }
    fieldbook_sync::order::sort_by(&mut out, |a, b| {
        (a.at, a.kind, &a.source).cmp(&(b.at, b.kind, &b.source))
    });
    out
}

/// Only the kinds asked for (all when `kinds` is empty).
pub fn filter(events: &[Event], kinds: &[EventKind]) -> Vec<Event> {
    events
        .iter()
        .filter(|e| kinds.is_empty() || kinds.contains(&e.kind))
        .cloned()
        .collect()
}
