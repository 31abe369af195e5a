//! Issue 13 items 2 and 3: step-down and closure need evidence (the gate, the flag), and the
//! NRM tracker (referral, decisions, the derived hazard label, the prompt to refer).
//! Cases are synthetic, built as plain data or through the public writers.

use fieldbook_case::clocks::{self, london, words, Kind, Settings, State};
use fieldbook_case::critical::{Candidate, Critical};
use fieldbook_case::meetings::Meeting;
use fieldbook_case::nrm::{self, Step, Tracker};
use fieldbook_case::stepdown::{self, field, StepDown};
use fieldbook_case::{self as case, profile, Assessment, Case, Note};
use fieldbook_sync::automerge::AutoCommit;

mod support;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    london::instant((y, m, d), h, 0)
}

fn one(value: &str, when: i64) -> Critical {
    Critical {
        candidates: vec![Candidate {
            value: value.into(),
            by: "Worker A".into(),
            at: when,
        }],
    }
}

fn note(id: &str, when: i64, kind: &str) -> Note {
    Note {
        id: id.into(),
        at: when,
        kind: kind.into(),
        by: "Worker A".into(),
        ..Default::default()
    }
}

fn submitted(id: &str, when: i64, level: &str) -> Assessment {
    Assessment {
        id: id.into(),
        started: when - DAY,
        submitted: Some(when),
        overall: one(level, when),
        ..Default::default()
    }
}

fn draft(id: &str, level: &str) -> Assessment {
    Assessment {
        id: id.into(),
        overall: one(level, 0),
        ..Default::default()
    }
}

// ---- Face to face, and the gate ----

#[test]
fn only_contacts_that_see_the_young_person_count_as_face_to_face() {
    for kind in case::CONTACT_TYPES {
        let expected = !["Phone or message", "Multi-agency meeting"].contains(kind);
        assert_eq!(stepdown::face_to_face(kind), expected, "{kind}");
    }
    assert!(!stepdown::face_to_face("Something an older app wrote"));
    assert!(!stepdown::face_to_face(""));
}

#[test]
fn the_gate_allows_exactly_n_days_and_refuses_n_plus_one() {
    let s = Settings::default();
    assert_eq!(s.not_seen_days, 28);
    let now = at(2026, 11, 26, 10);
    let seen = |days: i64| {
        Some(london::instant(
            clocks::calendar::add_days(london::date_of(now), -days),
            23,
            0,
        ))
    };
    // London days, not 24-hour periods: late on the 28th day before is still 28 days.
    assert_eq!(stepdown::gate(seen(28), now, &s, ""), Ok(()));
    assert_eq!(stepdown::gate(seen(0), now, &s, ""), Ok(()));
    let refused = stepdown::gate(seen(29), now, &s, "").unwrap_err();
    assert_eq!((refused.days, refused.limit), (Some(29), 28));
    assert!(refused.message("closing the case").contains("29 days"));
    // A reason lets it through; a blank one does not.
    assert_eq!(
        stepdown::gate(seen(29), now, &s, "In custody; seen by YOS weekly"),
        Ok(())
    );
    assert!(stepdown::gate(seen(29), now, &s, "  \n ").is_err());
    // The limit is a setting.
    let s40 = Settings {
        not_seen_days: 40,
        ..Default::default()
    };
    assert_eq!(stepdown::gate(seen(40), now, &s40, ""), Ok(()));
    assert!(stepdown::gate(seen(41), now, &s40, "").is_err());
}

#[test]
fn no_face_to_face_contact_at_all_is_refused_without_a_reason() {
    let s = Settings::default();
    let now = at(2026, 11, 26, 10);
    let r = stepdown::gate(None, now, &s, "").unwrap_err();
    assert_eq!(r.days, None);
    assert!(r
        .message("closing the case")
        .contains("no face-to-face contact"));
    assert_eq!(
        stepdown::gate(None, now, &s, "Moved abroad with family"),
        Ok(())
    );
}

