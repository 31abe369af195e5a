//! The clocks: every deadline of a case, computed from the case, the time now and the
//! England and Wales working-day calendar. IO-free and deterministic: the caller passes
//! `now`, so the app, the server and the tests all see the same answer.
//! Domain notes: `docs/domain/deadlines.md`.
//!
//! - [`london`]: Europe/London civil time (GMT/BST) from and to UTC milliseconds;
//! - [`calendar`]: bank holidays (data, 2024–2030) and working days;
//! - [`words`]: how a clock is said to a person ("overdue by 6 hours", "due Thursday").

pub mod calendar;
pub mod london;
pub mod words;

use crate::{removal, vocab, Assessment, Case};

/// What a service sets rather than the guidance (the server sends it with the session as
/// `clock_settings`; missing fields take their defaults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Days after an NRM referral with no decision at which a reminder escalates, ascending
    /// (default 30, 60, 90).
    pub nrm_reminder_days: Vec<u32>,
    /// A clock due within this many hours is "due soon" (default 48).
    pub due_soon_hours: i64,
    /// How long before the 17th birthday the transition clock shows (default 183 days).
    pub transition_notice_days: i64,
    /// Hours after a reachable moment by which the allocated worker follows it up
    /// (default 24; whole days keep the time of day on London's clocks, [`follow_up_due`]).
    pub follow_up_hours: i64,
    /// Repeated reachable moments of one kind that raise a pattern flag
    /// ([`crate::reach::patterns`]; default [`crate::reach::default_patterns`]).
    pub patterns: Vec<crate::reach::Pattern>,
    /// Days without a face-to-face contact after which lowering the level or closing the
    /// case needs a reason, and the case shows "Not seen face to face for N days"
    /// ([`crate::stepdown`]; default 28).
    pub not_seen_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nrm_reminder_days: vec![30, 60, 90],
            due_soon_hours: 48,
            transition_notice_days: 183,
            follow_up_hours: 24,
            patterns: crate::reach::default_patterns(),
            not_seen_days: 28,
        }
    }
}

/// Which deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Risk assessment completed within 10 days of the need being identified.
    Assessment,
    /// Submitted assessment reviewed within 2 working days (team manager for Emerging,
    /// child protection chair for Moderate/High).
    AssessmentReview,
    /// CCE multi-agency meeting within 15 days of the concerns coming to light, when required.
    Meeting,
    /// Review of the assessment and safety plan at least every 6 weeks while Moderate/High
    /// (or by the plan's own review date, if sooner).
    PlanReview,
    /// Return home interview offered within 24 hours of return.
    RhiOffer,
    /// Return home interview completed within 72 hours of return (48 when exploitation is
    /// suspected).
    Rhi,
    /// Transition-to-adulthood worker allocated by the 17th birthday.
    Transition,
    /// A safety plan action done by its due date.
    Action,
    /// An NRM referral waiting for a decision (escalating reminders).
    Nrm,
    /// A reachable moment followed up by the allocated worker within
    /// [`Settings::follow_up_hours`], by a contact note that names it (`Note::follow_up_of`).
    FollowUp,
}

/// Where a clock stands at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Upcoming,
    /// Due within [`Settings::due_soon_hours`].
    DueSoon,
    Overdue,
    Met {
        at: i64,
    },
    /// Met after it was due, with the reason recorded (may be empty where the record has none).
    MetLate {
        at: i64,
        reason: String,
    },
}

impl State {
    pub fn is_open(&self) -> bool {
        matches!(self, State::Upcoming | State::DueSoon | State::Overdue)
    }
}

