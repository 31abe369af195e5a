//! The language prompts (docs/domain/language.md): every phrase and its variants are found,
//! neutral sentences practitioners write are not, and accepting a suggestion changes only the
//! phrase. All text here is invented.

use fieldbook_case::language::{self, apply, caret_after, find, Finding};

/// The one finding in `text`, which must cover exactly `phrase`.
fn one(text: &str, phrase: &str, rule: &str) -> Finding {
    let found = find(text);
    assert_eq!(
        found.len(),
        1,
        "expected one finding in {text:?}, got {found:?}"
    );
    let f = found.into_iter().next().unwrap();
    assert_eq!(f.text, phrase, "in {text:?}");
    assert_eq!(f.rule, rule, "in {text:?}");
    assert!(
        !f.suggestions.is_empty() || f.advice.is_some(),
        "nothing to offer for {text:?}"
    );
    assert!(!f.why.is_empty());
    f
}

/// (text, the phrase found in it, its rule): every phrase of the guidance and its inflections.
const FLAGGED: &[(&str, &str, &str)] = &[
    // "putting himself / herself at risk"
    (
        "He is putting himself at risk.",
        "putting himself at risk",
        "self-risk",
    ),
    (
        "She is putting herself at risk",
        "putting herself at risk",
        "self-risk",
    ),
    (
        "they keep putting themselves at risk",
        "putting themselves at risk",
        "self-risk",
    ),
    (
        "She puts herself at risk when she goes missing.",
        "puts herself at risk",
        "self-risk",
    ),
    (
        "He has put himself at serious risk",
        "put himself at serious risk",
        "self-risk",
    ),
    (
        "he put himself in danger again",
        "put himself in danger",
        "self-risk",
    ),
    (
        "Placing herself at risk by going to the flat",
        "Placing herself at risk",
        "self-risk",
    ),
    (
        "places himself at significant risk",
        "places himself at significant risk",
        "self-risk",
    ),
    (
        "keeps exposing himself to harm",
        "exposing himself to harm",
        "self-risk",
    ),
    (
        "she exposes herself to danger",
        "exposes herself to danger",
        "self-risk",
    ),
    // "choosing to …", "made a choice"
    ("He is choosing to go missing", "choosing to", "choosing"),
    ("She chose to stay at the address", "chose to", "choosing"),
    (
        "he chooses to associate with older males",
        "chooses to",
        "choosing",
    ),
    (
        "She has chosen to return there",
        "has chosen to",
        "choosing",
    ),
    ("He made a choice to go", "made a choice", "choosing"),
    ("she makes poor choices", "makes poor choices", "choosing"),
    (
        "He is making bad choices about friends",
        "making bad choices",
        "choosing",
    ),
    (
        "She made her own choices",
        "made her own choices",
        "choosing",
    ),
    (
        "he made the wrong choice",
        "made the wrong choice",
        "choosing",
    ),
    // "lifestyle choice"
    (
        "This is a lifestyle choice for her",
        "lifestyle choice",
        "lifestyle",
    ),
    ("his lifestyle choices", "lifestyle choices", "lifestyle"),
    (
        "She has a chosen lifestyle",
        "chosen lifestyle",
        "lifestyle",
    ),
    // "consenting", "consensual"
    ("She said it was consensual.", "consensual", "consent"),
    ("He was consenting", "consenting", "consent"),
    ("They had sex consensually", "consensually", "consent"),
    // "uncooperative"
    (
        "He was uncooperative.",
        "He was uncooperative",
        "uncooperative",
    ),
    (
        "she has been uncooperative with police",
        "she has been uncooperative",
        "uncooperative",
    ),
    (
        "They are non-cooperative",
        "They are non-cooperative",
        "uncooperative",
    ),
    (
        "An uncooperative young person",
        "uncooperative",
        "uncooperative",
    ),
    // "non-engagement", "refused to engage"
    (
        "Closed due to non-engagement",
        "non-engagement",
        "engagement",
    ),
    ("non engagement with YOS", "non engagement", "engagement"),
    ("Nonengagement noted", "Nonengagement", "engagement"),
    ("He refused to engage", "refused to engage", "engagement"),
    (
        "she refuses to engage with CAMHS",
        "refuses to engage",
        "engagement",
    ),
    (
        "He is refusing to engage",
        "refusing to engage",
        "engagement",
    ),
    ("he won't engage", "won't engage", "engagement"),
    (
        "he won\u{2019}t engage",
        "won\u{2019}t engage",
        "engagement",
    ),
    ("She will not engage", "will not engage", "engagement"),
    (
        "He is unwilling to engage",
        "unwilling to engage",
        "engagement",
    ),
    ("a non-engaging young person", "non-engaging", "engagement"),
    // "habitual knife carrier"
    (
        "He is a habitual knife carrier",
        "habitual knife carrier",
        "knife",
    ),
    ("habitual knife-carrier", "habitual knife-carrier", "knife"),
    (
        "known habitual knife carriers",
        "habitual knife carriers",
        "knife",
    ),
    // "promiscuous"
    ("She is promiscuous", "She is promiscuous", "promiscuous"),
    ("a promiscuous girl", "promiscuous", "promiscuous"),
    ("concerns about promiscuity", "promiscuity", "promiscuous"),
    // "recruiting others"
    ("He is recruiting others", "recruiting others", "recruiting"),
    (
        "He recruits others at school",
        "recruits others",
        "recruiting",
    ),
    (
        "she recruited peers into the line",
        "recruited peers",
        "recruiting",
    ),
    ("he may recruit others", "recruit others", "recruiting"),
];

