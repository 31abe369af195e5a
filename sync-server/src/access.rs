//! Who may read and write which document: the rules of docs/ACCESS.md over a snapshot of
//! the directory, and the engine's `AccessPolicy` built on them.
//!
//! The model is plain data, rebuilt from `Directory::snapshot` whenever the directory's
//! `access_version` moves (an admin CLI change, a sign-in registering a device, a case
//! registered by its first write). The sync actor asks it on every message, so lookups are
//! hash-map reads; nothing here touches the database.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use fieldbook_sync::{AccessPolicy, DocumentId, Identity};

use crate::accounts::{
    Access, CaseRecord, DeviceId, Grantee, Role, Snapshot, TeamId, User, UserId,
};

/// What one user may do with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Allowed {
    Nothing,
    Read,
    Edit,
}

/// The access rules over one directory snapshot.
#[derive(Debug, Default)]
pub struct AccessModel {
    users: HashMap<UserId, User>,
    /// Caseload index document → its owner.
    indexes: HashMap<DocumentId, UserId>,
    /// Teams each manager manages.
    manages: HashMap<UserId, HashSet<TeamId>>,
    cases: HashMap<DocumentId, CaseRecord>,
    grants: HashMap<DocumentId, Vec<(Grantee, Access)>>,
    revoked_devices: HashSet<DeviceId>,
    /// Erased documents (tombstones), and whether the server has removed their content.
    erased: HashMap<DocumentId, bool>,
    /// Restricted cases and the only people who may read them.
    restricted: HashMap<DocumentId, HashSet<UserId>>,
}

impl AccessModel {
    pub fn new(s: Snapshot) -> Self {
        let mut manages: HashMap<UserId, HashSet<TeamId>> = HashMap::new();
        for (m, t) in s.manages {
            manages.entry(m).or_default().insert(t);
        }
        let mut grants: HashMap<DocumentId, Vec<(Grantee, Access)>> = HashMap::new();
        for g in s.grants {
            grants.entry(g.doc).or_default().push((g.grantee, g.access));
        }
        AccessModel {
            indexes: s.users.iter().map(|u| (u.caseload, u.id.clone())).collect(),
            users: s.users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            manages,
            cases: s.cases.into_iter().map(|c| (c.doc, c)).collect(),
            grants,
            revoked_devices: s
                .devices
                .into_iter()
                .filter(|d| d.revoked_at.is_some())
                .map(|d| d.id)
                .collect(),
            erased: s
                .erasures
                .into_iter()
                .map(|e| (e.doc, e.content_removed_at.is_some()))
                .collect(),
            restricted: s
                .restrictions
                .into_iter()
                .map(|r| (r.doc, r.readers.into_iter().collect()))
                .collect(),
        }
    }

    /// Whether `doc` was erased: nobody may read or write it, ever.
    pub fn is_erased(&self, doc: &DocumentId) -> bool {
        self.erased.contains_key(doc)
    }

