//! Invented demo cases covering every record type, for `--demo` and for tests. Every name,
//! place and event here is made up; none comes from any real record or document. Names
//! start with "Demo —" so nobody mistakes them for real people.
//!
//! Each case also tells a short story relative to the moment it is written, so that the
//! "Due and overdue" screen shows every kind of deadline in every state (upcoming, due
//! soon, overdue, done, done late): see [`stories`], and the test that checks it at many
//! moments of the year.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::AutomergeError;

use crate::clocks::{calendar, london};
use crate::concerns::Concern;
use crate::history::History;
use crate::meetings::{Attendee, Meeting};
use crate::missing::Episode;
use crate::moments::{self, Moment};
use crate::network::{Link, LinkKind};
use crate::plan::Action;
use crate::{assessment, concerns, meetings, missing, network, notes, nrm, outcomes, plan};
use crate::{profile, vocab};
use crate::{Note, Outcome, Profile, CONTACT_TYPES};

/// (name, known as, age in years)
pub const PEOPLE: &[(&str, &str, i64)] = &[
    ("Demo — Kasey Brightwater", "Kase", 15),
    ("Demo — Rio Halloran-Peck", "Rio", 14),
    ("Demo — Tamsin Okonedo-Vale", "Tam", 16),
    ("Demo — Jaylen Marrick", "J", 15),
    ("Demo — Ellis Quennell", "Ellis", 13),
    ("Demo — Sonny Arkwright-Bey", "Sonny", 17),
    ("Demo — Mica Trevanion", "Mica", 14),
    ("Demo — Devonte Pellow", "Dev", 16),
];

/// Invented first names and surnames for demo cases past [`PEOPLE`] (`--demo-cases`): none
/// is meant to be anyone; every generated name also starts with "Demo —".
const FIRST_NAMES: &[&str] = &[
    "Arlo", "Bryn", "Cass", "Dara", "Eben", "Fenn", "Gale", "Huxley", "Ilo", "Jory", "Kit", "Lark",
    "Mace", "Nell", "Orrin", "Pip", "Quill", "Rook", "Sable", "Tiber", "Umber", "Vesper", "Wren",
    "Yarrow", "Zephyr",
];
const SURNAMES: &[&str] = &[
    "Ashcombe",
    "Blackthorn-Ree",
    "Corrow",
    "Dunmere",
    "Elphick-Tay",
    "Fallowgate",
    "Grisdale",
    "Harrowden",
    "Ingleby-Moss",
    "Jessamy",
    "Kestrelle",
    "Lowenna",
    "Marchbank",
    "Nettlefold",
    "Ottery-Vane",
    "Pendarve",
    "Quarrender",
    "Rushmere",
    "Stangrove",
    "Tolverne",
];

/// The invented person of demo case `i`: (name, known as, age in years). The first
/// [`PEOPLE`] are the hand-written ones; later cases get generated invented names (unique up
/// to 500 cases, then numbered) and reuse the stories of `i % PEOPLE.len()`.
pub fn person(i: usize) -> (String, String, i64) {
    if i < PEOPLE.len() {
        let (name, known_as, age) = PEOPLE[i];
        return (name.into(), known_as.into(), age);
    }
    let j = i - PEOPLE.len();
    let first = FIRST_NAMES[j % FIRST_NAMES.len()];
    let surname = SURNAMES[(j / FIRST_NAMES.len()) % SURNAMES.len()];
    let round = j / (FIRST_NAMES.len() * SURNAMES.len());
    let name = if round == 0 {
        format!("Demo — {first} {surname}")
    } else {
        format!("Demo — {first} {surname} {}", round + 1)
    };
    (name, first.into(), PEOPLE[i % PEOPLE.len()].2)
}

const PLACES: &[&str] = &[
    "Outside the (invented) Larkfield youth centre",
    "Bus station, stand F",
    "Home visit, with parent present",
    "School, pastoral room",
    "Chicken shop on the (invented) Mercer Road",
    "Police custody suite",
];

const NOTES: &[&str] = &[
    "Seemed tired and kept checking a second phone. Said they had been \"out with mates\" late. Agreed to meet again Thursday.",
    "Talked about college courses; interested in motor mechanics. Did not want to talk about the new trainers.",
    "Parent reports two nights missing this week, returned with cash. RHI offered; young person declined today.",
    "Spoke about feeling they owe someone money. Gave worker's number and the helpline card again.",
    "Positive visit: attended football session, laughed with the coach. Wants to keep going.",
    "Seen with two older males in a car; left when worker approached. Shared with police intelligence via the form.",
];

