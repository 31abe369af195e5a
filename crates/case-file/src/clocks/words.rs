//! How a clock is said to a person. STAND-IN signatures.

use super::Clock;

/// "Return home interview (RHI) — overdue by 6 hours", "Review of plan — due Thursday",
/// "Return home interview (RHI) — due by 10:00 on Friday 27 November".
pub fn line(clock: &Clock, now: i64) -> String {
    format!("{} — {}", clock.what, when(clock, now))
}

/// Only the "when" part: "overdue by 6 hours", "due Thursday", "met late (reason)", …
pub fn when(_clock: &Clock, _now: i64) -> String {
    String::new() // STAND-IN
}
