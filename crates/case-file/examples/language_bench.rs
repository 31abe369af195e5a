//! How long `language::find` takes on a long note, as it runs on every keystroke in the app
//! (docs/domain/language.md). Run: `cargo run --release -p fieldbook-case --example
//! language_bench`. Prints the time per call for notes of 1,250 to 20,000 words: the time per
//! word stays flat (one pass), it does not grow with the length.

use std::hint::black_box;
use std::time::Instant;

use fieldbook_case::language;

const SENTENCES: &[&str] = &[
    "Met Sam at the youth centre after school and talked about football and his new trainers.",
    "He is putting himself at risk when he goes out late with older males from the estate.",
    "Mum said the door was locked at ten and she did not know where he was until the morning.",
    "We agreed to meet again on Thursday; he chose the café because it feels safe to him.",
    "She was described as uncooperative by the officer, which is not what we saw today.",
];

fn note(words: usize) -> String {
    let mut out = String::new();
    let mut n = 0;
    'outer: loop {
        for s in SENTENCES {
            out.push_str(s);
            out.push(' ');
            n += s.split_whitespace().count();
            if n >= words {
                break 'outer;
            }
        }
    }
    out
}

fn main() {
    for words in [1_250, 2_500, 5_000, 10_000, 20_000] {
        let text = note(words);
        let runs = 200;
        let start = Instant::now();
        let mut found = 0;
        for _ in 0..runs {
            found = black_box(language::find(black_box(&text))).len();
        }
        let per = start.elapsed() / runs;
        println!(
            "{words:>6} words, {:>7} bytes: {found:>4} findings, {per:?} per call, {:.1} ns per word",
            text.len(),
            per.as_nanos() as f64 / words as f64
        );
    }
}
