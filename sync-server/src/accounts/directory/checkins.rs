//! Lone working check-ins (docs/LONE-WORKING.md): the server's record of a worker's visit —
//! where, with whom, expected back by — not part of any case document.
//!
//! Where and with whom may name a child's address, so they are sealed under the master key
//! (bound to the check-in's id and to which field they are) and exist in plain text only in
//! memory, in the answer to the worker and their managers. They are never logged and never
//! in the audit log: its rows say only that a check-in, check-out or alert happened.
use crate::accounts::sql::{vals, Row, SqlError, Tx, Val};
use fieldbook_sync::DocumentId;

use super::*;
use crate::storage::keys::Sealer;

/// Longest "where" or "with whom" kept, in characters.
pub const MAX_CHECKIN_TEXT_CHARS: usize = 300;

/// What a worker gives to check in.
pub struct NewCheckin {
    pub user: UserId,
    pub device: Option<DeviceId>,
    pub place: String,
    pub with_whom: String,
    /// When they expect to be back (ms since the epoch).
    pub expected_back: Millis,
    /// The case the visit is for, if the worker started from a case page.
    pub case: Option<DocumentId>,
}

impl std::fmt::Debug for NewCheckin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCheckin")
            .field("user", &self.user)
            .field("expected_back", &self.expected_back)
            .finish_non_exhaustive()
    }
}

/// A check-in as read back, opened: for its worker, their managers and the console.
#[derive(Clone, PartialEq, Eq)]
pub struct Checkin {
    pub id: String,
    pub user: UserId,
    pub username: String,
    pub display_name: String,
    pub team: Option<TeamId>,
    pub place: String,
    pub with_whom: String,
    pub expected_back: Millis,
    pub checked_in_at: Millis,
    pub checked_out_at: Option<Millis>,
    pub alerted_at: Option<Millis>,
    pub case: Option<String>,
}

impl Checkin {
    /// Checked out after the expected time.
    pub fn late(&self) -> bool {
        self.checked_out_at.is_some_and(|t| t > self.expected_back)
    }

    /// Not checked out and the expected time has passed.
    pub fn overdue(&self, now: Millis) -> bool {
        self.checked_out_at.is_none() && self.expected_back <= now
    }
}

/// Where and with whom are never printed by `Debug` (it reaches logs and panics).
impl std::fmt::Debug for Checkin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkin")
            .field("id", &self.id)
            .field("user", &self.user)
            .field("expected_back", &self.expected_back)
            .field("checked_in_at", &self.checked_in_at)
            .field("checked_out_at", &self.checked_out_at)
            .field("alerted_at", &self.alerted_at)
            .finish_non_exhaustive()
    }
}

/// What a check-out did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOut {
    /// Checked out now; `late` when after the expected time.
    Done { late: bool },
    /// It was already checked out (at that time); nothing changed.
    Already { at: Millis, late: bool },
    /// No such check-in, or it is someone else's.
    NotFound,
}

fn where_aad(id: &str) -> Vec<u8> {
    crate::storage::keys::aad(&[id.as_bytes(), b"checkin-where"])
}

fn with_whom_aad(id: &str) -> Vec<u8> {
    crate::storage::keys::aad(&[id.as_bytes(), b"checkin-with-whom"])
}

const COLUMNS: &str = "c.id, c.\"user\", u.username, u.display_name, c.team, c.sealed_where,
    c.sealed_with_whom, c.expected_back, c.checked_in_at, c.checked_out_at, c.alerted_at,
    c.case_doc";

struct SealedRow {
    id: String,
    user: String,
    username: String,
    display_name: String,
    team: Option<String>,
    sealed_where: Vec<u8>,
    sealed_with_whom: Vec<u8>,
    expected_back: Millis,
    checked_in_at: Millis,
    checked_out_at: Option<Millis>,
    alerted_at: Option<Millis>,
    case: Option<String>,
}

