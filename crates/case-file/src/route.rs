//! The app's pages as one type, kept in the URL fragment (`#/case/<id>/plan`) so a reload
//! lands on the same page offline. Every link and redirect is built from a [`Route`], and
//! every fragment is read back through [`Route::parse`]: a mistyped or crafted fragment is
//! [`Route::NotFound`], never a page for an id that cannot exist.
//!
//! Fragments carry only ids, never case content (they reach browser history and logs).

use std::fmt;

use fieldbook_sync::DocumentId;

use crate::vocab;

/// An assessment section: one of the risk categories, the summary and overall level, or
/// who completed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Section {
    Category(&'static str),
    Summary,
    CompletedBy,
}

impl Section {
    pub fn parse(s: &str) -> Option<Section> {
        match s {
            "summary" => Some(Section::Summary),
            "completed-by" => Some(Section::CompletedBy),
            _ => vocab::RISK_CATEGORIES
                .iter()
                .find(|(c, _)| *c == s)
                .map(|(c, _)| Section::Category(c)),
        }
    }

    pub fn key(&self) -> &'static str {
        match self {
            Section::Category(c) => c,
            Section::Summary => "summary",
            Section::CompletedBy => "completed-by",
        }
    }

    /// The section after this one in the task list; `None` after the last.
    pub fn next(&self) -> Option<Section> {
        let cats = vocab::RISK_CATEGORIES;
        match self {
            Section::Category(c) => match cats.iter().position(|(x, _)| x == c) {
                Some(i) if i + 1 < cats.len() => Some(Section::Category(cats[i + 1].0)),
                _ => Some(Section::Summary),
            },
            Section::Summary => Some(Section::CompletedBy),
            Section::CompletedBy => None,
        }
    }
}

/// One page of the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Home: "Due and overdue" for every case on the device, and adding a case.
    Cases,
    /// The manager view: the same clocks for the caseload on the device, by worker.
    Team,
    Settings,
    /// Sign in (the only screen before anyone has; reached from the "sign-in has ended" banner).
    SignIn,
    Case(DocumentId),
    Note(DocumentId, ItemId),
    Assessments(DocumentId),
    AssessmentTasks(DocumentId, ItemId),
    AssessmentSection(DocumentId, ItemId, Section),
    AssessmentCheck(DocumentId, ItemId),
    /// The review of a submitted version by a team manager or child protection chair.
    AssessmentReview(DocumentId, ItemId),
    /// A new multi-agency meeting (`None`) or an existing one.
    Meeting(DocumentId, Option<ItemId>),
    /// A new "CCE concerns identified" record (`None`) or an existing one.
    Concern(DocumentId, Option<ItemId>),
    /// A new episode (`None`) or an existing one.
    Missing(DocumentId, Option<ItemId>),
    Plan(DocumentId),
    Profile(DocumentId),
    Chronology(DocumentId),
    /// Every deadline of a case (open, then done).
    Deadlines(DocumentId),
    /// A new reachable moment (`None`) or an existing one (`crate::moments`).
    Moment(DocumentId, Option<ItemId>),
    /// Step the case down to a lower level, or close it (with the evidence both need).
    StepDown(DocumentId),
    /// The NRM tracker: referral, decisions, telling the young person.
    Nrm(DocumentId),
    /// The transfer bundle of a case: printable, and a CSV download.
    Transfer(DocumentId),
    /// The monthly service dataset from the cases on this device (a manager's screen).
    Dataset,
    NotFound,
    /// Lone working: check in before a visit (`Some`: for this case), or check out.
    CheckIn(Option<DocumentId>),
}

/// The id of an item inside a case (a note, an assessment version, an episode): 1 to
/// [`ItemId::MAX`] ASCII letters, digits, `-` or `_`, so it is safe in a fragment as is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(String);

impl ItemId {
    pub const MAX: usize = 64;

    pub fn new(s: &str) -> Option<ItemId> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| ItemId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Fragments longer than this are not ours (the longest real one is well under 200).
const MAX_HASH: usize = 512;

impl Route {
    /// Read a location hash (`#/case/…`, with or without `#`). Empty or `#/` is the case list.
    pub fn parse(hash: &str) -> Route {
        if hash.len() > MAX_HASH {
            return Route::NotFound;
        }
        let path = hash.strip_prefix('#').unwrap_or(hash);
        let path = path.strip_prefix('/').unwrap_or(path);
        if path.is_empty() {
            return Route::Cases;
        }
        let parts: Vec<&str> = path.split('/').collect();
        Self::from_parts(&parts).unwrap_or(Route::NotFound)
    }

