//! The transfer bundle: when a case moves to another area or another worker, everything the
//! next worker needs in one step, as a printable page and a CSV (DOMAIN §9 "Handover").
//! Domain notes: `docs/domain/transfer.md`.
//!
//! What is in it: the young person's basics and hazard labels, the latest submitted risk
//! assessment with the trend of overall levels across every submitted version, the current
//! safety plan, missing patterns, the NRM history, and the whole chronology with each
//! entry's author and (where known) their agency and team. What is left out unless the
//! person asks: relationships and places (the most sensitive part of the case, never
//! exported by default, DOMAIN §3.7) and exact addresses and contact details.

use std::collections::BTreeMap;

use crate::chronology::{self, Event, EventKind};
use crate::clocks::london;
use crate::network::Link;
use crate::{removal, validate, vocab, Case};

const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// Relationships and places, handed in only when the person chose to include them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    pub people: Vec<Link>,
    pub places: Vec<Link>,
}

/// What to include beyond the default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// "Include relationships and places": `None` leaves the section out.
    pub network: Option<Network>,
    /// "Include addresses": where they live, the placement, the family home and key contacts.
    pub addresses: bool,
}

/// Where an author works, where the device knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Author {
    pub agency: String,
    pub team: String,
}

/// Authors' agencies and teams, by the display name records carry in `by`.
pub type Names = BTreeMap<String, Author>;

/// One line of a section. Every section uses the same columns (so the CSV has one shape);
/// a section shows only the columns it fills.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Row {
    /// London time, "2026-11-25 14:02", or a date "2026-11-25", or empty.
    pub when: String,
    pub what: String,
    pub details: String,
    pub author: String,
    pub agency: String,
    pub team: String,
}

/// A part of the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Stable id: "profile", "hazards", "assessment", "plan", "missing", "nrm",
    /// "chronology", "network".
    pub id: &'static str,
    pub title: &'static str,
    pub rows: Vec<Row>,
}