/// The record that started a clock: its list (`"missing"`, `"assessments"`, `"meetings"`,
/// `"concerns"`, `"actions"`, `"nrm"`, `"profile"`, `"plan"`, `"moments"`) and id (empty for the
/// profile, the NRM and the plan).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Source {
    pub record: &'static str,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub kind: Kind,
    /// What is due, for people: "Return home interview (RHI)", "Review of plan", the
    /// action's own words, …
    pub what: String,
    /// Who must act: "Allocated worker", "Team manager", "Child protection chair", the
    /// action's owner, …
    pub whom: String,
    pub source: Source,
    /// When the clock started (ms since the epoch).
    pub started: i64,
    /// When it is due (ms since the epoch; the first instant it is late).
    pub due: i64,
    pub state: State,
    /// NRM reminders: how many of [`Settings::nrm_reminder_days`] have passed (0 = none).
    pub escalation: u8,
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// Who acts when no one more specific is named.
const WORKER: &str = "Allocated worker";

/// Every clock of `case` at `now`: open ones first, most urgent first (overdue longest,
/// then due soonest), then met ones newest first.
pub fn clocks(case: &Case, now: i64, settings: &Settings) -> Vec<Clock> {
    let c = Ctx {
        case,
        now,
        settings,
    };
    let mut out = Vec::new();
    c.assessment(&mut out);
    c.assessment_review(&mut out);
    c.meeting(&mut out);
    c.plan_review(&mut out);
    c.rhi(&mut out);
    c.transition(&mut out);
    c.actions(&mut out);
    c.nrm(&mut out);
    c.follow_up(&mut out);
    sort(&mut out);
    out
}

/// When the return home interview for a return at `returned` is due in this case: 48 hours
/// when exploitation is suspected, otherwise 72 (used by validation to ask for a late reason).
/// Hours on London's clocks: a return at 10:00 on Wednesday is due by 10:00 on Friday,
/// whether or not the clocks change in between ([`same_time_days_later`]).
pub fn rhi_due(case: &Case, returned: i64) -> i64 {
    rhi_due_by(case, returned, None)
}

/// [`rhi_due`] judged on what the case held at `until` (all of it when None).
fn rhi_due_by(case: &Case, returned: i64, until: Option<i64>) -> i64 {
    let days = if suspected(case, until) { 2 } else { 3 };
    same_time_days_later(returned, days)
}

/// The same London clock time `days` days after `at` (24 hours a day on London's clocks, so
/// a deadline that spans a change of the clocks keeps its time of day: one hour less or
/// more actually passes). A time the March change skips falls an hour later.
pub fn same_time_days_later(at: i64, days: i64) -> i64 {
    let l = london::local(at);
    let seconds = at.rem_euclid(60_000);
    london::instant(calendar::add_days(l.date(), days), l.hour, l.minute).saturating_add(seconds)
}

/// When the follow-up of a reachable moment at `at` is due, `hours` later: each whole 24
/// hours is a day on London's clocks, as for the return home interview
/// ([`same_time_days_later`]: a moment at 22:00 on the Saturday the clocks go forward is
/// due by 22:00 on the Sunday), and any hours left over are added as they pass. A negative
/// setting counts as 0 (due at once).
pub fn follow_up_due(at: i64, hours: i64) -> i64 {
    let hours = hours.max(0);
    same_time_days_later(at, hours / 24).saturating_add((hours % 24) * HOUR)
}

/// NRM statuses that mean exploitation is suspected or found.
const NRM_SUSPECTED: [&str; 3] = ["referred", "reasonable-grounds", "conclusive-grounds"];

/// Whether exploitation is suspected (`docs/domain/deadlines.md`, "Suspected
/// exploitation"), on what the case held at `until` (everything when None): a shown
/// concern record; the latest submitted assessment at Moderate or High, or with ratings that
/// suggest exploitation ([`crate::Assessment::suggests_cce`]); the "High risk of CCE" hazard
/// label shown; or an NRM referral made or decided.
pub fn suspected(case: &Case, until: Option<i64>) -> bool {
    let known = |t: i64| until.is_none_or(|u| t <= u);
    if shown(&case.concerns, |c| &c.removal).any(|c| known(c.at)) {
        return true;
    }
    if let Some((_, a)) = latest_submitted(case, until) {
        if is_moderate_or_high(level(a)) || a.suggests_cce() {
            return true;
        }
    }
    if case.hazards.iter().any(|h| {
        h.id == "high-cce"
            && h.shown()
            && h.state
                .candidates
                .iter()
                .any(|c| c.value == "on" && known(c.at))
    }) {
        return true;
    }
    match until {
        None => case
            .nrm
            .status
            .candidates
            .iter()
            .any(|c| NRM_SUSPECTED.contains(&c.value.as_str())),
        Some(u) => case
            .nrm
            .history
            .iter()
            .rfind(|s| s.at <= u)
            .is_some_and(|s| NRM_SUSPECTED.contains(&s.status.as_str())),
    }
}