#[test]
fn every_phrase_of_the_guidance_and_its_inflections_is_found() {
    for &(text, phrase, rule) in FLAGGED {
        one(text, phrase, rule);
    }
}

#[test]
fn case_spacing_line_breaks_and_quotes_do_not_hide_a_phrase() {
    one(
        "HE IS PUTTING HIMSELF AT RISK",
        "PUTTING HIMSELF AT RISK",
        "self-risk",
    );
    one(
        "he is putting\n   himself\tat  risk",
        "putting\n   himself\tat  risk",
        "self-risk",
    );
    one(
        "Mum said \u{201C}he is putting himself at risk\u{201D}.",
        "putting himself at risk",
        "self-risk",
    );
    one(
        "the so-called \u{2018}lifestyle\u{2019} choice",
        "lifestyle\u{2019} choice",
        "lifestyle",
    );
    one("it was \"consensual\"", "consensual", "consent");
    one(
        "[he was uncooperative]",
        "he was uncooperative",
        "uncooperative",
    );
    one("(promiscuous?)", "promiscuous", "promiscuous");
    one(
        "non\u{2011}engagement",
        "non\u{2011}engagement",
        "engagement",
    );
}

#[test]
fn quoted_speech_is_still_flagged_because_the_prompt_only_suggests() {
    one(
        "He told me \"I chose to go, nobody made me\".",
        "chose to",
        "choosing",
    );
}

#[test]
fn other_punctuation_ends_a_phrase() {
    for text in [
        "Asked what she chose. To be clear, nothing was decided.",
        "He put himself, he said, at risk",
        "He has been seen; uncooperative was the word police used",
        "putting himself \u{2014} at risk",
    ] {
        let found = find(text);
        // The last one has "uncooperative" alone, which is still flagged on its own.
        let phrases: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert!(
            phrases.iter().all(|p| *p == "uncooperative"),
            "{text:?} gave {found:?}"
        );
    }
}

#[test]
fn a_word_never_matches_inside_a_longer_word() {
    // "consensual" is not flagged inside "non-consensual" (which describes abuse correctly),
    // and "consensually" is flagged as the whole word, never as "consensual" plus "ly".
    assert!(find("non-consensual images were shared").is_empty());
    assert!(find("non\u{2011}consenting").is_empty());
    let f = one("consensually", "consensually", "consent");
    assert_eq!(f.bytes, 0.."consensually".len());
    assert!(find("he is putting himself at riskier odds").is_empty());
    assert!(find("unchosen lifestyles").is_empty());
    assert!(find("promiscuousness").is_empty());
}

#[test]
fn a_phrase_still_being_typed_is_found_once_its_last_word_is_complete() {
    let mut typed = String::new();
    let full = "he is putting himself at risk";
    let mut first_found_at = None;
    for c in full.chars() {
        typed.push(c);
        if !find(&typed).is_empty() && first_found_at.is_none() {
            first_found_at = Some(typed.len());
        }
    }
    assert_eq!(first_found_at, Some(full.len()));
}

