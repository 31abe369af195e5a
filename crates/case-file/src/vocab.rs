//! The fixed lists practitioners choose from (`docs/domain/`). Each entry is `(id, label)`:
//! ids are stored in documents and never change; labels are what people read.

pub type Choice = (&'static str, &'static str);

pub fn label(list: &[Choice], id: &str) -> String {
    list.iter()
        .find(|(i, _)| *i == id)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| id.to_owned())
}

/// Legal statuses offered: they combine (looked after *and* on a care order; on a child
/// protection plan while also known to youth justice), so they are ticked, not chosen.
pub const LEGAL_STATUS: &[Choice] = &[
    ("cin", "Child in need"),
    ("cp", "Child protection plan"),
    ("la", "Looked after"),
    ("care-order", "Care order"),
    ("yjs", "Known to youth justice"),
];

/// Legal statuses no longer offered but still read from older cases.
pub const RETIRED_LEGAL_STATUS: &[Choice] = &[("none", "None")];

/// A legal status's label, offered or retired (an unknown id reads as itself).
pub fn legal_status_label(id: &str) -> String {
    label_in(&[LEGAL_STATUS, RETIRED_LEGAL_STATUS], id)
}

/// Education status as services count it (DOMAIN §9).
pub const EDUCATION: &[Choice] = &[
    ("in-education", "In education"),
    ("not-in-education", "Not in education"),
    ("not-attending", "Not attending"),
    ("at-risk-exclusion", "At risk of exclusion"),
    ("ap", "Alternative provision"),
    ("neet", "Not in education, employment or training (NEET)"),
];

/// Education statuses no longer offered but still read from older cases.
pub const RETIRED_EDUCATION: &[Choice] = &[("excluded", "Excluded")];

/// An education status's label, offered or retired (an unknown id reads as itself).
pub fn education_label(id: &str) -> String {
    label_in(&[EDUCATION, RETIRED_EDUCATION], id)
}

fn label_in(lists: &[&[Choice]], id: &str) -> String {
    lists
        .iter()
        .flat_map(|l| l.iter())
        .find(|(i, _)| *i == id)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| id.to_owned())
}

/// Hazard labels: shown on every screen about the young person.
pub const HAZARDS: &[Choice] = &[
    ("nrm", "NRM referral in place"),
    ("high-cce", "High risk of CCE"),
    ("weapon", "Weapon carrying concern"),
    ("not-alone", "Do not visit alone"),
    ("missing-now", "Missing now"),
];

/// The two values of a hazard label (stored as a critical value).
pub const HAZARD_STATES: &[Choice] = &[("on", "Shown"), ("off", "Not shown")];

/// A count with its noun in the right number: "1 note", "3 notes", "0 notes".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The 12 CCE risk assessment categories, in order (`docs/domain/risk-assessment.md`).
pub const RISK_CATEGORIES: &[Choice] = &[
    (
        "missing",
        "Running away / going missing from home, school or care",
    ),
    ("coercion", "Coercion and control"),
    ("contact", "Contact with abusive people and/or risky places"),
    ("substances", "Alcohol and drug misuse"),
    ("education", "Education, training and employment"),
    ("online", "Social media and technology"),
    ("sexual-health", "Sexual health / sexualised behaviour"),
    ("health", "Emotional and physical health"),
    ("family", "Accommodation and family relationships"),
    ("offending", "Offending, weapons, criminal activity"),
    ("isolation", "Community / social isolation"),
    ("safeguarding", "Family or carers' ability to safeguard"),
];

/// Category ratings, lowest concern first.
pub const RATINGS: &[Choice] = &[
    ("strength", "Strength"),
    ("emerging", "Emerging"),
    ("moderate", "Moderate"),
    ("high", "High"),
];

/// Overall risk levels.
pub const LEVELS: &[Choice] = &[
    ("emerging", "Emerging"),
    ("moderate", "Moderate"),
    ("high", "High"),
];

pub const ACTION_GROUPS: &[Choice] = &[
    ("family", "Family and carer actions"),
    ("agency", "Professional and agency actions"),
    ("disruption", "Disruption of places and people"),
    ("activity", "Positive activities"),
];

pub const ACTION_STATUS: &[Choice] = &[
    ("not-started", "Not started"),
    ("in-progress", "In progress"),
    ("done", "Done"),
    ("blocked", "Blocked"),
];

/// Why a return home interview was not completed. "No reason recorded" is not an option.
pub const RHI_REASONS: &[Choice] = &[
    ("declined", "Declined or unable to engage"),
    ("other-agency", "Another agency is doing it"),
    ("not-appropriate", "Decided not appropriate"),
    ("other", "Other"),
];

pub const NRM_STATUS: &[Choice] = &[
    ("not-considered", "Not considered"),
    ("not-referred", "Considered, not referred"),
    ("referred", "Referred"),
    ("reasonable-grounds", "Reasonable grounds decision"),
    ("conclusive-grounds", "Conclusive grounds decision"),
];

