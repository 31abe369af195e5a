//! "Find a case" on the case list: which cases match what a person typed, and how the result
//! is said. Plain Rust, so the rules are tested natively; the app only feeds it names.
//!
//! A case matches when every word typed appears somewhere in its young person's name or the
//! name they are known by (or, where a service has one, its reference), ignoring case,
//! accents and punctuation: "kas" finds "Kasey Brightwater", "o'brien" and "obrien" both find
//! "Niamh O’Brien", "zoe" finds "Zoë". Nothing typed (or only spaces and punctuation) matches
//! every case.

/// What a person typed into "Find a case", ready to match against names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    terms: Vec<String>,
}

impl Query {
    pub fn new(typed: &str) -> Query {
        Query {
            terms: typed
                .split_whitespace()
                .map(fold)
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }

    /// Nothing to look for: every case is shown.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether a case whose searchable texts (name, known as, reference) are `fields`
    /// matches: every term is found in one of them.
    pub fn matches(&self, fields: &[&str]) -> bool {
        self.terms.is_empty() || self.matches_folded(&Folded::new(fields))
    }

    /// As [`Query::matches`], on texts folded beforehand: a list folds its names once, and
    /// a keystroke then folds only what was typed.
    pub fn matches_folded(&self, folded: &Folded) -> bool {
        self.terms
            .iter()
            .all(|t| folded.0.iter().any(|f| f.contains(t.as_str())))
    }
}

/// A case's searchable texts, folded as a query's words are (case, accents, punctuation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folded(Vec<String>);

impl Folded {
    pub fn new(fields: &[&str]) -> Folded {
        Folded(fields.iter().map(|f| fold(f)).collect())
    }
}

/// The indices of `items` that match `typed`, in their order (`fields` gives each item's
/// searchable texts).
pub fn filter<'a, T>(
    typed: &str,
    items: &'a [T],
    fields: impl Fn(&'a T) -> Vec<&'a str>,
) -> Vec<usize> {
    let q = Query::new(typed);
    items
        .iter()
        .enumerate()
        .filter(|(_, it)| q.matches(&fields(it)))
        .map(|(i, _)| i)
        .collect()
}

/// Lines a list of cases shows at once. A device can hold a whole team's caseload, and
/// laying out hundreds of lines again is what made a keystroke in "Find a case" slow with a
/// thousand cases (docs/PERFORMANCE.md). 25 lines are about nine screens of a 360 px phone;
/// with 50, a key that changed most of them cost 17–19 ms at p95, more than a frame.
pub const SHOWN_AT_ONCE: usize = 25;

/// Which lines of a list show: the first `limit` of those that match, in the list's order
/// (every one that matches with `all`, when the person asked to see them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<K: Eq + std::hash::Hash> {
    /// `None`: every line shows.
    only: Option<std::collections::HashSet<K>>,
    /// Lines that match but are not shown.
    pub left_out: usize,
    /// Lines that match.
    pub matching: usize,
}

impl<K: Eq + std::hash::Hash> Shown<K> {
    /// `keys` in the list's order; `matches` is false for a line the search left out.
    pub fn new(
        keys: impl IntoIterator<Item = K>,
        matches: impl Fn(&K) -> bool,
        limit: usize,
        all: bool,
    ) -> Self {
        let mut only = std::collections::HashSet::new();
        let (mut matching, mut everything) = (0, true);
        for k in keys {
            if !matches(&k) {
                everything = false;
            } else {
                matching += 1;
                if all || matching <= limit {
                    only.insert(k);
                } else {
                    everything = false;
                }
            }
        }
        let shown = only.len();
        Shown {
            only: (!everything).then_some(only),
            left_out: matching - shown,
            matching,
        }
    }

    pub fn shows(&self, key: &K) -> bool {
        self.only.as_ref().is_none_or(|o| o.contains(key))
    }
}

