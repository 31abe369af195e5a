//! How a clock is said to a person, in London time: "overdue by 6 hours", "due Thursday",
//! "due by 10:00 on Friday 27 November", "done late, 26 November (reason)".
//!
//! A clock due at midnight is due "by the end of" the day before, so it is said as that
//! date ("due today", "due Thursday"), never "due by 00:00". Any other due time is said
//! with its hour (return home interviews and their offers).

use super::{calendar, london, Clock, Kind, State};

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

use crate::MONTHS;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// "Return home interview (RHI) — overdue by 6 hours", "Review of plan — due Thursday",
/// "Return home interview (RHI) — due by 10:00 on Friday 27 November".
pub fn line(clock: &Clock, now: i64) -> String {
    // An NRM referral waiting reads as one phrase: "NRM referral 64 days without a decision".
    if clock.kind == Kind::Nrm && clock.state.is_open() {
        return format!("{} {}", clock.what, when(clock, now));
    }
    format!("{} — {}", clock.what, when(clock, now))
}

/// Only the "when" part: "overdue by 6 hours", "due Thursday", "met late (reason)", …
pub fn when(clock: &Clock, now: i64) -> String {
    let today = london::date_of(now);
    if clock.kind == Kind::Nrm {
        return nrm(clock, now, today);
    }
    match &clock.state {
        // Actions record no time they were done: only that they are.
        State::Met { .. } if clock.kind == super::Kind::Action => "done".to_owned(),
        State::Met { at } => format!("done {}", date(london::date_of(*at), today)),
        State::MetLate { reason, .. } if reason.starts_with("Not completed") => {
            let why = reason
                .trim_start_matches("Not completed")
                .trim_start_matches(':');
            match why.trim() {
                "" => "not completed".to_owned(),
                w => format!("not completed ({w})"),
            }
        }
        State::MetLate { at, reason } => {
            let on = date(london::date_of(*at), today);
            match reason.trim() {
                "" => format!("done late, {on}"),
                r => format!("done late, {on} ({r})"),
            }
        }
        State::Overdue => format!("overdue by {}", span(now.saturating_sub(clock.due))),
        State::Upcoming | State::DueSoon if now >= clock.due => {
            format!("overdue by {}", span(now.saturating_sub(clock.due)))
        }
        State::Upcoming | State::DueSoon => due(clock.due, today),
    }
}

/// "40 minutes", "6 hours", "3 days" (hours below 48 hours, days from there).
fn span(ms: i64) -> String {
    let n = |n: i64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    if ms < MINUTE {
        "less than a minute".to_owned()
    } else if ms < HOUR {
        n(ms / MINUTE, "minute")
    } else if ms < 48 * HOUR {
        n(ms / HOUR, "hour")
    } else {
        n(ms / DAY, "day")
    }
}

/// "27 November", with the year when it is not `today`'s.
fn date(d: calendar::Date, today: calendar::Date) -> String {
    let month = MONTHS[(d.1.clamp(1, 12) - 1) as usize];
    if d.0 == today.0 {
        format!("{} {month}", d.2)
    } else {
        format!("{} {month} {}", d.2, d.0)
    }
}

/// "Friday 27 November".
fn day_and_date(d: calendar::Date, today: calendar::Date) -> String {
    format!("{} {}", DAYS[calendar::weekday(d) as usize], date(d, today))
}

/// An open clock not yet due.
fn due(due: i64, today: calendar::Date) -> String {
    let at = london::local(due);
    if (at.hour, at.minute) == (0, 0) {
        // Due by the end of the day before.
        let d = calendar::add_days(at.date(), -1);
        match calendar::days_between(today, d) {
            0 => "due today".to_owned(),
            1 => "due tomorrow".to_owned(),
            2..=6 => format!("due {}", DAYS[calendar::weekday(d) as usize]),
            _ => format!("due {}", date(d, today)),
        }
    } else {
        let time = format!("{:02}:{:02}", at.hour, at.minute);
        if at.date() == today {
            format!("due by {time} today")
        } else {
            format!("due by {time} on {}", day_and_date(at.date(), today))
        }
    }
}

/// "47 days without a decision (first reminder)", "decision 12 March, 47 days after
/// referral" (the line puts "NRM referral" first: [`line`]).
fn nrm(clock: &Clock, now: i64, today: calendar::Date) -> String {
    let days = |from: i64, to: i64| (to.saturating_sub(from)).max(0) / DAY;
    let count = |n: i64| {
        if n == 1 {
            "1 day".to_owned()
        } else {
            format!("{n} days")
        }
    };
    match &clock.state {
        State::Met { at } | State::MetLate { at, .. } => format!(
            "decision {}, {} after referral",
            date(london::date_of(*at), today),
            count(days(clock.started, *at))
        ),
        _ => {
            let ago = match days(clock.started, now) {
                0 => "made today, no decision yet".to_owned(),
                n => format!("{} without a decision", count(n)),
            };
            let reminder = match clock.escalation {
                0 => String::new(),
                1 => " (first reminder)".to_owned(),
                2 => " (second reminder)".to_owned(),
                3 => " (third reminder)".to_owned(),
                n => format!(" (reminder {n})"),
            };
            format!("{ago}{reminder}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_in_minutes_hours_then_days() {
        assert_eq!(span(59_999), "less than a minute");
        assert_eq!(span(MINUTE), "1 minute");
        assert_eq!(span(HOUR - 1), "59 minutes");
        assert_eq!(span(HOUR), "1 hour");
        assert_eq!(span(48 * HOUR - 1), "47 hours");
        assert_eq!(span(48 * HOUR), "2 days");
        assert_eq!(span(DAY * 400), "400 days");
    }

    #[test]
    fn dates_carry_the_year_only_when_it_is_not_this_one() {
        assert_eq!(date((2026, 11, 27), (2026, 1, 1)), "27 November");
        assert_eq!(date((2027, 1, 15), (2026, 12, 30)), "15 January 2027");
        assert_eq!(
            day_and_date((2026, 11, 27), (2026, 11, 25)),
            "Friday 27 November"
        );
    }
}
