//! Missing episodes and return home interviews. An episode is written with one
//! "Save" after validation ([`crate::validate::missing`]): "no reason recorded" for an RHI
//! that was not completed must not be possible.
//! Domain notes: `docs/domain/missing-and-rhi.md`.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{AutomergeError, ObjId, ReadDoc, ScalarValue, ROOT};

use crate::doc;
use crate::removal::{self, Removal};
use crate::schema::{self, Record, Texts};

const LIST: &str = "missing";

/// Where the return home interview stands.
pub const RHI_STATES: &[crate::vocab::Choice] = &[
    ("pending", "Not yet (within 72 hours of return)"),
    ("completed", "Completed"),
    ("not-completed", "Not completed"),
];

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Episode {
    pub id: String,
    /// Went missing (ms since the epoch).
    pub start: i64,
    /// Found or returned; None while still missing.
    pub end: Option<i64>,
    pub found_where: String,
    pub found_with: String,
    pub reported_by: String,
    /// "home" or "care".
    pub from: String,
    pub injuries: String,
    pub rhi_offered: Option<i64>,
    /// One of [`RHI_STATES`].
    pub rhi: String,
    pub rhi_completed: Option<i64>,
    /// An id from [`crate::vocab::RHI_REASONS`] when `rhi` is "not-completed".
    pub rhi_reason: String,
    pub rhi_reason_text: String,
    /// Why the interview was completed after it was due: an id from
    /// [`crate::vocab::RHI_LATE_REASONS`]; required when it was late.
    pub rhi_late_reason: String,
    pub rhi_late_text: String,
    pub removal: Option<Removal>,
}

impl Episode {
    pub fn duration_ms(&self) -> Option<i64> {
        self.end.map(|e| e - self.start)
    }
}

crate::schema::texts!(Episode {
    "reportedBy" => reported_by,
    "foundWhere" => found_where,
    "foundWith" => found_with,
    "injuries" => injuries,
    "rhiReasonText" => rhi_reason_text,
    "rhiLateText" => rhi_late_text,
});

fn read_one<D: ReadDoc>(d: &D, e: &ObjId) -> Episode {
    let mut episode = Episode {
        id: doc::text(d, e, "id"),
        start: doc::int(d, e, "start"),
        end: doc::opt_int(d, e, "end"),
        from: doc::text(d, e, "from"),
        rhi_offered: doc::opt_int(d, e, "rhiOffered"),
        rhi: doc::text(d, e, "rhi"),
        rhi_completed: doc::opt_int(d, e, "rhiCompleted"),
        rhi_reason: doc::text(d, e, "rhiReason"),
        rhi_late_reason: doc::text(d, e, "rhiLateReason"),
        removal: removal::read(d, e),
        ..Default::default()
    };
    schema::fill(d, std::slice::from_ref(e), Record::Episode, &mut episode);
    episode
}

/// Every episode, newest first.
pub fn read<D: ReadDoc>(d: &D) -> Vec<Episode> {
    doc::newest_first(d, LIST, read_one, |e| e.start, |e| &e.id)
}

fn put_time(
    tx: &mut impl Transactable,
    obj: &ObjId,
    key: &str,
    t: Option<i64>,
) -> Result<(), AutomergeError> {
    match t {
        Some(t) => tx.put(obj, key, ScalarValue::Timestamp(t)),
        None if doc::opt_int(tx, obj, key).is_some() => tx.delete(obj, key),
        None => Ok(()),
    }
}

/// Save an episode: a new one, or the fields of an existing one (only what changed is
/// written, so a colleague's concurrent edit to another field is kept).
pub fn save(tx: &mut impl Transactable, e: &Episode) -> Result<(), AutomergeError> {
    let item = match doc::find_item(tx, &ROOT, LIST, &e.id) {
        Some(item) => {
            removal::touch(tx, &item)?;
            item
        }
        None => doc::push_item(tx, &ROOT, LIST, &e.id)?,
    };
    put_time(tx, &item, "start", Some(e.start))?;
    put_time(tx, &item, "end", e.end)?;
    put_time(tx, &item, "rhiOffered", e.rhi_offered)?;
    put_time(tx, &item, "rhiCompleted", e.rhi_completed)?;
    // Text fields as the form showed them (every concurrent copy joined): only the ones
    // the person changed are written.
    let copies = [item.clone()];
    for t in schema::fields(Record::Episode) {
        let value = e.text(t.key).unwrap_or_default();
        if schema::read_text(tx, &copies, Record::Episode, t.key) != value {
            schema::write_text(tx, &copies, Record::Episode, t.key, value)?;
        }
    }
    for (key, value) in [
        ("from", &e.from),
        ("rhi", &e.rhi),
        ("rhiReason", &e.rhi_reason),
        ("rhiLateReason", &e.rhi_late_reason),
    ] {
        if doc::text(tx, &item, key) != *value {
            tx.put(&item, key, value.as_str())?;
        }
    }
    Ok(())
}

pub fn remove(
    tx: &mut impl Transactable,
    id: &str,
    by: &str,
    at: i64,
) -> Result<bool, AutomergeError> {
    doc::on_item(tx, &ROOT, LIST, id, |tx, e| removal::remove(tx, e, by, at))
}

