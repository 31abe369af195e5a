//! The sync actor's side of sign-in: auditing who read and changed which case, registering
//! new cases to their creator, closing connections that may no longer connect, and keeping
//! every user's caseload index equal to the cases they may read (docs/ACCESS.md).
//!
//! All of it runs after a batch is committed, so an audit row or a registration never
//! describes a change that was not stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use fieldbook_case::{caseload, network};
use fieldbook_sync::{AccessPolicy, ConnId, DocumentId};

use super::{Actor, Conns, ToConn};
use crate::access::Allowed;
use crate::accounts::{AuditEntry, AuditKind, CaseRecord};
use crate::api::{now_ms, Principal};
use crate::storage::Store;

/// A connection's changes to one case are audited at most this often.
const CHANGE_AUDIT_EVERY: Duration = Duration::from_secs(60);

#[derive(Default)]
pub(super) struct Audit {
    /// Sync requests seen this batch: (conn, doc), each once per connection.
    reads: Vec<(ConnId, DocumentId)>,
    read_seen: HashSet<(ConnId, DocumentId)>,
    pub(super) changed: Vec<(ConnId, Principal, DocumentId)>,
    pub(super) refused: Vec<(Principal, DocumentId)>,
    last_change: HashMap<(ConnId, DocumentId), Instant>,
}

impl Conns {
    pub(super) fn note_read(&mut self, conn: ConnId, doc: DocumentId) {
        if self.accounts_on
            && self.principals.contains_key(&conn)
            && self.audit.read_seen.insert((conn, doc))
        {
            self.audit.reads.push((conn, doc));
        }
    }

    pub(super) fn forget(&mut self, conn: ConnId) {
        self.principals.remove(&conn);
        self.audit.read_seen.retain(|(c, _)| *c != conn);
        self.audit.last_change.retain(|(c, _), _| *c != conn);
    }
}

impl<S: Store + Clone, P: AccessPolicy> Actor<S, P> {
    /// After a committed batch, before its replies leave: register new cases and write the
    /// audit.
    pub(super) fn record_batch(&mut self) {
        let Some(accounts) = self.accounts.clone() else {
            return;
        };
        let now = now_ms();
        let audit = &mut self.conns.audit;
        let mut entries = Vec::new();
        let mut registered = false;
        let mut erased_late = false;
        {
            let Ok(mut model) = accounts.model.write() else {
                tracing::error!("access model lock poisoned; audit and registration skipped");
                return;
            };
            for (conn, principal, doc) in std::mem::take(&mut audit.changed) {
                if model.case(&doc).is_none() && !model.is_index(&doc) && !model.is_erased(&doc) {
                    let team = model.user(&principal.user).and_then(|u| u.team.clone());
                    let names_case = self
                        .runner
                        .get_mut()
                        .engine()
                        .document(&doc)
                        .and_then(network::case_of);
                    // The relationships document of an erased case, from a device that was
                    // offline when it was erased: erased too, never registered.
                    if let Some(case) = names_case.filter(|c| model.is_erased(c)) {
                        match accounts.dir.erase_late_part(&doc, &case, now) {
                            Ok(_) => {
                                model.note_erased(doc, false);
                                tracing::info!(%doc, "a part of an erased case arrived: erased");
                            }
                            Err(e) => {
                                tracing::error!(%doc, error = %e, "could not erase a late part of an erased case")
                            }
                        }
                        erased_late = true;
                        continue;
                    }
                    // A relationships document joins its case when its creator may write
                    // that case's relationships, or the case has not arrived yet.
                    let part_of = names_case.filter(|case| {
                        model.case(case).is_none()
                            || model.may_edit_relationships(&principal.user, case)
                    });
                    let record = CaseRecord {
                        doc,
                        allocated: Some(principal.user.clone()),
                        team,
                        created_by: Some(principal.user.clone()),
                        created_at: now,
                        part_of,
                    };
                    match accounts.dir.register_case(&record) {
                        Ok(_) => {
                            entries.push(entry(
                                now,
                                AuditKind::CaseRegistered,
                                &principal,
                                doc,
                                "",
                            ));
                            model.register(record);
                            registered = true;
                        }
                        // The change is stored; the document stays unregistered (nobody
                        // sees it) until an administrator allocates it.
                        Err(e) => {
                            tracing::error!(%doc, error = %e, "could not register a new case")
                        }
                    }
                }
                let due = audit
                    .last_change
                    .get(&(conn, doc))
                    .is_none_or(|t| t.elapsed() >= CHANGE_AUDIT_EVERY);
                if due && model.case(&doc).is_some() {
                    audit.last_change.insert((conn, doc), Instant::now());
                    entries.push(entry(now, AuditKind::CaseChanged, &principal, doc, ""));
                }
            }
            for (principal, doc) in std::mem::take(&mut audit.refused) {
                entries.push(entry(
                    now,
                    AuditKind::WriteRefused,
                    &principal,
                    doc,
                    "read-only access",
                ));
            }
            for (conn, doc) in std::mem::take(&mut audit.reads) {
                let Some(p) = self.conns.principals.get(&conn) else {
                    continue;
                };
                if model.case(&doc).is_some()
                    && model.allowed(&p.user, &doc) >= crate::access::Allowed::Read
                {
                    entries.push(entry(now, AuditKind::CaseRead, p, doc, ""));
                }
            }
        }
        if !entries.is_empty() {
            if let Err(e) = accounts.dir.record(&entries) {
                tracing::error!(error = %e, rows = entries.len(), "could not write the audit log");
            }
        }
        self.caseloads_stale |= registered;
        // Its content was stored with this batch: delete it after the batch.
        self.access_changed |= erased_late;
    }