/// The age in whole years on `today` of someone born on `dob` (ISO). A 29 February
/// birthday falls on 1 March in common years. None for a date that is not valid or is
/// after `today`.
pub fn age_on(dob: &str, today: (i32, u32, u32)) -> Option<u32> {
    let born = crate::validate::parse_iso_date(dob.trim())?;
    if today < born {
        return None;
    }
    let years = today.0 - born.0;
    let this_year = birthday(born, years);
    let age = if today < this_year { years - 1 } else { years };
    u32::try_from(age).ok()
}

/// [`age_on`] the London date of instant `now_ms`.
pub fn age_at(dob: &str, now_ms: i64) -> Option<u32> {
    age_on(dob, london::date_of(now_ms))
}

/// The `years`th birthday of someone born on `born`: 29 February falls on 1 March in a
/// common year (as the law of England and Wales counts it).
pub fn birthday(born: calendar::Date, years: i32) -> calendar::Date {
    let y = born.0.saturating_add(years);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (born.1, born.2) == (2, 29) && !leap {
        (y, 3, 1)
    } else {
        (y, born.1, born.2)
    }
}

struct Ctx<'a> {
    case: &'a Case,
    now: i64,
    settings: &'a Settings,
}

/// Items a list shows: the chronology's rule ([`removal::visible`]).
fn shown<'a, T>(
    items: &'a [T],
    removal: impl Fn(&T) -> &Option<removal::Removal> + 'a,
) -> impl Iterator<Item = &'a T> + 'a {
    items.iter().filter(move |i| removal::visible(removal(i)))
}

/// A submitted version's overall level; when it is in dispute, the highest value in
/// dispute (the safer reading until a person settles it).
fn level(a: &Assessment) -> Option<&str> {
    a.overall.value().or_else(|| {
        a.overall
            .candidates
            .iter()
            .map(|c| c.value.as_str())
            .max_by_key(|v| rank(v))
    })
}

fn rank(level: &str) -> u8 {
    match level {
        "high" => 3,
        "moderate" => 2,
        "emerging" => 1,
        _ => 0,
    }
}

fn is_moderate_or_high(level: Option<&str>) -> bool {
    matches!(level, Some("moderate" | "high"))
}

/// Submitted versions, oldest first, with their submission times.
fn submitted(case: &Case) -> Vec<(i64, &Assessment)> {
    let mut out: Vec<(i64, &Assessment)> = case
        .assessments
        .iter()
        .filter_map(|a| a.submitted.map(|t| (t, a)))
        .collect();
    fieldbook_sync::order::sort_by(&mut out, |a, b| (a.0, &a.1.id).cmp(&(b.0, &b.1.id)));
    out
}

/// The latest version submitted by `until` (ever, when None).
fn latest_submitted(case: &Case, until: Option<i64>) -> Option<(i64, &Assessment)> {
    submitted(case)
        .into_iter()
        .rfind(|(t, _)| until.is_none_or(|u| *t <= u))
}

/// Due "by date D": the whole of D counts, so it is late from midnight at its end.
fn by_date(d: calendar::Date) -> i64 {
    london::midnight(calendar::add_days(d, 1))
}

/// Due by the London date `days` after instant `at`.
fn days_after(at: i64, days: i64) -> i64 {
    by_date(calendar::add_days(london::date_of(at), days))
}

fn iso_date(s: &str) -> Option<calendar::Date> {
    crate::validate::parse_iso_date(s.trim())
}

fn source(record: &'static str, id: &str) -> Source {
    Source {
        record,
        id: id.to_owned(),
    }
}