/// What the episodes of one young person show together (reviews found patterns were
/// never analysed). Removed episodes are left out unless changed since their removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Patterns {
    pub total: usize,
    pub last_30_days: usize,
    pub last_90_days: usize,
    pub still_missing: usize,
    /// Median time away, over episodes that have ended.
    pub median_hours: Option<i64>,
    /// Where they were found, most frequent first (ties alphabetical), at most three.
    pub places: Vec<(String, usize)>,
    /// Who they were with, most frequent first, at most three.
    pub with: Vec<(String, usize)>,
    /// Episodes that started at night (22:00–06:00 local time).
    pub at_night: usize,
    /// Returns with no completed interview (not completed, or pending past 72 hours).
    pub no_interview: usize,
}

fn top(values: impl Iterator<Item = String>) -> Vec<(String, usize)> {
    let mut counts: std::collections::BTreeMap<String, (String, usize)> = Default::default();
    for v in values
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    {
        // "Bus station" and "bus station " are one place.
        counts.entry(v.to_lowercase()).or_insert((v, 0)).1 += 1;
    }
    let mut list: Vec<(String, usize)> = counts.into_values().collect();
    fieldbook_sync::order::sort_by(&mut list, |a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    list.truncate(3);
    list
}

/// "Night" is night in London at the time each episode started (GMT or British Summer
/// Time, whichever applied then), whatever time zone the device is set to.
pub fn patterns(episodes: &[Episode], now: i64) -> Patterns {
    const DAY: i64 = 86_400_000;
    const HOUR: i64 = 3_600_000;
    let live: Vec<&Episode> = episodes
        .iter()
        .filter(|e| removal::visible(&e.removal))
        .collect();
    let mut hours: Vec<i64> = live
        .iter()
        .filter_map(|e| e.duration_ms())
        .map(|d| d.max(0) / HOUR)
        .collect();
    fieldbook_sync::order::sort(&mut hours);
    Patterns {
        total: live.len(),
        last_30_days: live.iter().filter(|e| now - e.start <= 30 * DAY).count(),
        last_90_days: live.iter().filter(|e| now - e.start <= 90 * DAY).count(),
        still_missing: live.iter().filter(|e| e.end.is_none()).count(),
        median_hours: (!hours.is_empty()).then(|| hours[hours.len() / 2]),
        places: top(live.iter().map(|e| e.found_where.clone())),
        with: top(live.iter().map(|e| e.found_with.clone())),
        at_night: live
            .iter()
            .filter(|e| {
                let h = crate::clocks::london::local(e.start).hour;
                !(6..22).contains(&h)
            })
            .count(),
        no_interview: live
            .iter()
            .filter(|e| match (e.end, e.rhi.as_str()) {
                (None, _) | (_, "completed") => false,
                (Some(end), "pending") => now > end + 72 * HOUR,
                _ => true,
            })
            .count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const DAY: i64 = 24 * H;

    fn ep(start: i64, hours: Option<i64>, place: &str, with: &str, rhi: &str) -> Episode {
        Episode {
            id: format!("e{start}"),
            start,
            end: hours.map(|h| start + h * H),
            found_where: place.into(),
            found_with: with.into(),
            from: "home".into(),
            rhi: rhi.into(),
            ..Default::default()
        }
    }

    #[test]
    fn patterns_collate_frequency_duration_places_times_and_associates() {
        // 20 January 2026, midnight UTC: GMT, so London hours are UTC hours.
        let now = 20_473 * DAY;
        let episodes = vec![
            ep(
                now - 5 * DAY + 23 * H,
                Some(10),
                "Bus station",
                "Older male (invented)",
                "not-completed",
            ),
            ep(
                now - 20 * DAY + 14 * H,
                Some(30),
                "bus station ",
                "",
                "completed",
            ),
            ep(
                now - 60 * DAY + 2 * H,
                Some(4),
                "Mercer Road flat",
                "Older male (invented)",
                "pending",
            ),
            ep(now - 2 * H, None, "", "", ""),
        ];
        let p = patterns(&episodes, now);
        assert_eq!(
            (p.total, p.last_30_days, p.last_90_days, p.still_missing),
            (4, 3, 4, 1)
        );
        assert_eq!(p.median_hours, Some(10));
        assert_eq!(
            p.places,
            vec![
                ("Bus station".to_owned(), 2),
                ("Mercer Road flat".to_owned(), 1)
            ]
        );
        assert_eq!(p.with, vec![("Older male (invented)".to_owned(), 2)]);
        assert_eq!(p.at_night, 3, "23:00, 02:00 and 22:00 starts");
        assert_eq!(
            p.no_interview, 2,
            "one not completed, one pending long past 72 hours"
        );
        assert_eq!(patterns(&[], now), Patterns::default());
        // In British Summer Time London is an hour ahead: 05:00 UTC on 1 July 2026 is 06:00,
        // not night; 21:30 UTC is 22:30, night. In January 05:00 UTC is night.
        let july = 20_635 * DAY;
        assert_eq!(
            patterns(&[ep(july + 5 * H, Some(1), "", "", "completed")], now).at_night,
            0
        );
        assert_eq!(
            patterns(
                &[ep(july + 21 * H + H / 2, Some(1), "", "", "completed")],
                now
            )
            .at_night,
            1
        );
        assert_eq!(
            patterns(&[ep(now + 5 * H, Some(1), "", "", "completed")], now).at_night,
            1
        );
    }
}
