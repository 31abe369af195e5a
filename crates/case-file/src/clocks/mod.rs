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

use crate::Case;

/// What a service sets rather than the guidance (the server sends it with the session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Days after an NRM referral with no decision at which a reminder escalates, ascending
    /// (default 30, 60, 90).
    pub nrm_reminder_days: Vec<u32>,
    /// A clock due within this many hours is "due soon" (default 48).
    pub due_soon_hours: i64,
    /// How long before the 17th birthday the transition clock shows (default 183 days).
    pub transition_notice_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            nrm_reminder_days: vec![30, 60, 90],
            due_soon_hours: 48,
            transition_notice_days: 183,
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
/// `"concerns"`, `"actions"`, `"nrm"`, `"profile"`) and id (empty for the profile/NRM).
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

/// Every clock of `case` at `now`: open ones first, most urgent first (overdue longest,
/// then due soonest), then met ones newest first.
pub fn clocks(_case: &Case, _now: i64, _settings: &Settings) -> Vec<Clock> {
    Vec::new() // STAND-IN: the clocks helper replaces this.
}

/// When the return home interview for a return at `returned` is due in this case: 48 hours
/// when exploitation is suspected, otherwise 72 (used by validation to ask for a late reason).
pub fn rhi_due(_case: &Case, returned: i64) -> i64 {
    returned + 72 * 3_600_000 // STAND-IN
}
