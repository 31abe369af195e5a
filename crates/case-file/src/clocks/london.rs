//! Europe/London civil time. STAND-IN signatures: the clocks helper implements them.

/// A civil date and time in London.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Local {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
    /// True in British Summer Time.
    pub bst: bool,
}

/// The London civil time of instant `utc_ms`.
pub fn local(utc_ms: i64) -> Local {
    let _ = utc_ms;
    Local {
        year: 1970,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        weekday: 3,
        bst: false,
    } // STAND-IN
}

/// The instant at which London's clocks show `hour:minute` on `date` (for the hour that
/// happens twice in October, the first; for one that is skipped in March, an hour later).
pub fn instant(date: (i32, u32, u32), hour: u32, minute: u32) -> i64 {
    let _ = (date, hour, minute);
    0 // STAND-IN
}

/// Midnight at the start of `date` in London.
pub fn midnight(date: (i32, u32, u32)) -> i64 {
    instant(date, 0, 0)
}