    /// Every erased document.
    pub fn erased_ids(&self) -> impl Iterator<Item = DocumentId> + '_ {
        self.erased.keys().copied()
    }

    /// Erased documents whose content the server has not removed yet.
    pub fn pending_erasures(&self) -> Vec<DocumentId> {
        let mut v: Vec<DocumentId> = self
            .erased
            .iter()
            .filter(|(_, removed)| !**removed)
            .map(|(d, _)| *d)
            .collect();
        v.sort_by_key(|d| d.to_string());
        v
    }

    /// Record a tombstone the server itself wrote, or that content is gone, before the next
    /// snapshot arrives.
    pub fn note_erased(&mut self, doc: DocumentId, content_removed: bool) {
        let e = self.erased.entry(doc).or_insert(false);
        *e |= content_removed;
    }

    /// Whether processing of case `doc` is restricted (docs/ACCESS.md, "Restriction").
    pub fn is_restricted(&self, doc: &DocumentId) -> bool {
        self.restricted.contains_key(doc)
    }

    /// Who case `doc` (or the case it is part of) is allocated to, as devices are told in
    /// caseload indexes: the allocated person's display name and the team's id.
    pub fn allocation(&self, doc: &DocumentId) -> fieldbook_case::caseload::Allocation {
        let case = self.cases.get(doc).and_then(|c| match c.part_of {
            Some(parent) => self.cases.get(&parent),
            None => Some(c),
        });
        fieldbook_case::caseload::Allocation {
            worker: case
                .and_then(|c| c.allocated.as_ref())
                .and_then(|u| self.users.get(u))
                .map(|u| u.display_name.clone())
                .unwrap_or_default(),
            team: case
                .and_then(|c| c.team.as_ref())
                .map(|t| t.0.clone())
                .unwrap_or_default(),
        }
    }

    pub fn user(&self, id: &UserId) -> Option<&User> {
        self.users.get(id)
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn case(&self, doc: &DocumentId) -> Option<&CaseRecord> {
        self.cases.get(doc)
    }

    pub fn is_index(&self, doc: &DocumentId) -> bool {
        self.indexes.contains_key(doc)
    }

    /// Whether a connection authenticated as `user` on `device` may stay open.
    pub fn may_connect(&self, user: &UserId, device: &DeviceId) -> bool {
        self.users.get(user).is_some_and(|u| u.active) && !self.revoked_devices.contains(device)
    }

    pub fn is_device_revoked(&self, device: &DeviceId) -> bool {
        self.revoked_devices.contains(device)
    }

    /// Record a registration made by the server itself, before the next snapshot arrives.
    pub fn register(&mut self, case: CaseRecord) {
        self.cases.entry(case.doc).or_insert(case);
    }

    /// The rules of docs/ACCESS.md, "Who may see what".
    pub fn allowed(&self, user: &UserId, doc: &DocumentId) -> Allowed {
        let Some(u) = self.users.get(user).filter(|u| u.active) else {
            return Allowed::Nothing;
        };
        // Checked before anything else, above all before "an unregistered document may be
        // created": a stale device offering an erased case as new must not bring it back.
        if self.erased.contains_key(doc) {
            return Allowed::Nothing;
        }
        if let Some(owner) = self.indexes.get(doc) {
            // Written by the server only.
            return if owner == user {
                Allowed::Read
            } else {
                Allowed::Nothing
            };
        }
        let Some(case) = self.cases.get(doc) else {
            // Unregistered: absent (documents that existed before sign-in are registered at
            // start-up), so only a new case by someone who may create one.
            return match u.role {
                Role::Practitioner | Role::Manager => Allowed::Edit,
                // Chairs review cases they are granted; they do not open new ones.
                Role::Chair | Role::Administrator => Allowed::Nothing,
            };
        };
        let normal = match case.part_of {
            Some(parent) if self.erased.contains_key(&parent) => Allowed::Nothing,
            // A relationships document can reach the server before its case does: until
            // then only its creator has it.
            Some(parent) if !self.cases.contains_key(&parent) => {
                if case.created_by.as_ref() == Some(&u.id) {
                    Allowed::Edit
                } else {
                    Allowed::Nothing
                }
            }
            Some(parent) => self.allowed_restricted(u, &parent, doc),
            None => self.allowed_case(u, case),
        };
        // Restriction of processing: the named readers may read the case (and those of them
        // who could read its parts, the parts); nobody else anything; nobody may change it.
        match self.restricted.get(&case.part_of.unwrap_or(*doc)) {
            None => normal,
            Some(readers) if !readers.contains(&u.id) => Allowed::Nothing,
            Some(_) if case.part_of.is_none() => Allowed::Read,
            Some(_) => normal.min(Allowed::Read),
        }
    }

    fn allowed_case(&self, u: &User, case: &CaseRecord) -> Allowed {
        if case.allocated.as_ref() == Some(&u.id)
            || (case.team.is_some() && case.team == u.team)
            || self.manages_team(&u.id, case.team.as_ref())
        {
            return Allowed::Edit;
        }
        self.granted(u, &case.doc, true)
    }

    /// Relationships and places: the allocated worker, managers of the case's team, and
    /// people named in a grant on the case (team grants do not reach it).
    fn allowed_restricted(&self, u: &User, parent: &DocumentId, doc: &DocumentId) -> Allowed {
        let Some(case) = self.cases.get(parent) else {
            return Allowed::Nothing;
        };
        if case.allocated.as_ref() == Some(&u.id) || self.manages_team(&u.id, case.team.as_ref()) {
            return Allowed::Edit;
        }
        self.granted(u, parent, false)
            .max(self.granted(u, doc, false))
    }

    /// Whether `user` may write `case`'s relationships and places (for a relationships
    /// document that names `case`).
    pub fn may_edit_relationships(&self, user: &UserId, case: &DocumentId) -> bool {
        let open = self.cases.contains_key(case)
            && !self.erased.contains_key(case)
            && !self.restricted.contains_key(case);
        match (self.users.get(user).filter(|u| u.active), open) {
            (Some(u), true) => self.allowed_restricted(u, case, case) == Allowed::Edit,
            _ => false,
        }
    }

    fn manages_team(&self, user: &UserId, team: Option<&TeamId>) -> bool {
        team.is_some_and(|t| self.manages.get(user).is_some_and(|m| m.contains(t)))
    }

    fn granted(&self, u: &User, doc: &DocumentId, teams: bool) -> Allowed {
        let mut best = Allowed::Nothing;
        for (grantee, access) in self.grants.get(doc).into_iter().flatten() {
            let names = match grantee {
                Grantee::User(id) => *id == u.id,
                Grantee::Team(t) => teams && u.team.as_ref() == Some(t),
            };
            if names {
                best = best.max(match access {
                    Access::Read => Allowed::Read,
                    Access::Edit => Allowed::Edit,
                });
            }
        }
        best
    }

    /// Every case (not its parts) each user may read: what their caseload index lists.
    pub fn caseloads(&self) -> HashMap<UserId, BTreeSet<DocumentId>> {
        let mut out: HashMap<UserId, BTreeSet<DocumentId>> = self
            .users
            .values()
            .filter(|u| u.active)
            .map(|u| (u.id.clone(), BTreeSet::new()))
            .collect();
        // Users by team and managers by team, so this is linear in cases + grants + users.
        let mut by_team: HashMap<&TeamId, Vec<&UserId>> = HashMap::new();
        for u in self.users.values().filter(|u| u.active) {
            if let Some(t) = &u.team {
                by_team.entry(t).or_default().push(&u.id);
            }
        }
        let mut managers: HashMap<&TeamId, Vec<&UserId>> = HashMap::new();
        for (m, teams) in &self.manages {
            for t in teams {
                managers.entry(t).or_default().push(m);
            }
        }
        let listable = |c: &&CaseRecord| c.part_of.is_none() && !self.erased.contains_key(&c.doc);
        for case in self.cases.values().filter(listable) {
            if let Some(readers) = self.restricted.get(&case.doc) {
                for u in readers {
                    if let Some(set) = out.get_mut(u) {
                        set.insert(case.doc);
                    }
                }
                continue;
            }
            let mut add = |u: &UserId| {
                if let Some(set) = out.get_mut(u) {
                    set.insert(case.doc);
                }
            };
            if let Some(a) = &case.allocated {
                add(a);
            }
            if let Some(t) = &case.team {
                by_team.get(t).into_iter().flatten().for_each(|u| add(u));
                managers.get(t).into_iter().flatten().for_each(|u| add(u));
            }
            for (grantee, _) in self.grants.get(&case.doc).into_iter().flatten() {
                match grantee {
                    Grantee::User(u) => add(u),
                    Grantee::Team(t) => by_team.get(t).into_iter().flatten().for_each(|u| add(u)),
                }
            }
        }
        out
    }
}

