//! Language prompts: phrases that recast an exploited child as responsible for their own
//! exploitation ("putting himself at risk", "lifestyle choice", "uncooperative", …), found in
//! free text as it is typed, each with why it is a problem and neutral wording to suggest
//! (docs/domain/language.md). A suggestion, never a block: nothing here changes text unless
//! the worker accepts one ([`apply`]).
//!
//! The phrases are data (`language.txt`, format described at its top), read once. Matching
//! works on words: case does not matter, a word never matches part of a longer one
//! ("consensual" is not found in "consensually"; "non-consensual" is one word and not
//! flagged), quotes (straight or curly) and any run of spaces or line breaks between the
//! words of a phrase are allowed, other punctuation (a full stop, a comma, a dash) ends it.
//! Where phrases overlap the one starting first wins, then the longest. One pass over the
//! text with a lookup per word: cheap enough to run on every keystroke.
//!
//! Positions come in bytes (Rust), chars and UTF-16 code units (the browser's
//! `selectionStart`), so the app can underline a finding and put the caret after an accepted
//! suggestion ([`caret_after`]) without converting.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

/// The phrase list shipped with Fieldbook.
pub const DATA: &str = include_str!("language.txt");

/// One flagged phrase in a text.
#[derive(Clone, PartialEq, Eq)]
pub struct Finding {
    /// The group it belongs to in the data ("self-risk", "choosing", …).
    pub rule: &'static str,
    /// Why the phrase is a problem, for people.
    pub why: &'static str,
    /// Where it is, in bytes of the text.
    pub bytes: Range<usize>,
    /// Where it is, in chars (Unicode scalar values).
    pub chars: Range<usize>,
    /// Where it is, in UTF-16 code units, as the browser counts a caret.
    pub utf16: Range<usize>,
    /// The words as they are in the text.
    pub text: String,
    /// Neutral wording that can replace the phrase in place ([`apply`]); may be empty when
    /// only advice fits.
    pub suggestions: Vec<String>,
    /// Advice to show that is not wording to insert ("describe what happened …").
    pub advice: Option<String>,
}

// Never shows the words found: they are case text.
impl fmt::Debug for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Finding")
            .field("rule", &self.rule)
            .field("bytes", &self.bytes)
            .field("suggestions", &self.suggestions.len())
            .finish_non_exhaustive()
    }
}

/// A mistake in the phrase data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("language data line {line}: {problem}")]
pub struct DataError {
    pub line: usize,
    pub problem: &'static str,
}

/// Phrases in `text` worth a second look, in order of position, never overlapping.
pub fn find(text: &str) -> Vec<Finding> {
    builtin().find(text)
}

/// `text` with the finding's phrase replaced by its suggestion `suggestion`, nothing else
/// changed. If the text no longer has the phrase there (it changed since [`find`]) or there
/// is no such suggestion, the text comes back unchanged.
pub fn apply(text: &str, f: &Finding, suggestion: usize) -> String {
    let (Some(s), Some(found)) = (f.suggestions.get(suggestion), text.get(f.bytes.clone())) else {
        return text.to_owned();
    };
    if found != f.text {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + s.len());
    out.push_str(&text[..f.bytes.start]);
    out.push_str(s);
    out.push_str(&text[f.bytes.end..]);
    out
}

/// Where the caret belongs (UTF-16) after [`apply`] with the same suggestion: just after it.
pub fn caret_after(f: &Finding, suggestion: usize) -> usize {
    let len = f
        .suggestions
        .get(suggestion)
        .map_or(f.utf16.len(), |s| s.encode_utf16().count());
    f.utf16.start + len
}

/// The shipped phrase list, read once.
pub fn builtin() -> &'static Phrases {
    static PHRASES: OnceLock<Phrases> = OnceLock::new();
    PHRASES.get_or_init(|| Phrases::parse(DATA).expect("language.txt is checked by the tests"))
}

/// A parsed phrase list.
pub struct Phrases {
    rules: Vec<(&'static str, &'static str)>,
    entries: Vec<Entry>,
    /// Every word a pattern can start with → (entry, pattern) to try there.
    first: HashMap<String, Vec<(usize, usize)>>,
}

struct Entry {
    rule: usize,
    patterns: Vec<Vec<Tok>>,
    suggestions: Vec<&'static str>,
    advice: Option<&'static str>,
}

struct Tok {
    words: Vec<String>,
    optional: bool,
}

const SELF: &str = "himself/herself/themselves/themself";

