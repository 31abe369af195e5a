//! England and Wales bank holidays and working days.
//!
//! The holidays of [`COVERED`] years are data (`bank-holidays-england-and-wales.txt`, one
//! `YYYY-MM-DD name` per line), so a one-off holiday announced later (a coronation, a jubilee)
//! is a one-line change to the file. Other years use the standing rules: New Year's Day,
//! Good Friday, Easter Monday, the first and last Mondays of May, the last Monday of August,
//! Christmas Day and Boxing Day, with a holiday that falls at a weekend moved to the next
//! weekday that is not already a holiday (the "substitute day"). Scotland and Northern
//! Ireland have other holidays; Fieldbook's services are in England.

use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};

use super::london::naive;

pub type Date = (i32, u32, u32);

/// The years the bank holiday data covers, inclusive.
pub const COVERED: (i32, i32) = (2024, 2030);

/// The data file, as published by gov.uk for the years it lists and worked out from the
/// rules (by [`rule_holidays`]) for the rest.
pub const DATA: &str = include_str!("bank-holidays-england-and-wales.txt");

/// One line of [`DATA`]: a valid date and its name. None for a blank or `#` comment line,
/// or a line that does not parse.
fn parse_line(line: &str) -> Option<(Date, String)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (date, name) = line.split_once(' ').unwrap_or((line, ""));
    let d = crate::validate::parse_iso_date(date)?;
    Some((d, name.trim().to_owned()))
}

/// Every holiday in [`DATA`], in date order.
fn data() -> &'static [(Date, String)] {
    static DATA_HOLIDAYS: OnceLock<Vec<(Date, String)>> = OnceLock::new();
    DATA_HOLIDAYS.get_or_init(|| {
        let mut all: Vec<(Date, String)> = DATA.lines().filter_map(parse_line).collect();
        fieldbook_sync::order::sort(&mut all);
        all
    })
}