/// Sentences practitioners write that use nearby words neutrally: none is flagged.
const NEUTRAL: &[&str] = &[
    "Professionals have not yet found a way to engage him.",
    "She chose the blue coat.",
    "The choice of school was discussed.",
    "He cooperated with the nurse.",
    "Consent form signed by parent for the trip.",
    "Risk assessment updated.",
    "We met at the lifestyle centre on Mercer Road.",
    "Engagement with football has improved.",
    "Adults are placing him at risk.",
    "He is being exposed to risk by older males.",
    "Non-consensual images of her were shared online.",
    "She was at the address on Friday.",
    "He went with two older males in a car.",
    "Mum gave consent for the referral to CAMHS.",
    "We discussed healthy relationships and consent.",
    "Age of consent explained using the leaflet.",
    "The consensus at the meeting was to keep the plan.",
    "He engaged well with the youth worker today.",
    "She has a choice between two colleges.",
    "He was given a choice of where to meet.",
    "His own choice of music was played in the car.",
    "He is at risk of criminal exploitation.",
    "The risk to him from adults has increased.",
    "Risky situations were discussed with him.",
    "He carries a knife and says it is for protection.",
    "Police searched him and found no knife.",
    "There are concerns about sexual exploitation.",
    "He is being used to introduce peers to older males.",
    "Mum is worried he is being rewarded for introducing peers.",
    "The recruitment drive for foster carers continues.",
    "The team is recruiting a new youth worker.",
    "Others at the meeting agreed the plan.",
    "He put his coat on and left.",
    "She put herself forward for the football team.",
    "He placed himself between his brother and the men.",
    "He is putting himself forward for the youth council.",
    "He made a sandwich and a cup of tea.",
    "She made the choir at school.",
    "She makes a good cup of tea.",
    "The parents were cooperative throughout.",
    "Nan is very cooperative with the school.",
    "She is choosy about food.",
    "Promise made to call him on Monday.",
    "Life skills session: budgeting and cooking.",
    "He said he felt safe at nan's house.",
    "Case stepped down after the plan was completed.",
    "We have not yet found an approach that works for her.",
    "He is not yet engaging with the approaches tried.",
    "She was exploited by adults who were drawing her into this.",
    "Habits: sleeps late, skips breakfast.",
    "Chosen name is Sam; please use it.",
];

#[test]
fn neutral_sentences_practitioners_write_are_not_flagged() {
    assert!(NEUTRAL.len() >= 40);
    for text in NEUTRAL {
        let found = find(text);
        assert!(found.is_empty(), "{text:?} was flagged: {found:?}");
    }
    // All at once too, as one long note.
    assert!(find(&NEUTRAL.join("\n")).is_empty());
}

#[test]
fn known_over_flags_are_kept_because_the_matcher_cannot_tell_who_the_subject_is() {
    // The matcher reads words, not grammar: a phrase about an adult or a service is flagged
    // too. That is accepted: the prompt only suggests and the worker can ignore it.
    one("The panel chose to adjourn.", "chose to", "choosing");
    one(
        "Dad was uncooperative at the door.",
        "uncooperative",
        "uncooperative",
    );
}

#[test]
fn positions_are_given_in_bytes_chars_and_utf16_code_units() {
    // "Zoë" has a two-byte char, the emoji is four bytes and two UTF-16 code units.
    let text = "Zo\u{eb} \u{1F44D} said: she chose to stay";
    let f = one(text, "chose to", "choosing");
    let b = text.find("chose to").unwrap();
    assert_eq!(f.bytes, b..b + 8);
    let chars = text[..b].chars().count();
    assert_eq!(f.chars, chars..chars + 8);
    let units = text[..b].encode_utf16().count();
    assert_eq!(f.utf16, units..units + 8);
    assert_eq!(units, chars + 1);
    assert_eq!(&text[f.bytes.clone()], "chose to");
}

#[test]
fn findings_come_in_order_and_do_not_overlap() {
    let text = "Uncooperative and promiscuous; he is putting himself at risk and chose to go.";
    let found = find(text);
    let phrases: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(
        phrases,
        [
            "Uncooperative",
            "promiscuous",
            "putting himself at risk",
            "chose to"
        ]
    );
    for pair in found.windows(2) {
        assert!(pair[0].bytes.end <= pair[1].bytes.start);
    }
}

