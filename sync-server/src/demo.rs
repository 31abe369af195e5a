//! `--demo`: invented cases (`fieldbook_case::demo`) and invented accounts to sign in with,
//! so a newcomer sees a working caseload. Demo accounts have published passwords: they are
//! only ever created in a store that holds nothing else, and the store is then marked as a
//! demo store for good.

use fieldbook_case::{demo, network};
use fieldbook_sync::DocumentId;

use crate::accounts::{
    Access, CaseRecord, Directory, Grantee, NewUser, Password, Role, Team, TeamId, UserId,
};
use crate::caseload::{Offline, SeedError};
use crate::storage::Store;

/// Setting that records the demo was seeded, so a restart with `--demo` adds nothing twice.
const SEEDED: &str = "demo_seeded";

/// An invented account: username, display name, role, team, password (published).
pub struct DemoUser {
    pub username: &'static str,
    pub name: &'static str,
    pub role: Role,
    /// None for someone outside the case teams (the chair reaches cases by grants).
    pub team: Option<&'static str>,
    pub password: &'static str,
}

pub const AGENCY: &str = "Invented County Council (demo)";

pub const TEAMS: &[(&str, &str)] = &[
    ("north", "North CCE team (demo)"),
    ("south", "South CCE team (demo)"),
];

pub const USERS: &[DemoUser] = &[
    DemoUser {
        username: "demo-ayo",
        name: "Ayo Demo (practitioner, North)",
        role: Role::Practitioner,
        team: Some("north"),
        password: "demo-only-ayo-password",
    },
    DemoUser {
        username: "demo-bea",
        name: "Bea Demo (practitioner, North)",
        role: Role::Practitioner,
        team: Some("north"),
        password: "demo-only-bea-password",
    },
    DemoUser {
        username: "demo-cal",
        name: "Cal Demo (practitioner, South)",
        role: Role::Practitioner,
        team: Some("south"),
        password: "demo-only-cal-password",
    },
    DemoUser {
        username: "demo-mo",
        name: "Mo Demo (manager, North and South)",
        role: Role::Manager,
        team: Some("north"),
        password: "demo-only-mo-password",
    },
    DemoUser {
        username: "demo-cy",
        name: "Cy Demo (child protection chair)",
        role: Role::Chair,
        team: None,
        password: "demo-only-cy-password",
    },
];

/// The demo chair (reviews Moderate and High assessments): granted edit on every demo case.
const CHAIR: usize = 4;

/// How many invented cases the demo seeds.
pub const PEOPLE_COUNT: usize = demo::PEOPLE.len();

/// Invented cases `0..NORTH_CASES` belong to the North team (allocated to Ayo), the rest to
/// the South team (allocated to Cal).
pub const NORTH_CASES: usize = 5;

/// How much the demo seeds (`demo_cases`, `demo_big_case_notes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    /// Invented cases in all: past [`PEOPLE_COUNT`] they are allocated to Ayo (North).
    pub cases: usize,
    /// Extra contact notes on case 0 (Ayo's).
    pub big_case_notes: usize,
}

impl Size {
    pub fn of(config: &crate::config::Config) -> Self {
        Size {
            cases: config.demo_cases,
            big_case_notes: config.demo_big_case_notes,
        }
    }
}

impl Default for Size {
    fn default() -> Self {
        Size {
            cases: PEOPLE_COUNT,
            big_case_notes: 0,
        }
    }
}

/// Cases seeded per store transaction: bounds memory while seeding thousands of cases.
const SEED_BATCH: usize = 100;

/// Seed the demo once: accounts, then invented cases covering every record, registered to
/// the demo teams. Returns how many cases were added (0 if seeded before).
pub async fn seed<S: Store>(
    store: &S,
    dir: &Directory,
    now_ms: i64,
    size: &Size,
) -> Result<usize, SeedError> {
    let err = |e: crate::accounts::DirectoryError| SeedError::Directory(e.to_string());
    if store.get_setting(SEEDED).await?.is_some() {
        return Ok(0);
    }
    let existing = dir.snapshot().map_err(err)?;
    if !existing.users.is_empty() || !store.list_documents().await?.is_empty() {
        return Err(SeedError::Directory(
            "--demo only runs on an empty data directory: this one already holds accounts or cases, \
             and demo accounts have published passwords. Use a new --data-dir for the demo."
                .into(),
        ));
    }
    for (id, name) in TEAMS {
        dir.add_team(&Team {
            id: TeamId((*id).into()),
            name: (*name).into(),
            agency: AGENCY.into(),
        })
        .map_err(err)?;
    }
    let mut ids: Vec<UserId> = Vec::new();
    for u in USERS {
        let user = dir
            .add_user(
                NewUser {
                    username: u.username.into(),
                    display_name: u.name.into(),
                    role: u.role,
                    agency: AGENCY.into(),
                    team: u.team.map(|t| TeamId(t.into())),
                    password: Password::new(u.password.into()),
                },
                now_ms,
            )
            .map_err(err)?;
        ids.push(user.id);
    }
    let manager = &ids[3];
    for (team, _) in TEAMS {
        dir.manage(manager, &TeamId((*team).into()), true)
            .map_err(err)?;
    }
    let mut cases = Vec::new();
    let mut first = 0;
    while first < size.cases {
        let mut offline = Offline::new(store, now_ms as u64);
        for i in first..size.cases.min(first + SEED_BATCH) {
            let (case, relationships) = (DocumentId::random(), DocumentId::random());
            offline.create_with_id(relationships, |tx| {
                network::init(tx, &case)?;
                demo::write_relationships(tx, i)
            })?;
            offline.create_with_id(case, |tx| {
                demo::write(tx, i, now_ms)?;
                if i == 0 {
                    demo::extra_notes(tx, i, size.big_case_notes, now_ms)?;
                }
                network::link(tx, &relationships)
            })?;
            cases.push((case, relationships));
        }
        offline.commit().await?;
        first += SEED_BATCH;
    }
    for (i, (case, relationships)) in cases.iter().enumerate() {
        let (allocated, team) = if !(NORTH_CASES..PEOPLE_COUNT).contains(&i) {
            (&ids[0], "north")
        } else {
            (&ids[2], "south")
        };
        let record = CaseRecord {
            doc: *case,
            allocated: Some(allocated.clone()),
            team: Some(TeamId(team.into())),
            created_by: None,
            created_at: now_ms,
            part_of: None,
        };
        dir.register_case(&record).map_err(err)?;
        dir.register_case(&CaseRecord {
            doc: *relationships,
            part_of: Some(*case),
            ..record
        })
        .map_err(err)?;
        dir.add_grant(
            case,
            &Grantee::User(ids[CHAIR].clone()),
            Access::Edit,
            None,
            now_ms,
        )
        .map_err(err)?;
    }
    store.put_setting(SEEDED, "1").await?;
    Ok(cases.len())
}

/// What the server prints at start-up in demo mode.
pub fn sign_in_help() -> String {
    let mut s = String::from(
        "DEMO ONLY — invented accounts with published passwords (never use a demo store for real work):\n",
    );
    for u in USERS {
        s.push_str(&format!(
            "  {:<10} password {:<24} {}\n",
            u.username, u.password, u.name
        ));
    }
    s
}