const WORDS: &[&str] = &[
    "I'm fine, I can handle it.",
    "They look after me, not like you lot.",
    "I just want to go back to college.",
    "",
];

const WORKER: &str = "Demo Worker (outreach)";
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;

/// Write demo case number `i` (0-based; names repeat past [`PEOPLE`]) into a new document.
/// `now` is ms since the epoch; every event is in the past, in working hours (UTC).
pub fn write(
    tx: &mut (impl Transactable + History),
    i: usize,
    now: i64,
) -> Result<(), AutomergeError> {
    let (name, known_as, age) = person(i);
    let year = 1970 + now / 31_556_952_000;
    let today = now / DAY * DAY;
    let date_in = |days: i64| {
        let (y, m, d) = calendar::add_days(london::local(now).date(), days);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let dob = match i % PEOPLE.len() {
        // Seventeen in 60 days, no transition worker yet; seventeen 10 days ago, still none;
        // seventeen in 30 days, worker allocated.
        4 => years_before(&date_in(60), 17),
        6 => years_before(&date_in(-10), 17),
        2 => years_before(&date_in(30), 17),
        _ => format!("{}-{:02}-{:02}", year - age, 1 + i % 12, 3 + (i * 3) % 25),
    };
    let mut legal_statuses = vec![vocab::LEGAL_STATUS[i % vocab::LEGAL_STATUS.len()]
        .0
        .to_owned()];
    if i % PEOPLE.len() == 2 {
        // Statuses combine: looked after and on a care order.
        legal_statuses = vec!["la".into(), "care-order".into()];
    }
    let p = Profile {
        name,
        known_as: known_as.clone(),
        dob,
        legal_statuses,
        education: vocab::EDUCATION[i % vocab::EDUCATION.len()].0.into(),
        worker: WORKER.into(),
        team: "Demo Exploitation Team".into(),
        voice: WORDS[i % WORDS.len()].into(),
        needs: if i.is_multiple_of(3) {
            "Cognitive assessment (invented): processes spoken information slowly. Use short sentences and check understanding.".into()
        } else {
            String::new()
        },
        ..Default::default()
    };
    crate::create(tx, &p)?;
    let at = |days_ago: i64, hour: i64| today - days_ago * DAY + (9 + hour % 9) * HOUR;
    if i.is_multiple_of(2) {
        profile::set_hazard(tx, "not-alone", true, WORKER, at(30, 0))?;
    }
    if i % 3 == 1 {
        profile::set_hazard(tx, "high-cce", true, WORKER, at(20, 1))?;
    }
    for n in 0..(2 + i % 4) {
        let k = i * 7 + n;
        notes::add(
            tx,
            &Note {
                id: format!("demo-note-{i}-{n}"),
                at: at((n as i64 + 1) * 3 + i as i64, k as i64),
                kind: CONTACT_TYPES[k % CONTACT_TYPES.len()].into(),
                duration: 20 + (k as i64 % 4) * 15,
                place: PLACES[k % PLACES.len()].into(),
                present: format!("{known_as} and outreach worker"),
                text: NOTES[k % NOTES.len()].into(),
                own_words: WORDS[k % WORDS.len()].into(),
                indicators: vocab::INDICATORS
                    .iter()
                    .skip(k % 5)
                    .step_by(5)
                    .map(|(id, _)| (*id).to_owned())
                    .collect(),
                reachable: k.is_multiple_of(4),
                reachable_kind: if k.is_multiple_of(4) {
                    vocab::REACHABLE_MOMENTS[k % vocab::REACHABLE_MOMENTS.len()]
                        .0
                        .into()
                } else {
                    String::new()
                },
                follow_up_of: String::new(),
                follow_ups: "Check in with school on Monday.".into(),
                // The note that says it was shared with police intelligence.
                intelligence: k % NOTES.len() == 5,
                by: WORKER.into(),
                removal: None,
            },
        )?;
    }
    let aid = format!("demo-assessment-{i}");
    assessment::start(tx, &aid, at(40, 2), None, WORKER)?;
    for (c, (cid, _)) in vocab::RISK_CATEGORIES.iter().enumerate() {
        let rating = vocab::RATINGS[(c + i) % vocab::RATINGS.len()].0;
        assessment::set_rating(tx, &aid, cid, rating, WORKER, at(40, 3))?;
        assessment::set_category_text(tx, &aid, cid, "Information gathered at the demo visit.")?;
    }
    assessment::set_field(
        tx,
        &aid,
        assessment::AssessmentField::Summary,
        "Invented summary: concerns about going missing and new older associates.",
    )?;
    assessment::set_field(
        tx,
        &aid,
        assessment::AssessmentField::CompletedBy,
        "Demo Worker (social care), Demo Officer (youth justice)",
    )?;
    let level = vocab::LEVELS[i % 3].0;
    assessment::set_overall(tx, &aid, level, WORKER, at(40, 4))?;
    assessment::submit(tx, &aid, at(40, 5))?;
    // Reviewed two days after submission (in time), except case 3's, six days after (late).
    let reviewed = if i % PEOPLE.len() == 3 {
        at(34, 1)
    } else {
        at(38, 1)
    };
    assessment::review(tx, &aid, &review(level, reviewed, i % PEOPLE.len() != 7))?;
    for (a, group) in vocab::ACTION_GROUPS.iter().enumerate() {
        plan::add_action(
            tx,
            &Action {
                id: format!("demo-action-{i}-{a}"),
                group: group.0.into(),
                text: [
                    "Agreed curfew and time to report missing",
                    "Full education timetable",
                    "Disrupt use of the (invented) Mercer Road flat",
                    "Football on Tuesdays",
                ][a]
                    .into(),
                owner: ["Parent", "School", "Police", "Youth worker"][a].into(),
                // A third of the cases have an action past its date; the rest are ahead.
                due: date_in(if i.is_multiple_of(3) {
                    [-3, 1, 5, 20][a]
                } else {
                    [2, 9, 16, 30][a]
                }),
                status: vocab::ACTION_STATUS[(a + i) % vocab::ACTION_STATUS.len()]
                    .0
                    .into(),
                removal: None,
            },
        )?;
    }
    // Case 7's plan review date has passed; the others' are well ahead (the six-weekly
    // review while Moderate or High is the nearer deadline).
    plan::set_review(tx, &date_in(if i % PEOPLE.len() == 7 { -5 } else { 70 }))?;
    if i % 2 == 1 && i % PEOPLE.len() != 5 && i % PEOPLE.len() != 7 {
        let start = at(12, 8);
        missing::save(
            tx,
            &Episode {
                id: format!("demo-missing-{i}"),
                start,
                end: Some(start + 30 * HOUR),
                found_where: PLACES[1].into(),
                found_with: "Two older males (invented)".into(),
                reported_by: "Parent".into(),
                from: if i % 4 == 1 { "home" } else { "care" }.into(),
                rhi_offered: Some(start + 40 * HOUR),
                rhi: "not-completed".into(),
                rhi_reason: "declined".into(),
                ..Default::default()
            },
        )?;
    }
    nrm::set_status(
        tx,
        &nrm::Step {
            id: format!("demo-nrm-{i}"),
            // Case 5's referral has waited 65 days for a decision (second reminder); case 7's
            // story starts from here.
            at: match i % PEOPLE.len() {
                5 => at(65, 2),
                7 => at(70, 2),
                _ => at(35, 2),
            },
            status: vocab::NRM_STATUS[i % 3].0.into(),
            reason: if i % 3 == 1 {
                "Indicators explained by family situation (invented)".into()
            } else {
                String::new()
            },
            by: WORKER.into(),
        },
    )?;
    outcomes::add(
        tx,
        &Outcome {
            id: format!("demo-outcome-{i}"),
            at: at(10, 3),
            overall: vocab::OUTCOMES[i % 3].0.into(),
            soft: vec![vocab::SOFT_OUTCOMES[i % vocab::SOFT_OUTCOMES.len()]
                .0
                .into()],
            notes: "Invented review outcome.".into(),
            by: WORKER.into(),
        },
    )?;
    stories(tx, i, now)?;
    reachable_moments(tx, i, now)?;
    last_month(tx, i, now)?;
    Ok(())
}

/// Case 1's reachable moments: three hospital attendances in 90 days (a current pattern
/// flag), the latest three hours ago with its follow-up still open (due soon), the earlier
/// ones followed up; and a time in custody six days ago, followed up three hours later.
fn reachable_moments(tx: &mut impl Transactable, i: usize, now: i64) -> Result<(), AutomergeError> {
    if i % PEOPLE.len() != 1 {
        return Ok(());
    }
    let events: [(&str, i64, Option<i64>, &str); 4] = [
        ("hospital", 60 * DAY, Some(5 * HOUR), "Seen at the (invented) Larkfield A&E with a cut hand; left before treatment finished."),
        ("hospital", 25 * DAY, Some(20 * HOUR), "Brought to A&E by a friend after a fall (invented); discharged the same night."),
        ("arrest", 6 * DAY, Some(3 * HOUR), "Held in custody overnight after a stop in the (invented) town centre; released under investigation."),
        ("hospital", 3 * HOUR, None, "Attended A&E with a facial injury (invented); said they fell off a bike."),
    ];
    for (n, (kind, ago, followed, what)) in events.into_iter().enumerate() {
        let at = now - ago;
        let id = format!("demo-moment-{i}-{n}");
        moments::add(
            tx,
            &Moment {
                id: id.clone(),
                at,
                kind: kind.into(),
                what: what.into(),
                by: if kind == "arrest" {
                    "PC Demo Officer (invented constabulary)"
                } else {
                    "Demo Nurse (invented hospital trust)"
                }
                .into(),
                removal: None,
            },
        )?;
        if let Some(after) = followed {
            notes::add(
                tx,
                &Note {
                    id: format!("demo-follow-up-{i}-{n}"),
                    at: at + after,
                    kind: if kind == "arrest" {
                        "Custody visit"
                    } else {
                        "Hospital visit"
                    }
                    .into(),
                    duration: 30,
                    text: "Followed up the moment: talked about what happened and who could help (invented).".into(),
                    follow_up_of: id,
                    by: WORKER.into(),
                    ..Default::default()
                },
            )?;
        }
    }
    Ok(())
}

/// Add `count` more invented contact notes to demo case `i` (`--demo-big-case-notes`, for
/// measuring a case with a long history): one every 6 hours going back from `now`, texts and
/// places cycled from the demo's.
pub fn extra_notes(
    tx: &mut impl Transactable,
    i: usize,
    count: usize,
    now: i64,
) -> Result<(), AutomergeError> {
    let known_as = person(i).1;
    for n in 0..count {
        let k = i * 7 + n;
        notes::add(
            tx,
            &Note {
                id: format!("demo-extra-note-{i}-{n}"),
                at: now - (n as i64 + 1) * 6 * HOUR,
                kind: CONTACT_TYPES[k % CONTACT_TYPES.len()].into(),
                duration: 20 + (k as i64 % 4) * 15,
                place: PLACES[k % PLACES.len()].into(),
                present: format!("{known_as} and outreach worker"),
                text: NOTES[k % NOTES.len()].into(),
                own_words: WORDS[k % WORDS.len()].into(),
                by: WORKER.into(),
                ..Default::default()
            },
        )?;
    }
    Ok(())
}

/// Records dated in the last complete month (London time), so the monthly service dataset
/// (`crate::dataset`) has numbers for it whatever day the demo is seeded: a face-to-face
/// visit for every case (some sharing intelligence), and for even-numbered cases a missing
/// episode with its return home interview in time, late or not done. Each is long finished,
/// so it changes no open deadline.
fn last_month(tx: &mut impl Transactable, i: usize, now: i64) -> Result<(), AutomergeError> {
    let (y, m, _) = london::local(now).date();
    // `d` days before the first of this month, at 10:00 London time.
    let before = |d: i64| {
        let day = calendar::add_days((y, m, 1), -d);
        london::instant(day, 10, 0)
    };
    let case = i % PEOPLE.len();
    let known_as = person(i).1;
    notes::add(
        tx,
        &Note {
            id: format!("demo-note-{i}-last-month"),
            at: before(3 + 3 * case as i64),
            kind: CONTACT_TYPES[0].into(),
            duration: 45,
            place: PLACES[(i + 2) % PLACES.len()].into(),
            present: format!("{known_as} and outreach worker"),
            text: NOTES[(i + 1) % NOTES.len()].into(),
            intelligence: case.is_multiple_of(3),
            by: WORKER.into(),
            ..Default::default()
        },
    )?;
    if case.is_multiple_of(2) {
        let start = before(8 + 2 * case as i64);
        let end = start + 20 * HOUR;
        let mut e = Episode {
            id: format!("demo-missing-{i}-last-month"),
            start,
            end: Some(end),
            found_where: PLACES[(i + 1) % PLACES.len()].into(),
            found_with: "On their own".into(),
            reported_by: "Parent".into(),
            from: if case.is_multiple_of(4) {
                "home"
            } else {
                "care"
            }
            .into(),
            rhi_offered: Some(end + 6 * HOUR),
            rhi: "completed".into(),
            rhi_completed: Some(end + 30 * HOUR),
            ..Default::default()
        };
        match case {
            2 => {
                // Completed after 72 hours: the family could not be reached sooner.
                e.rhi_completed = Some(end + 100 * HOUR);
                e.rhi_late_reason = "not-engaged".into();
            }
            6 => {
                e.rhi = "not-completed".into();
                e.rhi_completed = None;
                e.rhi_reason = "other-agency".into();
            }
            _ => {}
        }
        missing::save(tx, &e)?;
    }
    Ok(())
}

/// `date` (ISO) `years` earlier; 29 February becomes 28 February when that year has none.
fn years_before(date: &str, years: i32) -> String {
    let (y, m, d) = crate::validate::parse_iso_date(date).unwrap_or((2000, 1, 1));
    let y = y - years;
    let d = if crate::validate::is_iso_date(&format!("{y:04}-{m:02}-{d:02}")) {
        d
    } else {
        28
    };
    format!("{y:04}-{m:02}-{d:02}")
}

/// A review by the role the level goes to (a chair deciding on a multi-agency meeting).
fn review(level: &str, at: i64, meeting_needed: bool) -> assessment::Review {
    let role = assessment::reviewer_for(level);
    let chair = role == "chair";
    assessment::Review {
        by: if chair {
            "Demo Chair (child protection)"
        } else {
            "Demo Manager"
        }
        .into(),
        role: role.into(),
        at,
        level: level.into(),
        meeting_needed: match (chair, meeting_needed) {
            (false, _) => String::new(),
            (true, true) => "yes".into(),
            (true, false) => "no".into(),
        },
        meeting_chair: if chair && meeting_needed {
            if level == "high" { "chair" } else { "manager" }.into()
        } else {
            String::new()
        },
        note: "Level agreed on the evidence in the summary (invented).".into(),
    }
}

fn meeting(i: usize, n: usize, at: i64, kind: &str, level: &str, next_review: String) -> Meeting {
    Meeting {
        id: format!("demo-meeting-{i}-{n}"),
        at,
        kind: kind.into(),
        chair: "Demo Chair (child protection)".into(),
        attendees: [
            ("Demo Worker (outreach)", "Invented County Council"),
            ("PC Demo Officer", "Invented Constabulary"),
            ("Demo Teacher", "Invented Academy"),
        ]
        .iter()
        .enumerate()
        .map(|(k, (name, agency))| Attendee {
            id: format!("demo-attendee-{i}-{n}-{k}"),
            name: (*name).into(),
            agency: (*agency).into(),
        })
        .collect(),
        level: level.into(),
        meeting_needed: String::new(),
        meeting_chair: String::new(),
        nrm: "already".into(),
        icpc_considered: kind == "strategy",
        plan_heads: Vec::new(),
        next_review,
        decisions: "Safety plan reviewed; actions updated (invented).".into(),
        by: WORKER.into(),
        removal: None,
    }
}

fn concern(i: usize, at: i64) -> Concern {
    Concern {
        id: format!("demo-concern-{i}"),
        at,
        what: "School reports new older associates and unexplained cash (invented).".into(),
        by: WORKER.into(),
        types: vocab::CONCERN_TYPES
            .iter()
            .enumerate()
            .filter(|(t, _)| *t == 0 || (i + t).is_multiple_of(3))
            .map(|(_, (id, _))| (*id).to_owned())
            .collect(),
        removal: None,
    }
}

/// Who completed a new version, and its summary.
fn complete(tx: &mut (impl Transactable + History), aid: &str) -> Result<(), AutomergeError> {
    assessment::set_field(
        tx,
        aid,
        assessment::AssessmentField::CompletedBy,
        "Demo Worker (social care)",
    )?;
    assessment::set_field(
        tx,
        aid,
        assessment::AssessmentField::Summary,
        "Invented summary: new concerns reported by school; reviewed with the family.",
    )?;
    Ok(())
}

/// The events that put each case's deadlines where the demo wants them at `now`: every
/// kind of deadline appears, in every state, across the eight cases.
fn stories(
    tx: &mut (impl Transactable + History),
    i: usize,
    now: i64,
) -> Result<(), AutomergeError> {
    let case = i % PEOPLE.len();
    let date_in = |days: i64| {
        let (y, m, d) = calendar::add_days(london::local(now).date(), days);
        format!("{y:04}-{m:02}-{d:02}")
    };
    let episode = |id: &str, returned: i64| Episode {
        id: format!("demo-{id}-{i}"),
        start: returned - 20 * HOUR,
        end: Some(returned),
        found_where: PLACES[1].into(),
        found_with: "An older male (invented)".into(),
        reported_by: "Carer".into(),
        from: "care".into(),
        rhi: "pending".into(),
        ..Default::default()
    };
    match case {
        0 => {
            // Concerns three days ago: an assessment is due within ten days (upcoming).
            // Back from missing ten hours ago, exploitation suspected: interview within 48
            // hours (due soon), offered two hours after the return (done).
            concerns::add(tx, &concern(i, now - 3 * DAY))?;
            let mut e = episode("returned", now - 10 * HOUR);
            e.rhi_offered = Some(now - 8 * HOUR);
            missing::save(tx, &e)?;
        }
        1 => {
            // Moderate: a CCE meeting ten days after the assessment (in time), which
            // restarts the six-weekly review.
            meetings::save(
                tx,
                &meeting(i, 0, now - 30 * DAY, "cce", "moderate", date_in(12)),
            )?;
        }
        2 => {
            // A new High assessment a week ago, after concerns nine days ago: nobody has
            // reviewed it (overdue); the meeting is due within fifteen days of the concerns.
            concerns::add(tx, &concern(i, now - 9 * DAY))?;
            let aid = format!("demo-assessment-{i}-b");
            let previous = assessment::read(tx).into_iter().next();
            assessment::start(tx, &aid, now - 8 * DAY, previous.as_ref(), WORKER)?;
            complete(tx, &aid)?;
            assessment::set_overall(tx, &aid, "high", WORKER, now - 7 * DAY - HOUR)?;
            assessment::submit(tx, &aid, now - 7 * DAY)?;
            profile::set_field(
                tx,
                profile::ProfileField::TransitionWorker,
                "Demo Transitions Worker",
            )?;
            profile::set_field(tx, profile::ProfileField::TransitionAllocated, &date_in(-5))?;
        }
        3 => {
            // Back 30 hours ago, no interview offered yet (overdue); 72 hours to hold it.
            missing::save(tx, &episode("returned", now - 30 * HOUR))?;
        }
        4 => {
            // Concerns twelve days ago and no new assessment (overdue); the Moderate
            // assessment's meeting was held twenty days late.
            concerns::add(tx, &concern(i, now - 12 * DAY))?;
            meetings::save(
                tx,
                &meeting(i, 0, now - 20 * DAY, "strategy", "moderate", date_in(22)),
            )?;
        }
        5 => {
            // High with no meeting in 40 days (overdue) and the six-weekly review in two
            // days (due soon). An interview held 80 hours after a return six days ago,
            // late, with the reason.
            let mut e = episode("returned", now - 6 * DAY);
            e.rhi_offered = Some(now - 6 * DAY + 3 * HOUR);
            e.rhi = "completed".into();
            e.rhi_completed = Some(now - 6 * DAY + 80 * HOUR);
            e.rhi_late_reason = "timescale".into();
            missing::save(tx, &e)?;
        }
        6 => {
            // Concerns 30 days ago, assessed 15 days ago (late). A level from another area.
            concerns::add(tx, &concern(i, now - 30 * DAY))?;
            let aid = format!("demo-assessment-{i}-b");
            let previous = assessment::read(tx).into_iter().next();
            assessment::start(tx, &aid, now - 16 * DAY, previous.as_ref(), WORKER)?;
            complete(tx, &aid)?;
            assessment::set_overall(tx, &aid, "emerging", WORKER, now - 15 * DAY - HOUR)?;
            assessment::submit(tx, &aid, now - 15 * DAY)?;
            assessment::review(tx, &aid, &review("emerging", now - 14 * DAY, false))?;
            profile::set_field(tx, profile::ProfileField::ExternalLevel, "Very high")?;
            profile::set_field(
                tx,
                profile::ProfileField::ExternalSource,
                "Westmarsh Borough Council (invented), VEMT screening tool",
            )?;
        }
        7 => {
            // The chair decided no meeting was needed. An interview within 20 hours of a
            // return (done in time); the NRM referral has had its decision.
            let mut e = episode("returned", now - 9 * DAY);
            e.rhi_offered = Some(now - 9 * DAY + 2 * HOUR);
            e.rhi = "completed".into();
            e.rhi_completed = Some(now - 9 * DAY + 20 * HOUR);
            missing::save(tx, &e)?;
            for (n, (status, days)) in [("referred", 60), ("reasonable-grounds", 25)]
                .iter()
                .enumerate()
            {
                nrm::set_status(
                    tx,
                    &nrm::Step {
                        id: format!("demo-nrm-{i}-{n}"),
                        at: now - days * DAY,
                        status: (*status).into(),
                        reason: String::new(),
                        by: WORKER.into(),
                    },
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Write demo case number `i`'s relationships and places into its own relationships
/// document (see [`network`]), already initialised with [`network::init`].
pub fn write_relationships(tx: &mut impl Transactable, i: usize) -> Result<(), AutomergeError> {
    network::add(
        tx,
        LinkKind::Place,
        &Link {
            id: format!("demo-place-{i}"),
            name: PLACES[4].into(),
            link: "associate".into(),
            rating: "risk".into(),
            notes: "Seen here several evenings.".into(),
            removal: None,
        },
    )?;
    network::add(
        tx,
        LinkKind::Person,
        &Link {
            id: format!("demo-person-{i}"),
            name: "Football coach (invented)".into(),
            link: "protective".into(),
            rating: "protective".into(),
            notes: String::new(),
            removal: None,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clocks::{self, Kind, State};
    use fieldbook_sync::automerge::AutoCommit;
    use std::collections::BTreeSet;

    /// Whatever the moment the demo is seeded (any weekday, a bank holiday, a clock change),
    /// the home screen shows every kind of deadline and every state.
    #[test]
    fn demo_deadlines_show_every_kind_and_every_state_whenever_seeded() {
        let moments = [
            london::instant((2026, 11, 25), 12, 0), // a Wednesday
            london::instant((2026, 11, 28), 9, 30), // a Saturday
            london::instant((2026, 12, 24), 16, 0), // Christmas Eve
            london::instant((2027, 3, 28), 2, 30),  // the morning the clocks go forward
            london::instant((2027, 8, 30), 8, 0),   // a bank holiday Monday
            london::instant((2028, 2, 29), 23, 0),  // a leap day
        ];
        let all_kinds = [
            Kind::Assessment,
            Kind::AssessmentReview,
            Kind::Meeting,
            Kind::PlanReview,
            Kind::RhiOffer,
            Kind::Rhi,
            Kind::Transition,
            Kind::Action,
            Kind::Nrm,
            Kind::FollowUp,
        ];
        let name = |s: &State| match s {
            State::Upcoming => "upcoming",
            State::DueSoon => "due soon",
            State::Overdue => "overdue",
            State::Met { .. } => "met",
            State::MetLate { .. } => "met late",
        };
        for now in moments {
            let mut kinds = BTreeSet::new();
            let mut states = BTreeSet::new();
            for i in 0..PEOPLE.len() {
                let mut d = AutoCommit::new();
                write(&mut d, i, now).unwrap();
                for c in clocks::clocks(&crate::read(&d), now, &clocks::Settings::default()) {
                    kinds.insert(c.kind);
                    states.insert(name(&c.state));
                }
            }
            assert_eq!(kinds, all_kinds.into_iter().collect(), "at {now}");
            assert_eq!(
                states,
                ["upcoming", "due soon", "overdue", "met", "met late"]
                    .into_iter()
                    .collect(),
                "at {now}"
            );
        }
    }

    /// Whenever seeded, case 1 shows reachable moments on the home screen: an open follow-up
    /// (its most urgent clock), met ones and a current hospital pattern; case 0 a learning
    /// need.
    #[test]
    fn demo_reachable_moments_show_an_open_follow_up_a_met_one_and_a_current_pattern() {
        for now in [
            london::instant((2026, 11, 25), 12, 0),
            london::instant((2027, 3, 28), 2, 30),
            london::instant((2028, 2, 29), 23, 0),
        ] {
            let mut d = AutoCommit::new();
            write(&mut d, 1, now).unwrap();
            let c = crate::read(&d);
            let settings = clocks::Settings::default();
            let all = clocks::clocks(&c, now, &settings);
            let follow_ups: Vec<_> = all.iter().filter(|c| c.kind == Kind::FollowUp).collect();
            assert_eq!(follow_ups.len(), 4, "at {now}");
            assert_eq!(
                follow_ups.iter().filter(|c| c.state.is_open()).count(),
                1,
                "at {now}"
            );
            assert!(follow_ups
                .iter()
                .any(|c| matches!(c.state, State::Met { .. })));
            let row = crate::due::Row::of(0, &c, now, &settings);
            assert_eq!(row.most_urgent().map(|c| c.kind), Some(Kind::FollowUp));
            let flags = crate::reach::current(&c, now, &settings);
            assert_eq!(flags.len(), 1, "at {now}");
            assert_eq!(flags[0].words, "3 hospital attendances in 90 days");
            // Other cases carry no moments: their stories stay as they were.
            let mut other = AutoCommit::new();
            write(&mut other, 0, now).unwrap();
            let other = crate::read(&other);
            assert!(other.moments.is_empty());
            assert!(other
                .profile
                .needs
                .contains("processes spoken information slowly"));
        }
    }

    /// `--demo-cases`: cases past the hand-written eight get distinct invented names (all
    /// "Demo —"), valid profiles and the same kind of story; `--demo-big-case-notes` adds
    /// exactly that many valid notes.
    #[test]
    fn generated_demo_cases_have_distinct_invented_names_and_extra_notes_are_valid() {
        let names: BTreeSet<String> = (0..1000).map(|i| person(i).0).collect();
        assert_eq!(names.len(), 1000);
        assert!(names.iter().all(|n| n.starts_with("Demo — ")));
        let hand_written: BTreeSet<&str> = PEOPLE.iter().map(|p| p.0).collect();
        assert_eq!(
            names
                .iter()
                .filter(|n| hand_written.contains(n.as_str()))
                .count(),
            PEOPLE.len()
        );
        let now = 1_790_000_000_000;
        let i = PEOPLE.len() + 3;
        let mut d = AutoCommit::new();
        write(&mut d, i, now).unwrap();
        let before = crate::read(&d).notes.len();
        extra_notes(&mut d, i, 50, now).unwrap();
        let c = crate::read(&d);
        assert_eq!(c.profile.name, person(i).0);
        assert!(crate::validate::profile(&c.profile).is_empty());
        assert_eq!(c.notes.len(), before + 50);
        assert!(c.notes.iter().all(|n| n.at < now));
    }

    #[test]
    fn demo_cases_cover_every_record_type_and_are_valid() {
        let now = 1_790_000_000_000;
        let mut with_missing = 0;
        for i in 0..PEOPLE.len() {
            let mut d = AutoCommit::new();
            write(&mut d, i, now).unwrap();
            let c = crate::read(&d);
            assert!(c.profile.name.starts_with("Demo — "));
            assert!(crate::validate::profile(&c.profile).is_empty());
            assert!(!c.notes.is_empty() && c.notes.iter().all(|n| n.at < now));
            assert!((1..=2).contains(&c.assessments.len()));
            for a in &c.assessments {
                assert!(a.submitted.is_some());
                assert!(crate::validate::assessment(a).is_empty());
                if let Some(r) = &a.review {
                    let level = a.overall.value().unwrap_or_default();
                    assert_eq!(r.role, assessment::reviewer_for(level));
                    assert!(crate::validate::review(r, level).is_empty(), "{r:?}");
                }
            }
            for m in &c.meetings {
                assert!(crate::validate::meeting(m, now).is_empty(), "{m:?}");
            }
            for x in &c.concerns {
                assert!(crate::validate::concern(x, now).is_empty());
            }
            assert_eq!(c.plan.actions.len(), 4);
            assert!(c
                .plan
                .actions
                .iter()
                .all(|a| crate::validate::action(a).is_empty()));
            for e in &c.missing {
                assert!(
                    crate::validate::missing(e, now).is_empty(),
                    "{:?}",
                    crate::validate::missing(e, now)
                );
                let due = crate::clocks::rhi_due(&c, e.end.unwrap_or(now));
                assert!(crate::validate::rhi_late(e, due).is_empty(), "{e:?}");
                with_missing += 1;
            }
            assert!(!c.nrm.history.is_empty());
            assert!(c
                .nrm
                .history
                .iter()
                .all(|s| crate::validate::nrm_step(s).is_empty()));
            assert_eq!(c.outcomes.len(), 1);
            for m in &c.moments {
                assert!(crate::moments::check(m, now).is_empty(), "{m:?}");
            }
            // The case document holds no relationships: they have a document of their own.
            assert!(network::read(&d, LinkKind::Person).is_empty());
            assert!(c.conflicts().is_empty());
            let case_id = fieldbook_sync::DocumentId::random();
            let mut r = AutoCommit::new();
            network::init(&mut r, &case_id).unwrap();
            write_relationships(&mut r, i).unwrap();
            assert_eq!(network::case_of(&r), Some(case_id));
            assert_eq!(network::read(&r, LinkKind::Person).len(), 1);
            assert_eq!(network::read(&r, LinkKind::Place).len(), 1);
        }
        assert!(with_missing > 0);
    }
}