#[test]
fn phone_only_contacts_do_not_count_as_seen() {
    let now = at(2026, 11, 26, 10);
    let mut c = Case {
        notes: vec![
            note("p1", now - 2 * DAY, "Phone or message"),
            note("m1", now - 3 * DAY, "Multi-agency meeting"),
            note("f1", now - 40 * DAY, "Face-to-face (planned)"),
        ],
        ..Default::default()
    };
    assert_eq!(stepdown::last_seen(&c), Some(now - 40 * DAY));
    assert_eq!(
        stepdown::not_seen_flag(&c, now, &Settings::default()).as_deref(),
        Some("Not seen face to face for 40 days")
    );
    c.notes.retain(|n| n.kind == "Phone or message");
    assert_eq!(stepdown::last_seen(&c), None);
    // Phone contacts only, the first 2 days ago: nothing to flag yet.
    assert_eq!(stepdown::not_seen_flag(&c, now, &Settings::default()), None);
    c.notes.push(note("p2", now - 30 * DAY, "Phone or message"));
    assert_eq!(
        stepdown::not_seen_flag(&c, now, &Settings::default()).as_deref(),
        Some("No face-to-face contact recorded")
    );
}

#[test]
fn a_removed_note_is_not_evidence_of_being_seen() {
    let now = at(2026, 11, 26, 10);
    let mut c = Case::default();
    let mut recent = note("f2", now - DAY, "Cold call");
    recent.removal = Some(fieldbook_case::removal::Removal {
        by: "Worker A".into(),
        at: now,
        changed_since: false,
    });
    c.notes = vec![recent, note("f1", now - 40 * DAY, "Hospital visit")];
    assert_eq!(stepdown::last_seen(&c), Some(now - 40 * DAY));
}

#[test]
fn the_flag_shows_only_past_the_limit_and_never_changes_the_order_of_cases() {
    let now = at(2026, 11, 26, 10);
    let s = Settings::default();
    let mut c = Case {
        notes: vec![note("f", now - 28 * DAY, "Custody visit")],
        ..Default::default()
    };
    assert_eq!(stepdown::not_seen_flag(&c, now, &s), None);
    c.notes = vec![note("f", now - 29 * DAY, "Custody visit")];
    assert_eq!(
        stepdown::not_seen_flag(&c, now, &s).as_deref(),
        Some("Not seen face to face for 29 days")
    );
    // The flag is not a clock: what is due, and so the order, is unchanged by it.
    let before = clocks::clocks(&c, now, &s);
    c.notes = vec![note("f", now - DAY, "Custody visit")];
    assert_eq!(clocks::clocks(&c, now, &s), before);
}

fn valid_closure(now: i64) -> StepDown {
    StepDown {
        id: "sd1".into(),
        at: now,
        by: "Worker A".into(),
        what: "close".into(),
        date: "2026-11-26".into(),
        changed: "Attending college every day; no missing episodes since July.".into(),
        exit_plan: "Youth worker keeps weekly contact; mother knows who to call.".into(),
        agreed_by: "Manager M".into(),
        ..Default::default()
    }
}

