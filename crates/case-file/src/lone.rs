//! Lone working check-in, the app's side (docs/LONE-WORKING.md): reading the "expected back
//! by" time a worker types (London time), checking the form before it is sent, and the
//! words the banner and the prompt use. The record itself is the server's, not a case's.
//!
//! Plain Rust so it is tested natively; the app (`app/src/lone.rs`) calls it.

use crate::clocks::london;
use crate::validate::FieldError;

/// Form field ids (and the names the server's errors use for them).
pub const WHERE: &str = "checkin-where";
pub const WITH_WHOM: &str = "checkin-with-whom";
pub const EXPECTED_BACK: &str = "checkin-expected-back";

/// Longest "where" or "with whom" the server keeps, in characters.
pub const MAX_TEXT_CHARS: usize = 300;
/// The latest "expected back" accepted: a day ahead.
pub const MAX_AHEAD_MS: i64 = 24 * 3_600_000;

/// The form field a server error names (`where`, `with_whom`, `expected_back`).
pub fn field_of(server_field: &str) -> &'static str {
    match server_field {
        "where" => WHERE,
        "with_whom" => WITH_WHOM,
        _ => EXPECTED_BACK,
    }
}

/// "HH:MM" or "HH:MM:SS" (a time input's value) → (hour, minute, second).
fn parse_time(v: &str) -> Option<(u32, u32, u32)> {
    let mut parts = v.trim().split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let s: u32 = match parts.next() {
        // Seconds may carry a fraction ("05.000").
        Some(s) => s.split('.').next()?.parse().ok()?,
        None => 0,
    };
    if parts.next().is_some() || h > 23 || m > 59 || s > 59 {
        return None;
    }
    Some((h, m, s))
}

/// The moment a time input's value names, in London, from `now`: today; or tomorrow for a
/// small-hours time typed in the evening (a visit that ends after midnight). A time that
/// has already passed today is an error, never silently read as tomorrow: the alert would
/// then come a day late.
pub fn expected_back(input: &str, now: i64) -> Result<i64, &'static str> {
    if input.trim().is_empty() {
        return Err("Enter the time you expect to be back");
    }
    let (h, m, s) = parse_time(input).ok_or("Enter the time you expect to be back, like 15:30")?;
    let today = london::date_of(now);
    let at = london::instant(today, h, m) + i64::from(s) * 1000;
    if at > now {
        return Ok(at);
    }
    let evening = london::local(now).hour >= 18;
    if evening && h < 6 {
        let tomorrow = london::date_of(london::midnight(today) + 36 * 3_600_000);
        return Ok(london::instant(tomorrow, h, m) + i64::from(s) * 1000);
    }
    Err("The time you expect to be back must be later than now")
}

/// The time input's value for `ms` ("15:30"), London time.
pub fn time_input(ms: i64) -> String {
    hhmm(ms)
}

/// "15:30", London time: how the banner and the prompt say a time today.
pub fn hhmm(ms: i64) -> String {
    let l = london::local(ms);
    format!("{:02}:{:02}", l.hour, l.minute)
}

/// Every problem with the form, in the order of its fields (empty: send it).
pub fn check(place: &str, with_whom: &str, back: &str, now: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut text = |field: &str, what: &str, v: &str| {
        let v = v.trim();
        let message = if v.is_empty() {
            format!("Enter {what}")
        } else if v.chars().count() > MAX_TEXT_CHARS {
            format!("This must be {MAX_TEXT_CHARS} characters or fewer")
        } else {
            return;
        };
        errors.push(FieldError {
            field: field.to_owned(),
            message,
        });
    };
    text(WHERE, "where you are going", place);
    text(WITH_WHOM, "who you will be with", with_whom);
    match expected_back(back, now) {
        Ok(t) if t > now + MAX_AHEAD_MS => errors.push(FieldError {
            field: EXPECTED_BACK.to_owned(),
            message: "The time you expect to be back must be within the next 24 hours".into(),
        }),
        Ok(_) => {}
        Err(message) => errors.push(FieldError {
            field: EXPECTED_BACK.to_owned(),
            message: message.into(),
        }),
    }
    errors
}

/// What the screen says once the server has the check-in.
pub fn confirmed(expected_back: i64) -> String {
    format!(
        "Checked in — if you have not checked out by {}, your manager will be alerted",
        hhmm(expected_back)
    )
}

/// The prompt once the expected time has passed (None before).
pub fn prompt(expected_back: i64, now: i64) -> Option<String> {
    (now >= expected_back).then(|| {
        format!(
            "You were due back at {}. Check out now, or call your manager",
            hhmm(expected_back)
        )
    })
}

