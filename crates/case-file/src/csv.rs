//! Writing CSV (RFC 4180) that is safe to open in a spreadsheet. Used by the transfer bundle
//! ([`crate::transfer`]) and the monthly service dataset ([`crate::dataset`]).
//!
//! Every cell is quoted when it holds a comma, a quote, or a line break (quotes doubled);
//! lines end with CRLF. A cell a spreadsheet would run as a formula (starting with `=`,
//! `+`, `-`, `@`, a tab or a carriage return) is prefixed with `'`, so typed text such as
//! "=HYPERLINK(…)" is shown as text, never run.

/// One cell, quoted and made formula-safe as needed.
pub fn cell(s: &str) -> String {
    let mut v = String::with_capacity(s.len() + 2);
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        v.push('\'');
    }
    v.push_str(s);
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// One line: the cells joined with commas, ending in CRLF.
pub fn row<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells
        .iter()
        .map(|c| cell(c.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// Read CSV written by [`row`] back into rows of cells (quotes undone; the `'` guard kept).
/// For tests and for checking a download against what was meant.
pub fn parse(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    if !cell.is_empty() || !row.is_empty() {
        row.push(cell);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_only_when_needed_and_quotes_doubled() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell(""), "");
        assert_eq!(cell("a, b"), "\"a, b\"");
        assert_eq!(cell("said \"no\""), "\"said \"\"no\"\"\"");
        assert_eq!(cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(cell("cr\ronly"), "\"cr\ronly\"");
        assert_eq!(row(&["a", "b,c", ""]), "a,\"b,c\",\r\n");
    }

    #[test]
    fn cells_a_spreadsheet_would_run_are_made_text() {
        assert_eq!(cell("=1+1"), "'=1+1");
        assert_eq!(cell("+44 7700"), "'+44 7700");
        assert_eq!(cell("-5"), "'-5");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("\t=x"), "'\t=x");
        assert_eq!(
            cell("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        // Only the first character matters.
        assert_eq!(cell("a=b"), "a=b");
        assert_eq!(cell("50.0"), "50.0");
    }

    #[test]
    fn what_is_written_reads_back() {
        let rows = [
            vec!["h1".to_owned(), "h2".to_owned()],
            vec!["a, \"q\"\nline".to_owned(), "".to_owned()],
            vec!["=x".to_owned(), "é".to_owned()],
        ];
        let text: String = rows.iter().map(|r| row(r)).collect();
        let back = parse(&text);
        assert_eq!(back[0], rows[0]);
        assert_eq!(back[1], rows[1]);
        assert_eq!(back[2], vec!["'=x".to_owned(), "é".to_owned()]);
        assert_eq!(back.len(), 3);
    }
}
