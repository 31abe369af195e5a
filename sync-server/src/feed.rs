//! The change feed between sync nodes that share one database (docs/SCALE-OUT.md).
//!
//! Each node keeps the documents its connections use in memory. When node 1 commits a
//! change to a document, node 2 must hear of it to send it to its own connections: after
//! every commit the sync actor **announces** the documents the commit wrote (content, not
//! mere sync progress), and the feed delivers other nodes' announcements back into each
//! actor ([`crate::sync_actor::Command::ChangedElsewhere`]), which reloads those documents
//! from the database and syncs what is new (`Engine::changed_elsewhere`).
//!
//! The feed carries document ids only (never content), each with the announcing node's id
//! so a node ignores its own. It is a hint, not the data: whatever it loses, a reload from
//! the database repairs, so a listener that may have missed announcements (reconnected,
//! lagged) reports [`FeedEvent::Missed`] and the actor treats every document it holds as
//! changed.
//!
//! [`InProcessFeed`] joins actors in one process (tests). The PostgreSQL feed is
//! `LISTEN fieldbook_changes` on a dedicated connection; there the notification must be sent
//! **in the same transaction as the write** (`SELECT pg_notify('fieldbook_changes', …)`
//! inside `Store::apply`), so PostgreSQL delivers it if and only if the write committed, and
//! a node killed between its commit and its announcement still notifies the others. Such a
//! feed's [`ChangeFeed::announce`] has nothing left to do.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use fieldbook_sync::{DocumentId, StorageId, StorageOp, Store, StoreError, StoredDocument};
use tokio::sync::{broadcast, mpsc};

/// What a listener delivers to its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// Another node committed changes to these documents.
    Changed(Vec<DocumentId>),
    /// Announcements may have been lost (the listener reconnected or fell behind): every
    /// document held in memory may have changed.
    Missed,
}

/// Why an announcement could not be sent. Other nodes then learn of the change late (when
/// they next reload the document), never wrongly: the data is in the database.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("change feed unavailable: {0}")]
    Unavailable(String),
}

/// How nodes sharing a database tell each other which documents changed. See the module
/// docs for the delivery rule (announce only what committed; database feeds notify inside
/// the write's transaction).
pub trait ChangeFeed: Send + Sync + 'static {
    /// This node's id in announcements (random per process).
    fn node(&self) -> &str;
    /// Called by the sync actor after a commit that wrote `docs` succeeded, before anything
    /// the commit acknowledges is sent. Must not block.
    fn announce(&self, docs: &[DocumentId]) -> Result<(), FeedError>;
    /// Start delivering other nodes' announcements (never this node's own). Call once per
    /// node, from within the server's tokio runtime.
    fn subscribe(&self) -> mpsc::Receiver<FeedEvent>;
}

/// One announcement on the in-process bus.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub node: String,
    pub docs: Vec<DocumentId>,
}

/// A [`ChangeFeed`] between actors in one process over a `tokio::sync::broadcast` bus:
/// create the bus with [`InProcessFeed::bus`], then one feed per node with
/// [`InProcessFeed::join`].
pub struct InProcessFeed {
    node: String,
    bus: broadcast::Sender<Announcement>,
}

impl InProcessFeed {
    /// A bus holding up to `capacity` announcements a slow listener has not read (beyond
    /// it, that listener reports [`FeedEvent::Missed`]).
    pub fn bus(capacity: usize) -> broadcast::Sender<Announcement> {
        broadcast::channel(capacity.max(1)).0
    }

    pub fn join(bus: &broadcast::Sender<Announcement>) -> Self {
        InProcessFeed {
            node: StorageId::random().0,
            bus: bus.clone(),
        }
    }
}

impl ChangeFeed for InProcessFeed {
    fn node(&self) -> &str {
        &self.node
    }

    fn announce(&self, docs: &[DocumentId]) -> Result<(), FeedError> {
        // No listener (no other node) is not an error: nobody needs to hear it.
        let _nobody_listening = self.bus.send(Announcement {
            node: self.node.clone(),
            docs: docs.to_vec(),
        });
        Ok(())
    }