fn fields(errors: &[fieldbook_case::validate::FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn closing_a_case_not_seen_for_40_days_needs_a_reason() {
    let now = at(2026, 11, 26, 10);
    let s = Settings::default();
    let c = Case {
        notes: vec![note("f", now - 40 * DAY, "Face-to-face (planned)")],
        ..Default::default()
    };
    let mut sd = valid_closure(now);
    let errors = stepdown::validate(&sd, &c, now, &s);
    assert_eq!(fields(&errors), [field::REASON]);
    assert!(
        errors[0].message.contains("40 days"),
        "{}",
        errors[0].message
    );
    sd.not_seen_reason = "In custody since October; YOS see him weekly.".into();
    assert!(stepdown::validate(&sd, &c, now, &s).is_empty());
    // A date typed on the form is not evidence: only a contact note lets the case close
    // without a reason.
    sd.not_seen_reason.clear();
    sd.last_seen = "2026-11-20".into();
    assert_eq!(
        fields(&stepdown::validate(&sd, &c, now, &s)),
        [field::REASON]
    );
    let seen = Case {
        notes: vec![note("g", now - 6 * DAY, "Face-to-face (planned)")],
        ..c.clone()
    };
    assert!(stepdown::validate(&sd, &seen, now, &s).is_empty());
    sd.last_seen = "2026-11-27".into();
    assert_eq!(
        fields(&stepdown::validate(&sd, &c, now, &s)),
        [field::LAST_SEEN, field::REASON]
    );
}

#[test]
fn a_step_down_must_lower_the_level_and_a_meeting_needs_sign_off() {
    let now = at(2026, 11, 26, 10);
    let s = Settings::default();
    let mut c = Case {
        notes: vec![note("f", now - 3 * DAY, "Face-to-face (planned)")],
        assessments: vec![submitted("a1", now - 20 * DAY, "moderate")],
        ..Default::default()
    };
    let mut sd = valid_closure(now);
    sd.what = "step-down".into();
    assert_eq!(
        fields(&stepdown::validate(&sd, &c, now, &s)),
        [field::LEVEL]
    );
    for (level, ok) in [("high", false), ("moderate", false), ("emerging", true)] {
        sd.level = level.into();
        assert_eq!(
            stepdown::validate(&sd, &c, now, &s).is_empty(),
            ok,
            "{level}"
        );
    }
    c.meetings = vec![Meeting {
        id: "m1".into(),
        at: now - 10 * DAY,
        kind: "strategy".into(),
        ..Default::default()
    }];
    assert_eq!(
        fields(&stepdown::validate(&sd, &c, now, &s)),
        [field::SIGN_OFF_BY, field::SIGN_OFF_DATE]
    );
    sd.sign_off_by = "DS Example, police".into();
    sd.sign_off_date = "2026-11-25".into();
    assert!(stepdown::validate(&sd, &c, now, &s).is_empty());
    // Everything missing is named.
    let empty = StepDown::default();
    let errors = stepdown::validate(&empty, &c, now, &s);
    let f = fields(&errors);
    for want in [
        field::WHAT,
        field::DATE,
        field::CHANGED,
        field::EXIT_PLAN,
        field::AGREED_BY,
        field::SIGN_OFF_BY,
    ] {
        assert!(f.contains(&want), "{want} in {f:?}");
    }
}

#[test]
fn an_assessment_lowering_the_level_goes_through_the_gate_raising_or_equal_does_not() {
    let now = at(2026, 11, 26, 10);
    let s = Settings::default();
    let mut c = Case {
        notes: vec![note("f", now - 40 * DAY, "Face-to-face (planned)")],
        assessments: vec![submitted("a1", now - 50 * DAY, "moderate")],
        ..Default::default()
    };
    for (level, refused) in [("emerging", true), ("moderate", false), ("high", false)] {
        let d = draft("a2", level);
        assert_eq!(
            stepdown::lowers_level(&c, "a2", level).is_some(),
            refused,
            "{level}"
        );
        let errors = stepdown::validate_assessment(&c, &d, now, &s);
        assert_eq!(
            fields(&errors),
            if refused {
                vec![stepdown::ASSESSMENT_REASON_FIELD]
            } else {
                vec![]
            },
            "{level}"
        );
    }
    // With a reason, or seen recently, lowering is allowed.
    let mut d = draft("a2", "emerging");
    d.not_seen_reason = "Refusing visits; seen at court on 3 November by YOS.".into();
    assert!(stepdown::validate_assessment(&c, &d, now, &s).is_empty());
    c.notes.push(note("g", now - DAY, "Cold call"));
    assert!(stepdown::validate_assessment(&c, &draft("a2", "emerging"), now, &s).is_empty());
    // The first assessment lowers nothing.
    let first = Case {
        notes: vec![],
        ..Default::default()
    };
    assert!(stepdown::validate_assessment(&first, &draft("a1", "emerging"), now, &s).is_empty());
}

#[test]
fn step_down_records_round_trip_and_a_closure_shows_the_case_closed() {
    let mut d = support::new_case();
    let now = at(2026, 11, 26, 10);
    let mut sd = valid_closure(now);
    sd.not_seen_reason = "Reason".into();
    sd.last_seen = "2026-10-17".into();
    stepdown::add(&mut d, &sd).unwrap();
    let c = case::read(&d);
    assert_eq!(c.step_downs, vec![sd.clone()]);
    assert_eq!(
        stepdown::closed(&c).map(|s| s.date.as_str()),
        Some("2026-11-26")
    );
    // A later step-down (reopened at a lower level) supersedes the closure.
    let later = StepDown {
        id: "sd2".into(),
        at: now + DAY,
        what: "step-down".into(),
        level: "emerging".into(),
        ..sd
    };
    stepdown::add(&mut d, &later).unwrap();
    let c = case::read(&d);
    assert_eq!(stepdown::closed(&c), None);
    assert_eq!(stepdown::current_level(&c).as_deref(), Some("emerging"));
}

#[test]
fn the_not_seen_setting_has_a_default_when_an_older_server_sends_none() {
    let s: Settings = serde_json::from_str(r#"{"due_soon_hours": 24}"#).unwrap();
    assert_eq!((s.not_seen_days, s.due_soon_hours), (28, 24));
    let s: Settings = serde_json::from_str(r#"{"not_seen_days": 40}"#).unwrap();
    assert_eq!(s.not_seen_days, 40);
}

// ---- NRM ----

fn case_doc() -> AutoCommit {
    support::new_case()
}

fn save(d: &mut AutoCommit, t: &Tracker, when: i64) {
    let old = case::read(d).nrm;
    let mut n = 0;
    let mut ids = move || {
        n += 1;
        format!("step-{when}-{n}")
    };
    nrm::save(d, &old, t, "Worker A", when, &mut ids).unwrap();
}

fn shows_nrm_label(c: &Case) -> bool {
    c.shown_hazards().iter().any(|h| h.id == "nrm")
}

#[test]
fn recording_a_referral_sets_the_status_and_derives_the_hazard_label() {
    let mut d = case_doc();
    let now = at(2026, 11, 26, 10);
    assert!(!shows_nrm_label(&case::read(&d)));
    let t = Tracker {
        referral_date: "2026-09-23".into(),
        reference: "NRM-000123".into(),
        ..Default::default()
    };
    assert!(nrm::validate(&t, now).is_empty());
    save(&mut d, &t, now);
    let c = case::read(&d);
    assert_eq!(c.nrm.status.value(), Some("referred"));
    assert_eq!(c.nrm.referral_date, "2026-09-23");
    assert_eq!(c.nrm.reference, "NRM-000123");
    assert_eq!(c.nrm.history.len(), 1);
    assert!(c.nrm.history[0].reason.contains("NRM-000123"));
    assert!(shows_nrm_label(&c), "derived, without touching the profile");
    assert!(c.hazards.is_empty(), "nothing written to the hazard labels");

    // Saving again unchanged writes nothing new.
    save(&mut d, &t, now + HOUR);
    assert_eq!(case::read(&d).nrm.history.len(), 1);

    // A positive reasonable-grounds decision: shown, and the status moves.
    let t2 = Tracker {
        rg: "positive".into(),
        rg_date: "2026-10-20".into(),
        ..t.clone()
    };
    assert!(nrm::validate(&t2, now).is_empty());
    save(&mut d, &t2, now + 2 * HOUR);
    let c = case::read(&d);
    assert_eq!(c.nrm.status.value(), Some("reasonable-grounds"));
    assert_eq!(c.nrm.rg.value(), Some("positive"));
    assert!(shows_nrm_label(&c));

    // A negative conclusive-grounds decision: the label goes.
    let t3 = Tracker {
        cg: "negative".into(),
        cg_date: "2026-11-24".into(),
        told: "yes".into(),
        told_date: "2026-11-25".into(),
        ..t2
    };
    assert!(nrm::validate(&t3, now).is_empty());
    save(&mut d, &t3, now + 3 * HOUR);
    let c = case::read(&d);
    assert_eq!(c.nrm.status.value(), Some("conclusive-grounds"));
    assert!(!shows_nrm_label(&c));
    assert_eq!(
        (c.nrm.told.as_str(), c.nrm.told_date.as_str()),
        ("yes", "2026-11-25")
    );
    assert_eq!(c.nrm.tracker(), t3);
}

#[test]
fn the_label_follows_the_status_for_every_value() {
    let mut n = nrm::Nrm::default();
    assert!(!n.in_place());
    for (status, shown) in [
        ("not-considered", false),
        ("not-referred", false),
        ("referred", true),
        ("reasonable-grounds", true),
        ("conclusive-grounds", true),
    ] {
        n.status = one(status, 1);
        assert_eq!(n.in_place(), shown, "{status}");
    }
    n.status = one("reasonable-grounds", 1);
    n.rg = one("negative", 1);
    assert!(!n.in_place());
    n.rg = one("positive", 1);
    assert!(n.in_place());
    n.status = one("conclusive-grounds", 2);
    n.cg = one("negative", 2);
    assert!(!n.in_place());
    n.cg = one("positive", 2);
    assert!(n.in_place());
    // In dispute: shown if any value would show it.
    n.status.candidates.push(Candidate {
        value: "not-referred".into(),
        by: "Worker B".into(),
        at: 3,
    });
    assert!(n.in_place());
}

#[test]
fn an_old_hand_set_label_is_kept_but_no_longer_decides() {
    let mut d = case_doc();
    profile::set_hazard(&mut d, "nrm", true, "Worker A", 1).unwrap();
    let c = case::read(&d);
    assert!(c.hazards.iter().any(|h| h.id == "nrm" && h.shown()), "kept");
    assert!(
        !shows_nrm_label(&c),
        "not in place: the status says nothing"
    );
    // A hand-set value in dispute is no longer a dispute to settle either.
    let mut other = d.fork();
    profile::set_hazard(&mut d, "nrm", false, "Worker A", 2).unwrap();
    profile::set_hazard(&mut other, "nrm", true, "Worker B", 2).unwrap();
    d.merge(&mut other).unwrap();
    let c = case::read(&d);
    assert!(c.conflicts().is_empty());
    // Other labels still come from the profile, in the fixed order.
    profile::set_hazard(&mut d, "weapon", true, "Worker A", 3).unwrap();
    profile::set_hazard(&mut d, "high-cce", true, "Worker A", 3).unwrap();
    save(
        &mut d,
        &Tracker {
            referral_date: "2026-01-05".into(),
            ..Default::default()
        },
        at(2026, 1, 6, 9),
    );
    let c = case::read(&d);
    let ids: Vec<String> = c.shown_hazards().into_iter().map(|h| h.id).collect();
    assert_eq!(ids, ["nrm", "high-cce", "weapon"]);
}

#[test]
fn an_old_document_with_the_status_only_still_reads_and_its_clock_runs() {
    let mut d = case_doc();
    let when = at(2026, 1, 5, 10);
    nrm::set_status(
        &mut d,
        &Step {
            id: "s1".into(),
            at: when,
            status: "referred".into(),
            reason: String::new(),
            by: "Worker A".into(),
        },
    )
    .unwrap();
    let c = case::read(&d);
    assert_eq!(c.nrm.referral_date, "");
    assert!(shows_nrm_label(&c));
    let clock = clocks::clocks(&c, when + 64 * DAY, &Settings::default())
        .into_iter()
        .find(|k| k.kind == Kind::Nrm)
        .unwrap();
    assert_eq!(clock.started, when);
    assert_eq!(
        words::line(&clock, when + 64 * DAY),
        "NRM referral 64 days without a decision (second reminder)"
    );
}

#[test]
fn the_nrm_clock_counts_from_the_referral_date_when_recorded() {
    let mut d = case_doc();
    // Recorded on 26 November; referred on 23 September (64 days before).
    let recorded = at(2026, 11, 26, 10);
    save(
        &mut d,
        &Tracker {
            referral_date: "2026-09-23".into(),
            ..Default::default()
        },
        recorded,
    );
    let c = case::read(&d);
    let clock = clocks::clocks(&c, recorded, &Settings::default())
        .into_iter()
        .find(|k| k.kind == Kind::Nrm)
        .unwrap();
    assert_eq!(clock.started, london::midnight((2026, 9, 23)));
    assert_eq!((clock.state.clone(), clock.escalation), (State::Overdue, 2));
    assert_eq!(
        words::line(&clock, recorded),
        "NRM referral 64 days without a decision (second reminder)"
    );
    // A decision meets it, counted from the referral date too.
    save(
        &mut d,
        &Tracker {
            referral_date: "2026-09-23".into(),
            rg: "positive".into(),
            rg_date: "2026-11-25".into(),
            ..Default::default()
        },
        recorded + HOUR,
    );
    let c = case::read(&d);
    let clock = clocks::clocks(&c, recorded + HOUR, &Settings::default())
        .into_iter()
        .find(|k| k.kind == Kind::Nrm)
        .unwrap();
    assert_eq!(clock.started, london::midnight((2026, 9, 23)));
    assert!(matches!(clock.state, State::Met { .. }));
}

#[test]
fn suspected_exploitation_still_agrees_with_the_nrm_status() {
    let mut c = Case::default();
    c.nrm.status = one("referred", 1);
    assert!(clocks::suspected(&c, None));
    assert!(nrm::hazard(&c.nrm).is_some());
    c.nrm.status = one("not-referred", 1);
    assert!(!clocks::suspected(&c, None));
    assert!(nrm::hazard(&c.nrm).is_none());
}

#[test]
fn the_tracker_is_validated_with_named_fields() {
    let now = at(2026, 11, 26, 10);
    let f = |t: &Tracker| -> Vec<String> {
        nrm::validate(t, now).into_iter().map(|e| e.field).collect()
    };
    assert!(f(&Tracker::default()).is_empty());
    // A decision needs a referral date and its own date.
    let t = Tracker {
        rg: "positive".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::REFERRAL_DATE, nrm::field::RG_DATE]);
    // Future dates and a decision before the referral are refused.
    let t = Tracker {
        referral_date: "2026-11-27".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::REFERRAL_DATE]);
    let t = Tracker {
        referral_date: "2026-10-01".into(),
        rg: "positive".into(),
        rg_date: "2026-09-30".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::RG_DATE]);
    // A conclusive decision follows a positive reasonable-grounds one.
    let t = Tracker {
        referral_date: "2026-10-01".into(),
        rg: "negative".into(),
        rg_date: "2026-10-20".into(),
        cg: "positive".into(),
        cg_date: "2026-11-20".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::CG]);
    let t = Tracker {
        told: "yes".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::TOLD_DATE]);
    let t = Tracker {
        referral_date: "23/09/2026".into(),
        ..Default::default()
    };
    assert_eq!(f(&t), [nrm::field::REFERRAL_DATE]);
}