/// What is said under a list that leaves lines out, and the words of the button that shows
/// them all; `None` when nothing is left out. `searching`: a search chose the lines.
pub fn left_out_words(shown: usize, matching: usize, searching: bool) -> Option<(String, String)> {
    (matching > shown).then(|| {
        let said = if searching {
            format!("The first {shown} are shown.")
        } else {
            format!("The {shown} most urgent of {matching} cases are shown.")
        };
        (said, format!("Show all {matching} cases"))
    })
}

/// What the results line says (and what a screen reader hears, politely): `None` while
/// nothing is typed. `typed` is shown back as typed (trimmed).
pub fn results_words(typed: &str, shown: usize, total: usize) -> Option<String> {
    if Query::new(typed).is_empty() {
        return None;
    }
    let typed = typed.trim();
    Some(match shown {
        0 => format!("No cases match “{typed}”"),
        1 => format!("1 case of {total} matches “{typed}”"),
        n => format!("{n} cases of {total} match “{typed}”"),
    })
}

/// Lower case, accents and marks dropped, only letters and digits kept (so punctuation and
/// spacing inside a name do not matter).
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii() {
            // Spaces and punctuation: dropped within a term, and between fields' words
            // a term never needs to span them.
            if c == ' ' {
                out.push(' ');
            }
        } else if let Some(base) = base_letter(c) {
            out.push_str(base);
        } else if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if c.is_whitespace() {
            out.push(' ');
        }
        // Other symbols (curly apostrophes, dashes, marks): dropped.
    }
    out
}