    fn subscribe(&self) -> mpsc::Receiver<FeedEvent> {
        let mut rx = self.bus.subscribe();
        let (tx, out) = mpsc::channel(256);
        let me = self.node.clone();
        tokio::spawn(async move {
            loop {
                let event = match rx.recv().await {
                    Ok(a) if a.node == me => continue,
                    Ok(a) => FeedEvent::Changed(a.docs),
                    Err(broadcast::error::RecvError::Lagged(_)) => FeedEvent::Missed,
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if tx.send(event).await.is_err() {
                    break; // the node stopped
                }
            }
        });
        out
    }
}

/// The documents whose content a node's commits wrote, collected by [`Announcing`] for the
/// actor to announce once the commit is durable.
#[derive(Clone, Default)]
pub struct Written(Arc<Mutex<BTreeSet<DocumentId>>>);

impl Written {
    pub fn take(&self) -> Vec<DocumentId> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *set).into_iter().collect()
    }

    fn add(&self, docs: impl IntoIterator<Item = DocumentId>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(docs);
    }
}

/// A store that notes which documents each *successful* transaction wrote content to
/// (chunks, compactions, deletions; not sync progress).
#[derive(Clone)]
pub struct Announcing<S> {
    inner: S,
    written: Written,
}

impl<S> Announcing<S> {
    pub fn new(inner: S, written: Written) -> Self {
        Announcing { inner, written }
    }
}

impl<S: Store> Store for Announcing<S> {
    fn storage_id(&self) -> &StorageId {
        self.inner.storage_id()
    }
    async fn load(&self, doc: DocumentId) -> Result<Option<StoredDocument>, StoreError> {
        self.inner.load(doc).await
    }
    async fn apply(&self, ops: Vec<StorageOp>) -> Result<(), StoreError> {
        let docs = written_documents(&ops);
        self.inner.apply(ops).await?;
        self.written.add(docs);
        Ok(())
    }
    async fn list_documents(&self) -> Result<Vec<DocumentId>, StoreError> {
        self.inner.list_documents().await
    }
    async fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get_setting(key).await
    }
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.put_setting(key, value).await
    }
}

/// The documents whose content `ops` write (chunks, compactions, deletions), each once, in
/// order; mere sync progress is not news for other nodes.
pub fn written_documents(ops: &[StorageOp]) -> Vec<DocumentId> {
    let docs: BTreeSet<DocumentId> = ops
        .iter()
        .filter(|op| !op.is_sync_progress() && !matches!(op, StorageOp::ForgetSyncState { .. }))
        .map(|op| *op.document())
        .collect();
    docs.into_iter().collect()
}

/// The PostgreSQL channel every node listens on.
pub const PG_CHANNEL: &str = "fieldbook_changes";
/// PostgreSQL refuses a notification payload of 8,000 bytes or more.
const PG_PAYLOAD_MAX: usize = 7_900;
/// How long the listener waits for a notification before checking its connection is alive
/// (a database that went silent, rather than closed, must not leave a node deaf).
const PG_LISTEN_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// The payloads announcing `docs` as written by `node`: `"<node> <id> <id> …"`, split so each
/// stays under PostgreSQL's limit. Sent with `pg_notify` inside the write's transaction
/// (`PgStore::apply`), so they are delivered if and only if it commits.
pub fn pg_payloads(node: &str, docs: &[DocumentId]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = node.to_owned();
    for doc in docs {
        let id = doc.to_string();
        if cur.len() + 1 + id.len() > PG_PAYLOAD_MAX && cur.len() > node.len() {
            out.push(std::mem::replace(&mut cur, node.to_owned()));
        }
        cur.push(' ');
        cur.push_str(&id);
    }
    if cur.len() > node.len() {
        out.push(cur);
    }
    out
}

/// What one notification on [`PG_CHANNEL`] says.
#[derive(Debug, PartialEq, Eq)]
enum Payload {
    /// This node's own announcement.
    Own,
    /// Another node wrote these documents; `malformed` parts did not parse as ids.
    Docs {
        docs: Vec<DocumentId>,
        malformed: usize,
    },
}

