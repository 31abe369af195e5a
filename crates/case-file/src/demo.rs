//! Invented demo cases covering every record type, for `--demo` and for tests. Every name,
//! place and event here is made up; none comes from any real record or document. Names
//! start with "Demo —" so nobody mistakes them for real people.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::AutomergeError;

use crate::history::History;
use crate::missing::Episode;
use crate::network::{Link, LinkKind};
use crate::plan::Action;
use crate::{assessment, missing, network, notes, nrm, outcomes, plan, profile, vocab};
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
    let (name, known_as, age) = PEOPLE[i % PEOPLE.len()];
    let year = 1970 + now / 31_556_952_000;
    let today = now / DAY * DAY;
    let p = Profile {
        name: name.into(),
        known_as: known_as.into(),
        dob: format!("{}-{:02}-{:02}", year - age, 1 + i % 12, 3 + (i * 3) % 25),
        legal_status: vocab::LEGAL_STATUS[i % vocab::LEGAL_STATUS.len()].0.into(),
        education: vocab::EDUCATION[i % vocab::EDUCATION.len()].0.into(),
        worker: WORKER.into(),
        team: "Demo Exploitation Team".into(),
        voice: WORDS[i % WORDS.len()].into(),
        needs: if i.is_multiple_of(3) {
            "Assessed learning need: short sentences, check understanding.".into()
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
                reachable_kind: String::new(),
                follow_ups: "Check in with school on Monday.".into(),
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
    assessment::set_overall(tx, &aid, vocab::LEVELS[i % 3].0, WORKER, at(40, 4))?;
    assessment::submit(tx, &aid, at(40, 5))?;
    assessment::confirm(tx, &aid, "Demo Manager", at(38, 1))?;
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
                due: format!("{}-12-{:02}", year, 1 + a * 7),
                status: vocab::ACTION_STATUS[(a + i) % vocab::ACTION_STATUS.len()]
                    .0
                    .into(),
                removal: None,
            },
        )?;
    }
    plan::set_review(tx, &format!("{}-01-15", year + 1))?;
    if i % 2 == 1 {
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
            at: at(35, 2),
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
    use fieldbook_sync::automerge::AutoCommit;

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
            assert_eq!(c.assessments.len(), 1);
            assert!(crate::validate::assessment(&c.assessments[0]).is_empty());
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
                with_missing += 1;
            }
            assert_eq!(c.nrm.history.len(), 1);
            assert!(crate::validate::nrm_step(&c.nrm.history[0]).is_empty());
            assert_eq!(c.outcomes.len(), 1);
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
