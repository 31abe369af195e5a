//! `--demo`: invented cases so a newcomer sees a working caseload. Every name, place and
//! event here is made up; none comes from any real record or document.

use fieldbook_case::{self as case, caseload, Profile, CONTACT_TYPES};

use crate::caseload::{Offline, SeedError};
use crate::storage::Store;

/// Setting that records the demo was seeded, so a restart with `--demo` adds nothing twice.
const SEEDED: &str = "demo_seeded";

const PEOPLE: &[(&str, &str, u32)] = &[
    ("Demo — Kasey Brightwater", "Kase", 15),
    ("Demo — Rio Halloran-Peck", "Rio", 14),
    ("Demo — Tamsin Okonedo-Vale", "Tam", 16),
    ("Demo — Jaylen Marrick", "J", 15),
    ("Demo — Ellis Quennell", "Ellis", 13),
    ("Demo — Sonny Arkwright-Bey", "Sonny", 17),
    ("Demo — Mica Trevanion", "Mica", 14),
    ("Demo — Devonte Pellow", "Dev", 16),
];

const PLACES: &[&str] = &[
    "Outside the (invented) Larkfield youth centre",
    "Bus station, stand F",
    "Home visit, with parent present",
    "School, pastoral room",
    "Chicken shop on the (invented) Mercer Road",
    "Police custody suite",
];

const NOTES: &[&str] = &[
    "Seemed tired and kept checking a second phone. Said he had been \"out with mates\" late. Agreed to meet again Thursday.",
    "Talked about college courses; interested in motor mechanics. Did not want to talk about the new trainers.",
    "Parent reports two nights missing this week, returned with cash. RHI offered; young person declined today.",
    "Spoke about feeling he owes someone money. Gave worker's number and the helpline card again.",
    "Positive visit: attended football session, laughed with the coach. Wants to keep going.",
    "Seen with two older males in a car; left when worker approached. Shared with police intelligence via the form.",
];

/// Seed the demo caseload once: invented cases with contact notes, all listed in the index.
/// Returns how many cases were added (0 if seeded before).
pub async fn seed<S: Store>(store: &S, now_ms: i64) -> Result<usize, SeedError> {
    if store.get_setting(SEEDED).await?.is_some() {
        return Ok(0);
    }
    let index = crate::caseload::ensure_index(store, now_ms as u64).await?;
    let mut offline = Offline::new(store, now_ms as u64);
    offline.open(index).await?;
    let year = 1970 + now_ms / 31_556_952_000;
    const DAY: i64 = 86_400_000;
    let mut ids = Vec::new();
    for (i, (name, known_as, age)) in PEOPLE.iter().enumerate() {
        let profile = Profile {
            name: (*name).into(),
            known_as: (*known_as).into(),
            dob: format!("{}-{:02}-{:02}", year - *age as i64, 1 + i % 12, 3 + i * 3),
        };
        let doc = offline.create(|tx| case::create(tx, &profile))?;
        for n in 0..(2 + i % 4) {
            let k = i * 7 + n;
            let note = case::Note {
                id: format!("demo-{i}-{n}"),
                // Working hours (UTC) on earlier days, a few days apart.
                at: (now_ms / DAY - (n as i64 + 1) * 3 - i as i64) * DAY
                    + (9 + k as i64 % 9) * 3_600_000
                    + (k as i64 * 17 % 60) * 60_000,
                kind: CONTACT_TYPES[k % CONTACT_TYPES.len()].into(),
                place: PLACES[k % PLACES.len()].into(),
                present: format!("{known_as} and outreach worker"),
                text: NOTES[k % NOTES.len()].into(),
            };
            offline.change(doc, |tx| case::add_note(tx, &note))?;
        }
        ids.push(doc);
    }
    offline.change(index, |tx| {
        for id in &ids {
            caseload::add(tx, id, now_ms)?;
        }
        Ok(())
    })?;
    offline.commit().await?;
    // Not in the same transaction as the cases: a crash between the two seeds a second set
    // on the next `--demo` start, which is harmless for invented data.
    store.put_setting(SEEDED, "1").await?;
    Ok(ids.len())
}