    fn from_parts(parts: &[&str]) -> Option<Route> {
        let item = |s: &str| ItemId::new(s);
        let (id, rest) = match parts {
            ["settings"] => return Some(Route::Settings),
            ["team"] => return Some(Route::Team),
            ["dataset"] => return Some(Route::Dataset),
            ["sign-in"] => return Some(Route::SignIn),
            ["checkin"] => return Some(Route::CheckIn(None)),
            ["checkin", id] => return Some(Route::CheckIn(Some(id.parse().ok()?))),
            ["case", id, rest @ ..] => (id.parse::<DocumentId>().ok()?, rest),
            _ => return None,
        };
        Some(match rest {
            [] => Route::Case(id),
            ["note", n] => Route::Note(id, item(n)?),
            ["assessments"] => Route::Assessments(id),
            ["assessment", a] => Route::AssessmentTasks(id, item(a)?),
            ["assessment", a, "check"] => Route::AssessmentCheck(id, item(a)?),
            ["assessment", a, "review"] => Route::AssessmentReview(id, item(a)?),
            ["assessment", a, s] => Route::AssessmentSection(id, item(a)?, Section::parse(s)?),
            ["missing", "new"] => Route::Missing(id, None),
            ["missing", e] => Route::Missing(id, Some(item(e)?)),
            ["meeting", "new"] => Route::Meeting(id, None),
            ["meeting", m] => Route::Meeting(id, Some(item(m)?)),
            ["concern", "new"] => Route::Concern(id, None),
            ["concern", c] => Route::Concern(id, Some(item(c)?)),
            ["plan"] => Route::Plan(id),
            ["profile"] => Route::Profile(id),
            ["chronology"] => Route::Chronology(id),
            ["deadlines"] => Route::Deadlines(id),
            ["moment", "new"] => Route::Moment(id, None),
            ["moment", m] => Route::Moment(id, Some(item(m)?)),
            ["close"] => Route::StepDown(id),
            ["nrm"] => Route::Nrm(id),
            ["transfer"] => Route::Transfer(id),
            _ => return None,
        })
    }

    /// The fragment for this page, `#/…` (what `href` and `location.hash` take).
    pub fn to_hash(&self) -> String {
        match self {
            Route::Cases => "#/".to_owned(),
            Route::Settings => "#/settings".to_owned(),
            Route::Team => "#/team".to_owned(),
            Route::SignIn => "#/sign-in".to_owned(),
            Route::Case(id) => format!("#/case/{id}"),
            Route::Note(id, n) => format!("#/case/{id}/note/{n}"),
            Route::Assessments(id) => format!("#/case/{id}/assessments"),
            Route::AssessmentTasks(id, a) => format!("#/case/{id}/assessment/{a}"),
            Route::AssessmentSection(id, a, s) => {
                format!("#/case/{id}/assessment/{a}/{}", s.key())
            }
            Route::AssessmentCheck(id, a) => format!("#/case/{id}/assessment/{a}/check"),
            Route::AssessmentReview(id, a) => format!("#/case/{id}/assessment/{a}/review"),
            Route::Meeting(id, None) => format!("#/case/{id}/meeting/new"),
            Route::Meeting(id, Some(m)) => format!("#/case/{id}/meeting/{m}"),
            Route::Concern(id, None) => format!("#/case/{id}/concern/new"),
            Route::Concern(id, Some(c)) => format!("#/case/{id}/concern/{c}"),
            Route::Missing(id, None) => format!("#/case/{id}/missing/new"),
            Route::Missing(id, Some(e)) => format!("#/case/{id}/missing/{e}"),
            Route::Plan(id) => format!("#/case/{id}/plan"),
            Route::Profile(id) => format!("#/case/{id}/profile"),
            Route::Chronology(id) => format!("#/case/{id}/chronology"),
            Route::Deadlines(id) => format!("#/case/{id}/deadlines"),
            Route::Moment(id, None) => format!("#/case/{id}/moment/new"),
            Route::Moment(id, Some(m)) => format!("#/case/{id}/moment/{m}"),
            Route::StepDown(id) => format!("#/case/{id}/close"),
            Route::Nrm(id) => format!("#/case/{id}/nrm"),
            Route::Transfer(id) => format!("#/case/{id}/transfer"),
            Route::Dataset => "#/dataset".to_owned(),
            // Not a page anyone links to: shown where a fragment was not understood.
            Route::NotFound => "#/not-found".to_owned(),
            Route::CheckIn(None) => "#/checkin".to_owned(),
            Route::CheckIn(Some(id)) => format!("#/checkin/{id}"),
        }
    }

