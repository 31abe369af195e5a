//! Writes the seed corpus from real traffic: two engines syncing case-like documents.
//! Usage: gen_corpus <corpus dir> (writes <dir>/{frame_decode,sync_guard,engine_receive}/).

use std::path::PathBuf;

use fieldbook_sync::Message;
use fieldbook_sync_fuzz::{add_notes, case_doc, traffic};

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let dirs = ["frame_decode", "sync_guard", "engine_receive"].map(|t| root.join(t));
    for d in &dirs {
        std::fs::create_dir_all(d).expect("corpus dir");
    }
    let mut all = Vec::new();
    // Both sides edited offline; a phone with nothing asking; a phone ahead of the server.
    let mut server = case_doc(5, 1);
    let mut phone = server.fork().with_actor(vec![2; 16].into());
    add_notes(&mut server, 2, "Office call with school.");
    add_notes(&mut phone, 3, "Outreach: seen near the station at 22:10.");
    all.extend(traffic(&mut server, Some(&mut phone)));
    all.extend(traffic(&mut server, None));
    let mut fresh = case_doc(0, 3);
    all.extend(traffic(&mut fresh, Some(&mut server)));
    let mut n = 0;
    for (to_server, frame) in &all {
        let name = |i: usize| format!("seed-{i:04}");
        std::fs::write(dirs[0].join(name(n)), frame).unwrap();
        if *to_server {
            std::fs::write(dirs[2].join(name(n)), frame).unwrap();
        }
        if let Ok(Message::Sync { data, .. } | Message::Request { data, .. }) =
            Message::decode(frame)
        {
            std::fs::write(dirs[1].join(name(n)), data).unwrap();
        }
        n += 1;
    }
    println!("wrote {n} frames to {}", root.display());
}