#[test]
fn concurrent_decisions_are_a_dispute_not_a_silent_winner() {
    let mut a = case_doc();
    save(
        &mut a,
        &Tracker {
            referral_date: "2026-09-23".into(),
            ..Default::default()
        },
        at(2026, 10, 1, 9),
    );
    let mut b = a.fork();
    let base = Tracker {
        referral_date: "2026-09-23".into(),
        rg_date: "2026-10-20".into(),
        ..Default::default()
    };
    save(
        &mut a,
        &Tracker {
            rg: "positive".into(),
            ..base.clone()
        },
        at(2026, 10, 21, 9),
    );
    save(
        &mut b,
        &Tracker {
            rg: "negative".into(),
            ..base
        },
        at(2026, 10, 21, 10),
    );
    a.merge(&mut b).unwrap();
    let c = case::read(&a);
    assert!(c.nrm.rg.is_conflict());
    assert!(
        shows_nrm_label(&c),
        "a positive value in dispute keeps it shown"
    );
    assert!(c
        .conflicts()
        .iter()
        .any(|x| x.what == case::Disputed::NrmDecision("rg".into())));
    nrm::set_decision(&mut a, "rg", "negative", "Manager M", at(2026, 10, 22, 9)).unwrap();
    let c = case::read(&a);
    assert_eq!(c.nrm.rg.value(), Some("negative"));
    assert!(!shows_nrm_label(&c));
}

