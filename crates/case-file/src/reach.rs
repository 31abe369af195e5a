//! Pattern flags: repeated reachable moments of one kind ("3 hospital attendances in 90
//! days"). The practice review found nine A&E attendances and 22 custody contacts that
//! nobody connected; each was a chance to reach the child (`docs/domain/practice-rules.md`,
//! "Reachable moments"). IO-free: the caller passes `now`, like the clocks.
//!
//! Only reachable moments logged as events ([`crate::moments`]) count. A contact note
//! marked as a reachable moment is the worker's contact at such a moment, often the
//! follow-up of one already logged, so counting it too would count one attendance twice.

use crate::clocks::{calendar, london, Settings};
use crate::{removal, vocab, Case};

/// A threshold: `count` moments of `kind` within `days` days raise a flag.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pattern {
    /// An id from [`vocab::REACHABLE_MOMENTS`].
    pub kind: String,
    /// How many moments (a rule with 0 is off).
    pub count: usize,
    /// Within how many days, counted on London dates: the first and the last fall fewer than
    /// `days` days apart (a rule with 0 is off).
    pub days: u32,
}

/// The thresholds a service starts with: the third hospital or A&E attendance within 90
/// days (the example), and a second arrest or time in custody within 90 days
/// ("repeated custody": each one is a serious event, and the review counted 22).
pub fn default_patterns() -> Vec<Pattern> {
    vec![
        Pattern {
            kind: "hospital".into(),
            count: 3,
            days: 90,
        },
        Pattern {
            kind: "arrest".into(),
            count: 2,
            days: 90,
        },
    ]
}

/// A pattern found in a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    /// The moment kind (an id from [`vocab::REACHABLE_MOMENTS`]).
    pub kind: String,
    /// The rule's period, in days.
    pub days: u32,
    /// The moments in the window, oldest first (ids): at least the rule's count.
    pub moments: Vec<String>,
    /// When the first and the last of them happened.
    pub first: i64,
    pub last: i64,
    /// Whether the latest of them is less than `days` days old (London dates): a current
    /// flag shows on the case; an older one is history, kept so a reader still sees it.
    pub current: bool,
    /// In words: "3 hospital attendances in 90 days".
    pub words: String,
}

/// The pattern flags of `case` at `now`: for each rule in [`Settings::patterns`], the latest
/// window of `days` days holding at least `count` shown moments of its kind that happened by
/// `now` (all the moments in that window, so it may say more than the count). Current flags
/// first, then newest first.
pub fn patterns(case: &Case, now: i64, settings: &Settings) -> Vec<Flag> {
    let today = london::date_of(now);
    let mut out: Vec<Flag> = settings
        .patterns
        .iter()
        .filter_map(|p| flag(case, now, today, p))
        .collect();
    fieldbook_sync::order::sort_by(&mut out, |a, b| {
        b.current
            .cmp(&a.current)
            .then(b.last.cmp(&a.last))
            .then(a.kind.cmp(&b.kind))
    });
    out
}

fn flag(case: &Case, now: i64, today: calendar::Date, p: &Pattern) -> Option<Flag> {
    if p.count == 0 || p.days == 0 {
        return None;
    }
    let days = i64::from(p.days);
    let mut events: Vec<(i64, &str, calendar::Date)> = case
        .moments
        .iter()
        .filter(|m| removal::visible(&m.removal) && m.kind == p.kind && m.at <= now)
        .map(|m| (m.at, m.id.as_str(), london::date_of(m.at)))
        .collect();
    fieldbook_sync::order::sort(&mut events);
    // The latest event that closes a window holding enough of them.
    let mut start = 0;
    let mut hit = None;
    for (j, e) in events.iter().enumerate() {
        while calendar::days_between(events[start].2, e.2) >= days {
            start += 1;
        }
        if j + 1 - start >= p.count {
            hit = Some((start, j));
        }
    }
    let (i, j) = hit?;
    let window = &events[i..=j];
    let n = window.len();
    Some(Flag {
        kind: p.kind.clone(),
        days: p.days,
        moments: window.iter().map(|e| e.1.to_owned()).collect(),
        first: window[0].0,
        last: window[n - 1].0,
        current: calendar::days_between(window[n - 1].2, today) < days,
        words: format!("{n} {} in {} days", noun(&p.kind, n), p.days),
    })
}

/// What one moment of `kind` is called in a count ("3 hospital attendances").
pub fn noun(kind: &str, n: usize) -> String {
    let (one, many) = match kind {
        "arrest" => ("arrest or time in custody", "arrests or times in custody"),
        "hospital" => ("hospital attendance", "hospital attendances"),
        "returned" => ("return from missing", "returns from missing"),
        "exclusion" => ("exclusion from school", "exclusions from school"),
        "disclosure" => ("disclosure", "disclosures"),
        "court-order" => ("new court order", "new court orders"),
        "other" | "" => ("reachable moment", "reachable moments"),
        k => {
            let s = if n == 1 { "" } else { "s" };
            return format!(
                "reachable moment{s} ({})",
                vocab::label(vocab::REACHABLE_MOMENTS, k)
            );
        }
    };
    if n == 1 { one } else { many }.to_owned()
}

/// The pattern flags of `case` that are current at `now` (what the case page and the home
/// screen show; older ones are history).
pub fn current(case: &Case, now: i64, settings: &Settings) -> Vec<Flag> {
    patterns(case, now, settings)
        .into_iter()
        .filter(|f| f.current)
        .collect()
}

/// How many days back a moment already followed up is still offered on a contact note.
pub const RECENT_DAYS: i64 = 14;

/// A reachable moment a contact note may say it follows up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    /// "Arrest or time in custody, 26 November 2026 at 14:00" (London time).
    pub label: String,
    /// Its follow-up is still open.
    pub open: bool,
}

/// What the contact note screen offers for "Does this contact follow up a reachable
/// moment?": the case's shown moments that happened by `now` whose follow-up is still open,
/// and those of the last [`RECENT_DAYS`] days, newest first; plus the moment the note
/// already names (`chosen`), whatever its age, so a saved answer is never hidden.
pub fn follow_up_choices(case: &Case, now: i64, settings: &Settings, chosen: &str) -> Vec<Choice> {
    let open: Vec<String> = crate::clocks::clocks(case, now, settings)
        .into_iter()
        .filter(|c| {
            c.kind == crate::clocks::Kind::FollowUp
                && c.state.is_open()
                && c.source.record == "moments"
        })
        .map(|c| c.source.id)
        .collect();
    let since = now.saturating_sub(RECENT_DAYS * 86_400_000);
    let mut out: Vec<(i64, Choice)> = case
        .moments
        .iter()
        .filter(|m| removal::visible(&m.removal) || m.id == chosen)
        .filter(|m| {
            let is_open = open.contains(&m.id);
            m.id == chosen || (m.at <= now && (is_open || m.at >= since))
        })
        .map(|m| {
            let l = london::local(m.at);
            let month = crate::MONTHS[(l.month.clamp(1, 12) - 1) as usize];
            let kind = match m.kind.as_str() {
                "" => "Reachable moment".to_owned(),
                k => vocab::label(vocab::REACHABLE_MOMENTS, k),
            };
            (
                m.at,
                Choice {
                    id: m.id.clone(),
                    label: format!(
                        "{kind}, {} {month} {} at {:02}:{:02}",
                        l.day, l.year, l.hour, l.minute
                    ),
                    open: open.contains(&m.id),
                },
            )
        })
        .collect();
    fieldbook_sync::order::sort_by(&mut out, |a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    out.into_iter().map(|(_, c)| c).collect()
}
