//! The fixed lists practitioners choose from (`docs/domain/`). Each entry is `(id, label)`:
//! ids are stored in documents and never change; labels are what people read.

pub type Choice = (&'static str, &'static str);

pub fn label(list: &[Choice], id: &str) -> String {
    list.iter()
        .find(|(i, _)| *i == id)
        .map(|(_, l)| (*l).to_owned())
        .unwrap_or_else(|| id.to_owned())
}

pub const LEGAL_STATUS: &[Choice] = &[
    ("none", "None"),
    ("cin", "Child in need"),
    ("cp", "Child protection plan"),
    ("la", "Looked after"),
    ("care-order", "Care order"),
];

pub const EDUCATION: &[Choice] = &[
    ("in-education", "In education"),
    ("not-attending", "Not attending"),
    ("excluded", "Excluded"),
    ("ap", "Alternative provision"),
    ("neet", "Not in education, employment or training"),
];

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

/// The checklist of indicators on a contact note (`docs/domain/exploitation.md`).
pub const INDICATORS: &[Choice] = &[
    ("missing", "Going missing often or found far from home"),
    (
        "money-gifts",
        "Unexplained money, phones, SIM cards, clothes or gifts",
    ),
    ("phones", "Several phones, or a phone that never stops"),
    ("hurt", "Returning hurt or dishevelled"),
    (
        "carrying",
        "Carrying drugs, weapons or cash beyond their means",
    ),
    ("keys", "Hotel or unknown house keys"),
    (
        "secretive",
        "Secretive, withdrawn, new older friends, controlling relationships",
    ),
    ("cars", "Getting into cars with unknown adults"),
    ("recruiting", "Being paid for introducing peers"),
    ("fear", "Fear of reprisals"),
    ("school", "Disengaged from school"),
    ("substances", "Rising drug or alcohol use"),
    ("self-harm", "Self-harm or sudden changes in mood"),
    ("aggression", "Aggression at home or school"),
    ("debt", "Talk of drug debts"),
    ("violence", "Injuries from violence"),
];

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
