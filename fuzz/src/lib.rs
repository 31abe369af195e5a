//! Shared set-up for the fuzz targets and the seed-corpus generator: a case-like document
//! under a fixed id, a server engine that has completed the handshake, and real traffic.

use fieldbook_sync::automerge::transaction::Transactable;
use fieldbook_sync::automerge::{Automerge, ObjType, ROOT};
use std::cell::RefCell;

use fieldbook_sync::runner::run_ready;
use fieldbook_sync::{
    drain, AllowAll, ChunkKey, ChunkKind, CloseReason, ConnId, DocumentId, Engine, EngineConfig,
    Host, Identity, MemoryStore, Message, PeerId, PeerMetadata, Role, Runner, StorageId,
    StoredDocument,
};

/// An engine with its store, carried out by the shared runner as every driver does.
pub type Node = Runner<MemoryStore>;

/// The document every corpus frame is about, so the fuzzer reaches the sync paths.
pub fn doc_id() -> DocumentId {
    DocumentId::from_bytes(*b"fieldbook-fuzz-1")
}

pub const SERVER: &str = "server";
pub const PHONE: &str = "phone";

/// A synthetic case: profile, `notes` contact notes typed a few keystrokes per change, a plan.
pub fn case_doc(notes: usize, actor_seed: u8) -> Automerge {
    let mut doc = Automerge::new().with_actor(vec![actor_seed; 16].into());
    let mut tx = doc.transaction();
    let profile = tx.put_object(ROOT, "profile", ObjType::Map).unwrap();
    tx.put(&profile, "name", "Demo — Sam Example").unwrap();
    tx.put(&profile, "hazards", "none recorded").unwrap();
    tx.put_object(ROOT, "notes", ObjType::List).unwrap();
    let plan = tx.put_object(ROOT, "plan", ObjType::List).unwrap();
    let action = tx.insert_object(&plan, 0, ObjType::Map).unwrap();
    tx.put(&action, "owner", "Key worker").unwrap();
    tx.commit();
    add_notes(
        &mut doc,
        notes,
        "Met at the youth centre; calm, talked about school.",
    );
    doc
}

pub fn add_notes(doc: &mut Automerge, notes: usize, text: &str) {
    use fieldbook_sync::automerge::ReadDoc;
    let (_, list) = doc.get(ROOT, "notes").unwrap().unwrap();
    for _ in 0..notes {
        let mut tx = doc.transaction();
        let len = tx.length(&list);
        let note = tx.insert_object(&list, len, ObjType::Map).unwrap();
        tx.put(&note, "type", "face to face").unwrap();
        let body = tx.put_object(&note, "text", ObjType::Text).unwrap();
        tx.commit();
        for (i, word) in text.split_inclusive(' ').enumerate() {
            let mut tx = doc.transaction();
            let at = text
                .split_inclusive(' ')
                .take(i)
                .map(str::len)
                .sum::<usize>();
            tx.splice_text(&body, at, 0, word).unwrap();
            tx.commit();
        }
    }
}

pub fn stored(doc: &mut Automerge) -> StoredDocument {
    let bytes = doc.save();
    StoredDocument {
        chunks: vec![(
            ChunkKey::for_data(doc_id(), ChunkKind::Snapshot, &bytes),
            bytes,
        )],
        sync_states: Default::default(),
    }
}

/// What the runner hands over: the messages sent.
#[derive(Default)]
struct Sent(Vec<(ConnId, Message)>);

impl Host for Sent {
    fn now(&self) -> u64 {
        0
    }
    fn send(&mut self, conn: ConnId, msg: Message) {
        self.0.push((conn, msg));
    }
    fn close(&mut self, _: ConnId, _: CloseReason) {}
}

/// Carries out everything `node` queued with the shared runner (store, answer loads) and
/// returns what it sent. libfuzzer-sys aborts on any panic, also one the runner catches.
pub fn run(node: &mut Node) -> Vec<(ConnId, Message)> {
    let mut sent = Sent::default();
    let _ = run_ready(drain(&RefCell::new(node), &mut sent));
    sent.0
}

fn node(role: Role, peer: &str, storage: &str, store: MemoryStore) -> Node {
    let cfg = EngineConfig::new(role, PeerId(peer.into()), Some(StorageId(storage.into())));
    Runner::new(Engine::new(cfg, AllowAll), store)
}

/// A server holding `doc` in its store, with `ConnId(1)` joined by [`PHONE`].
pub fn server_with(doc: &mut Automerge) -> Node {
    let store = MemoryStore::new(StorageId("srv-store".into()));
    let _ = store.apply_now(
        stored(doc)
            .chunks
            .into_iter()
            .map(|(key, data)| fieldbook_sync::StorageOp::PutChunk { key, data })
            .collect(),
    );
    let mut server = node(Role::Server, SERVER, "srv", store);
    server.step(|e| e.connect(ConnId(1), Identity(PHONE.into()), 0));
    run(&mut server);
    let join = Message::Join {
        sender_id: PeerId(PHONE.into()),
        metadata: PeerMetadata {
            storage_id: Some(StorageId("phone-store".into())),
            is_ephemeral: false,
        },
        supported_protocol_versions: vec!["1".into()],
    };
    server.step(|e| e.receive(ConnId(1), &join.encode(), 0));
    run(&mut server);
    server
}

/// Every frame of a real sync between a phone holding `phone_doc` (or asking for the
/// document if `None`) and a server holding `server_doc`: (sent to the server?, frame).
pub fn traffic(
    server_doc: &mut Automerge,
    phone_doc: Option<&mut Automerge>,
) -> Vec<(bool, Vec<u8>)> {
    let store = MemoryStore::new(StorageId("srv-store".into()));
    let _ = store.apply_now(
        stored(server_doc)
            .chunks
            .into_iter()
            .map(|(key, data)| fieldbook_sync::StorageOp::PutChunk { key, data })
            .collect(),
    );
    let mut server = node(Role::Server, SERVER, "srv", store);
    let phone_store = MemoryStore::new(StorageId("phone-store".into()));
    let mut phone = node(Role::Client, PHONE, "phone-store", phone_store.clone());
    // The phone loads its copy, or starts looking for the document.
    match phone_doc {
        Some(d) => {
            let _ = phone_store.apply_now(
                stored(d)
                    .chunks
                    .into_iter()
                    .map(|(key, data)| fieldbook_sync::StorageOp::PutChunk { key, data })
                    .collect(),
            );
            phone.step(|e| e.open(doc_id()));
        }
        None => phone.step(|e| e.find(doc_id(), 0)),
    }
    run(&mut phone);
    let mut frames = Vec::new();
    server.step(|e| e.connect(ConnId(1), Identity(PHONE.into()), 0));
    run(&mut server);
    phone.step(|e| e.connect(ConnId(1), Identity(SERVER.into()), 0));
    let mut to_server: Vec<Vec<u8>> = run(&mut phone)
        .into_iter()
        .map(|(_, m)| m.encode())
        .collect();
    for _ in 0..100 {
        let mut to_phone = Vec::new();
        for f in to_server.drain(..) {
            server.step(|e| e.receive(ConnId(1), &f, 0));
            frames.push((true, f));
            to_phone.extend(
                run(&mut server)
                    .into_iter()
                    .map(|(_, m)| m.encode()),
            );
        }
        for f in to_phone.drain(..) {
            phone.step(|e| e.receive(ConnId(1), &f, 0));
            frames.push((false, f));
            to_server.extend(
                run(&mut phone)
                    .into_iter()
                    .map(|(_, m)| m.encode()),
            );
        }
        if to_server.is_empty() {
            break;
        }
    }
    frames
}