fn sealed_row(r: &Row) -> Result<SealedRow, SqlError> {
    Ok(SealedRow {
        id: r.text(0)?,
        user: r.text(1)?,
        username: r.text(2)?,
        display_name: r.text(3)?,
        team: r.opt_text(4)?,
        sealed_where: r.bytes(5)?,
        sealed_with_whom: r.bytes(6)?,
        expected_back: r.i64(7)?,
        checked_in_at: r.i64(8)?,
        checked_out_at: r.opt_i64(9)?,
        alerted_at: r.opt_i64(10)?,
        case: r.opt_text(11)?,
    })
}

fn open_text(wrap: &Sealer, aad: &[u8], sealed: &[u8]) -> R<String> {
    let plain = wrap
        .open(aad, sealed)
        .map_err(|_| invalid("a stored check-in does not open with the master key"))?;
    String::from_utf8(plain).map_err(|_| invalid("a stored check-in is damaged"))
}

fn opened(row: SealedRow, wrap: &Sealer) -> R<Checkin> {
    Ok(Checkin {
        place: open_text(wrap, &where_aad(&row.id), &row.sealed_where)?,
        with_whom: open_text(wrap, &with_whom_aad(&row.id), &row.sealed_with_whom)?,
        id: row.id,
        user: UserId(row.user),
        username: row.username,
        display_name: row.display_name,
        team: row.team.map(TeamId),
        expected_back: row.expected_back,
        checked_in_at: row.checked_in_at,
        checked_out_at: row.checked_out_at,
        alerted_at: row.alerted_at,
        case: row.case,
    })
}

fn query(tx: &Tx<'_>, filter: &str, p: &[Val], wrap: &Sealer) -> R<Vec<Checkin>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkins c JOIN users u ON u.id = c.\"user\" {filter}
         ORDER BY c.expected_back, c.id"
    );
    let rows: Vec<SealedRow> = tx
        .query(&sql, p)?
        .iter()
        .map(sealed_row)
        .collect::<Result<_, _>>()?;
    rows.into_iter().map(|r| opened(r, wrap)).collect()
}

fn audit(tx: &Tx<'_>, e: &AuditEntry) -> R<()> {
    tx.exec(
        "INSERT INTO audit (at, kind, \"user\", device, case_doc, address, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        vals![
            e.at,
            e.kind.as_str(),
            e.user.as_ref().map(|u| &u.0),
            e.device.as_ref().map(|d| &d.0),
            e.case.map(|d| d.to_string()),
            e.address,
            e.detail
        ],
    )?;
    Ok(())
}