/// The checklist of indicators on a contact note: the county guidance's full list, each
/// on its own (DOMAIN §9, `docs/domain/exploitation.md`). An id from the older list is kept
/// where its concept is the same (every old tick is still true under the new label);
/// merged or dropped ones are in [`RETIRED_INDICATORS`], still read and shown.
pub const INDICATORS: &[Choice] = &[
    ("missing", "Frequently missing, and found out of area"),
    (
        "leaves-unexplained",
        "Leaves home or care without explanation",
    ),
    (
        "drugs-weapons",
        "Found with large amounts of drugs or weapons",
    ),
    ("drugs-hidden", "Drugs hidden inside their body"),
    (
        "unexplained-items",
        "Unexplained money, phones, credit, clothes, jewellery, haircuts or gifts",
    ),
    ("hurt", "Back from missing injured or dishevelled"),
    (
        "withdrawn",
        "More secretive, withdrawn or isolated from usual friends",
    ),
    (
        "school",
        "Absent from or disengaged with school, college, training or work",
    ),
    (
        "aggression",
        "Disruptive, hostile or aggressive at home or school, including sexualised or violent language or talk of drug dealing",
    ),
    (
        "invincible",
        "Talks of being invincible, or of not caring what happens to them",
    ),
    ("making-money", "New interest in making money"),
    (
        "taken-places",
        "Taken to parties, houses, hotels, clubs, takeaways or out of area by unknown adults",
    ),
    ("substances", "Rising drug or alcohol use"),
    ("fear", "Fear of reprisal from gangs or violence"),
    (
        "phones",
        "Several phones or SIM cards, or a phone with many callers or messages",
    ),
    ("keys", "Hotel keys or keys to unknown premises"),
    (
        "disclosure-withdrawn",
        "Told of a sexual or physical assault, then took it back",
    ),
    ("abduction", "Abducted or held against their will"),
    ("cars", "Getting into or out of cars with unknown adults"),
    ("recruiting", "Rewarded for introducing peers"),
    (
        "self-harm",
        "Self-harm, or a marked change in emotional wellbeing",
    ),
    ("agencies-not-engaging", "Agencies unable to engage them"),
    ("new-peers", "New peer groups or relationships"),
    (
        "older-controlling",
        "Relationships with controlling or older people or groups",
    ),
    ("parents-concerned", "Parents or carers concerned"),
    (
        "stis-pregnancy",
        "Repeated sexually transmitted infections, or pregnancy",
    ),
    ("peer-referrals", "More referrals for peers they know"),
    ("same-place", "Repeated incidents at the same place"),
];

/// Indicators from the older checklist whose concept is not in [`INDICATORS`] as it was
/// (merged several of today's items, or not in the guidance's list). Never offered for new
/// ticks; notes that have them still show them with these labels.
pub const RETIRED_INDICATORS: &[Choice] = &[
    (
        "money-gifts",
        "Unexplained money, phones, SIM cards, clothes or gifts",
    ),
    (
        "carrying",
        "Carrying drugs, weapons or cash beyond their means",
    ),
    (
        "secretive",
        "Secretive, withdrawn, new older friends, controlling relationships",
    ),
    ("debt", "Talk of drug debts"),
    ("violence", "Injuries from violence"),
];

/// An indicator's label, offered or retired (an unknown id reads as itself): old notes
/// always show what was ticked.
pub fn indicator_label(id: &str) -> String {
    label_in(&[INDICATORS, RETIRED_INDICATORS], id)
}

/// Who reviews a submitted risk assessment.
pub const REVIEWERS: &[Choice] = &[
    ("manager", "Team manager"),
    ("chair", "Child protection chair"),
];

/// Why a return home interview was completed after it was due (annual reports count these).
pub const RHI_LATE_REASONS: &[Choice] = &[
    (
        "not-engaged",
        "Young person or family could not be engaged in time",
    ),
    ("timescale", "Could not meet within the timescale"),
    ("missing-again", "Went missing again before the interview"),
    ("other", "Other"),
];

/// Kinds of reachable moment: windows when a young person may accept help.
pub const REACHABLE_MOMENTS: &[Choice] = &[
    ("arrest", "Arrest or time in custody"),
    ("hospital", "Hospital or A&E attendance"),
    ("returned", "Return from missing"),
    ("exclusion", "Exclusion from school"),
    ("disclosure", "A disclosure"),
    ("court-order", "A new court order"),
    ("other", "Another moment"),
];

pub const LINK_TYPES: &[Choice] = &[
    ("friend", "Friend"),
    ("associate", "Associate"),
    ("exploiter", "Exploiter suspected"),
    ("victim", "Victim"),
    ("sibling", "Sibling"),
    ("protective", "Protective"),
];

pub const OUTCOMES: &[Choice] = &[
    ("improved", "Improved"),
    ("stable", "Stable"),
    ("declined", "Declined"),
];

pub const SOFT_OUTCOMES: &[Choice] = &[
    ("education", "Stayed in education"),
    ("not-in-care", "Did not enter care"),
    ("no-offending", "No new offending"),
    ("fewer-missing", "Fewer missing episodes"),
    ("less-police", "Less police contact"),
    ("left-exploitation", "Safely left an exploitative situation"),
];

/// Kinds of exploitation a "concerns identified" record can name (more than one may apply):
/// the monthly service dataset reports the share of concerns of each kind (DOMAIN §7).
pub const CONCERN_TYPES: &[Choice] = &[
    ("cce", "Child criminal exploitation (CCE)"),
    ("county-lines", "County lines"),
    ("cse", "Child sexual exploitation (CSE)"),
    ("trafficking", "Trafficking"),
];