/// Read a payload. Parts that do not parse as document ids are counted and skipped: anyone
/// who can connect to the database can notify, the feed is a hint, and a reload of a document
/// this node holds is all a payload can cause.
fn parse_pg_payload(me: &str, payload: &str) -> Payload {
    let mut parts = payload.split(' ');
    let node = parts.next().unwrap_or_default();
    if node == me {
        return Payload::Own;
    }
    let mut docs = Vec::new();
    let mut malformed = usize::from(node.is_empty());
    for p in parts {
        match p.parse() {
            Ok(doc) => docs.push(doc),
            Err(_) => malformed += 1,
        }
    }
    if docs.is_empty() && malformed == 0 {
        malformed = 1; // a payload naming nothing at all
    }
    Payload::Docs { docs, malformed }
}

/// Notifications read before what they named is delivered to the actor, and distinct
/// documents one delivery may name: a flood of notifications neither grows the listener's
/// memory without bound nor holds back the others' announcements until it stops.
const PG_READ_PER_DELIVERY: usize = 256;
const PG_DOCS_PER_DELIVERY: usize = 4_096;
/// At most one warning about malformed notifications per this long.
const PG_MALFORMED_WARN_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Malformed notifications counted and reported at most every [`PG_MALFORMED_WARN_EVERY`],
/// by count only: a payload is whatever anyone with database access wrote, so none of it is
/// logged.
struct MalformedLog {
    pending: usize,
    last: Option<std::time::Instant>,
}

impl MalformedLog {
    fn add(&mut self, n: usize) {
        self.pending += n;
        let due = self
            .last
            .is_none_or(|t| t.elapsed() >= PG_MALFORMED_WARN_EVERY);
        if self.pending > 0 && due {
            tracing::warn!(
                parts = self.pending,
                channel = PG_CHANNEL,
                "change feed: ignored notification parts that name no document (payloads are not logged)"
            );
            self.pending = 0;
            self.last = Some(std::time::Instant::now());
        }
    }
}

/// [`ChangeFeed`] over PostgreSQL `LISTEN/NOTIFY`. Announcing happens inside the store's
/// transaction (`PgStore::notify_as`), so [`ChangeFeed::announce`] has nothing to do; the
/// listener is a dedicated connection on a thread of its own, reconnecting with backoff, and
/// reports [`FeedEvent::Missed`] after every reconnect (notifications sent meanwhile are lost).
pub struct PgFeed {
    node: String,
    url: crate::pg::PgUrl,
}

impl PgFeed {
    pub fn new(url: crate::pg::PgUrl) -> Self {
        PgFeed {
            node: StorageId::random().0,
            url,
        }
    }
}

impl ChangeFeed for PgFeed {
    fn node(&self) -> &str {
        &self.node
    }

    fn announce(&self, _docs: &[DocumentId]) -> Result<(), FeedError> {
        Ok(())
    }

    fn subscribe(&self) -> mpsc::Receiver<FeedEvent> {
        let (tx, out) = mpsc::channel(256);
        let me = self.node.clone();
        let url = self.url.clone();
        let spawned = std::thread::Builder::new()
            .name("fieldbook-pg-listen".into())
            .spawn(move || pg_listen(&url, &me, &tx));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the change feed listener; other nodes' changes reach this node's devices only when it next loads a document");
        }
        out
    }
}

/// The `application_name` of every node's listening connection.
pub const PG_LISTENER_NAME: &str = "fieldbook-change-feed";