impl Directory {
    /// Record a check-in, sealed, with its audit row, in one durable transaction (the
    /// directory's `synchronous=FULL`): when this returns the check-in survives a crash.
    /// A worker has at most one open check-in (`Exists` otherwise).
    pub fn check_in(
        &self,
        new: NewCheckin,
        now: Millis,
        wrap: &Sealer,
    ) -> Result<Checkin, DirectoryError> {
        self.write(|tx| {
            let place = clean_text("place", &new.place, MAX_CHECKIN_TEXT_CHARS)?;
            let with_whom = clean_text("with whom", &new.with_whom, MAX_CHECKIN_TEXT_CHARS)?;
            if new.expected_back <= now {
                return Err(invalid("the expected time back has passed"));
            }
            let user: Option<(Option<String>, String, String)> = tx
                .query_opt(
                    "SELECT team, username, display_name FROM users WHERE id = $1 AND active = 1",
                    vals![new.user.0],
                )?
                .map(|r| Ok::<_, SqlError>((r.opt_text(0)?, r.text(1)?, r.text(2)?)))
                .transpose()?;
            let Some((team, username, display_name)) = user else {
                return Err(not_found("user", new.user.0.clone()));
            };
            let open = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM checkins WHERE \"user\" = $1 AND checked_out_at IS NULL)",
                    vals![new.user.0],
                )?
                .bool(0)?;
            if open {
                return Err(Fail::Dir(DirectoryError::Exists {
                    what: "check-in",
                    name: "open".into(),
                }));
            }
            let id = random_id("chk-");
            let sealed_where = wrap
                .seal(&where_aad(&id), place.as_bytes())
                .map_err(|_| invalid("the check-in could not be sealed"))?;
            let sealed_with_whom = wrap
                .seal(&with_whom_aad(&id), with_whom.as_bytes())
                .map_err(|_| invalid("the check-in could not be sealed"))?;
            tx.exec(
                "INSERT INTO checkins (id, \"user\", team, sealed_where, sealed_with_whom,
                     expected_back, checked_in_at, case_doc)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                vals![
                    id,
                    new.user.0,
                    team,
                    sealed_where,
                    sealed_with_whom,
                    new.expected_back,
                    now,
                    new.case.map(|d| d.to_string())
                ],
            )?;
            audit(
                tx,
                &AuditEntry {
                    at: now,
                    kind: AuditKind::CheckedIn,
                    user: Some(new.user.clone()),
                    device: new.device.clone(),
                    case: new.case,
                    address: None,
                    detail: format!("check-in {id}"),
                },
            )?;
            Ok(Checkin {
                id,
                user: new.user,
                username,
                display_name,
                team: team.map(TeamId),
                place,
                with_whom,
                expected_back: new.expected_back,
                checked_in_at: now,
                checked_out_at: None,
                alerted_at: None,
                case: new.case.map(|d| d.to_string()),
            })
        })
    }

    /// Check out of `id`, which must be `user`'s own. After the expected time it is
    /// recorded as late (the audit row says so).
    pub fn check_out(
        &self,
        id: &str,
        user: &UserId,
        device: Option<&DeviceId>,
        now: Millis,
    ) -> Result<CheckOut, DirectoryError> {
        self.write(|tx| {
            let row: Option<(Millis, Option<Millis>)> = tx
                .query_opt(
                    "SELECT expected_back, checked_out_at FROM checkins WHERE id = $1 AND \"user\" = $2",
                    vals![id, user.0],
                )?
                .map(|r| Ok::<_, SqlError>((r.i64(0)?, r.opt_i64(1)?)))
                .transpose()?;
            let Some((expected_back, out)) = row else {
                return Ok(CheckOut::NotFound);
            };
            if let Some(at) = out {
                return Ok(CheckOut::Already {
                    at,
                    late: at > expected_back,
                });
            }
            tx.exec(
                "UPDATE checkins SET checked_out_at = $2 WHERE id = $1",
                vals![id, now],
            )?;
            let late = now > expected_back;
            audit(
                tx,
                &AuditEntry {
                    at: now,
                    kind: AuditKind::CheckedOut,
                    user: Some(user.clone()),
                    device: device.cloned(),
                    case: None,
                    address: None,
                    detail: if late {
                        format!(
                            "check-in {id}, late by {} minutes",
                            (now - expected_back) / 60_000
                        )
                    } else {
                        format!("check-in {id}, on time")
                    },
                },
            )?;
            Ok(CheckOut::Done { late })
        })
    }

    /// `user`'s open check-in, if any.
    pub fn open_checkin(
        &self,
        user: &UserId,
        wrap: &Sealer,
    ) -> Result<Option<Checkin>, DirectoryError> {
        self.read(|tx| {
            Ok(query(
                tx,
                "WHERE c.\"user\" = $1 AND c.checked_out_at IS NULL",
                vals![user.0],
                wrap,
            )?
            .pop())
        })
    }

    /// One check-in by id (for tests and the console).
    pub fn checkin(&self, id: &str, wrap: &Sealer) -> Result<Option<Checkin>, DirectoryError> {
        self.read(|tx| Ok(query(tx, "WHERE c.id = $1", vals![id], wrap)?.pop()))
    }

    /// What a manager sees: check-ins of people in the teams they manage that are open and
    /// past their expected time, then those checked out late since `since`.
    pub fn team_alerts(
        &self,
        manager: &UserId,
        now: Millis,
        since: Millis,
        wrap: &Sealer,
    ) -> Result<Vec<Checkin>, DirectoryError> {
        self.read(|tx| {
            query(
                tx,
                "WHERE c.team IN (SELECT team FROM manages WHERE \"user\" = $1)
                   AND ((c.checked_out_at IS NULL AND c.expected_back <= $2)
                     OR (c.checked_out_at > c.expected_back AND c.checked_out_at >= $3))",
                vals![manager.0, now, since],
                wrap,
            )
        })
    }

    /// Every open check-in past its expected time, and with `late_since` every check-in
    /// checked out late since then (for `admin alerts`).
    pub fn all_alerts(
        &self,
        now: Millis,
        late_since: Option<Millis>,
        wrap: &Sealer,
    ) -> Result<Vec<Checkin>, DirectoryError> {
        self.read(|tx| {
            query(
                tx,
                "WHERE (c.checked_out_at IS NULL AND c.expected_back <= $1)
                    OR (CAST($2 AS BIGINT) IS NOT NULL AND c.checked_out_at > c.expected_back
                        AND c.checked_out_at >= $2)",
                vals![now, late_since],
                wrap,
            )
        })
    }

    /// Mark every open check-in whose expected time has passed and that has not been
    /// alerted yet as alerted at `now`, each with an audit row; (check-in id, user) of each.
    /// Nothing is opened: this needs no key.
    pub fn raise_alerts(&self, now: Millis) -> Result<Vec<(String, UserId)>, DirectoryError> {
        self.write(|tx| {
            let due: Vec<(String, String, Option<String>)> = tx
                .query(
                    "SELECT id, \"user\", case_doc FROM checkins
                     WHERE checked_out_at IS NULL AND alerted_at IS NULL AND expected_back <= $1
                     ORDER BY expected_back, id",
                    vals![now],
                )?
                .iter()
                .map(|r| Ok((r.text(0)?, r.text(1)?, r.opt_text(2)?)))
                .collect::<Result<_, SqlError>>()?;
            let mut raised = Vec::with_capacity(due.len());
            for (id, user, case) in due {
                tx.exec(
                    "UPDATE checkins SET alerted_at = $2 WHERE id = $1",
                    vals![id, now],
                )?;
                audit(
                    tx,
                    &AuditEntry {
                        at: now,
                        kind: AuditKind::CheckinAlert,
                        user: Some(UserId(user.clone())),
                        device: None,
                        case: case.and_then(|c| c.parse().ok()),
                        address: None,
                        detail: format!("check-in {id} not checked out in time"),
                    },
                )?;
                raised.push((id, UserId(user)));
            }
            Ok(raised)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::directory::tests::{both, Fixture};

    fn setup(f: &Fixture) -> (Directory, UserId, Sealer) {
        let d = f.d.clone();
        d.add_team(&Team {
            id: TeamId("north".into()),
            name: "North (invented)".into(),
            agency: "Invented Council".into(),
        })
        .unwrap();
        let u = d
            .add_user(
                NewUser {
                    username: "ayo".into(),
                    display_name: "Ayo Invented".into(),
                    role: Role::Practitioner,
                    agency: "Invented Council".into(),
                    team: Some(TeamId("north".into())),
                    password: Password::new("long enough password".into()),
                },
                1,
            )
            .unwrap();
        let master = crate::storage::MasterKey::generate().unwrap();
        (d, u.id, master.cipher().unwrap())
    }

    fn new(user: &UserId, back: Millis) -> NewCheckin {
        NewCheckin {
            user: user.clone(),
            device: None,
            place: "12 Invented Road".into(),
            with_whom: "Invented parent".into(),
            expected_back: back,
            case: None,
        }
    }

    fn one_open_check_in_then_out_late_or_not_and_the_rows_cannot_be_rewritten(f: Fixture) {
        let (d, u, w) = setup(&f);
        let c = d.check_in(new(&u, 10_000), 1_000, &w).unwrap();
        assert_eq!(c.place, "12 Invented Road");
        assert!(matches!(
            d.check_in(new(&u, 20_000), 2_000, &w),
            Err(DirectoryError::Exists { .. })
        ));
        assert!(format!("{c:?}").contains(&c.id));
        assert!(!format!("{c:?}").contains("Invented Road"));
        let other = UserId("someone-else".into());
        assert_eq!(
            d.check_out(&c.id, &other, None, 3_000).unwrap(),
            CheckOut::NotFound
        );
        assert_eq!(
            d.check_out(&c.id, &u, None, 70_000).unwrap(),
            CheckOut::Done { late: true }
        );
        assert_eq!(
            d.check_out(&c.id, &u, None, 80_000).unwrap(),
            CheckOut::Already {
                at: 70_000,
                late: true
            }
        );
        let back = d.checkin(&c.id, &w).unwrap().unwrap();
        assert!(back.late());
        let rewrite = f.raw("UPDATE checkins SET checked_out_at = 1");
        assert!(rewrite.unwrap_err().contains("only ever checked out"));
        let delete = f.raw("DELETE FROM checkins");
        assert!(delete.unwrap_err().contains("check-ins are kept"));
        // A new one after checking out; on time this time.
        let c2 = d.check_in(new(&u, 200_000), 100_000, &w).unwrap();
        assert_eq!(
            d.check_out(&c2.id, &u, None, 150_000).unwrap(),
            CheckOut::Done { late: false }
        );
    }

    fn alerts_are_raised_once_and_only_when_due(f: Fixture) {
        let (d, u, w) = setup(&f);
        let c = d.check_in(new(&u, 10_000), 1_000, &w).unwrap();
        assert!(d.raise_alerts(9_999).unwrap().is_empty());
        assert_eq!(
            d.raise_alerts(10_000).unwrap(),
            vec![(c.id.clone(), u.clone())]
        );
        assert!(d.raise_alerts(20_000).unwrap().is_empty(), "once");
        let rows = d.audit_for_user(&u).unwrap();
        let kinds: Vec<_> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, vec![AuditKind::CheckedIn, AuditKind::CheckinAlert]);
        assert!(rows.iter().all(|r| !r.detail.contains("Invented")));
        assert_eq!(d.all_alerts(20_000, None, &w).unwrap().len(), 1);
        d.check_out(&c.id, &u, None, 30_000).unwrap();
        assert!(d.all_alerts(40_000, None, &w).unwrap().is_empty());
        assert_eq!(d.all_alerts(40_000, Some(0), &w).unwrap().len(), 1);
    }

    fn bad_input_is_refused(f: Fixture) {
        let (d, u, w) = setup(&f);
        let mut n = new(&u, 10_000);
        n.place = "  ".into();
        assert!(matches!(
            d.check_in(n, 1_000, &w),
            Err(DirectoryError::Invalid(_))
        ));
        assert!(matches!(
            d.check_in(new(&u, 1_000), 1_000, &w),
            Err(DirectoryError::Invalid(_))
        ));
        let other_key = crate::storage::MasterKey::generate()
            .unwrap()
            .cipher()
            .unwrap();
        let c = d.check_in(new(&u, 10_000), 1_000, &w).unwrap();
        assert!(
            d.checkin(&c.id, &other_key).is_err(),
            "sealed under the key"
        );
    }

    both!(
        one_open_check_in_then_out_late_or_not_and_the_rows_cannot_be_rewritten,
        alerts_are_raised_once_and_only_when_due,
        bad_input_is_refused,
    );
}