/// The model shared by the sync actor's policy, the HTTP handlers and the watcher that
/// reloads it.
pub type SharedModel = Arc<RwLock<AccessModel>>;

/// The engine's policy: a connection's identity is its authenticated user id.
#[derive(Clone)]
pub struct CaseAccess {
    model: SharedModel,
}

impl CaseAccess {
    pub fn new(model: SharedModel) -> Self {
        CaseAccess { model }
    }

    fn allowed(&self, who: &Identity, doc: &DocumentId) -> Allowed {
        let user = UserId(who.0.clone());
        // A poisoned lock means a panic while swapping snapshots: deny rather than guess.
        self.model
            .read()
            .map(|m| m.allowed(&user, doc))
            .unwrap_or(Allowed::Nothing)
    }
}

impl AccessPolicy for CaseAccess {
    fn may_read(&self, who: &Identity, doc: &DocumentId) -> bool {
        self.allowed(who, doc) >= Allowed::Read
    }
    fn may_write(&self, who: &Identity, doc: &DocumentId) -> bool {
        self.allowed(who, doc) == Allowed::Edit
    }

    fn inspects_changes(&self) -> bool {
        true
    }

    /// "Who set this" must be true: every `by` a change writes is the signed-in user's
    /// display name (see docs/ACCESS.md, "Authorship").
    fn check_changes(
        &self,
        who: &Identity,
        _doc: &DocumentId,
        changes: &[fieldbook_sync::automerge::Change],
        after: &fieldbook_sync::automerge::Automerge,
    ) -> Result<(), &'static str> {
        let author = match self.model.read() {
            Ok(m) => m
                .user(&UserId(who.0.clone()))
                .map(|u| (u.display_name.clone(), u.role)),
            Err(_) => None,
        };
        let Some((name, role)) = author else {
            return Err("unknown author");
        };
        // Decoded once: it is the costly part, and every rule reads the same operations.
        for change in changes {
            let ops = change.decode().operations;
            authorship(&ops, &name)?;
            reviewer_role(&ops, role)?;
            reviews_untouched(&ops, role, after)?;
        }
        Ok(())
    }
}