#[test]
fn accepting_a_suggestion_replaces_only_that_phrase() {
    let text = "Visit 3.\nHe is putting himself at risk, said police.";
    let f = one(text, "putting himself at risk", "self-risk");
    assert_eq!(f.suggestions[0], "being exposed to risk");
    assert_eq!(
        apply(text, &f, 0),
        "Visit 3.\nHe is being exposed to risk, said police."
    );
    let caret = caret_after(&f, 0);
    let after: Vec<u16> = apply(text, &f, 0).encode_utf16().collect();
    assert_eq!(
        String::from_utf16(&after[..caret]).unwrap(),
        "Visit 3.\nHe is being exposed to risk"
    );
}

#[test]
fn accepting_a_suggestion_on_changed_text_changes_nothing() {
    let text = "He is putting himself at risk";
    let f = one(text, "putting himself at risk", "self-risk");
    // The worker typed in front of the phrase since it was found.
    let moved = format!("Today {text}");
    assert_eq!(apply(&moved, &f, 0), moved);
    assert_eq!(apply("short", &f, 0), "short");
    // No such suggestion.
    assert_eq!(apply(text, &f, 99), text);
}

#[test]
fn several_suggestions_accepted_from_the_end_back_all_apply() {
    let text = "He is putting himself at risk and is uncooperative.";
    let mut out = text.to_owned();
    for f in find(text).iter().rev() {
        out = apply(&out, f, 0);
    }
    assert_eq!(
        out,
        "He is being exposed to risk and is not yet reached by the approaches tried."
    );
    assert!(find(&out).is_empty());
}

#[test]
fn suggestions_follow_the_pronoun_and_the_capital_of_the_phrase() {
    let f = one(
        "She was uncooperative",
        "She was uncooperative",
        "uncooperative",
    );
    assert_eq!(
        f.suggestions,
        ["Professionals are still looking for a way to engage her"]
    );
    let f = one(
        "he was uncooperative",
        "he was uncooperative",
        "uncooperative",
    );
    assert_eq!(
        f.suggestions,
        ["professionals are still looking for a way to engage him"]
    );
    let f = one("Non-engagement", "Non-engagement", "engagement");
    assert_eq!(
        f.suggestions[0],
        "No approach yet found that works for them"
    );
}

#[test]
fn phrases_with_no_wording_to_insert_give_advice_instead() {
    let f = one("it was consensual", "consensual", "consent");
    assert!(f.suggestions.is_empty());
    assert!(f.advice.as_deref().unwrap().contains("who benefits"));
    assert_eq!(apply("it was consensual", &f, 0), "it was consensual");
}

#[test]
fn no_suggestion_or_advice_is_itself_flagged() {
    for &(text, _, _) in FLAGGED {
        for f in find(text) {
            for (i, s) in f.suggestions.iter().enumerate() {
                let out = apply(text, &f, i);
                assert!(find(s).is_empty(), "suggestion {s:?} is flagged");
                assert!(
                    find(&out).iter().all(|g| g.bytes.end <= f.bytes.start
                        || g.bytes.start >= f.bytes.start + s.len()),
                    "{out:?} still flagged where the suggestion went"
                );
            }
            if let Some(a) = &f.advice {
                assert!(find(a).is_empty(), "advice {a:?} is flagged");
            }
        }
    }
}

#[test]
fn debug_output_never_shows_the_words_found() {
    let f = one(
        "He is putting himself at risk",
        "putting himself at risk",
        "self-risk",
    );
    let shown = format!("{f:?}");
    assert!(!shown.contains("himself"), "{shown}");
}

#[test]
fn a_long_note_is_read_in_one_pass() {
    // Every sentence in the corpora, many times over: what is found is the sum of the parts.
    let mut note = String::new();
    for _ in 0..20 {
        for &(text, _, _) in FLAGGED {
            note.push_str(text);
            note.push_str(" Then. ");
        }
        for text in NEUTRAL {
            note.push_str(text);
            note.push(' ');
        }
    }
    assert_eq!(find(&note).len(), 20 * FLAGGED.len());
    assert!(language::builtin().find("").is_empty());
}

#[test]
fn fieldbooks_own_words_in_the_demo_cases_and_fixed_lists_are_not_flagged() {
    // docs/domain/language.md: the same care applies to what Fieldbook itself says.
    for (file, src) in [
        ("demo.rs", include_str!("../src/demo.rs")),
        ("vocab.rs", include_str!("../src/vocab.rs")),
    ] {
        let found: Vec<&str> = find(src).iter().map(|f| &src[f.bytes.clone()]).collect();
        assert!(found.is_empty(), "{file} says {found:?}");
    }
}
