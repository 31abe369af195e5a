//! The transfer bundle: what it holds, what it leaves out unless chosen, and its CSV.
//! Synthetic data only.

use fieldbook_case::clocks::london;
use fieldbook_case::network::LinkKind;
use fieldbook_case::transfer::{self, Author, Names, Network, Options};
use fieldbook_case::{self as case, assessment, csv, demo, network, vocab, Case};
use fieldbook_sync::automerge::AutoCommit;

fn demo_case(i: usize, now: i64) -> (Case, Network) {
    let mut d = AutoCommit::new();
    demo::write(&mut d, i, now).unwrap();
    d.commit();
    let mut r = AutoCommit::new();
    demo::write_relationships(&mut r, i).unwrap();
    r.commit();
    (
        case::read(&d),
        Network {
            people: network::read(&r, LinkKind::Person),
            places: network::read(&r, LinkKind::Place),
        },
    )
}

fn names() -> Names {
    let mut n = Names::new();
    n.insert(
        "Demo Worker (outreach)".into(),
        Author {
            agency: "Invented County Council".into(),
            team: "Demo Exploitation Team".into(),
        },
    );
    n
}

#[test]
fn the_bundle_has_every_part_with_authors_and_the_level_trend() {
    let now = london::instant((2026, 11, 26), 9, 0);
    // Demo case 2 has a second (High) version after its first.
    let (c, _) = demo_case(2, now);
    let b = transfer::bundle(&c, &Options::default(), &names(), now);
    let ids: Vec<&str> = b.sections.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [
            "profile",
            "hazards",
            "assessment",
            "plan",
            "missing",
            "nrm",
            "chronology"
        ]
    );
    let chronology = b.section("chronology").unwrap();
    assert_eq!(chronology.rows.len(), case::chronology::build(&c).len());
    let contact = chronology
        .rows
        .iter()
        .find(|r| r.author == "Demo Worker (outreach)")
        .expect("a note's author");
    assert_eq!(contact.agency, "Invented County Council");
    assert_eq!(contact.team, "Demo Exploitation Team");
    // An author the device knows nothing about keeps their name, with no agency.
    let reviewed = chronology
        .rows
        .iter()
        .find(|r| r.what.starts_with("Reviewed by"))
        .unwrap();
    assert!(reviewed.author.starts_with("Demo"), "{reviewed:?}");
    assert_eq!(reviewed.agency, "");

    // The trend across submitted versions, oldest first.
    let trend = transfer::trend(&c);
    assert_eq!(trend.len(), 2);
    assert_eq!(trend[1], "High");
    let a = b.section("assessment").unwrap();
    let line = a
        .rows
        .iter()
        .find(|r| r.what == "Trend across versions")
        .unwrap();
    assert_eq!(line.details, format!("{} → High", trend[0]));
    assert!(a
        .rows
        .iter()
        .any(|r| r.what == "Overall level" && r.details == "High"));

    // NRM history with dates; plan actions; missing patterns.
    let nrm = b.section("nrm").unwrap();
    assert_eq!(nrm.rows.len(), c.nrm.history.len());
    assert!(nrm.rows.iter().all(|r| r.when.len() == 16));
    assert!(!b.section("plan").unwrap().rows.is_empty());
    let missing = b.section("missing").unwrap();
    for what in [
        "Missing episodes",
        "In the last 90 days",
        "In the last 12 months",
        "Return home interviews done",
        "Done within 72 hours of return",
    ] {
        assert!(missing.rows.iter().any(|r| r.what == what), "{what}");
    }
    assert!(missing.rows.iter().any(|r| r.what == "Where found"));
}

#[test]
fn relationships_places_and_addresses_are_left_out_unless_chosen() {
    let now = london::instant((2026, 11, 26), 9, 0);
    let (mut c, net) = demo_case(1, now);
    c.profile.address = "1 Invented Street".into();
    c.profile.family_address = "2 Invented Road".into();
    assert!(!net.people.is_empty());
    let plain = transfer::bundle(&c, &Options::default(), &names(), now);
    let text = transfer::to_csv(&plain);
    assert!(plain.section("network").is_none());
    for l in net.people.iter().chain(&net.places) {
        assert!(!text.contains(&l.name), "{} leaked", l.name);
    }
    assert!(!text.contains("Invented Street") && !text.contains("Invented Road"));

    let all = transfer::bundle(
        &c,
        &Options {
            network: Some(net.clone()),
            addresses: true,
        },
        &names(),
        now,
    );
    let text = transfer::to_csv(&all);
    let n = all.section("network").unwrap();
    assert_eq!(n.rows.len(), net.people.len() + net.places.len());
    assert!(text.contains(&net.people[0].name));
    assert!(text.contains("1 Invented Street") && text.contains("2 Invented Road"));
}

#[test]
fn the_csv_has_one_row_per_chronology_entry_and_is_formula_safe() {
    let now = london::instant((2026, 11, 26), 9, 0);
    let (mut c, _) = demo_case(0, now);
    c.notes[0].text = "=HYPERLINK(\"http://example.invalid\",\"x\")".into();
    c.notes[0].by = "@mention, \"quoted\"".into();
    let b = transfer::bundle(&c, &Options::default(), &names(), now);
    let text = transfer::to_csv(&b);
    let rows = csv::parse(&text);
    assert_eq!(rows[0], transfer::CSV_HEADER);
    let total: usize = b.sections.iter().map(|s| s.rows.len()).sum();
    assert_eq!(rows.len(), total + 1);
    let chronology: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == "Chronology").collect();
    assert_eq!(chronology.len(), case::chronology::build(&c).len());
    assert!(chronology.iter().all(|r| r.len() == 7));
    let bad = rows
        .iter()
        .find(|r| r[3].contains("HYPERLINK"))
        .expect("the note's row");
    assert!(bad[3].starts_with("'="), "{:?}", bad[3]);
    assert!(bad[4].starts_with("'@"), "{:?}", bad[4]);
    assert!(rows
        .iter()
        .all(|r| r.iter().all(|cell| !cell.starts_with(['=', '+', '-', '@']))));
    // The file name never carries the child's name.
    let name = transfer::file_name("4f8c2a1b9e7d6c5b");
    assert_eq!(name, "transfer-4f8c2a1b.csv");
}

#[test]
fn a_level_in_dispute_shows_in_the_trend() {
    let mut d = AutoCommit::new();
    case::create(&mut d, &Default::default()).unwrap();
    assessment::start(&mut d, "a1", 1, None, "W").unwrap();
    assessment::set_overall(&mut d, "a1", "emerging", "W", 2).unwrap();
    assessment::submit(&mut d, "a1", 3).unwrap();
    assessment::start(&mut d, "a2", 4, None, "W").unwrap();
    d.commit();
    // Two devices set different levels on the second version at once.
    let mut other = d.fork();
    assessment::set_overall(&mut d, "a2", "moderate", "W", 5).unwrap();
    assessment::set_overall(&mut other, "a2", "high", "X", 5).unwrap();
    d.merge(&mut other).unwrap();
    assessment::submit(&mut d, "a2", 6).unwrap();
    d.commit();
    let c = case::read(&d);
    assert_eq!(transfer::trend(&c), ["Emerging", "In dispute"]);
    let b = transfer::bundle(&c, &Options::default(), &Names::new(), 10);
    let a = b.section("assessment").unwrap();
    assert!(a
        .rows
        .iter()
        .any(|r| r.what == "Overall level" && r.details == "In dispute"));
    assert_eq!(vocab::label(vocab::LEVELS, "moderate"), "Moderate");
}