/// The key that records who made a record, a critical value or a removal
/// (`fieldbook_case`: critical.rs, removal.rs, notes.rs, nrm.rs, outcomes.rs, assessment.rs).
pub const AUTHOR_KEY: &str = "by";

/// Every operation on an `AUTHOR_KEY` key must put exactly `name` as a plain string: not
/// another name, not a text object (which could spell one), not a deletion.
pub fn check_authorship(
    change: &fieldbook_sync::automerge::Change,
    name: &str,
) -> Result<(), &'static str> {
    authorship(&change.decode().operations, name)
}

type Ops = [fieldbook_sync::automerge::legacy::Op];

fn authorship(ops: &Ops, name: &str) -> Result<(), &'static str> {
    use fieldbook_sync::automerge::legacy::{Key, OpType};
    use fieldbook_sync::automerge::ScalarValue;
    for op in ops {
        let Key::Map(key) = &op.key else { continue };
        if key.as_str() != AUTHOR_KEY {
            continue;
        }
        match &op.action {
            OpType::Put(ScalarValue::Str(s)) if s.as_str() == name => {}
            _ => return Err("a change names someone else as its author"),
        }
    }
    Ok(())
}

/// The key a risk assessment's review records its reviewer's role under
/// (`fieldbook_case::assessment::Review`).
pub const REVIEWER_ROLE_KEY: &str = "role";

/// A review must be recorded by someone holding the role it claims: every operation on a
/// `REVIEWER_ROLE_KEY` key puts exactly the author's reviewer role ("chair" for a child
/// protection chair, "manager" for a manager); nobody else may write one. Otherwise a
/// practitioner's device could mark a High assessment as reviewed by a chair.
pub fn check_reviewer_role(
    change: &fieldbook_sync::automerge::Change,
    role: Role,
) -> Result<(), &'static str> {
    reviewer_role(&change.decode().operations, role)
}

fn reviewer_role(ops: &Ops, role: Role) -> Result<(), &'static str> {
    use fieldbook_sync::automerge::legacy::{Key, OpType};
    use fieldbook_sync::automerge::ScalarValue;
    let own = match role {
        Role::Chair => Some("chair"),
        Role::Manager => Some("manager"),
        Role::Practitioner | Role::Administrator => None,
    };
    for op in ops {
        let Key::Map(key) = &op.key else { continue };
        if key.as_str() != REVIEWER_ROLE_KEY {
            continue;
        }
        match (&op.action, own) {
            (OpType::Put(ScalarValue::Str(s)), Some(own)) if s.as_str() == own => {}
            _ => return Err("a review claims a role its author does not hold"),
        }
    }
    Ok(())
}