    /// After a batch: on a directory change, close what may no longer connect; then bring
    /// caseload indexes up to date if anything they depend on changed.
    pub(super) async fn after_batch(&mut self) {
        let Some(accounts) = self.accounts.clone() else {
            return;
        };
        if std::mem::take(&mut self.access_changed) {
            self.close_revoked(&accounts);
            self.remove_erased(&accounts).await;
            self.caseloads_stale = true;
        }
        if std::mem::take(&mut self.caseloads_stale) {
            self.refresh_caseloads(&accounts).await;
        }
    }

    /// Close every connection whose user was disabled or whose device was revoked.
    fn close_revoked(&mut self, accounts: &crate::watch_access::Accounts) {
        let Ok(model) = accounts.model.read() else {
            return;
        };
        let gone: Vec<ConnId> = self
            .conns
            .principals
            .iter()
            .filter(|(_, p)| !model.may_connect(&p.user, &p.device))
            .map(|(c, _)| *c)
            .collect();
        drop(model);
        let now = self.conns_now();
        for conn in gone {
            tracing::info!(
                conn = conn.0,
                "closing connection: its device or account may no longer connect"
            );
            if let Some(tx) = self.conns.to_conn.remove(&conn) {
                // A full queue has already made the task close.
                let _ = tx.try_send(ToConn::SignedOut);
            }
            self.conns.forget(conn);
            self.runner.get_mut().step(|e| e.disconnect(conn, now));
        }
    }

    /// Delete the content of every erased document not yet removed: forget it (memory, sync
    /// states, waiting work) and delete it from the store in one commit, check the store
    /// has nothing of it, then mark its tombstone "content removed". Runs at start-up too,
    /// so an erasure made while the server was stopped is carried out when it starts.
    async fn remove_erased(&mut self, accounts: &crate::watch_access::Accounts) {
        let pending = match accounts.model.read() {
            Ok(m) => m.pending_erasures(),
            Err(_) => return,
        };
        if pending.is_empty() {
            return;
        }
        let now = self.conns_now();
        for doc in &pending {
            self.runner.get_mut().step(|e| e.forget(*doc, now));
        }
        self.finish().await;
        let store = self.runner.get_mut().store().clone();
        let mut entries = Vec::new();
        for doc in pending {
            match store.load(doc).await {
                Ok(None) => {}
                Ok(Some(_)) => {
                    tracing::error!(%doc, "an erased document is still in the store; retried at the next directory change");
                    continue;
                }
                Err(e) => {
                    tracing::error!(%doc, error = %e, "cannot check that an erased document is gone; retried at the next directory change");
                    continue;
                }
            }
            let at = now_ms();
            match accounts.dir.mark_content_removed(&doc, at) {
                Ok(_) => {
                    if let Ok(mut m) = accounts.model.write() {
                        m.note_erased(doc, true);
                    }
                    tracing::info!(%doc, "erased document's content removed");
                    entries.push(AuditEntry {
                        at,
                        kind: AuditKind::ContentRemoved,
                        user: None,
                        device: None,
                        case: Some(doc),
                        address: None,
                        detail: "content, sync states and key deleted by the server".into(),
                    });
                }
                Err(e) => tracing::error!(%doc, error = %e, "could not mark an erasure done"),
            }
        }
        if let Err(e) = accounts.dir.record(&entries) {
            tracing::error!(error = %e, rows = entries.len(), "could not write the audit log");
        }
    }