// ---- The prompt to refer, or record why not ----

#[test]
fn the_prompt_shows_when_something_suggests_exploitation_and_the_status_is_not_considered() {
    let now = at(2026, 11, 26, 10);
    let mut c = Case::default();
    assert!(!nrm::prompt(&c, now));

    // Indicators on a recent note.
    let mut n = note("n1", now - 10 * DAY, "Cold call");
    n.indicators = vec!["missing".into()];
    c.notes = vec![n.clone()];
    assert_eq!(nrm::prompt_reasons(&c, now).len(), 1);
    // ... but not on a note older than 90 days.
    c.notes[0].at = now - 91 * DAY;
    assert!(!nrm::prompt(&c, now));

    // The category rule.
    let mut a = submitted("a1", now - 5 * DAY, "high");
    for id in ["missing", "coercion", "contact", "offending"] {
        a.categories.push(fieldbook_case::assessment::Category {
            id: id.into(),
            text: String::new(),
            rating: one("high", 1),
        });
    }
    let mut with_rule = c.clone();
    with_rule.assessments = vec![a.clone()];
    assert!(a.suggests_cce());
    assert!(nrm::prompt(&with_rule, now));

    // A strategy meeting (about CCE concerns); a core group is not.
    let mut with_meeting = c.clone();
    with_meeting.meetings = vec![Meeting {
        id: "m1".into(),
        at: now - DAY,
        kind: "core-group".into(),
        ..Default::default()
    }];
    assert!(!nrm::prompt(&with_meeting, now));
    with_meeting.meetings[0].kind = "strategy".into();
    assert!(nrm::prompt(&with_meeting, now));

    // Any status other than "not considered" answers it: referred, or not referred with
    // a reason.
    for status in [
        "not-referred",
        "referred",
        "reasonable-grounds",
        "conclusive-grounds",
    ] {
        with_meeting.nrm.status = one(status, now);
        assert!(!nrm::prompt(&with_meeting, now), "{status}");
    }
    with_meeting.nrm.status = one("not-considered", now);
    assert!(nrm::prompt(&with_meeting, now));

    // Everything together gives every reason.
    let mut all = with_rule;
    n.at = now - DAY;
    all.notes = vec![n];
    all.meetings = with_meeting.meetings;
    assert_eq!(nrm::prompt_reasons(&all, now).len(), 3);
}