/// The key under which an assessment version keeps its review.
pub const REVIEW_KEY: &str = "review";

/// Only a reviewer (a child protection chair or a manager) may create or change a review:
/// no operation of anyone else's may create a map at a `REVIEW_KEY` key or land in an object
/// that lives under one. (Without this a practitioner could change the level or time of a
/// chair's review while its name and role stay the chair's.) `after` is the document with
/// the change applied, to see where each operation lands.
pub fn check_reviews_untouched(
    change: &fieldbook_sync::automerge::Change,
    role: Role,
    after: &fieldbook_sync::automerge::Automerge,
) -> Result<(), &'static str> {
    reviews_untouched(&change.decode().operations, role, after)
}

fn reviews_untouched(
    ops: &Ops,
    role: Role,
    after: &fieldbook_sync::automerge::Automerge,
) -> Result<(), &'static str> {
    use fieldbook_sync::automerge::legacy::{Key, ObjectId, OpType};
    use fieldbook_sync::automerge::{ObjType, Prop, ReadDoc};
    if matches!(role, Role::Chair | Role::Manager) {
        return Ok(());
    }
    const REFUSED: &str = "only a manager or a child protection chair may record a review";
    let mut under_review: HashMap<String, bool> = HashMap::new();
    for op in ops {
        if matches!(&op.key, Key::Map(k) if k.as_str() == REVIEW_KEY)
            && matches!(op.action, OpType::Make(ObjType::Map))
        {
            return Err(REFUSED);
        }
        let ObjectId::Id(id) = &op.obj else { continue };
        let key = id.to_string();
        if let Some(&inside) = under_review.get(&key) {
            if inside {
                return Err(REFUSED);
            }
            continue;
        }
        // An object this change made and later deleted is not in `after`: nothing of it
        // survives, so it cannot be a review either.
        let inside = after.import(&key).is_ok_and(|(obj, _)| {
            after.parents(obj).is_ok_and(|mut ps| {
                ps.any(|p| matches!(&p.prop, Prop::Map(k) if k.as_str() == REVIEW_KEY))
            })
        });
        under_review.insert(key, inside);
        if inside {
            return Err(REFUSED);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::{Device, Grant};

    fn user(id: &str, role: Role, team: Option<&str>) -> User {
        User {
            id: UserId(id.into()),
            username: id.into(),
            display_name: format!("Invented {id}"),
            role,
            agency: "Invented Council".into(),
            team: team.map(|t| TeamId(t.into())),
            active: true,
            caseload: DocumentId::random(),
        }
    }

    fn case(doc: DocumentId, allocated: &str, team: &str) -> CaseRecord {
        CaseRecord {
            doc,
            allocated: Some(UserId(allocated.into())),
            team: Some(TeamId(team.into())),
            created_by: Some(UserId(allocated.into())),
            created_at: 0,
            part_of: None,
        }
    }

    struct World {
        model: AccessModel,
        x: DocumentId,
        rel: DocumentId,
    }

    /// a, b: practitioners in north; c: practitioner in south; m: manages north and south;
    /// admin: administrator. X is a's case (north); rel is X's relationships document.
    fn world(grants: Vec<(Grantee, Access)>) -> World {
        let x = DocumentId::random();
        let rel = DocumentId::random();
        let mut r = case(rel, "a", "north");
        r.part_of = Some(x);
        let snapshot = Snapshot {
            users: vec![
                user("a", Role::Practitioner, Some("north")),
                user("b", Role::Practitioner, Some("north")),
                user("c", Role::Practitioner, Some("south")),
                user("m", Role::Manager, Some("south")),
                user("admin", Role::Administrator, None),
            ],
            teams: vec![],
            manages: vec![
                (UserId("m".into()), TeamId("north".into())),
                (UserId("m".into()), TeamId("south".into())),
            ],
            devices: vec![Device {
                id: DeviceId("dev_revoked".into()),
                user: UserId("a".into()),
                name: "lost phone".into(),
                created_at: 0,
                last_seen: None,
                revoked_at: Some(1),
            }],
            cases: vec![case(x, "a", "north"), r],
            grants: grants
                .into_iter()
                .enumerate()
                .map(|(i, (grantee, access))| Grant {
                    id: i as i64,
                    doc: x,
                    grantee,
                    access,
                    granted_by: None,
                    granted_at: 0,
                })
                .collect(),
            ..Snapshot::default()
        };
        World {
            model: AccessModel::new(snapshot),
            x,
            rel,
        }
    }

    fn u(s: &str) -> UserId {
        UserId(s.into())
    }

    #[test]
    fn team_and_managers_edit_other_teams_see_nothing() {
        let w = world(vec![]);
        assert_eq!(w.model.allowed(&u("a"), &w.x), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("b"), &w.x), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("m"), &w.x), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("c"), &w.x), Allowed::Nothing);
        assert_eq!(w.model.allowed(&u("admin"), &w.x), Allowed::Nothing);
        assert_eq!(w.model.allowed(&u("nobody"), &w.x), Allowed::Nothing);
    }

    #[test]
    fn grants_give_read_or_edit_to_a_user_or_a_team() {
        let w = world(vec![(Grantee::User(u("c")), Access::Read)]);
        assert_eq!(w.model.allowed(&u("c"), &w.x), Allowed::Read);
        let w = world(vec![
            (Grantee::User(u("c")), Access::Read),
            (Grantee::Team(TeamId("south".into())), Access::Edit),
        ]);
        assert_eq!(w.model.allowed(&u("c"), &w.x), Allowed::Edit);
    }

    #[test]
    fn relationships_reach_only_the_allocated_worker_managers_and_named_grants() {
        let w = world(vec![(Grantee::Team(TeamId("south".into())), Access::Edit)]);
        assert_eq!(w.model.allowed(&u("a"), &w.rel), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("m"), &w.rel), Allowed::Edit);
        // Same team as the case, but not allocated: the case yes, its relationships no.
        assert_eq!(w.model.allowed(&u("b"), &w.x), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("b"), &w.rel), Allowed::Nothing);
        // A team grant reaches the case only.
        assert_eq!(w.model.allowed(&u("c"), &w.x), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("c"), &w.rel), Allowed::Nothing);
        let w = world(vec![(Grantee::User(u("c")), Access::Read)]);
        assert_eq!(w.model.allowed(&u("c"), &w.rel), Allowed::Read);
    }

    #[test]
    fn unregistered_documents_may_be_created_by_practitioners_and_managers_only() {
        let w = world(vec![]);
        let new = DocumentId::random();
        assert_eq!(w.model.allowed(&u("c"), &new), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("m"), &new), Allowed::Edit);
        assert_eq!(w.model.allowed(&u("admin"), &new), Allowed::Nothing);
    }

    #[test]
    fn an_index_is_read_only_and_only_for_its_owner() {
        let w = world(vec![]);
        let a_index = w.model.user(&u("a")).unwrap().caseload;
        assert_eq!(w.model.allowed(&u("a"), &a_index), Allowed::Read);
        assert_eq!(w.model.allowed(&u("b"), &a_index), Allowed::Nothing);
    }

    #[test]
    fn disabled_users_and_revoked_devices_lose_everything() {
        let mut w = world(vec![]);
        assert!(w.model.may_connect(&u("a"), &DeviceId("dev_ok".into())));
        assert!(!w
            .model
            .may_connect(&u("a"), &DeviceId("dev_revoked".into())));
        w.model.users.get_mut(&u("a")).unwrap().active = false;
        assert_eq!(w.model.allowed(&u("a"), &w.x), Allowed::Nothing);
        assert!(!w.model.may_connect(&u("a"), &DeviceId("dev_ok".into())));
        assert!(!w.model.caseloads().contains_key(&u("a")));
    }

    #[test]
    fn authorship_must_be_the_signed_in_users_own_name() {
        use fieldbook_sync::automerge::transaction::Transactable;
        use fieldbook_sync::automerge::{AutoCommit, ObjType, ROOT};
        let change = |f: &dyn Fn(&mut AutoCommit)| {
            let mut d = AutoCommit::new();
            f(&mut d);
            d.get_last_local_change().unwrap().clone()
        };
        let own = change(&|d| {
            let m = d.put_object(ROOT, "level", ObjType::Map).unwrap();
            d.put(&m, "by", "Invented Ayo").unwrap();
            d.put(&m, "note", "by the way").unwrap();
        });
        assert_eq!(check_authorship(&own, "Invented Ayo"), Ok(()));
        assert!(check_authorship(&own, "Invented Bea").is_err());
        let as_text = change(&|d| {
            let t = d.put_object(ROOT, "by", ObjType::Text).unwrap();
            d.splice_text(&t, 0, 0, "Invented Ayo").unwrap();
        });
        assert!(
            check_authorship(&as_text, "Invented Ayo").is_err(),
            "a text object could spell any name"
        );
        let deleted = change(&|d| {
            d.put(ROOT, "by", "Invented Ayo").unwrap();
            d.delete(ROOT, "by").unwrap();
        });
        assert!(check_authorship(&deleted, "Invented Ayo").is_err());
        let unrelated = change(&|d| {
            d.put(ROOT, "bystander", "anyone").unwrap();
        });
        assert_eq!(check_authorship(&unrelated, "Invented Ayo"), Ok(()));
    }

    #[test]
    fn only_a_chair_records_a_chairs_review_and_only_a_manager_a_managers() {
        use fieldbook_case::assessment::{self, Review};
        use fieldbook_sync::automerge::AutoCommit;
        let review_by = |role: &str| {
            let mut d = AutoCommit::new();
            assessment::start(&mut d, "v1", 1, None, "Invented Ayo").unwrap();
            assessment::submit(&mut d, "v1", 2).unwrap();
            d.commit();
            let r = Review {
                by: "Invented Cy".into(),
                role: role.into(),
                at: 3,
                level: "high".into(),
                meeting_needed: "yes".into(),
                meeting_chair: "chair".into(),
                note: String::new(),
            };
            assert!(assessment::review(&mut d, "v1", &r).unwrap());
            d.commit();
            d.get_last_local_change().unwrap().clone()
        };
        let chairs = review_by("chair");
        assert_eq!(check_reviewer_role(&chairs, Role::Chair), Ok(()));
        for other in [Role::Practitioner, Role::Manager, Role::Administrator] {
            assert!(check_reviewer_role(&chairs, other).is_err(), "{other:?}");
        }
        let managers = review_by("manager");
        assert_eq!(check_reviewer_role(&managers, Role::Manager), Ok(()));
        assert!(check_reviewer_role(&managers, Role::Chair).is_err());
        assert!(check_reviewer_role(&managers, Role::Practitioner).is_err());
        // Anything else a practitioner writes is untouched by the rule.
        let mut d = AutoCommit::new();
        assessment::start(&mut d, "v2", 1, None, "Invented Ayo").unwrap();
        d.commit();
        let draft = d.get_last_local_change().unwrap().clone();
        assert_eq!(check_reviewer_role(&draft, Role::Practitioner), Ok(()));
    }

    #[test]
    fn nobody_but_a_reviewer_touches_a_review() {
        use fieldbook_case::assessment::{self, Review};
        use fieldbook_sync::automerge::AutoCommit;
        let mut d = AutoCommit::new();
        assessment::start(&mut d, "v1", 1, None, "Invented Ayo").unwrap();
        assessment::submit(&mut d, "v1", 2).unwrap();
        d.commit();
        let mut r = Review {
            by: "Invented Cy".into(),
            role: "chair".into(),
            at: 3,
            level: "high".into(),
            meeting_needed: "yes".into(),
            meeting_chair: "chair".into(),
            note: "Agreed.".into(),
        };
        // Creating a review: only a reviewer.
        let mut first = d.fork();
        assessment::review(&mut first, "v1", &r).unwrap();
        first.commit();
        let creating = first.get_last_local_change().unwrap().clone();
        let doc = first.document().clone();
        assert_eq!(
            check_reviews_untouched(&creating, Role::Chair, &doc),
            Ok(())
        );
        assert!(check_reviews_untouched(&creating, Role::Practitioner, &doc).is_err());
        // Changing a chair's review (same name and role, another level and note): the same.
        let mut later = first.fork();
        r.level = "moderate".into();
        r.note = "Agreed, but lower.".into();
        assessment::review(&mut later, "v1", &r).unwrap();
        later.commit();
        let changing = later.get_last_local_change().unwrap().clone();
        let doc = later.document().clone();
        assert!(check_reviews_untouched(&changing, Role::Practitioner, &doc).is_err());
        assert!(check_reviews_untouched(&changing, Role::Administrator, &doc).is_err());
        assert_eq!(
            check_reviews_untouched(&changing, Role::Manager, &doc),
            Ok(())
        );
        // Everything else a practitioner does to the case is untouched by the rule, the
        // plan's review date included.
        let mut other = later.fork();
        assessment::start(&mut other, "v2", 4, None, "Invented Ayo").unwrap();
        fieldbook_case::plan::set_review(&mut other, "2026-12-01").unwrap();
        other.commit();
        let unrelated = other.get_last_local_change().unwrap().clone();
        let doc = other.document().clone();
        assert_eq!(
            check_reviews_untouched(&unrelated, Role::Practitioner, &doc),
            Ok(())
        );
    }

    #[test]
    fn an_erased_case_and_its_parts_are_nothing_to_anyone_and_cannot_be_recreated() {
        let mut w = world(vec![(Grantee::User(u("c")), Access::Edit)]);
        w.model.note_erased(w.x, false);
        w.model.note_erased(w.rel, false);
        for who in ["a", "b", "c", "m", "admin"] {
            assert_eq!(w.model.allowed(&u(who), &w.x), Allowed::Nothing, "{who}");
            assert_eq!(w.model.allowed(&u(who), &w.rel), Allowed::Nothing, "{who}");
            assert!(!w.model.caseloads()[&u(who)].contains(&w.x), "{who}");
        }
        assert!(!w.model.may_edit_relationships(&u("a"), &w.x));
        // Even were it not registered, a tombstoned id is not "a new document".
        w.model.cases.clear();
        assert_eq!(w.model.allowed(&u("a"), &w.x), Allowed::Nothing);
        assert_eq!(w.model.pending_erasures().len(), 2);
        w.model.note_erased(w.x, true);
        assert_eq!(w.model.pending_erasures(), vec![w.rel]);
        assert!(w.model.is_erased(&w.x));
    }

    #[test]
    fn a_restricted_case_is_read_only_and_only_for_its_named_readers() {
        let mut w = world(vec![(Grantee::User(u("c")), Access::Edit)]);
        w.model
            .restricted
            .insert(w.x, [u("b"), u("a")].into_iter().collect());
        assert!(w.model.is_restricted(&w.x));
        assert_eq!(w.model.allowed(&u("a"), &w.x), Allowed::Read);
        assert_eq!(w.model.allowed(&u("b"), &w.x), Allowed::Read);
        assert_eq!(w.model.allowed(&u("c"), &w.x), Allowed::Nothing, "grant");
        assert_eq!(w.model.allowed(&u("m"), &w.x), Allowed::Nothing, "manager");
        // Parts: read only, and only for named readers who could read them anyway.
        assert_eq!(w.model.allowed(&u("a"), &w.rel), Allowed::Read);
        assert_eq!(w.model.allowed(&u("b"), &w.rel), Allowed::Nothing);
        assert_eq!(w.model.allowed(&u("m"), &w.rel), Allowed::Nothing);
        assert!(!w.model.may_edit_relationships(&u("a"), &w.x));
        let loads = w.model.caseloads();
        for (who, listed) in [("a", true), ("b", true), ("c", false), ("m", false)] {
            assert_eq!(loads[&u(who)].contains(&w.x), listed, "{who}");
        }
    }

    #[test]
    fn caseloads_list_exactly_the_readable_cases() {
        let w = world(vec![(Grantee::User(u("c")), Access::Read)]);
        let loads = w.model.caseloads();
        for who in ["a", "b", "c", "m", "admin"] {
            let listed = loads[&u(who)].contains(&w.x);
            let readable = w.model.allowed(&u(who), &w.x) >= Allowed::Read;
            assert_eq!(listed, readable, "{who}");
            // Parts of a case are never listed on their own.
            assert!(!loads[&u(who)].contains(&w.rel), "{who}");
        }
    }
}
