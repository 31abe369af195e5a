//! What the case-file test files share.

use fieldbook_case::{self as case, Profile};
use fieldbook_sync::automerge::AutoCommit;

/// A new, empty case document for an invented "Test Person".
pub fn new_case() -> AutoCommit {
    let mut d = AutoCommit::new();
    case::create(
        &mut d,
        &Profile {
            name: "Test Person".into(),
            ..Default::default()
        },
    )
    .unwrap();
    d
}