#[test]
fn a_closure_and_a_step_down_are_in_the_chronology_on_their_day_with_who_agreed() {
    use fieldbook_case::chronology::{self, EventKind};
    let now = at(2026, 11, 26, 10);
    let mut d = support::new_case();
    let closure = StepDown {
        id: "s1".into(),
        date: "2026-11-26".into(),
        ..valid_closure(now)
    };
    stepdown::add(&mut d, &closure).unwrap();
    let step_down = StepDown {
        id: "s2".into(),
        what: "step-down".into(),
        level: "emerging".into(),
        date: "2026-10-01".into(),
        agreed_by: "".into(),
        ..valid_closure(now)
    };
    stepdown::add(&mut d, &step_down).unwrap();
    // Oldest first, as the chronology reads.
    let events: Vec<_> = chronology::build(&case::read(&d))
        .into_iter()
        .filter(|e| e.kind == EventKind::StepDown)
        .map(|e| (e.at, e.title, e.detail, e.source))
        .collect();
    assert_eq!(
        events,
        [
            (
                // The day it takes effect, at London midnight (BST here).
                london::midnight((2026, 10, 1)),
                "Stepped down to Emerging".to_owned(),
                String::new(),
                "s2".to_owned()
            ),
            (
                london::midnight((2026, 11, 26)),
                "Case closed".to_owned(),
                format!("Agreed by {}", closure.agreed_by.trim()),
                "s1".to_owned()
            ),
        ]
    );
}
