//! The monthly service dataset (DOMAIN §7): counts and rates a manager reports each month,
//! computed from the cases they may see — on the manager's device (`#/dataset`) or on the
//! server (`admin dataset --month`), with the same arithmetic and the same CSV.
//! Domain notes (what each measure counts, and why): `docs/domain/dataset.md`.
//!
//! A month is a calendar month in London time (GMT or BST as it applied): an event at 00:30
//! BST on 1 June is in June although it is 23:30 UTC on 31 May. Removed records (notes,
//! concerns, episodes) are not counted. A rate whose denominator is zero has no percentage.

use std::collections::BTreeSet;
use std::fmt;

use crate::clocks::london;
use crate::{removal, vocab, Case};

const HOUR: i64 = 3_600_000;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
}

impl Month {
    /// "2026-10"; None for anything else.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then_some(Month { year, month })
    }

    /// The month `utc_ms` falls in, in London.
    pub fn of(utc_ms: i64) -> Month {
        let (year, month, _) = london::date_of(utc_ms);
        Month { year, month }
    }

    /// The last month that has ended by `now` (London time): what a manager reports.
    pub fn last_complete(now: i64) -> Month {
        Month::of(now).previous()
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// Midnight at the start of the first day, London time (ms since the epoch).
    pub fn start(self) -> i64 {
        london::midnight((self.year, self.month, 1))
    }

    /// Midnight at the start of the next month: the month is `start() .. end()`.
    pub fn end(self) -> i64 {
        self.next().start()
    }

    pub fn contains(self, t: i64) -> bool {
        (self.start()..self.end()).contains(&t)
    }

    /// "October 2026".
    pub fn label(self) -> String {
        format!("{} {}", crate::MONTHS[self.month as usize - 1], self.year)
    }

    /// "Oct": for chart axes.
    pub fn short_label(self) -> &'static str {
        &crate::MONTHS[self.month as usize - 1][..3]
    }

    /// This month and the `n - 1` before it, oldest first.
    pub fn last_n(self, n: usize) -> Vec<Month> {
        let mut out = vec![self];
        while out.len() < n {
            let first = out[0].previous();
            out.insert(0, first);
        }
        out
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// A measure's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Count(usize),
    /// `part` of `whole` (e.g. interviews within 72 hours of returns).
    Rate {
        part: usize,
        whole: usize,
    },
}

impl Value {
    /// The number a chart plots: the count, or the percentage (None when nothing to divide).
    pub fn number(self) -> Option<f64> {
        match self {
            Value::Count(n) => Some(n as f64),
            Value::Rate { part, whole } => (whole > 0).then(|| part as f64 * 100.0 / whole as f64),
        }
    }

    /// The percentage to one decimal place ("50.0"), exact and the same on every device;
    /// None for a count or a zero denominator.
    pub fn percent(self) -> Option<String> {
        match self {
            Value::Rate { part, whole } if whole > 0 => {
                let tenths = (part as u128 * 1000 + whole as u128 / 2) / whole as u128;
                Some(format!("{}.{}", tenths / 10, tenths % 10))
            }
            _ => None,
        }
    }

    /// How people read it: "12", "3 of 6 (50.0%)", "none of 0".
    pub fn words(self) -> String {
        match self {
            Value::Count(n) => n.to_string(),
            Value::Rate { part, whole } => match self.percent() {
                Some(p) => format!("{part} of {whole} ({p}%)"),
                None => "None to count".to_owned(),
            },
        }
    }
}

/// One line of the dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    /// Stable id (CSV, tests, charts): "rhi-within-72h".
    pub id: String,
    /// Which part of the report: "Missing and return home interviews".
    pub section: &'static str,
    /// What it counts, for people.
    pub label: String,
    pub value: Value,
}

/// The dataset for one month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub month: Month,
    /// The month had ended at `now`: a month in progress counts only what has happened yet.
    pub complete: bool,
    /// How many cases it was computed from.
    pub cases: usize,
    pub measures: Vec<Measure>,
}

impl Dataset {
    pub fn get(&self, id: &str) -> Option<Value> {
        self.measures.iter().find(|m| m.id == id).map(|m| m.value)
    }
}