fn pg_listen(url: &crate::pg::PgUrl, me: &str, tx: &mpsc::Sender<FeedEvent>) {
    use postgres::fallible_iterator::FallibleIterator;
    let mut malformed = MalformedLog {
        pending: 0,
        last: None,
    };
    let mut backoff = std::time::Duration::from_millis(100);
    let mut first = true;
    loop {
        if tx.is_closed() {
            return;
        }
        let mut client = match url.connect().and_then(|mut c| {
            // Named, so an operator sees which connection is the feed (pg_stat_activity).
            c.batch_execute(&format!(
                "SET application_name = '{PG_LISTENER_NAME}'; LISTEN {PG_CHANNEL}"
            ))?;
            Ok(c)
        }) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, retry_ms = backoff.as_millis() as u64, "change feed: cannot listen; retrying");
                // Reconnect backoff on the listener's own thread (nothing waits on it).
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                continue;
            }
        };
        backoff = std::time::Duration::from_millis(100);
        if !first {
            tracing::info!("change feed: listening again; every loaded document is reloaded");
            if tx.blocking_send(FeedEvent::Missed).is_err() {
                return;
            }
        }
        first = false;
        loop {
            let mut fresh = BTreeSet::new();
            let mut broken = None;
            let mut quiet = false;
            {
                let mut notes = client.notifications();
                let mut it = notes.timeout_iter(PG_LISTEN_CHECK);
                let mut read = 0;
                loop {
                    match it.next() {
                        Ok(Some(n)) => {
                            read += 1;
                            if let Payload::Docs { docs, malformed: m } =
                                parse_pg_payload(me, n.payload())
                            {
                                fresh.extend(docs);
                                malformed.add(m);
                            }
                            // Deliver what has arrived without waiting for the timeout, and
                            // in bounded steps while notifications keep coming.
                            if it.size_hint().0 == 0
                                || read >= PG_READ_PER_DELIVERY
                                || fresh.len() >= PG_DOCS_PER_DELIVERY
                            {
                                break;
                            }
                        }
                        Ok(None) => {
                            quiet = true;
                            break;
                        }
                        Err(e) => {
                            broken = Some(e);
                            break;
                        }
                    }
                }
            }
            if !fresh.is_empty()
                && tx
                    .blocking_send(FeedEvent::Changed(fresh.into_iter().collect()))
                    .is_err()
            {
                return;
            }
            if tx.is_closed() {
                return;
            }
            // Quiet for a while, or the iterator failed: make sure the connection answers.
            let alive = broken.is_none() && (!quiet || client.simple_query("SELECT 1").is_ok());
            if !alive {
                tracing::warn!("change feed: the listening connection was lost; reconnecting");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_node_hears_the_others_and_not_itself() {
        let bus = InProcessFeed::bus(16);
        let one = InProcessFeed::join(&bus);
        let two = InProcessFeed::join(&bus);
        let mut heard_by_one = one.subscribe();
        let mut heard_by_two = two.subscribe();
        let (a, b) = (DocumentId::random(), DocumentId::random());
        one.announce(&[a]).unwrap();
        two.announce(&[b]).unwrap();
        assert_eq!(heard_by_two.recv().await, Some(FeedEvent::Changed(vec![a])));
        assert_eq!(heard_by_one.recv().await, Some(FeedEvent::Changed(vec![b])));
        assert!(
            heard_by_one.try_recv().is_err(),
            "its own announcement is skipped"
        );
    }

    #[test]
    fn a_payload_from_anyone_can_only_name_documents() {
        let doc = DocumentId::random();
        assert_eq!(parse_pg_payload("me", &format!("me {doc}")), Payload::Own);
        assert_eq!(
            parse_pg_payload("me", &format!("other {doc} x\u{1b}[31m {doc}")),
            Payload::Docs {
                docs: vec![doc, doc],
                malformed: 1
            }
        );
        for nothing in ["", " ", "other", "\n\0", &"z".repeat(7_999)] {
            match parse_pg_payload("me", nothing) {
                Payload::Docs { docs, malformed } => {
                    assert!(docs.is_empty() && malformed > 0, "{nothing:?}")
                }
                Payload::Own => panic!("{nothing:?} read as this node's own"),
            }
        }
        // What this node sends reads back as the same documents on another.
        let docs: Vec<DocumentId> = (0..600).map(|_| DocumentId::random()).collect();
        let mut back = Vec::new();
        for p in pg_payloads("node-a", &docs) {
            assert!(p.len() < 8_000);
            match parse_pg_payload("node-b", &p) {
                Payload::Docs { docs, malformed: 0 } => back.extend(docs),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(back, docs);
    }

    #[tokio::test]
    async fn a_listener_that_fell_behind_reports_missed() {
        let bus = InProcessFeed::bus(2);
        let one = InProcessFeed::join(&bus);
        let two = InProcessFeed::join(&bus);
        // Subscribed (to the bus) before the announcements, read only after.
        let mut heard = two.subscribe();
        for _ in 0..5 {
            one.announce(&[DocumentId::random()]).unwrap();
        }
        let mut events = Vec::new();
        while events.len() < 3 {
            events.push(heard.recv().await.unwrap());
        }
        assert!(events.contains(&FeedEvent::Missed), "{events:?}");
    }
}
