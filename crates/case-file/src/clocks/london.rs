//! Europe/London civil time: Greenwich Mean Time (UTC+0) in winter, British Summer Time
//! (UTC+1) in summer.
//!
//! The rule is hand-coded rather than read from a time zone database: one zone does not
//! justify shipping the whole database to every phone in the WebAssembly build. The rule is
//! the Summer Time Order 2002's (the same as the EU's since 1996): British Summer Time runs
//! from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October.
//! It is applied to every year, so instants before 1996 read with today's rule, not the
//! historical one; Fieldbook records nothing that old. Should Parliament change the rule,
//! this is the one place to change.
//!
//! Nothing here panics: instants and dates outside years 1 to 9999 are clamped into them.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

/// A civil date and time in London.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Local {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
    /// True in British Summer Time.
    pub bst: bool,
}

impl Local {
    /// The civil date, `(year, month, day)`.
    pub fn date(&self) -> (i32, u32, u32) {
        (self.year, self.month, self.day)
    }
}

const HOUR_MS: i64 = 3_600_000;
/// 0001-01-01T00:00:00Z.
const MIN_MS: i64 = -62_135_596_800_000;
/// 9999-12-31T23:59:59.999Z.
const MAX_MS: i64 = 253_402_300_799_999;

/// The instant `utc_ms`, clamped to years 1 to 9999.
fn utc(utc_ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(utc_ms.clamp(MIN_MS, MAX_MS))
        .unwrap_or_default()
        .naive_utc()
}

/// The last Sunday of `month` in `year`, at 01:00 UTC, in ms since the epoch.
fn last_sunday_0100_utc(year: i32, month: u32) -> i64 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    let Some(last) = next.and_then(|n| n.pred_opt()) else {
        return MAX_MS;
    };
    let back = i64::from(last.weekday().num_days_from_sunday());
    let sunday = last - TimeDelta::days(back);
    sunday
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp_millis()
        + HOUR_MS
}

/// When British Summer Time starts and ends in `year` (ms since the epoch, UTC).
pub fn summer_time(year: i32) -> (i64, i64) {
    (
        last_sunday_0100_utc(year, 3),
        last_sunday_0100_utc(year, 10),
    )
}

/// Whether London is on British Summer Time at instant `utc_ms`.
pub fn is_bst(utc_ms: i64) -> bool {
    let ms = utc_ms.clamp(MIN_MS, MAX_MS);
    let (start, end) = summer_time(utc(ms).year());
    (start..end).contains(&ms)
}

/// The London civil time of instant `utc_ms`.
pub fn local(utc_ms: i64) -> Local {
    let ms = utc_ms.clamp(MIN_MS, MAX_MS);
    let bst = is_bst(ms);
    let t = if bst {
        // 1 hour ahead; near year 9999's end this may tip into 10000, still a valid date.
        utc(ms) + TimeDelta::hours(1)
    } else {
        utc(ms)
    };
    Local {
        year: t.year(),
        month: t.month(),
        day: t.day(),
        hour: t.hour(),
        minute: t.minute(),
        weekday: t.weekday().num_days_from_monday(),
        bst,
    }
}

/// The London date of instant `utc_ms`.
pub fn date_of(utc_ms: i64) -> (i32, u32, u32) {
    local(utc_ms).date()
}

/// `date` as a chrono date. An impossible date rolls over as arithmetic would (30 February
/// → 2 March); months outside 1 to 12 and years outside 1 to 9999 are clamped.
pub(crate) fn naive((y, m, d): (i32, u32, u32)) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(y.clamp(1, 9999), m.clamp(1, 12), 1).unwrap_or_default();
    first
        .checked_add_signed(TimeDelta::days(i64::from(d.min(400)) - 1))
        .unwrap_or(first)
}

/// The instant at which London's clocks show `hour:minute` on `date` (for the hour that
/// happens twice in October, the first; for one that is skipped in March, an hour later).
pub fn instant(date: (i32, u32, u32), hour: u32, minute: u32) -> i64 {
    let wall = naive(date).and_hms_opt(0, 0, 0).unwrap_or_default()
        + TimeDelta::minutes(i64::from(hour.min(1000)) * 60 + i64::from(minute.min(100_000)));
    let as_gmt = wall.and_utc().timestamp_millis();
    let as_bst = as_gmt - HOUR_MS;
    if is_bst(as_bst) {
        // Summer time, or October's repeated hour read as its first (summer) occurrence.
        as_bst
    } else {
        // Winter time; or March's skipped hour, read as GMT: one hour later on the clock.
        as_gmt
    }
}

/// "25/11/2026 14:02" in London time (how the app shows a moment).
pub fn short(utc_ms: i64) -> String {
    let l = local(utc_ms);
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        l.day, l.month, l.year, l.hour, l.minute
    )
}

/// The value of a `datetime-local` input showing `utc_ms` in London time:
/// "2026-11-25T14:02".
pub fn to_input(utc_ms: i64) -> String {
    let l = local(utc_ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        l.year, l.month, l.day, l.hour, l.minute
    )
}

/// The moment a `datetime-local` value ("2026-07-01T10:00", seconds allowed) names, read
/// as London time whatever zone the device is set to; None if it is not one.
pub fn from_input(v: &str) -> Option<i64> {
    let (date, time) = v.trim().split_once('T')?;
    let date = crate::validate::parse_iso_date(date)?;
    let mut parts = time.split(':');
    let hour: u32 = parts.next()?.parse().ok()?;
    let minute: u32 = parts.next()?.get(..2)?.parse().ok()?;
    if hour > 23 || minute > 59 {
        return None;
    }
    Some(instant(date, hour, minute))
}