pub const REFERRALS: &str = "Referrals and assessments";
pub const CONTACT: &str = "Direct work";
pub const MISSING: &str = "Missing and return home interviews";
pub const NRM: &str = "National Referral Mechanism (NRM)";
pub const OUTCOMES: &str = "Outcomes at review";
pub const LEVELS: &str = "Current levels";
pub const EDUCATION: &str = "Education of young people at Moderate or High risk";

/// The overall level of a case's latest submitted assessment at `at` (a reviewer's confirmed
/// level where the review came by then), or None (none submitted, or the level in dispute).
fn level_at(case: &Case, at: i64) -> Option<String> {
    let latest = case
        .assessments
        .iter()
        .filter(|a| a.submitted.is_some_and(|s| s < at))
        .max_by_key(|a| (a.submitted, a.id.clone()))?;
    if let Some(r) = latest
        .review
        .as_ref()
        .filter(|r| r.at < at && !r.level.is_empty())
    {
        return Some(r.level.clone());
    }
    latest.overall.value().map(str::to_owned)
}

/// Compute the dataset for `month` from `cases`, as it stands at `now`. Pure: the same
/// cases, month and `now` give the same numbers on a phone and on the server.
pub fn monthly(cases: &[Case], month: Month, now: i64) -> Dataset {
    let (start, end) = (month.start(), month.end());
    let inside = |t: i64| t >= start && t < end;
    let mut m: Vec<Measure> = Vec::new();
    let mut add = |section: &'static str, id: &str, label: &str, value: Value| {
        m.push(Measure {
            id: id.to_owned(),
            section,
            label: label.to_owned(),
            value,
        })
    };

    // Referrals (concern records) and the kinds of exploitation they name.
    let concerns: Vec<&crate::concerns::Concern> = cases
        .iter()
        .flat_map(|c| &c.concerns)
        .filter(|c| removal::visible(&c.removal) && inside(c.at))
        .collect();
    add(
        REFERRALS,
        "referrals",
        "Referrals (concerns identified)",
        Value::Count(concerns.len()),
    );
    add(
        REFERRALS,
        "assessments-completed",
        "Risk assessments completed",
        Value::Count(
            cases
                .iter()
                .flat_map(|c| &c.assessments)
                .filter(|a| a.submitted.is_some_and(inside))
                .count(),
        ),
    );
    for (id, label) in vocab::CONCERN_TYPES {
        add(
            REFERRALS,
            &format!("concern-type-{id}"),
            &format!("Referrals naming {label}"),
            Value::Rate {
                part: concerns
                    .iter()
                    .filter(|c| c.types.iter().any(|t| t == id))
                    .count(),
                whole: concerns.len(),
            },
        );
    }
    add(
        REFERRALS,
        "concern-type-none",
        "Referrals with no kind of exploitation recorded",
        Value::Rate {
            part: concerns
                .iter()
                .filter(|c| {
                    !c.types
                        .iter()
                        .any(|t| vocab::CONCERN_TYPES.iter().any(|(id, _)| id == t))
                })
                .count(),
            whole: concerns.len(),
        },
    );

    // Direct work.
    let notes_in = |c: &Case| -> Vec<crate::Note> {
        c.notes
            .iter()
            .filter(|n| removal::visible(&n.removal) && inside(n.at))
            .cloned()
            .collect()
    };
    add(
        CONTACT,
        "young-people-supported",
        "Young people directly supported (seen face to face)",
        Value::Count(
            cases
                .iter()
                .filter(|c| {
                    notes_in(c)
                        .iter()
                        .any(|n| crate::notes::face_to_face(&n.kind))
                })
                .count(),
        ),
    );
    add(
        CONTACT,
        "intelligence-forms",
        "Intelligence forms submitted to police",
        Value::Count(
            cases
                .iter()
                .map(|c| notes_in(c).iter().filter(|n| n.intelligence).count())
                .sum(),
        ),
    );

    // Missing episodes (by when they started) and return interviews (by when they returned).
    let episodes = |c: &Case| -> Vec<crate::Episode> {
        c.missing
            .iter()
            .filter(|e| removal::visible(&e.removal))
            .cloned()
            .collect()
    };
    let started = |c: &Case, from: Option<&str>| {
        episodes(c)
            .into_iter()
            .filter(|e| inside(e.start) && from.is_none_or(|f| e.from == f))
            .count()
    };
    for (id, label, from) in [
        ("missing-episodes", "Missing episodes", None),
        (
            "missing-from-home",
            "Missing episodes from home",
            Some("home"),
        ),
        (
            "missing-from-care",
            "Missing episodes from care",
            Some("care"),
        ),
    ] {
        add(
            MISSING,
            id,
            label,
            Value::Count(cases.iter().map(|c| started(c, from)).sum()),
        );
    }
    for (id, label, from) in [
        ("children-missing", "Children who went missing", None),
        (
            "children-missing-from-home",
            "Children who went missing from home",
            Some("home"),
        ),
        (
            "children-missing-from-care",
            "Children who went missing from care",
            Some("care"),
        ),
    ] {
        add(
            MISSING,
            id,
            label,
            Value::Count(cases.iter().filter(|c| started(c, from) > 0).count()),
        );
    }
    let returns: Vec<crate::Episode> = cases
        .iter()
        .flat_map(episodes)
        .filter(|e| e.end.is_some_and(inside))
        .collect();
    let done: Vec<&crate::Episode> = returns
        .iter()
        .filter(|e| e.rhi == "completed" && e.rhi_completed.is_some())
        .collect();
    let in_time = |e: &crate::Episode| match (e.end, e.rhi_completed) {
        (Some(end), Some(t)) => t - end <= 72 * HOUR,
        _ => false,
    };
    add(
        MISSING,
        "returns",
        "Returns from missing",
        Value::Count(returns.len()),
    );
    add(
        MISSING,
        "rhi-done",
        "Return home interviews done (of returns)",
        Value::Rate {
            part: done.len(),
            whole: returns.len(),
        },
    );
    add(
        MISSING,
        "rhi-within-72h",
        "Return home interviews done within 72 hours (of returns)",
        Value::Rate {
            part: done.iter().filter(|e| in_time(e)).count(),
            whole: returns.len(),
        },
    );
    let not_done: Vec<&crate::Episode> = returns
        .iter()
        .filter(|e| e.rhi == "not-completed")
        .collect();
    let late: Vec<&crate::Episode> = done.iter().copied().filter(|e| !in_time(e)).collect();
    for (id, label) in vocab::RHI_REASONS {
        add(
            MISSING,
            &format!("rhi-not-done-{id}"),
            &format!("Interviews not done: {label}"),
            Value::Count(not_done.iter().filter(|e| e.rhi_reason == *id).count()),
        );
    }
    for (id, label) in vocab::RHI_LATE_REASONS {
        add(
            MISSING,
            &format!("rhi-late-{id}"),
            &format!("Interviews done late: {label}"),
            Value::Count(late.iter().filter(|e| e.rhi_late_reason == *id).count()),
        );
    }
    add(
        MISSING,
        "rhi-reason-not-recorded",
        "Interviews not done or late with no reason recorded",
        Value::Count(
            not_done
                .iter()
                .filter(|e| !vocab::RHI_REASONS.iter().any(|(id, _)| *id == e.rhi_reason))
                .count()
                + late
                    .iter()
                    .filter(|e| {
                        !vocab::RHI_LATE_REASONS
                            .iter()
                            .any(|(id, _)| *id == e.rhi_late_reason)
                    })
                    .count(),
        ),
    );

    // NRM steps recorded in the month.
    let steps = |status: &str| {
        cases
            .iter()
            .flat_map(|c| &c.nrm.history)
            .filter(|s| s.status == status && inside(s.at))
            .count()
    };
    add(
        NRM,
        "nrm-referrals",
        "NRM referrals made",
        Value::Count(steps("referred")),
    );
    add(
        NRM,
        "nrm-reasonable-grounds",
        "Reasonable grounds decisions",
        Value::Count(steps("reasonable-grounds")),
    );
    add(
        NRM,
        "nrm-conclusive-grounds",
        "Conclusive grounds decisions",
        Value::Count(steps("conclusive-grounds")),
    );

    // Outcomes recorded at reviews in the month.
    for (id, label) in vocab::OUTCOMES {
        add(
            OUTCOMES,
            &format!("outcome-{id}"),
            &format!("Reviews: {label}"),
            Value::Count(
                cases
                    .iter()
                    .flat_map(|c| &c.outcomes)
                    .filter(|o| o.overall == *id && inside(o.at))
                    .count(),
            ),
        );
    }

    // Levels at the end of the month (or now, for the month in progress).
    let cutoff = end.min(now);
    let levels: Vec<Option<String>> = cases.iter().map(|c| level_at(c, cutoff)).collect();
    for (id, label) in vocab::LEVELS {
        add(
            LEVELS,
            &format!("level-{id}"),
            &format!("Young people at {label}"),
            Value::Count(levels.iter().filter(|l| l.as_deref() == Some(id)).count()),
        );
    }
    add(
        LEVELS,
        "level-none",
        "Young people with no settled level (none submitted, or in dispute)",
        Value::Count(levels.iter().filter(|l| l.is_none()).count()),
    );

    // Education status of young people assessed at Moderate or High (the profile's status
    // today: the case file keeps no history of it).
    let exploited: Vec<&Case> = cases
        .iter()
        .zip(&levels)
        .filter(|(_, l)| matches!(l.as_deref(), Some("moderate" | "high")))
        .map(|(c, _)| c)
        .collect();
    let known: BTreeSet<&str> = vocab::EDUCATION
        .iter()
        .chain(vocab::RETIRED_EDUCATION)
        .map(|(id, _)| *id)
        .collect();
    for (id, label) in vocab::EDUCATION.iter().chain(vocab::RETIRED_EDUCATION) {
        add(
            EDUCATION,
            &format!("education-{id}"),
            label,
            Value::Rate {
                part: exploited
                    .iter()
                    .filter(|c| c.profile.education == *id)
                    .count(),
                whole: exploited.len(),
            },
        );
    }
    add(
        EDUCATION,
        "education-not-recorded",
        "Not recorded",
        Value::Rate {
            part: exploited
                .iter()
                .filter(|c| !known.contains(c.profile.education.as_str()))
                .count(),
            whole: exploited.len(),
        },
    );

    Dataset {
        month,
        complete: now >= end,
        cases: cases.len(),
        measures: m,
    }
}