fn date(d: NaiveDate) -> Date {
    (d.year(), d.month(), d.day())
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    naive((y, m, d))
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm in Meeus's form).
pub fn easter_sunday(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    (year, month as u32, day as u32)
}

/// The first `weekday` of `month`.
fn first(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let d = ymd(year, month, 1);
    let ahead = (7 + weekday.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
    d + TimeDelta::days(i64::from(ahead))
}

/// The last `weekday` of `month`.
fn last(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let next = if month == 12 {
        ymd(year + 1, 1, 1)
    } else {
        ymd(year, month + 1, 1)
    };
    let end = next.pred_opt().unwrap_or(next);
    let back = (7 + end.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
    end - TimeDelta::days(i64::from(back))
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The bank holidays of `year` by the standing rules (no one-off holidays), in date order.
pub fn rule_holidays(year: i32) -> Vec<(Date, String)> {
    let easter = naive(easter_sunday(year));
    let fixed = [
        (ymd(year, 1, 1), "New Year's Day"),
        (easter - TimeDelta::days(2), "Good Friday"),
        (easter + TimeDelta::days(1), "Easter Monday"),
        (first(year, 5, Weekday::Mon), "Early May bank holiday"),
        (last(year, 5, Weekday::Mon), "Spring bank holiday"),
        (last(year, 8, Weekday::Mon), "Summer bank holiday"),
        (ymd(year, 12, 25), "Christmas Day"),
        (ymd(year, 12, 26), "Boxing Day"),
    ];
    let mut out: Vec<(NaiveDate, String)> = fixed
        .iter()
        .filter(|(d, _)| !is_weekend(*d))
        .map(|(d, n)| (*d, (*n).to_owned()))
        .collect();
    for (d, name) in fixed.iter().filter(|(d, _)| is_weekend(*d)) {
        let mut s = *d;
        while is_weekend(s) || out.iter().any(|(o, _)| *o == s) {
            s = s.succ_opt().unwrap_or(s);
            if s.year() > 9999 {
                break;
            }
        }
        out.push((s, format!("{name} (substitute day)")));
    }
    fieldbook_sync::order::sort(&mut out);
    out.into_iter().map(|(d, n)| (date(d), n)).collect()
}

/// The bank holidays of `year`, in date order: from the data for [`COVERED`] years, from
/// the rules otherwise.
pub fn holidays(year: i32) -> Vec<(Date, String)> {
    if (COVERED.0..=COVERED.1).contains(&year) {
        data()
            .iter()
            .filter(|(d, _)| d.0 == year)
            .cloned()
            .collect()
    } else {
        rule_holidays(year)
    }
}

pub fn is_bank_holiday(date: Date) -> bool {
    if crate::validate::parse_iso_date(&iso(date)).is_none() {
        return false;
    }
    if (COVERED.0..=COVERED.1).contains(&date.0) {
        data().binary_search_by(|(d, _)| d.cmp(&date)).is_ok()
    } else {
        rule_holidays(date.0).iter().any(|(d, _)| *d == date)
    }
}

/// `YYYY-MM-DD`.
fn iso((y, m, d): Date) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

/// Monday to Friday and not a bank holiday. False for a date that does not exist.
pub fn is_working_day(date: Date) -> bool {
    if crate::validate::parse_iso_date(&iso(date)).is_none() {
        return false;
    }
    !is_weekend(naive(date)) && !is_bank_holiday(date)
}

/// `date` plus `days` (negative goes back). Clamped to years 1 to 9999.
pub fn add_days(start: Date, days: i64) -> Date {
    let d = naive(start);
    let lo = ymd(1, 1, 1);
    let hi = ymd(9999, 12, 31);
    match TimeDelta::try_days(days).and_then(|t| d.checked_add_signed(t)) {
        Some(x) => date_clamped(x, lo, hi),
        None => date(if days < 0 { lo } else { hi }),
    }
}

fn date_clamped(x: NaiveDate, lo: NaiveDate, hi: NaiveDate) -> Date {
    date(x.clamp(lo, hi))
}

/// Days from `a` to `b` (negative if `b` is earlier).
pub fn days_between(a: Date, b: Date) -> i64 {
    (naive(b) - naive(a)).num_days()
}

/// 0 = Monday … 6 = Sunday.
pub fn weekday(date: Date) -> u32 {
    naive(date).weekday().num_days_from_monday()
}

/// The `n`th working day after `date` (`date` itself does not count; `n` = 0 gives `date`).
/// A date that does not exist is first rolled over (30 February → 2 March).
pub fn working_days_after(date: Date, n: u32) -> Date {
    let mut d = add_days(date, 0);
    let mut left = n;
    while left > 0 {
        let next = add_days(d, 1);
        if next == d {
            break; // the end of the calendar
        }
        d = next;
        if is_working_day(d) {
            left -= 1;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_file_equals_the_rules_for_every_covered_year() {
        for y in COVERED.0..=COVERED.1 {
            assert_eq!(holidays(y), rule_holidays(y), "{y}");
            assert_eq!(holidays(y).len(), 8, "{y}");
        }
        // Every line parses: no line is silently skipped.
        for line in DATA.lines() {
            let t = line.trim();
            assert!(
                t.is_empty() || t.starts_with('#') || parse_line(t).is_some(),
                "{line}"
            );
        }
    }

    #[test]
    fn substitute_days() {
        let subs = |y| {
            rule_holidays(y)
                .into_iter()
                .filter(|(_, n)| n.contains("substitute"))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            subs(2022),
            vec![
                ((2022, 1, 3), "New Year's Day (substitute day)".to_owned()),
                ((2022, 12, 27), "Christmas Day (substitute day)".to_owned())
            ]
        );
        assert_eq!(
            subs(2021),
            vec![
                ((2021, 12, 27), "Christmas Day (substitute day)".to_owned()),
                ((2021, 12, 28), "Boxing Day (substitute day)".to_owned())
            ]
        );
        assert_eq!(
            subs(2033),
            vec![
                ((2033, 1, 3), "New Year's Day (substitute day)".to_owned()),
                ((2033, 12, 27), "Christmas Day (substitute day)".to_owned())
            ]
        );
    }

    #[test]
    fn impossible_dates_are_not_working_days_and_do_not_panic() {
        assert!(!is_working_day((2026, 2, 30)));
        assert!(!is_bank_holiday((2026, 13, 1)));
        assert_eq!(working_days_after((2026, 2, 30), 0), (2026, 3, 2));
        assert_eq!(working_days_after((9999, 12, 30), 10), (9999, 12, 31));
        assert_eq!(add_days((2026, 1, 1), i64::MAX), (9999, 12, 31));
        assert_eq!(add_days((2026, 1, 1), i64::MIN), (1, 1, 1));
    }
}