/// Midnight at the start of `date` in London.
pub fn midnight(date: (i32, u32, u32)) -> i64 {
    instant(date, 0, 0)
}

#[cfg(test)]
mod tests {

    #[test]
    fn times_are_shown_and_read_as_london_time_in_both_seasons() {
        // Winter: London is UTC. Summer: an hour ahead.
        let winter = instant((2026, 11, 25), 14, 2);
        assert_eq!(short(winter), "25/11/2026 14:02");
        assert_eq!(to_input(winter), "2026-11-25T14:02");
        let summer = from_input("2026-07-01T10:00").unwrap();
        assert_eq!(summer, 1_782_896_400_000, "09:00 UTC");
        assert_eq!(short(summer), "01/07/2026 10:00");
        for t in [
            winter,
            summer,
            instant((2026, 3, 29), 0, 30),
            instant((2026, 10, 25), 2, 15),
        ] {
            assert_eq!(from_input(&to_input(t)), Some(t), "{}", to_input(t));
        }
        assert_eq!(from_input("2026-07-01T10:00:30"), Some(summer));
        for bad in [
            "",
            "2026-07-01",
            "2026-02-30T10:00",
            "2026-07-01T24:00",
            "2026-07-01T10:7",
            "x",
        ] {
            assert_eq!(from_input(bad), None, "{bad:?}");
        }
    }

    use super::*;

    const MIN: i64 = 60_000;

    fn utc_ms(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_published_dates_2024_to_2030() {
        // (year, March change, October change): gov.uk "When do the clocks change?".
        let published = [
            (2024, 31, 27),
            (2025, 30, 26),
            (2026, 29, 25),
            (2027, 28, 31),
            (2028, 26, 29),
            (2029, 25, 28),
            (2030, 31, 27),
        ];
        for (y, march, october) in published {
            assert_eq!(
                summer_time(y),
                (utc_ms(y, 3, march, 1, 0), utc_ms(y, 10, october, 1, 0)),
                "{y}"
            );
        }
    }

    #[test]
    fn local_time_either_side_of_each_change() {
        let spring = utc_ms(2026, 3, 29, 1, 0);
        let l = local(spring - MIN);
        assert_eq!(
            (l.date(), l.hour, l.minute, l.bst),
            ((2026, 3, 29), 0, 59, false)
        );
        let l = local(spring);
        assert_eq!(
            (l.date(), l.hour, l.minute, l.bst),
            ((2026, 3, 29), 2, 0, true)
        );
        assert_eq!(l.weekday, 6, "a Sunday");

        let autumn = utc_ms(2026, 10, 25, 1, 0);
        let l = local(autumn - MIN);
        assert_eq!(
            (l.date(), l.hour, l.minute, l.bst),
            ((2026, 10, 25), 1, 59, true)
        );
        let l = local(autumn);
        assert_eq!(
            (l.date(), l.hour, l.minute, l.bst),
            ((2026, 10, 25), 1, 0, false)
        );
    }

    #[test]
    fn wall_clock_times_map_back_to_instants() {
        assert_eq!(instant((2026, 1, 15), 9, 30), utc_ms(2026, 1, 15, 9, 30));
        assert_eq!(instant((2026, 7, 15), 9, 30), utc_ms(2026, 7, 15, 8, 30));
        // October's 01:30 happens twice: the first (BST) one.
        assert_eq!(instant((2026, 10, 25), 1, 30), utc_ms(2026, 10, 25, 0, 30));
        assert_eq!(instant((2026, 10, 25), 2, 0), utc_ms(2026, 10, 25, 2, 0));
        // March's 01:30 never happens: an hour later, 02:30 BST.
        assert_eq!(instant((2026, 3, 29), 1, 30), utc_ms(2026, 3, 29, 1, 30));
        assert_eq!(local(instant((2026, 3, 29), 1, 30)).hour, 2);
        assert_eq!(instant((2026, 3, 29), 0, 59), utc_ms(2026, 3, 29, 0, 59));
        assert_eq!(midnight((2026, 6, 1)), utc_ms(2026, 5, 31, 23, 0));
        assert_eq!(midnight((2026, 12, 1)), utc_ms(2026, 12, 1, 0, 0));
        // Round trip over a whole year, every 17 minutes.
        let mut t = utc_ms(2027, 1, 1, 0, 0);
        while t < utc_ms(2028, 1, 1, 0, 0) {
            let l = local(t);
            let back = instant(l.date(), l.hour, l.minute);
            let repeated = l.date() == (2027, 10, 31) && l.hour == 1 && !l.bst;
            assert_eq!(back, if repeated { t - HOUR_MS } else { t }, "{l:?}");
            t += 17 * MIN;
        }
    }

    #[test]
    fn extreme_inputs_are_clamped_not_panics() {
        assert_eq!(local(i64::MIN).year, 1);
        assert_eq!(local(i64::MAX).year, 9999);
        assert_eq!(local(-1).date(), (1969, 12, 31));
        assert_eq!((local(-1).hour, local(-1).minute), (23, 59));
        assert!(
            instant((i32::MAX, u32::MAX, u32::MAX), u32::MAX, u32::MAX)
                > MAX_MS - 1000 * 86_400_000
        );
        assert!(instant((i32::MIN, 0, 0), 0, 0) < MIN_MS + 86_400_000);
        // An impossible date rolls over.
        assert_eq!(midnight((2026, 2, 30)), midnight((2026, 3, 2)));
    }
}