/// The CSV columns.
pub const CSV_HEADER: [&str; 7] = [
    "month",
    "section",
    "measure_id",
    "measure",
    "count",
    "out_of",
    "percent",
];

/// The dataset as CSV (RFC 4180, formula-safe): a header, then one row per measure. A
/// count has `out_of` and `percent` empty; a rate with nothing to divide has `percent` empty.
pub fn to_csv(d: &Dataset) -> String {
    let mut out = crate::csv::row(&CSV_HEADER);
    for m in &d.measures {
        let (count, out_of) = match m.value {
            Value::Count(n) => (n.to_string(), String::new()),
            Value::Rate { part, whole } => (part.to_string(), whole.to_string()),
        };
        out.push_str(&crate::csv::row(&[
            d.month.to_string(),
            m.section.to_owned(),
            m.id.clone(),
            m.label.clone(),
            count,
            out_of,
            m.value.percent().unwrap_or_default(),
        ]));
    }
    out
}

/// A file name for the download: no names, just the month.
pub fn file_name(month: Month) -> String {
    format!("service-dataset-{month}.csv")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_print_and_step() {
        let m = Month::parse("2026-10").unwrap();
        assert_eq!(m.to_string(), "2026-10");
        assert_eq!(m.label(), "October 2026");
        assert_eq!(m.short_label(), "Oct");
        assert_eq!(Month::parse("2026-1"), None);
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("26-10"), None);
        assert_eq!(Month::parse("x"), None);
        assert_eq!(
            Month::parse("2026-01").unwrap().previous(),
            Month::parse("2025-12").unwrap()
        );
        assert_eq!(
            Month::parse("2025-12").unwrap().next(),
            Month::parse("2026-01").unwrap()
        );
        let six = m.last_n(6);
        assert_eq!(six.len(), 6);
        assert_eq!(six[0].to_string(), "2026-05");
        assert_eq!(six[5], m);
    }

    #[test]
    fn values_read_and_divide_exactly() {
        assert_eq!(Value::Count(3).words(), "3");
        let r = Value::Rate { part: 1, whole: 3 };
        assert_eq!(r.percent().as_deref(), Some("33.3"));
        assert_eq!(r.words(), "1 of 3 (33.3%)");
        assert_eq!(
            Value::Rate { part: 2, whole: 3 }.percent().as_deref(),
            Some("66.7")
        );
        assert_eq!(Value::Rate { part: 0, whole: 0 }.percent(), None);
        assert_eq!(Value::Rate { part: 0, whole: 0 }.number(), None);
        assert_eq!(Value::Rate { part: 0, whole: 0 }.words(), "None to count");
        assert_eq!(Value::Count(0).percent(), None);
    }
}