impl Phrases {
    /// Read a phrase list in the format of `language.txt`.
    pub fn parse(src: &'static str) -> Result<Phrases, DataError> {
        let mut p = Phrases {
            rules: Vec::new(),
            entries: Vec::new(),
            first: HashMap::new(),
        };
        for (n, line) in src.lines().enumerate() {
            let err = |problem| DataError {
                line: n + 1,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(rest) = line.strip_prefix('[') {
                let (id, why) = rest
                    .split_once(']')
                    .ok_or(err("no ] after the rule name"))?;
                let (id, why) = (id.trim(), why.trim());
                if id.is_empty() || why.is_empty() {
                    return Err(err("a rule needs a name and why"));
                }
                p.rules.push((id, why));
                continue;
            }
            if p.rules.is_empty() {
                return Err(err("an entry before any [rule]"));
            }
            let (pats, sugg) = line.split_once('|').ok_or(err("no | in the entry"))?;
            let mut patterns = Vec::new();
            for pat in pats.split(';') {
                let toks: Vec<Tok> = pat
                    .split_whitespace()
                    .map(|t| {
                        let (t, optional) = match t.strip_suffix('?') {
                            Some(t) => (t, true),
                            None => (t, false),
                        };
                        let t = if t == "{self}" { SELF } else { t };
                        Tok {
                            words: t.split('/').map(normalise).collect(),
                            optional,
                        }
                    })
                    .collect();
                if toks.iter().all(|t| t.optional) {
                    return Err(err("a pattern needs a word that must be there"));
                }
                if toks.iter().any(|t| t.words.iter().any(|w| w.is_empty())) {
                    return Err(err("an empty word in a pattern"));
                }
                patterns.push(toks);
            }
            let mut suggestions = Vec::new();
            let mut advice = None;
            for s in sugg.split(';').map(str::trim) {
                if let Some(a) = s.strip_prefix('(').and_then(|a| a.strip_suffix(')')) {
                    if advice.replace(a.trim()).is_some() {
                        return Err(err("more than one piece of advice"));
                    }
                } else if !s.is_empty() {
                    suggestions.push(s);
                }
            }
            if suggestions.is_empty() && advice.is_none() {
                return Err(err("an entry needs a suggestion or advice"));
            }
            let e = p.entries.len();
            for (i, toks) in patterns.iter().enumerate() {
                for t in toks {
                    for w in &t.words {
                        let at = p.first.entry(w.clone()).or_default();
                        if !at.contains(&(e, i)) {
                            at.push((e, i));
                        }
                    }
                    if !t.optional {
                        break;
                    }
                }
            }
            p.entries.push(Entry {
                rule: p.rules.len() - 1,
                patterns,
                suggestions,
                advice,
            });
        }
        Ok(p)
    }

    /// Phrases in `text`, in order of position, never overlapping.
    pub fn find(&self, text: &str) -> Vec<Finding> {
        let words = words(text);
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let mut best: Option<(usize, usize)> = None; // (words, entry)
            for &(e, pat) in self.first.get(&words[i].norm).map_or(&[][..], |v| &v[..]) {
                if let Some(n) = longest(&self.entries[e].patterns[pat], &words, i, true) {
                    if n > 0 && best.is_none_or(|(bn, be)| n > bn || (n == bn && e < be)) {
                        best = Some((n, e));
                    }
                }
            }
            let Some((n, e)) = best else {
                i += 1;
                continue;
            };
            out.push(self.finding(text, &words[i..i + n], &self.entries[e]));
            i += n;
        }
        out
    }

    fn finding(&self, text: &str, ws: &[Word], e: &Entry) -> Finding {
        let (first, last) = (&ws[0], &ws[ws.len() - 1]);
        let bytes = first.bytes.start..last.bytes.end;
        let matched = &text[bytes.clone()];
        let him = ws.iter().find_map(|w| pronoun(&w.norm)).unwrap_or("them");
        let capital = matched.chars().next().is_some_and(char::is_uppercase);
        let fill = |s: &str| s.replace("{him}", him);
        let (rule, why) = self.rules[e.rule];
        Finding {
            rule,
            why,
            chars: first.chars.start..last.chars.end,
            utf16: first.utf16.start..last.utf16.end,
            text: matched.to_owned(),
            suggestions: e
                .suggestions
                .iter()
                .map(|s| {
                    let s = fill(s);
                    if capital {
                        capitalise(&s)
                    } else {
                        s
                    }
                })
                .collect(),
            advice: e.advice.map(fill),
            bytes,
        }
    }
}