/// "20 minutes ago", "1 hour 5 minutes ago": how late, for the manager.
pub fn ago(minutes: i64) -> String {
    let minutes = minutes.max(0);
    let (h, m) = (minutes / 60, minutes % 60);
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match (h, m) {
        (0, 0) => "just now".to_owned(),
        (0, m) => format!("{} ago", unit(m, "minute", "minutes")),
        (h, 0) => format!("{} ago", unit(h, "hour", "hours")),
        (h, m) => format!(
            "{} {} ago",
            unit(h, "hour", "hours"),
            unit(m, "minute", "minutes")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26 14:00 in London (GMT).
    const AFTERNOON: i64 = 1_795_701_600_000;

    #[test]
    fn the_fixture_is_two_in_the_afternoon() {
        assert_eq!(hhmm(AFTERNOON), "14:00");
    }

    #[test]
    fn a_time_later_today_is_today_with_its_seconds() {
        assert_eq!(
            expected_back("15:30", AFTERNOON),
            Ok(AFTERNOON + 90 * 60_000)
        );
        assert_eq!(expected_back("14:00:45", AFTERNOON), Ok(AFTERNOON + 45_000));
        assert_eq!(
            expected_back("14:00:45.000", AFTERNOON),
            Ok(AFTERNOON + 45_000)
        );
    }

    #[test]
    fn a_time_already_passed_is_refused_not_moved_to_tomorrow() {
        assert_eq!(
            expected_back("13:59", AFTERNOON),
            Err("The time you expect to be back must be later than now")
        );
        assert_eq!(
            expected_back("14:00", AFTERNOON),
            Err("The time you expect to be back must be later than now")
        );
        assert!(expected_back("02:00", AFTERNOON).is_err());
    }

    #[test]
    fn a_small_hours_time_in_the_evening_is_tomorrow() {
        let late = AFTERNOON + 9 * 3_600_000 + 30 * 60_000; // 23:30
        assert_eq!(
            expected_back("00:30", late),
            Ok(late + 3_600_000),
            "an hour later, after midnight"
        );
    }

    #[test]
    fn summer_time_is_read_as_london_time() {
        // 2026-07-01 12:00 UTC is 13:00 in London (BST).
        let noon_utc = 1_782_907_200_000;
        assert_eq!(hhmm(noon_utc), "13:00");
        assert_eq!(expected_back("14:00", noon_utc), Ok(noon_utc + 3_600_000));
    }

    #[test]
    fn nonsense_and_empty_are_refused_with_what_to_do() {
        for bad in ["", "  ", "25:00", "12:60", "noon", "12", "12:00:00:00"] {
            assert!(expected_back(bad, AFTERNOON).is_err(), "{bad:?}");
        }
        assert_eq!(
            expected_back("", AFTERNOON),
            Err("Enter the time you expect to be back")
        );
    }

    #[test]
    fn the_form_names_every_problem_in_order() {
        let fields = |p: &str, w: &str, b: &str| -> Vec<String> {
            check(p, w, b, AFTERNOON)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields("", " ", ""), vec![WHERE, WITH_WHOM, EXPECTED_BACK]);
        assert_eq!(fields(&"x".repeat(301), "a", "15:00"), vec![WHERE]);
        assert!(fields("Invented Road", "Invented parent", "15:00").is_empty());
        assert_eq!(
            time_input(AFTERNOON + 3_600_000),
            "15:00",
            "'in 1 hour' fills the time input"
        );
    }

    #[test]
    fn words_for_the_screen_the_prompt_and_the_manager() {
        let back = AFTERNOON + 90 * 60_000;
        assert_eq!(
            confirmed(back),
            "Checked in — if you have not checked out by 15:30, your manager will be alerted"
        );
        assert_eq!(prompt(back, back - 1), None);
        assert_eq!(
            prompt(back, back).as_deref(),
            Some("You were due back at 15:30. Check out now, or call your manager")
        );
        assert_eq!(ago(0), "just now");
        assert_eq!(ago(1), "1 minute ago");
        assert_eq!(ago(20), "20 minutes ago");
        assert_eq!(ago(60), "1 hour ago");
        assert_eq!(ago(125), "2 hours 5 minutes ago");
        assert_eq!(field_of("where"), WHERE);
        assert_eq!(field_of("with_whom"), WITH_WHOM);
        assert_eq!(field_of("expected_back"), EXPECTED_BACK);
    }
}