impl Section {
    /// Which of the optional columns any row fills: (when, details, author/agency/team).
    pub fn columns(&self) -> (bool, bool, bool) {
        (
            self.rows.iter().any(|r| !r.when.is_empty()),
            self.rows.iter().any(|r| !r.details.is_empty()),
            self.rows
                .iter()
                .any(|r| !r.author.is_empty() || !r.agency.is_empty() || !r.team.is_empty()),
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// When it was made (ms since the epoch).
    pub generated: i64,
    pub sections: Vec<Section>,
}

impl Bundle {
    pub fn section(&self, id: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.id == id)
    }
}

/// "2026-11-25 14:02" in London time.
pub fn when(utc_ms: i64) -> String {
    let l = london::local(utc_ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        l.year, l.month, l.day, l.hour, l.minute
    )
}

fn row(what: impl Into<String>, details: impl Into<String>) -> Row {
    Row {
        what: what.into(),
        details: details.into(),
        ..Default::default()
    }
}

/// The overall level of each submitted version, oldest first: "Emerging", "Moderate", …
/// ("In dispute" where two values stand).
pub fn trend(case: &Case) -> Vec<String> {
    let mut submitted: Vec<_> = case
        .assessments
        .iter()
        .filter_map(|a| a.submitted.map(|s| (s, a)))
        .collect();
    fieldbook_sync::order::sort_by(&mut submitted, |x, y| (x.0, &x.1.id).cmp(&(y.0, &y.1.id)));
    submitted
        .into_iter()
        .map(|(_, a)| match a.overall.value() {
            Some(l) => vocab::label(vocab::LEVELS, l),
            None if a.overall.is_unset() => "Not set".to_owned(),
            None => "In dispute".to_owned(),
        })
        .collect()
}

/// Who wrote the record a chronology event comes from, as recorded.
fn author_of(case: &Case, e: &Event) -> String {
    let s = e.source.as_str();
    match e.kind {
        EventKind::Contact => case.notes.iter().find(|n| n.id == s).map(|n| n.by.clone()),
        EventKind::Assessment => {
            case.assessments
                .iter()
                .find(|a| a.id == s)
                .map(|a| match &a.review {
                    Some(r) if r.at == e.at && e.title.starts_with("Reviewed") => r.by.clone(),
                    _ => a
                        .overall
                        .settled()
                        .map(|c| c.by.clone())
                        .unwrap_or_default(),
                })
        }
        EventKind::Nrm => case
            .nrm
            .history
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        EventKind::Outcome => case
            .outcomes
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        EventKind::Concern => case
            .concerns
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        EventKind::Meeting => case
            .meetings
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        EventKind::StepDown => case
            .step_downs
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        EventKind::Moment => case
            .moments
            .iter()
            .find(|x| x.id == s)
            .map(|x| x.by.clone()),
        // Missing episodes record who reported them, not who wrote them.
        EventKind::Missing | EventKind::Returned | EventKind::ReturnInterview => None,
    }
    .unwrap_or_default()
}

fn profile_section(case: &Case, options: &Options, now: i64) -> Section {
    let p = &case.profile;
    let (y, m, d) = london::date_of(now);
    let today = format!("{y:04}-{m:02}-{d:02}");
    let mut rows = vec![
        row("Name", p.name.trim()),
        row("Known as", p.known_as.trim()),
    ];
    if !p.dob.trim().is_empty() {
        let age = validate::age_on(p.dob.trim(), &today)
            .map(|a| format!(" (age {a})"))
            .unwrap_or_default();
        rows.push(row(
            "Date of birth",
            format!("{}{age}", crate::long_date(p.dob.trim())),
        ));
    }
    rows.push(row("Gender", p.gender.trim()));
    rows.push(row(
        "Legal status",
        p.legal_statuses
            .iter()
            .map(|s| vocab::legal_status_label(s))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    rows.push(row(
        "Education",
        if p.education.is_empty() {
            String::new()
        } else {
            vocab::education_label(&p.education)
        },
    ));
    rows.push(row("Additional needs", p.needs.trim()));
    rows.push(row("Allocated worker(s)", p.worker.trim()));
    rows.push(row("Team", p.team.trim()));
    rows.push(row("In their own words", p.voice.trim()));
    if !p.external_level.trim().is_empty() {
        rows.push(row(
            "Risk level recorded by another area",
            match p.external_source.trim() {
                "" => p.external_level.trim().to_owned(),
                src => format!("{} ({src})", p.external_level.trim()),
            },
        ));
    }
    if !p.transition_worker.trim().is_empty() {
        rows.push(row(
            "Transition to adulthood worker",
            p.transition_worker.trim(),
        ));
    }
    if options.addresses {
        rows.push(row("Where they live", p.address.trim()));
        rows.push(row("Placement type and location", p.placement.trim()));
        rows.push(row("Family home address", p.family_address.trim()));
        rows.push(row("Key contacts", p.key_contacts.trim()));
    }
    rows.retain(|r| !r.details.is_empty());
    Section {
        id: "profile",
        title: "About the young person",
        rows,
    }
}

fn assessment_section(case: &Case) -> Section {
    let mut rows = Vec::new();
    let latest = case
        .assessments
        .iter()
        .filter(|a| a.submitted.is_some())
        .max_by_key(|a| (a.submitted, a.id.clone()));
    if let Some(a) = latest {
        let mut r = row("Submitted", a.completed_by.trim());
        r.when = when(a.submitted.unwrap_or_default());
        rows.push(r);
        rows.push(row(
            "Overall level",
            match a.overall.value() {
                Some(l) => vocab::label(vocab::LEVELS, l),
                None => "In dispute".to_owned(),
            },
        ));
        rows.push(row("Trend across versions", trend(case).join(" → ")));
        if let Some(rv) = &a.review {
            let mut r = row(
                format!(
                    "Reviewed by {}",
                    vocab::label(vocab::REVIEWERS, &rv.role).to_lowercase()
                ),
                [
                    match rv.level.as_str() {
                        "" => String::new(),
                        l => format!("Level confirmed: {}", vocab::label(vocab::LEVELS, l)),
                    },
                    rv.note.trim().to_owned(),
                ]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(". "),
            );
            r.when = when(rv.at);
            r.author = rv.by.clone();
            rows.push(r);
        }
        for c in &a.categories {
            let rating = match c.rating.value() {
                Some(v) => vocab::label(vocab::RATINGS, v),
                None if c.rating.is_unset() => "Not rated".to_owned(),
                None => "In dispute".to_owned(),
            };
            let text = c.text.trim();
            rows.push(row(
                vocab::label(vocab::RISK_CATEGORIES, &c.id),
                if text.is_empty() {
                    rating
                } else {
                    format!("{rating}: {text}")
                },
            ));
        }
        rows.push(row("Summary of concerns and analysis", a.summary.trim()));
    }
    Section {
        id: "assessment",
        title: "Latest risk assessment",
        rows,
    }
}

fn plan_section(case: &Case) -> Section {
    let plan = &case.plan;
    let mut rows = Vec::new();
    if !plan.known.trim().is_empty() {
        rows.push(row(
            "What is known about the exploitation",
            plan.known.trim(),
        ));
    }
    if !plan.review.is_empty() {
        let mut r = row("Plan review date", "");
        r.when = plan.review.clone();
        rows.push(r);
    }
    for a in plan.actions.iter().filter(|a| removal::visible(&a.removal)) {
        let mut details = a.text.trim().to_owned();
        if !a.owner.trim().is_empty() {
            details.push_str(&format!(" (owner: {})", a.owner.trim()));
        }
        if !a.status.is_empty() {
            details.push_str(&format!(
                " — {}",
                vocab::label(vocab::ACTION_STATUS, &a.status)
            ));
        }
        let mut r = row(vocab::label(vocab::ACTION_GROUPS, &a.group), details);
        r.when = a.due.clone();
        rows.push(r);
    }
    Section {
        id: "plan",
        title: "Current safety plan",
        rows,
    }
}

fn missing_section(case: &Case, now: i64) -> Section {
    let p = crate::missing::patterns(&case.missing, now);
    let live: Vec<&crate::Episode> = case
        .missing
        .iter()
        .filter(|e| removal::visible(&e.removal))
        .collect();
    let returned: Vec<&&crate::Episode> = live.iter().filter(|e| e.end.is_some()).collect();
    let done: Vec<&&&crate::Episode> = returned
        .iter()
        .filter(|e| e.rhi == "completed" && e.rhi_completed.is_some())
        .collect();
    let in_time = done
        .iter()
        .filter(|e| match (e.end, e.rhi_completed) {
            (Some(end), Some(t)) => t - end <= 72 * HOUR,
            _ => false,
        })
        .count();
    let mut rows = vec![
        row("Missing episodes", p.total.to_string()),
        row("In the last 90 days", p.last_90_days.to_string()),
        row(
            "In the last 12 months",
            live.iter()
                .filter(|e| now - e.start <= 365 * DAY)
                .count()
                .to_string(),
        ),
    ];
    if p.still_missing > 0 {
        rows.push(row("Missing now", p.still_missing.to_string()));
    }
    rows.push(row(
        "Return home interviews done",
        format!("{} of {} returns", done.len(), returned.len()),
    ));
    rows.push(row(
        "Done within 72 hours of return",
        format!("{in_time} of {} returns", returned.len()),
    ));
    if let Some(h) = p.median_hours {
        rows.push(row(
            "Typical time away (median)",
            vocab::count(h as usize, "hour", "hours"),
        ));
    }
    if !p.places.is_empty() {
        rows.push(row(
            "Where found",
            p.places
                .iter()
                .map(|(place, n)| format!("{place} ({n})"))
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    if p.at_night > 0 {
        rows.push(row(
            "Went missing at night (22:00 to 06:00)",
            p.at_night.to_string(),
        ));
    }
    Section {
        id: "missing",
        title: "Missing patterns",
        rows,
    }
}

/// Make the bundle. `now` is when it is made (ages, "last 90 days"); `names` gives authors'
/// agencies and teams where the device knows them.
pub fn bundle(case: &Case, options: &Options, names: &Names, now: i64) -> Bundle {
    let author = |by: &str| -> Row {
        let a = names.get(by.trim()).cloned().unwrap_or_default();
        Row {
            author: by.trim().to_owned(),
            agency: a.agency,
            team: a.team,
            ..Default::default()
        }
    };
    let mut sections = vec![profile_section(case, options, now)];
    sections.push(Section {
        id: "hazards",
        title: "Hazard labels",
        rows: case
            .shown_hazards()
            .into_iter()
            .map(|h| row(h.label.clone(), ""))
            .collect(),
    });
    sections.push(assessment_section(case));
    sections.push(plan_section(case));
    sections.push(missing_section(case, now));
    sections.push(Section {
        id: "nrm",
        title: "NRM history",
        rows: case
            .nrm
            .history
            .iter()
            .map(|s| Row {
                when: when(s.at),
                what: vocab::label(vocab::NRM_STATUS, &s.status),
                details: s.reason.trim().to_owned(),
                ..author(&s.by)
            })
            .collect(),
    });
    sections.push(Section {
        id: "chronology",
        title: "Chronology",
        rows: chronology::build(case)
            .iter()
            .map(|e| Row {
                when: when(e.at),
                what: e.title.clone(),
                details: e.detail.trim().to_owned(),
                ..author(&author_of(case, e))
            })
            .collect(),
    });
    if let Some(n) = &options.network {
        let link = |kind: &str, l: &Link| {
            let mut details = vec![vocab::label(vocab::LINK_TYPES, &l.link)];
            match l.rating.as_str() {
                "risk" => details.push("Risk".into()),
                "protective" => details.push("Protective".into()),
                _ => {}
            }
            if !l.notes.trim().is_empty() {
                details.push(l.notes.trim().to_owned());
            }
            row(format!("{kind}: {}", l.name.trim()), details.join(" · "))
        };
        sections.push(Section {
            id: "network",
            title: "Relationships and places",
            rows: n
                .people
                .iter()
                .filter(|l| removal::visible(&l.removal))
                .map(|l| link("Person", l))
                .chain(
                    n.places
                        .iter()
                        .filter(|l| removal::visible(&l.removal))
                        .map(|l| link("Place", l)),
                )
                .collect(),
        });
    }
    Bundle {
        generated: now,
        sections,
    }
}

/// The CSV columns.
pub const CSV_HEADER: [&str; 7] = [
    "section", "when", "what", "details", "author", "agency", "team",
];

/// The bundle as CSV (RFC 4180, formula-safe: [`crate::csv`]): a header, then every row of
/// every section — one per chronology entry — with the section's title in the first column.
pub fn to_csv(b: &Bundle) -> String {
    let mut out = crate::csv::row(&CSV_HEADER);
    for s in &b.sections {
        for r in &s.rows {
            out.push_str(&crate::csv::row(&[
                s.title, &r.when, &r.what, &r.details, &r.author, &r.agency, &r.team,
            ]));
        }
    }
    out
}

/// A download name that carries no name of the child: `transfer-<first 8 characters of
/// the case id>.csv`.
pub fn file_name(case_id: &str) -> String {
    let short: String = case_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(8)
        .collect();
    format!("transfer-{short}.csv")
}