/// The plain letters of a Latin letter with an accent (the ones names in England and Wales
/// commonly carry); `None` for anything else.
fn base_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å'
        | 'Ā' | 'Ă' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
        'ď' | 'đ' | 'Ď' | 'Đ' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę'
        | 'Ě' => "e",
        'ğ' | 'Ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => {
            "i"
        }
        'ł' | 'ľ' | 'Ł' | 'Ľ' => "l",
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō'
        | 'Ő' => "o",
        'œ' | 'Œ' => "oe",
        'ř' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'Ś' | 'Š' | 'Ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'Ť' | 'Ţ' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű'
        | 'Ų' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        'ŵ' | 'Ŵ' => "w",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(typed: &str, names: &'a [(&'a str, &'a str)]) -> Vec<&'a str> {
        filter(typed, names, |(n, k)| vec![*n, *k])
            .into_iter()
            .map(|i| names[i].0)
            .collect()
    }

    const NAMES: &[(&str, &str)] = &[
        ("Kasey Brightwater", "Kas"),
        ("Niamh O’Brien", ""),
        ("Zoë Adeyemi-Clarke", "Zo"),
        ("Tyler Brook", "TJ"),
        ("Mary Jane Watson", ""),
    ];

    #[test]
    fn part_of_a_name_in_any_case_finds_it() {
        assert_eq!(find("kas", NAMES), ["Kasey Brightwater"]);
        assert_eq!(find("KAS", NAMES), ["Kasey Brightwater"]);
        assert_eq!(find("water", NAMES), ["Kasey Brightwater"]);
        assert_eq!(
            find("br", NAMES),
            ["Kasey Brightwater", "Niamh O’Brien", "Tyler Brook"]
        );
    }

    #[test]
    fn the_name_they_are_known_by_finds_them_too() {
        assert_eq!(find("tj", NAMES), ["Tyler Brook"]);
    }

    #[test]
    fn every_word_typed_must_match_in_any_order() {
        assert_eq!(find("brook tyler", NAMES), ["Tyler Brook"]);
        assert_eq!(find("tyler water", NAMES), Vec::<&str>::new());
        assert_eq!(find("  mary   watson ", NAMES), ["Mary Jane Watson"]);
    }

    #[test]
    fn accents_and_punctuation_do_not_matter() {
        assert_eq!(find("zoe", NAMES), ["Zoë Adeyemi-Clarke"]);
        assert_eq!(find("Zoë", NAMES), ["Zoë Adeyemi-Clarke"]);
        assert_eq!(find("adeyemi clarke", NAMES), ["Zoë Adeyemi-Clarke"]);
        assert_eq!(find("adeyemiclarke", NAMES), ["Zoë Adeyemi-Clarke"]);
        assert_eq!(find("o'brien", NAMES), ["Niamh O’Brien"]);
        assert_eq!(find("obrien", NAMES), ["Niamh O’Brien"]);
        assert_eq!(find("O’Brien", NAMES), ["Niamh O’Brien"]);
    }

    #[test]
    fn nothing_typed_shows_every_case() {
        assert_eq!(find("", NAMES).len(), NAMES.len());
        assert_eq!(find("   ", NAMES).len(), NAMES.len());
        assert_eq!(find(" - ' ", NAMES).len(), NAMES.len());
        assert!(Query::new("").is_empty());
    }

    #[test]
    fn no_match_is_said_and_counts_read_naturally() {
        assert_eq!(find("xyz", NAMES), Vec::<&str>::new());
        assert_eq!(results_words("", 5, 5), None);
        assert_eq!(results_words("  ", 5, 5), None);
        assert_eq!(
            results_words(" xyz ", 0, 5).unwrap(),
            "No cases match “xyz”"
        );
        assert_eq!(
            results_words("kas", 1, 5).unwrap(),
            "1 case of 5 matches “kas”"
        );
        assert_eq!(
            results_words("br", 3, 5).unwrap(),
            "3 cases of 5 match “br”"
        );
    }

    #[test]
    fn a_long_list_shows_its_first_lines_and_says_how_many_are_left_out() {
        let all = Shown::new(0..20, |_| true, 50, false);
        assert!((0..20).all(|k| all.shows(&k)));
        assert_eq!((all.left_out, all.matching), (0, 20));
        assert_eq!(left_out_words(20, 20, false), None);

        let first = Shown::new(0..1000, |_| true, 50, false);
        assert!((0..50).all(|k| first.shows(&k)));
        assert!(!first.shows(&50) && !first.shows(&999));
        assert_eq!((first.left_out, first.matching), (950, 1000));
        assert_eq!(
            left_out_words(50, 1000, false).unwrap(),
            (
                "The 50 most urgent of 1000 cases are shown.".to_string(),
                "Show all 1000 cases".to_string()
            )
        );

        // A search: the first matches, in the list's order; asked for, all of them.
        let odd = |k: &u32| k % 2 == 1;
        let found = Shown::new(0..1000, odd, 50, false);
        assert!(found.shows(&1) && found.shows(&99) && !found.shows(&101) && !found.shows(&2));
        assert_eq!((found.left_out, found.matching), (450, 500));
        let every = Shown::new(0..1000, odd, 50, true);
        assert!(every.shows(&999) && !every.shows(&998));
        assert_eq!((every.left_out, every.matching), (0, 500));
        assert_eq!(
            left_out_words(50, 500, true).unwrap().0,
            "The first 50 are shown."
        );
        let few = Shown::new(0..1000, |k| *k < 3, 50, false);
        assert!(few.shows(&2) && !few.shows(&3));
        assert_eq!((few.left_out, few.matching), (0, 3));
    }

    #[test]
    fn texts_folded_beforehand_match_as_the_texts_do() {
        for typed in [
            "kas",
            "br",
            "zoe",
            "o'brien",
            "brook tyler",
            "tyler water",
            "",
            "xyz",
        ] {
            let q = Query::new(typed);
            for (n, k) in NAMES {
                assert_eq!(
                    q.matches_folded(&Folded::new(&[n, k])),
                    q.matches(&[n, k]),
                    "{typed:?} on {n:?}"
                );
            }
        }
        assert!(Query::new("adeyemi clarke").matches_folded(&Folded::new(&["Zoë Adeyemi-Clarke"])));
        assert!(!Query::new("kas").matches_folded(&Folded::default()));
    }

    #[test]
    fn a_thousand_cases_filter_in_their_order() {
        let names: Vec<(String, String)> = (0..1000)
            .map(|i| (format!("Young Person {i:04}"), format!("YP{i}")))
            .collect();
        let hits = filter("person 099", &names, |(n, k)| vec![n.as_str(), k.as_str()]);
        let expected: Vec<usize> = std::iter::once(99).chain(990..1000).collect();
        assert_eq!(hits, expected);
    }
}