    /// Same as [`Route::to_hash`]: an `href` on the same page.
    pub fn href(&self) -> String {
        self.to_hash()
    }

    /// A note's page; [`Route::NotFound`] for an id that cannot be in a fragment (ids come
    /// from documents another device wrote).
    pub fn note(case: DocumentId, note: &str) -> Route {
        ItemId::new(note).map_or(Route::NotFound, |n| Route::Note(case, n))
    }

    /// An assessment version's task list.
    pub fn assessment(case: DocumentId, a: &str) -> Route {
        ItemId::new(a).map_or(Route::NotFound, |a| Route::AssessmentTasks(case, a))
    }

    /// One section of an assessment version.
    pub fn section(case: DocumentId, a: &str, s: Section) -> Route {
        ItemId::new(a).map_or(Route::NotFound, |a| Route::AssessmentSection(case, a, s))
    }

    /// "Check your answers" of an assessment version.
    pub fn check(case: DocumentId, a: &str) -> Route {
        ItemId::new(a).map_or(Route::NotFound, |a| Route::AssessmentCheck(case, a))
    }

    /// The review of a submitted assessment version.
    pub fn review(case: DocumentId, a: &str) -> Route {
        ItemId::new(a).map_or(Route::NotFound, |a| Route::AssessmentReview(case, a))
    }

    /// An existing meeting.
    pub fn meeting(case: DocumentId, m: &str) -> Route {
        ItemId::new(m).map_or(Route::NotFound, |m| Route::Meeting(case, Some(m)))
    }

    /// An existing concern record.
    pub fn concern(case: DocumentId, c: &str) -> Route {
        ItemId::new(c).map_or(Route::NotFound, |c| Route::Concern(case, Some(c)))
    }

    /// An existing missing episode.
    pub fn episode(case: DocumentId, e: &str) -> Route {
        ItemId::new(e).map_or(Route::NotFound, |e| Route::Missing(case, Some(e)))
    }

    /// An existing reachable moment.
    pub fn moment(case: DocumentId, m: &str) -> Route {
        ItemId::new(m).map_or(Route::NotFound, |m| Route::Moment(case, Some(m)))
    }