/// Meeting kinds that hold the CCE multi-agency meeting.
const MULTI_AGENCY: [&str; 3] = ["cce", "strategy", "mace"];
/// Meeting kinds that review the assessment and plan.
const REVIEWING: [&str; 4] = ["review", "core-group", "cce", "mace"];

impl Ctx<'_> {
    fn state(&self, due: i64, met: Option<(i64, String)>) -> State {
        match met {
            Some((at, _)) if at <= due => State::Met { at },
            Some((at, reason)) => State::MetLate { at, reason },
            None if self.now >= due => State::Overdue,
            None if due.saturating_sub(self.now)
                <= self.settings.due_soon_hours.saturating_mul(HOUR) =>
            {
                State::DueSoon
            }
            None => State::Upcoming,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn clock(
        &self,
        kind: Kind,
        what: impl Into<String>,
        whom: impl Into<String>,
        source: Source,
        started: i64,
        due: i64,
        met: Option<(i64, String)>,
    ) -> Clock {
        Clock {
            kind,
            what: what.into(),
            whom: whom.into(),
            source,
            started,
            due,
            state: self.state(due, met),
            escalation: 0,
        }
    }

    fn meetings(&self) -> impl Iterator<Item = &crate::meetings::Meeting> {
        shown(&self.case.meetings, |m| &m.removal)
    }

    /// Clock 1: A risk assessment within 10 days of the need being identified.
    fn assessment(&self, out: &mut Vec<Clock>) {
        let submitted = submitted(self.case);
        for c in shown(&self.case.concerns, |c| &c.removal) {
            let met = submitted
                .iter()
                .map(|(t, _)| *t)
                .find(|t| *t >= c.at)
                .map(|t| (t, String::new()));
            out.push(self.clock(
                Kind::Assessment,
                "Risk assessment",
                WORKER,
                source("concerns", &c.id),
                c.at,
                days_after(c.at, 10),
                met,
            ));
        }
    }

    /// Clock 2: Each submitted version reviewed by the right role within 2 working days.
    fn assessment_review(&self, out: &mut Vec<Clock>) {
        let submitted = submitted(self.case);
        let latest = submitted.last().map(|(_, a)| a.id.clone());
        for (t, a) in &submitted {
            let role = crate::assessment::reviewer_for(level(a).unwrap_or(""));
            let met = a
                .review
                .as_ref()
                .filter(|r| r.role == role)
                .map(|r| r.at)
                .or(a.confirmed.as_ref().map(|(_, at)| *at))
                .map(|at| (at, String::new()));
            // A version replaced before anyone reviewed it needs no review of its own.
            if met.is_none() && latest.as_ref() != Some(&a.id) {
                continue;
            }
            let due = by_date(calendar::working_days_after(london::date_of(*t), 2));
            out.push(self.clock(
                Kind::AssessmentReview,
                "Review of risk assessment",
                vocab::label(vocab::REVIEWERS, role),
                source("assessments", &a.id),
                *t,
                due,
                met,
            ));
        }
    }

    /// Clock 3: The CCE multi-agency meeting within 15 days of the concerns coming to light.
    fn meeting(&self, out: &mut Vec<Clock>) {
        let Some((lt, la)) = latest_submitted(self.case, None) else {
            return;
        };
        let review = la.review.as_ref();
        // The chair decides; until they have, Moderate or High means a meeting is needed.
        let required = match review.map(|r| r.meeting_needed.as_str()) {
            Some("yes") => true,
            Some("no") => false,
            _ => is_moderate_or_high(level(la)),
        };
        if !required {
            return;
        }
        let first_concern = shown(&self.case.concerns, |c| &c.removal)
            .filter(|c| c.at <= lt)
            .min_by_key(|c| (c.at, c.id.clone()));
        let (started, src) = match first_concern {
            Some(c) => (c.at, source("concerns", &c.id)),
            None => (lt, source("assessments", &la.id)),
        };
        let met = self
            .meetings()
            .filter(|m| MULTI_AGENCY.contains(&m.kind.as_str()) && m.at >= started)
            .map(|m| m.at)
            .min()
            .map(|at| (at, String::new()));
        let chair = match review.map(|r| r.meeting_chair.as_str()) {
            Some(c @ ("manager" | "chair")) => c,
            _ if level(la) == Some("high") => "chair",
            _ => "manager",
        };
        out.push(self.clock(
            Kind::Meeting,
            "CCE multi-agency meeting",
            vocab::label(vocab::REVIEWERS, chair),
            src,
            started,
            days_after(started, 15),
            met,
        ));
    }

    /// The overall level in force at `t`: the later of the latest version submitted by
    /// then and the latest meeting by then that agreed a level.
    fn level_at(&self, t: i64) -> Option<String> {
        let a = latest_submitted(self.case, Some(t)).and_then(|(at, a)| Some((at, level(a)?)));
        let m = self
            .meetings()
            .filter(|m| m.at <= t && !m.level.is_empty())
            .max_by_key(|m| (m.at, m.id.clone()))
            .map(|m| (m.at, m.level.as_str()));
        match (a, m) {
            (Some(a), Some(m)) => Some(if m.0 > a.0 { m.1 } else { a.1 }),
            (a, m) => a.or(m).map(|x| x.1),
        }
        .map(str::to_owned)
    }

    /// Clock 4: Review of the assessment and plan: every 6 weeks while Moderate or High, or by
    /// the plan's review date or the latest meeting's next review date, whichever is sooner.
    fn plan_review(&self, out: &mut Vec<Clock>) {
        struct Anchor<'m> {
            at: i64,
            source: Source,
            meeting: Option<&'m crate::meetings::Meeting>,
        }
        let mut anchors: Vec<Anchor> = submitted(self.case)
            .into_iter()
            .map(|(at, a)| Anchor {
                at,
                source: source("assessments", &a.id),
                meeting: None,
            })
            .chain(
                self.meetings()
                    .filter(|m| REVIEWING.contains(&m.kind.as_str()))
                    .map(|m| Anchor {
                        at: m.at,
                        source: source("meetings", &m.id),
                        meeting: Some(m),
                    }),
            )
            .collect();
        fieldbook_sync::order::sort_by(&mut anchors, |a, b| {
            (a.at, &a.source.id).cmp(&(b.at, &b.source.id))
        });
        let six_weeks = |a: &Anchor| {
            is_moderate_or_high(self.level_at(a.at).as_deref()).then(|| days_after(a.at, 42))
        };
        // A date already passed by the review that started the cycle no longer binds.
        let after = |anchor: Option<&Anchor>, date: &str| {
            iso_date(date)
                .filter(|d| anchor.is_none_or(|a| *d >= london::date_of(a.at)))
                .map(by_date)
        };

        // Earlier cycles, each met by the reviewing meeting that ended it.
        for pair in anchors.windows(2) {
            let (prev, next) = (&pair[0], &pair[1]);
            if next.meeting.is_none() {
                continue;
            }
            let next_review = prev.meeting.and_then(|m| after(Some(prev), &m.next_review));
            let Some(due) = [six_weeks(prev), next_review].into_iter().flatten().min() else {
                continue;
            };
            out.push(self.clock(
                Kind::PlanReview,
                "Review of plan",
                WORKER,
                prev.source.clone(),
                prev.at,
                due,
                Some((next.at, String::new())),
            ));
        }

        // The current cycle.
        let anchor = anchors.last();
        let latest_meeting = self.meetings().max_by_key(|m| (m.at, m.id.clone()));
        let level_now = self.level_at(i64::MAX);
        let six = anchor
            .filter(|_| is_moderate_or_high(level_now.as_deref()))
            .map(|a| days_after(a.at, 42));
        let plan = after(anchor, &self.case.plan.review);
        let next = latest_meeting.and_then(|m| after(anchor, &m.next_review));
        let Some(due) = [six, plan, next].into_iter().flatten().min() else {
            return;
        };
        let (started, src) = match anchor {
            Some(a) => (a.at.min(due), a.source.clone()),
            None => (due, source("plan", "")),
        };
        out.push(self.clock(
            Kind::PlanReview,
            "Review of plan",
            WORKER,
            src,
            started,
            due,
            None,
        ));
    }

    /// Clock 5 and 6: For each return from missing: the interview offered within 24 hours and
    /// held within 72 (48 when exploitation is suspected).
    fn rhi(&self, out: &mut Vec<Clock>) {
        for e in shown(&self.case.missing, |e| &e.removal) {
            let Some(end) = e.end else { continue };
            // Closed without an interview, or with one whose time is not recorded: not "met"
            // (nothing shows it was on time); the reason is kept.
            let closed = match (e.rhi.as_str(), e.rhi_completed) {
                ("not-completed", _) => Some(State::MetLate {
                    at: e.rhi_offered.unwrap_or(end),
                    reason: format!(
                        "Not completed: {}",
                        vocab::label(vocab::RHI_REASONS, &e.rhi_reason)
                    ),
                }),
                ("completed", None) => Some(State::MetLate {
                    at: e.rhi_offered.unwrap_or(end),
                    reason: "Time of the interview not recorded".to_owned(),
                }),
                _ => None,
            };
            let completed = e.rhi_completed.filter(|_| e.rhi == "completed");

            // An interview held was offered, at the latest when it was held.
            let offered = e.rhi_offered.or(completed).map(|t| (t, String::new()));
            let mut offer = self.clock(
                Kind::RhiOffer,
                "Return home interview (RHI) offer",
                WORKER,
                source("missing", &e.id),
                end,
                same_time_days_later(end, 1),
                offered,
            );
            if let (true, Some(c)) = (offer.state.is_open(), &closed) {
                offer.state = c.clone();
            }
            out.push(offer);

            let mut held = self.clock(
                Kind::Rhi,
                "Return home interview (RHI)",
                WORKER,
                source("missing", &e.id),
                end,
                rhi_due_by(self.case, end, completed),
                completed.map(|at| (at, late_reason(e))),
            );
            if let Some(c) = closed {
                held.state = c;
            }
            out.push(held);
        }
    }

    /// Clock 7: A transition-to-adulthood worker allocated by the 17th birthday.
    fn transition(&self, out: &mut Vec<Clock>) {
        let p = &self.case.profile;
        let Some(born) = iso_date(&p.dob) else {
            return;
        };
        let due = london::midnight(birthday(born, 17));
        let shows_from =
            due.saturating_sub(self.settings.transition_notice_days.saturating_mul(DAY));
        let met = iso_date(&p.transition_allocated)
            .filter(|_| !p.transition_worker.trim().is_empty())
            .map(|d| (london::midnight(d), String::new()));
        if met.is_none() && self.now < shows_from {
            return;
        }
        out.push(self.clock(
            Kind::Transition,
            "Transition-to-adulthood worker allocated",
            WORKER,
            source("profile", ""),
            shows_from,
            due,
            met,
        ));
    }

    /// Clock 8: Each safety-plan action with a due date, done by it. Actions record no time of
    /// completion, so a done action counts as done on time.
    fn actions(&self, out: &mut Vec<Clock>) {
        for a in shown(&self.case.plan.actions, |a| &a.removal) {
            let Some(d) = iso_date(&a.due) else { continue };
            let due = by_date(d);
            let what = match a.text.trim() {
                "" => "Safety plan action",
                t => t,
            };
            let whom = match a.owner.trim() {
                "" => "Owner not recorded",
                o => o,
            };
            let met = (a.status == "done").then(|| (due, String::new()));
            out.push(self.clock(
                Kind::Action,
                what,
                whom,
                source("actions", &a.id),
                london::midnight(d),
                due,
                met,
            ));
        }
    }

    /// Clock 9: An NRM referral waiting for a decision, with reminders at each configured age.
    fn nrm(&self, out: &mut Vec<Clock>) {
        let Some(&first) = self.settings.nrm_reminder_days.first() else {
            return;
        };
        let nrm = &self.case.nrm;
        let Some(current) = nrm.status.settled() else {
            return;
        };
        let threshold = |started: i64, days: u32| started.saturating_add(i64::from(days) * DAY);
        if current.value == "referred" {
            // The referral date when recorded (London midnight), else when the status was set.
            let started = nrm.referred_on().unwrap_or(current.at);
            let passed = self
                .settings
                .nrm_reminder_days
                .iter()
                .filter(|d| self.now >= threshold(started, **d))
                .count();
            let due = threshold(started, first);
            let mut c = self.clock(
                Kind::Nrm,
                "NRM referral",
                WORKER,
                source("nrm", ""),
                started,
                due,
                None,
            );
            c.escalation = u8::try_from(passed).unwrap_or(u8::MAX);
            if passed > 0 {
                c.state = State::Overdue;
            }
            out.push(c);
        } else if ["reasonable-grounds", "conclusive-grounds"].contains(&current.value.as_str()) {
            // The referral that led to the decision: the last one recorded before it.
            let decided = nrm
                .history
                .iter()
                .rfind(|s| s.status == current.value && s.at <= current.at)
                .map_or(current.at, |s| s.at);
            let Some(referred) = nrm
                .history
                .iter()
                .rfind(|s| s.status == "referred" && s.at <= decided)
            else {
                return;
            };
            let referred_at = nrm.referred_on().unwrap_or(referred.at);
            let decision = nrm
                .history
                .iter()
                .find(|s| {
                    s.at >= referred.at
                        && ["reasonable-grounds", "conclusive-grounds"].contains(&s.status.as_str())
                })
                .map_or(decided, |s| s.at);
            // A decision is the Home Office's, not late work by the service: always "met".
            let mut c = self.clock(
                Kind::Nrm,
                "NRM referral",
                WORKER,
                source("nrm", ""),
                referred_at,
                threshold(referred_at, first),
                None,
            );
            c.state = State::Met { at: decision };
            out.push(c);
        }
    }
}

