//! Where a text field's caret belongs when a colleague's edit to the same text arrives while
//! the worker is typing in it. The field's new value replaces the old one; the caret (and
//! each end of a selection) is carried across the change found by a common-prefix/suffix
//! diff: before the change it keeps its offset from the start, after it its offset from the
//! end, and inside the replaced part it goes to the end of what replaced it.
//!
//! Positions are in UTF-16 code units, as the browser's `selectionStart` counts them.

/// `pos` in `old` mapped to a position in `new`.
pub fn map_caret(old: &str, new: &str, pos: usize) -> usize {
    let old: Vec<u16> = old.encode_utf16().collect();
    let new: Vec<u16> = new.encode_utf16().collect();
    let pos = pos.min(old.len());
    let max = old.len().min(new.len());
    let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max - prefix)
        .take_while(|(a, b)| a == b)
        .count();
    if pos <= prefix {
        pos
    } else if pos >= old.len() - suffix {
        new.len() - (old.len() - pos)
    } else {
        new.len() - suffix
    }
}

#[cfg(test)]
mod tests {
    use super::map_caret;

    #[test]
    fn text_inserted_before_the_caret_moves_it_by_the_inserted_length() {
        // Caret after "Met at the " (11); a colleague adds "Today: " at the start.
        assert_eq!(
            map_caret("Met at the park", "Today: Met at the park", 11),
            18
        );
    }

    #[test]
    fn text_changed_after_the_caret_leaves_it_alone() {
        assert_eq!(map_caret("Met at the park", "Met at the park gate", 3), 3);
        assert_eq!(map_caret("Met at the park", "Met at the", 3), 3);
    }

    #[test]
    fn text_deleted_before_the_caret_moves_it_back() {
        assert_eq!(map_caret("Met at the park", "Met the park", 10), 7);
    }

    #[test]
    fn a_caret_inside_replaced_text_goes_to_the_end_of_the_replacement() {
        assert_eq!(map_caret("Met at the park", "Met near the park", 5), 8);
    }

    #[test]
    fn positions_count_utf16_units_like_the_browser() {
        // "🙂" is two UTF-16 units.
        assert_eq!(map_caret("ab", "🙂ab", 1), 3);
        assert_eq!(map_caret("", "text", 0), 0);
        assert_eq!(map_caret("same", "same", 2), 2);
        assert_eq!(
            map_caret("short", "x", 99),
            1,
            "a caret past the end is clamped"
        );
    }
}