/// How many words from `i` the pattern can cover, the most it can; `None` if it does not
/// match there.
fn longest(p: &[Tok], words: &[Word], i: usize, first: bool) -> Option<usize> {
    let Some(t) = p.first() else {
        return Some(0);
    };
    let mut best = None;
    if let Some(w) = words.get(i) {
        if (first || w.joined) && t.words.contains(&w.norm) {
            best = longest(&p[1..], words, i + 1, false).map(|n| n + 1);
        }
    }
    if t.optional {
        best = best.max(longest(&p[1..], words, i, first));
    }
    best
}

fn pronoun(w: &str) -> Option<&'static str> {
    match w {
        "he" | "him" | "his" | "himself" => Some("him"),
        "she" | "her" | "hers" | "herself" => Some("her"),
        "they" | "them" | "their" | "themselves" | "themself" => Some("them"),
        _ => None,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A word of the text.
struct Word {
    bytes: Range<usize>,
    chars: Range<usize>,
    utf16: Range<usize>,
    /// Lower case, curly apostrophes and Unicode hyphens made plain.
    norm: String,
    /// Only spaces, line breaks and quotes separate it from the word before, so a phrase
    /// may run on into it.
    joined: bool,
}

/// Characters that may join two letters into one word: apostrophes and hyphens.
fn joiner(c: char) -> Option<char> {
    match c {
        '\'' | '\u{2019}' => Some('\''),
        '-' | '\u{2010}' | '\u{2011}' => Some('-'),
        _ => None,
    }
}

/// Characters that may stand between the words of a phrase.
fn gap(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\'' | '"' | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{201E}' | '«' | '»'
        )
}

fn normalise(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    for c in w.chars() {
        match joiner(c) {
            Some(j) => out.push(j),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut it = text.char_indices().peekable();
    let (mut chars, mut utf16) = (0usize, 0usize);
    let mut joined = true;
    let mut cur: Option<Word> = None;
    while let Some((b, c)) = it.next() {
        let next_alnum = it.peek().is_some_and(|&(_, n)| n.is_alphanumeric());
        if c.is_alphanumeric() {
            let w = cur.get_or_insert_with(|| Word {
                bytes: b..b,
                chars: chars..chars,
                utf16: utf16..utf16,
                norm: String::new(),
                joined,
            });
            w.norm.extend(c.to_lowercase());
        } else if let (Some(w), Some(j), true) = (cur.as_mut(), joiner(c), next_alnum) {
            w.norm.push(j);
        } else {
            if let Some(w) = cur.take() {
                out.push(w);
                joined = true;
            }
            joined &= gap(c);
        }
        chars += 1;
        utf16 += c.len_utf16();
        if let Some(w) = cur.as_mut() {
            w.bytes.end = b + c.len_utf8();
            w.chars.end = chars;
            w.utf16.end = utf16;
        }
    }
    out.extend(cur);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_data_reads() {
        let p = Phrases::parse(DATA).unwrap();
        assert!(p.rules.len() >= 9);
    }

    #[test]
    fn words_split_on_spaces_and_punctuation_but_not_inside_hyphens_or_apostrophes() {
        let ws = words("Won\u{2019}t  non\u{2011}consensual, \"quoted\" others'");
        let norms: Vec<&str> = ws.iter().map(|w| w.norm.as_str()).collect();
        assert_eq!(norms, ["won't", "non-consensual", "quoted", "others"]);
        let joined: Vec<bool> = ws.iter().map(|w| w.joined).collect();
        assert_eq!(joined, [true, true, false, true]);
    }

    #[test]
    fn optional_words_are_taken_when_present_and_the_earliest_longest_match_wins() {
        let p = Phrases::parse(
            "[a] why a\nvery? big dog | hound\nbig dog/dogs barking | noise\n[b] why b\nbig dog | pup",
        )
        .unwrap();
        let f = p.find("A very big dog, a big dog, big dogs barking");
        let got: Vec<(&str, &str, &str)> = f
            .iter()
            .map(|f| (f.rule, f.text.as_str(), f.suggestions[0].as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "very big dog", "hound"),
                ("a", "big dog", "hound"),
                ("a", "big dogs barking", "noise"),
            ]
        );
    }

    #[test]
    fn data_mistakes_are_reported_with_their_line() {
        let e = Phrases::parse("[r] why\nno bar here").err().unwrap();
        assert_eq!(e.line, 2);
        assert!(Phrases::parse("a | b").is_err());
        assert!(Phrases::parse("[r] why\na? | b").is_err());
        assert!(Phrases::parse("[r] why\na | (x) ; (y)").is_err());
        assert!(Phrases::parse("[r] why\na |  ").is_err());
    }
}