    /// The case this page is about, if any.
    pub fn case(&self) -> Option<DocumentId> {
        match self {
            // The check-in is not a page of the case: it only names it.
            Route::Cases
            | Route::Team
            | Route::Settings
            | Route::SignIn
            | Route::NotFound
            | Route::CheckIn(_)
            | Route::Dataset => None,
            Route::Case(id)
            | Route::Note(id, _)
            | Route::Assessments(id)
            | Route::AssessmentTasks(id, _)
            | Route::AssessmentSection(id, _, _)
            | Route::AssessmentCheck(id, _)
            | Route::AssessmentReview(id, _)
            | Route::Meeting(id, _)
            | Route::Concern(id, _)
            | Route::Missing(id, _)
            | Route::Plan(id)
            | Route::Profile(id)
            | Route::Chronology(id)
            | Route::Deadlines(id)
            | Route::Moment(id, _)
            | Route::StepDown(id)
            | Route::Nrm(id)
            | Route::Transfer(id) => Some(*id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_route(id: DocumentId) -> Vec<Route> {
        let a = ItemId::new("0123456789abcdef").unwrap();
        let mut all = vec![
            Route::Cases,
            Route::Team,
            Route::Settings,
            Route::SignIn,
            Route::Case(id),
            Route::Note(id, ItemId::new("demo-note-1-2").unwrap()),
            Route::Assessments(id),
            Route::AssessmentTasks(id, a.clone()),
            Route::AssessmentCheck(id, a.clone()),
            Route::AssessmentReview(id, a.clone()),
            Route::AssessmentSection(id, a.clone(), Section::Summary),
            Route::AssessmentSection(id, a.clone(), Section::CompletedBy),
            Route::Missing(id, None),
            Route::Missing(id, Some(ItemId::new("demo-missing-3").unwrap())),
            Route::Meeting(id, None),
            Route::Meeting(id, Some(ItemId::new("m1").unwrap())),
            Route::Concern(id, None),
            Route::Concern(id, Some(ItemId::new("c1").unwrap())),
            Route::Plan(id),
            Route::Profile(id),
            Route::Chronology(id),
            Route::Deadlines(id),
            Route::Moment(id, None),
            Route::Moment(id, Some(ItemId::new("m1").unwrap())),
            Route::StepDown(id),
            Route::Nrm(id),
            Route::Transfer(id),
            Route::Dataset,
            Route::NotFound,
            Route::CheckIn(None),
            Route::CheckIn(Some(id)),
        ];
        for (c, _) in vocab::RISK_CATEGORIES {
            all.push(Route::AssessmentSection(
                id,
                a.clone(),
                Section::Category(c),
            ));
        }
        all
    }

    #[test]
    fn every_route_round_trips_through_its_hash() {
        let id = DocumentId::random();
        for r in every_route(id) {
            assert_eq!(Route::parse(&r.to_hash()), r, "{}", r.to_hash());
            assert_eq!(r.href(), r.to_hash());
        }
    }

    #[test]
    fn every_real_hash_round_trips_and_distinct_routes_have_distinct_hashes() {
        let id = DocumentId::random();
        let hashes: Vec<String> = every_route(id).iter().map(Route::to_hash).collect();
        for h in &hashes {
            assert_eq!(&Route::parse(h).to_hash(), h);
        }
        let unique: std::collections::BTreeSet<&String> = hashes.iter().collect();
        assert_eq!(unique.len(), hashes.len());
    }

    #[test]
    fn the_case_list_is_the_empty_fragment_in_every_spelling() {
        for h in ["", "#", "#/", "/"] {
            assert_eq!(Route::parse(h), Route::Cases, "{h:?}");
        }
    }

    #[test]
    fn fragments_are_read_with_or_without_the_hash_sign() {
        let id = DocumentId::random();
        assert_eq!(Route::parse(&format!("case/{id}/plan")), Route::Plan(id));
        assert_eq!(Route::parse(&format!("#case/{id}/plan")), Route::Plan(id));
    }

    #[test]
    fn the_sign_in_screen_has_its_own_fragment() {
        assert_eq!(Route::parse("#/sign-in"), Route::SignIn);
        assert_eq!(Route::SignIn.href(), "#/sign-in");
        assert_eq!(Route::SignIn.case(), None);
    }

    #[test]
    fn the_manager_view_has_its_own_fragment() {
        assert_eq!(Route::parse("#/team"), Route::Team);
        assert_eq!(Route::Team.href(), "#/team");
        assert_eq!(Route::Team.case(), None);
        assert_eq!(Route::parse("#/checkin"), Route::CheckIn(None));
        assert_eq!(Route::CheckIn(None).href(), "#/checkin");
        assert_eq!(Route::parse("#/checkin/not-a-doc"), Route::NotFound);
    }

    #[test]
    fn unknown_or_garbage_fragments_are_not_found() {
        let id = DocumentId::random();
        let long = "a".repeat(MAX_HASH + 1);
        for h in [
            "#/nope".to_owned(),
            "#/case".to_owned(),
            "#/case/".to_owned(),
            "#/case/not-a-document-id".to_owned(),
            format!("#/case/{id}/"),
            format!("#/case/{id}/unknown"),
            format!("#/case/{id}/plan/extra"),
            format!("#/case/{id}/deadlines/x"),
            format!("#/case/{id}/close/x"),
            format!("#/case/{id}/nrm/x"),
            format!("#/case/{id}/note"),
            format!("#/case/{id}/note/"),
            format!("#/case/{id}/assessment/a1/not-a-section"),
            format!("#/case/{id}/assessment/a1/summary/more"),
            format!("#/case/{id}/missing"),
            format!("#/case/{id}/meeting"),
            format!("#/case/{id}/meeting/m1/extra"),
            format!("#/case/{id}/concern"),
            format!("#/case/{id}/concern/a b"),
            format!("#/case/{id}/assessment/a1/review/x"),
            format!("#/case/{id}/moment"),
            format!("#/case/{id}/moment/m1/extra"),
            format!("#/case/{id}/moment/a b"),
            "#/settings/x".to_owned(),
            "#/team/x".to_owned(),
            "#/teams".to_owned(),
            "#/sign-in/x".to_owned(),
            "#/signin".to_owned(),
            "#/sign-in/".to_owned(),
            format!("#//case/{id}"),
            format!("#/{long}"),
            "#/case/%00".to_owned(),
            "#/\u{202e}case".to_owned(),
        ] {
            assert_eq!(Route::parse(&h), Route::NotFound, "{h:?}");
        }
    }

    #[test]
    fn item_ids_are_validated() {
        let id = DocumentId::random();
        for bad in [
            "a b",
            "a%2Fb",
            "<script>",
            "é",
            "a.b",
            &"x".repeat(ItemId::MAX + 1),
        ] {
            assert_eq!(ItemId::new(bad), None, "{bad:?}");
            assert_eq!(
                Route::parse(&format!("#/case/{id}/note/{bad}")),
                Route::NotFound,
                "{bad:?}"
            );
        }
        assert!(ItemId::new(&"x".repeat(ItemId::MAX)).is_some());
        assert_eq!(ItemId::new(""), None);
    }

    #[test]
    fn links_built_from_document_ids_refuse_ids_that_cannot_be_in_a_fragment() {
        let id = DocumentId::random();
        let good = ItemId::new("a1").unwrap();
        assert_eq!(Route::note(id, "a1"), Route::Note(id, good.clone()));
        assert_eq!(
            Route::assessment(id, "a1"),
            Route::AssessmentTasks(id, good.clone())
        );
        assert_eq!(
            Route::section(id, "a1", Section::Summary),
            Route::AssessmentSection(id, good.clone(), Section::Summary)
        );
        assert_eq!(
            Route::check(id, "a1"),
            Route::AssessmentCheck(id, good.clone())
        );
        assert_eq!(
            Route::review(id, "a1"),
            Route::AssessmentReview(id, good.clone())
        );
        assert_eq!(
            Route::meeting(id, "a1"),
            Route::Meeting(id, Some(good.clone()))
        );
        assert_eq!(
            Route::concern(id, "a1"),
            Route::Concern(id, Some(good.clone()))
        );
        assert_eq!(
            Route::moment(id, "a1"),
            Route::Moment(id, Some(good.clone()))
        );
        assert_eq!(Route::episode(id, "a1"), Route::Missing(id, Some(good)));
        for bad in ["", "../x", "a/b", "a#b"] {
            assert_eq!(Route::review(id, bad), Route::NotFound);
            assert_eq!(Route::meeting(id, bad), Route::NotFound);
            assert_eq!(Route::concern(id, bad), Route::NotFound);
            assert_eq!(Route::note(id, bad), Route::NotFound);
            assert_eq!(Route::assessment(id, bad), Route::NotFound);
            assert_eq!(Route::section(id, bad, Section::Summary), Route::NotFound);
            assert_eq!(Route::check(id, bad), Route::NotFound);
            assert_eq!(Route::episode(id, bad), Route::NotFound);
            assert_eq!(Route::moment(id, bad), Route::NotFound);
        }
    }

    #[test]
    fn meetings_concerns_and_reviews_have_their_own_fragments() {
        let id = DocumentId::random();
        let a = ItemId::new("a1").unwrap();
        assert_eq!(
            Route::parse(&format!("#/case/{id}/meeting/new")),
            Route::Meeting(id, None)
        );
        assert_eq!(
            Route::parse(&format!("#/case/{id}/concern/new")),
            Route::Concern(id, None)
        );
        // "review" is not an assessment section: it is the review page.
        assert_eq!(Section::parse("review"), None);
        assert_eq!(
            Route::parse(&format!("#/case/{id}/assessment/a1/review")),
            Route::AssessmentReview(id, a.clone())
        );
        assert_eq!(
            Route::AssessmentReview(id, a).href(),
            format!("#/case/{id}/assessment/a1/review")
        );
    }

    #[test]
    fn sections_follow_the_task_list_order() {
        let cats = vocab::RISK_CATEGORIES;
        let mut s = Section::Category(cats[0].0);
        let mut seen = vec![s.key()];
        while let Some(n) = s.next() {
            seen.push(n.key());
            s = n;
        }
        let mut want: Vec<&str> = cats.iter().map(|(c, _)| *c).collect();
        want.extend(["summary", "completed-by"]);
        assert_eq!(seen, want);
    }

    #[test]
    fn case_pages_know_their_case() {
        let id = DocumentId::random();
        for r in every_route(id) {
            let expect = !matches!(
                r,
                Route::Cases
                    | Route::Team
                    | Route::Settings
                    | Route::SignIn
                    | Route::NotFound
                    | Route::CheckIn(_)
                    | Route::Dataset
            );
            assert_eq!(r.case(), expect.then_some(id), "{r:?}");
        }
    }
}