    fn conns_now(&self) -> u64 {
        use fieldbook_sync::Host;
        self.conns.now()
    }

    /// Make every active user's caseload index list exactly the cases they may read, each
    /// marked restricted and read-only (for this person) or not, and record erased cases it
    /// listed under `erased`.
    async fn refresh_caseloads(&mut self, accounts: &crate::watch_access::Accounts) {
        /// Per case: what its entry says for this person.
        type Want = BTreeMap<DocumentId, Entry>;
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        struct Entry {
            restricted: bool,
            read_only: bool,
            allocation: caseload::Allocation,
        }
        let (wanted, erased): (Vec<(DocumentId, Want)>, HashSet<DocumentId>) = {
            let Ok(model) = accounts.model.read() else {
                return;
            };
            let loads = model.caseloads();
            let wanted = model
                .users()
                .filter(|u| u.active)
                .map(|u| {
                    let want = loads
                        .get(&u.id)
                        .into_iter()
                        .flatten()
                        .map(|d| {
                            let entry = Entry {
                                restricted: model.is_restricted(d),
                                read_only: model.allowed(&u.id, d) != Allowed::Edit,
                                allocation: model.allocation(d),
                            };
                            (*d, entry)
                        })
                        .collect();
                    (u.caseload, want)
                })
                .collect();
            let erased = model.erased_ids().collect();
            (wanted, erased)
        };
        let runner = self.runner.get_mut();
        for (index, _) in &wanted {
            runner.step(|e| e.open(*index));
        }
        self.finish().await;
        let now = self.conns_now();
        let runner = self.runner.get_mut();
        for (index, want) in wanted {
            let listed: Want = match runner.engine().document(&index) {
                Some(d) if caseload::is_caseload(d) => caseload::case_ids(d)
                    .into_iter()
                    .map(|c| {
                        let entry = Entry {
                            restricted: caseload::is_restricted(d, &c),
                            read_only: caseload::is_read_only(d, &c),
                            allocation: caseload::allocation(d, &c).unwrap_or_default(),
                        };
                        (c, entry)
                    })
                    .collect(),
                Some(_) => {
                    tracing::error!(%index, "a caseload index holds something else; left alone");
                    continue;
                }
                None => BTreeMap::new(),
            };
            let fresh = runner.engine().document(&index).is_none();
            if !fresh && listed == want {
                continue;
            }
            let at = now_ms();
            let changed = runner.engine_mut().change(
                index,
                |tx| {
                    if fresh {
                        caseload::init(tx)?;
                    }
                    for (doc, entry) in &want {
                        let was = listed.get(doc).cloned();
                        if was.is_none() {
                            caseload::add(tx, doc, at)?;
                        }
                        let was = was.unwrap_or_default();
                        if was.restricted != entry.restricted {
                            caseload::set_restricted(tx, doc, entry.restricted)?;
                        }
                        if was.read_only != entry.read_only {
                            caseload::set_read_only(tx, doc, entry.read_only)?;
                        }
                        if was.allocation != entry.allocation {
                            caseload::set_allocation(tx, doc, &entry.allocation)?;
                        }
                    }
                    for doc in listed.keys().filter(|d| !want.contains_key(d)) {
                        if erased.contains(doc) {
                            caseload::erase(tx, doc, at)?;
                        } else {
                            caseload::remove(tx, doc)?;
                        }
                    }
                    Ok(())
                },
                now,
            );
            match changed {
                Ok(out) => runner.push(out),
                Err(e) => tracing::error!(%index, error = %e, "could not update a caseload index"),
            }
        }
        self.finish().await;
    }
}

fn entry(now: i64, kind: AuditKind, p: &Principal, doc: DocumentId, detail: &str) -> AuditEntry {
    AuditEntry {
        at: now,
        kind,
        user: Some(p.user.clone()),
        device: Some(p.device.clone()),
        case: Some(doc),
        address: None,
        detail: detail.to_owned(),
    }
}