impl Ctx<'_> {
    /// Clock 10: Each reachable moment followed up by the allocated worker within
    /// [`Settings::follow_up_hours`]. Met by the earliest contact note shown, at or after
    /// the moment, that names it as the moment it follows up (`Note::follow_up_of`); any
    /// other contact, face to face or not, does not meet it. A removed moment starts nothing.
    fn follow_up(&self, out: &mut Vec<Clock>) {
        for m in shown(&self.case.moments, |m| &m.removal) {
            let met = shown(&self.case.notes, |n| &n.removal)
                .filter(|n| n.follow_up_of == m.id && n.at >= m.at)
                .map(|n| n.at)
                .min()
                .map(|at| (at, String::new()));
            let what = match m.kind.trim() {
                "" => "Follow-up of a reachable moment".to_owned(),
                k => format!("Follow-up: {}", vocab::label(vocab::REACHABLE_MOMENTS, k)),
            };
            out.push(self.clock(
                Kind::FollowUp,
                what,
                WORKER,
                source("moments", &m.id),
                m.at,
                follow_up_due(m.at, self.settings.follow_up_hours),
                met,
            ));
        }
    }
}

/// Why an interview was late, in words: the reason's label and any words added.
fn late_reason(e: &crate::Episode) -> String {
    let label = match e.rhi_late_reason.trim() {
        "" => String::new(),
        r => vocab::label(vocab::RHI_LATE_REASONS, r),
    };
    [label.as_str(), e.rhi_late_text.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

fn sort(clocks: &mut [Clock]) {
    let met_at = |c: &Clock| match c.state {
        State::Met { at } | State::MetLate { at, .. } => at,
        _ => 0,
    };
    fieldbook_sync::order::sort_by(clocks, |a, b| {
        let tie =
            (a.kind, &a.source.record, &a.source.id).cmp(&(b.kind, &b.source.record, &b.source.id));
        match (a.state.is_open(), b.state.is_open()) {
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (true, true) => a.due.cmp(&b.due).then(tie),
            (false, false) => met_at(b).cmp(&met_at(a)).then(tie),
        }
    });
}
