//! Accepting a language suggestion in the app (issue 13): the field's new value goes through
//! the record's ordinary writer, which diffs it against the stored text, so only the phrase's
//! characters change and a colleague's concurrent typing elsewhere in the same text survives
//! the merge.

use fieldbook_case::{self as case, language, notes, plan, Note, NoteField, Profile};
use fieldbook_sync::automerge::AutoCommit;

mod support;

const TYPED: &str = "He said he is putting himself at risk when he goes out.";

fn note_with(text: &str) -> AutoCommit {
    let mut d = support::new_case();
    notes::add(
        &mut d,
        &Note {
            id: "n".into(),
            at: 1,
            kind: case::CONTACT_TYPES[0].into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(notes::set_field(&mut d, "n", NoteField::Text, text).unwrap());
    d
}

fn note_text(d: &AutoCommit) -> String {
    notes::read(d)
        .into_iter()
        .find(|n| n.id == "n")
        .unwrap()
        .text
}

/// What the app does on "Use ‘…’": the field's current value with the phrase replaced,
/// written whole through the same writer as a keystroke.
fn accepted(text: &str) -> (String, usize) {
    let f = language::find(text)
        .into_iter()
        .find(|f| f.rule == "self-risk")
        .expect("the phrase is found");
    assert_eq!(f.suggestions[0], "being exposed to risk");
    (language::apply(text, &f, 0), language::caret_after(&f, 0))
}

#[test]
fn an_accepted_suggestion_merges_with_a_colleagues_edits_elsewhere_in_the_note() {
    let mut a = note_with(TYPED);
    let mut b = a.fork();

    let (new, caret) = accepted(TYPED);
    assert!(notes::set_field(&mut a, "n", NoteField::Text, &new).unwrap());
    // The caret lands just after the inserted words (UTF-16, as the browser counts).
    let before_caret =
        String::from_utf16(&new.encode_utf16().take(caret).collect::<Vec<_>>()).unwrap();
    assert!(
        before_caret.ends_with("he is being exposed to risk"),
        "{before_caret}"
    );

    // Meanwhile a colleague adds words before and after the phrase.
    let with_colleague = format!("Late visit. {TYPED} Mum rang at 5pm.");
    assert!(notes::set_field(&mut b, "n", NoteField::Text, &with_colleague).unwrap());

    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    let want = "Late visit. He said he is being exposed to risk when he goes out. Mum rang at 5pm.";
    assert_eq!(note_text(&a), want);
    assert_eq!(note_text(&b), want);
    assert!(language::find(&note_text(&a)).is_empty());
}

#[test]
fn an_accepted_suggestion_in_a_safety_plan_keeps_a_colleagues_concurrent_words() {
    let mut a = AutoCommit::new();
    case::create(&mut a, &Profile::default()).unwrap();
    plan::set_known(&mut a, TYPED).unwrap();
    let mut b = a.fork();

    let (new, _) = accepted(TYPED);
    plan::set_known(&mut a, &new).unwrap();
    plan::set_known(&mut b, &format!("{TYPED} Seen with older males.")).unwrap();

    a.merge(&mut b).unwrap();
    assert_eq!(
        plan::read(&a).known,
        "He said he is being exposed to risk when he goes out. Seen with older males."
    );
}
