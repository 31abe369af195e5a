//! The CCE risk assessment as a GOV.UK task list: 12 categories, then the summary and
//! overall level, then who completed it; "check your answers" before submitting. Drafts
//! are saved per keystroke, so an assessment can be finished offline across reloads.

use fieldbook_case::account::Role;
use fieldbook_case::assessment::{self, Assessment, AssessmentField, Review};
use fieldbook_case::clocks::{self, words, Kind};
use fieldbook_case::route::{Route, Section};
use fieldbook_case::{validate, vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{
    field_error, format_time, go, new_id, now, CriticalChoice, ErrorSummary, Radios, TextField,
    ASSESSMENT_GONE, LATE_EDITS_TAKEN, VERSION_GONE,
};

/// History, trend and the way into a new version.
#[component]
pub fn Assessments(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let all = Memo::new(move |_| c.get().map(|k| k.assessments).unwrap_or_default());
    let d = driver.clone();
    let d_confirm = driver.clone();
    let start = move |_| {
        let previous = all
            .get_untracked()
            .into_iter()
            .rev()
            .find(|a| a.submitted.is_some());
        let aid = new_id();
        let by = d.author();
        if d.act(id, |tx| {
            assessment::start(tx, &aid, now(), previous.as_ref(), &by)
        }) {
            go(&Route::assessment(id, &aid));
        }
    };
    view! {
        <CaseTop case=c id=id/>
        <h1>"Risk assessment"</h1>
        {move || {
            let list = all.get();
            // Every draft: two devices may each have started one (say, from late edits).
            let drafts: Vec<Assessment> = list.iter().filter(|a| a.submitted.is_none()).cloned().collect();
            let submitted: Vec<Assessment> = list.iter().filter(|a| a.submitted.is_some()).cloned().collect();
            let trend = assessment::trend(&list);
            let start = start.clone();
            let d = d_confirm.clone();
            view! {
                {if drafts.is_empty() {
                    view! { <button class="fb-button" data-testid="start-assessment" on:click=start>"Start a new assessment"</button> }.into_any()
                } else {
                    drafts.iter().map(|a| view! {
                        <p><a class="fb-button" data-testid="continue-assessment" href=Route::assessment(id, &a.id).href()>{draft_label(a, &list)}</a></p>
                    }).collect_view().into_any()
                }}
                <h2>"Versions"</h2>
                {if submitted.is_empty() {
                    view! { <p>"No assessment has been submitted yet."</p> }.into_any()
                } else {
                    view! {
                        <ol class="fb-list" data-testid="assessment-history">
                            {submitted.iter().rev().map(|a| view! {
                                <li>
                                    <strong>{format!("{} — overall: {}", format_time(a.submitted.unwrap_or(a.started)),
                                        a.overall.value().map(|v| vocab::label(vocab::LEVELS, v)).unwrap_or_else(|| "in dispute".into()))}</strong>
                                    <p class="fb-hint">{format!("Completed by {}", a.completed_by)}
                                        {review_line(a)}</p>
                                    // Reviewed only by the right role, on the review page.
                                    {(a.review.is_none() && a.confirmed.is_none()).then(|| {
                                        a.overall.value().map(assessment::reviewer_for).filter(|r| may_review(&d, r)).map(|_| view! {
                                            <p><a class="fb-button fb-button-secondary" data-testid="review-link" href=Route::review(id, &a.id).href()>"Review this assessment"</a></p>
                                        })
                                    })}
                                    <LateEditsNotice driver=d.clone() id=id version=a.clone()/>
                                    {a.has_conflict().then(|| view! { <p class="fb-warning">"A rating or the overall level was set two ways at the same time: choose what to keep at the top of this page."</p> })}
                                    {a.suggests_cce().then(|| view! { <p class="fb-warning" data-testid="suggests-cce">{SUGGESTS_CCE}</p> })}
                                </li>
                            }).collect_view()}
                        </ol>
                        <h2>"Trend by category"</h2>
                        <table class="fb-table" data-testid="trend">
                            <caption class="fb-visually-hidden">"Each category's rating in each submitted version, oldest first"</caption>
                            <thead><tr><th scope="col">"Category"</th>{submitted.iter().map(|a| view! { <th scope="col">{format_time(a.submitted.unwrap_or(0))}</th> }).collect_view()}</tr></thead>
                            <tbody>
                                {trend.into_iter().map(|(cid, ratings)| view! {
                                    <tr><th scope="row">{vocab::label(vocab::RISK_CATEGORIES, &cid)}</th>
                                        {ratings.into_iter().map(|r| view! { <td>{r.map(|r| vocab::label(vocab::RATINGS, &r)).unwrap_or_else(|| "—".into())}</td> }).collect_view()}
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any()
                }}
            }
        }}
    }
}

/// "Continue …" for a draft; one made from late edits says which version they were made to.
fn draft_label(a: &Assessment, all: &[Assessment]) -> String {
    match a
        .from_late_edits
        .as_ref()
        .and_then(|v| all.iter().find(|x| &x.id == v))
    {
        Some(v) => format!(
            "Continue the draft made from changes after the version of {} was submitted",
            format_time(v.submitted.unwrap_or(v.started))
        ),
        None => "Continue the draft assessment".to_owned(),
    }
}

/// On a submitted version: it cannot be changed, and any changes that reached it from a
/// device that had not seen the submission are kept for a new draft, which this opens
/// (creating it the first time; `start_draft_from_late_edits` makes pressing twice harmless).
#[component]
fn LateEditsNotice(driver: Driver, id: DocumentId, version: Assessment) -> impl IntoView {
    version.late_edits.clone().map(|late| {
        let aid = version.id.clone();
        let open = move |_| {
            let (nid, by) = (new_id(), driver.author());
            // False when these late edits were already taken (pressed twice, before the
            // notice went): say where they are rather than do nothing.
            if driver.act_on(id, LATE_EDITS_TAKEN, |tx| {
                assessment::start_draft_from_late_edits(tx, &aid, &nid, now(), &by)
            }) {
                go(&Route::assessment(id, &nid));
            }
        };
        let who = (!late.by.is_empty()).then(|| format!(" Set by {}.", late.by.join(", ")));
        view! {
            <div class="fb-warning" role="status" data-testid="late-edits">
                <p><strong>"Changes made on another device after this version was submitted are kept in a new draft."</strong>
                   " The submitted version stays as it was."</p>
                <p class="fb-hint">{format!("Changed: {}.", late.changed.join("; "))}{who}</p>
                <button class="fb-button fb-button-secondary" data-testid="open-late-edits" on:click=open>"Open the new draft"</button>
            </div>
        }
    })
}

/// Shown on every screen of a submitted version instead of anything that edits it.
fn submitted_note(a: &Assessment) -> impl IntoView {
    a.submitted.map(|t| view! {
        <p class="fb-warning" data-testid="submitted-note">{format!("This version was submitted on {} and cannot be changed. Start a new version to update it.", on_at(t))}</p>
    })
}

/// "26/11/2026 at 14:02".
fn on_at(ms: i64) -> String {
    let t = format_time(ms);
    match t.split_once(' ') {
        Some((date, time)) => format!("{date} at {time}"),
        None => t,
    }
}

/// The guidance's words for when ratings suggest criminal exploitation
/// ([`Assessment::suggests_cce`]).
const SUGGESTS_CCE: &str = "Ratings of Moderate or High at the same time in going missing, coercion and control, contact with abusive people or risky places, and offending (categories 1, 2, 3 and 10) strongly suggest criminal exploitation: weigh this in the overall level. Higher ratings in education, health or family (5, 8 and 9) alone are common and do not by themselves mean exploitation.";

fn draft(c: Memo<Option<fieldbook_case::Case>>, aid: String) -> Memo<Option<Assessment>> {
    Memo::new(move |_| {
        c.get()
            .and_then(|k| k.assessments.into_iter().find(|a| a.id == aid))
    })
}

fn status_tag(done: bool, conflict: bool) -> AnyView {
    match (done, conflict) {
        (_, true) => view! { <strong class="fb-tag fb-tag-red">"Choose one"</strong> }.into_any(),
        (true, _) => view! { <strong class="fb-tag">"Completed"</strong> }.into_any(),
        (false, _) => view! { <strong class="fb-tag fb-tag-grey">"Incomplete"</strong> }.into_any(),
    }
}

/// The task list.
#[component]
pub fn AssessmentTasks(driver: Driver, id: DocumentId, aid: String) -> impl IntoView {
    let c = case_memo(&driver, id);
    let a = draft(c, aid.clone());
    view! {
        <CaseTop case=c id=id/>
        <h1>"CCE risk assessment"</h1>
        {move || match a.get() {
            None => looking(),
            Some(a) => {
                let to = |s: Section| Route::section(id, &a.id, s).href();
                let check = Route::check(id, &a.id).href();
                view! {
                    {submitted_note(&a)}
                    <LateEditsNotice driver=driver.clone() id=id version=a.clone()/>
                    <ol class="fb-task-list" data-testid="task-list">
                        {a.categories.iter().zip(vocab::RISK_CATEGORIES).map(|(cat, (cid, label))| view! {
                            <li class="fb-task">
                                <a href=to(Section::Category(cid))>{*label}</a>
                                {status_tag(!cat.rating.is_unset(), cat.rating.is_conflict())}
                            </li>
                        }).collect_view()}
                        <li class="fb-task"><a href=to(Section::Summary)>"Summary and overall risk level"</a>
                            {status_tag(!a.summary.trim().is_empty() && !a.overall.is_unset(), a.overall.is_conflict())}</li>
                        <li class="fb-task"><a href=to(Section::CompletedBy)>"Who completed it"</a>
                            {status_tag(!a.completed_by.trim().is_empty(), false)}</li>
                    </ol>
                    {if a.submitted.is_some() {
                        view! { <p><a href=check.clone() data-testid="view-answers">"See all answers"</a></p> }.into_any()
                    } else {
                        view! { <a class="fb-button" href=check.clone() data-testid="check-answers">"Check answers and submit"</a> }.into_any()
                    }}
                }.into_any()
            }
        }}
    }
}

/// One section: a category, the summary and overall level, or who completed it.
#[component]
pub fn AssessmentSection(
    driver: Driver,
    id: DocumentId,
    aid: String,
    section: Section,
) -> impl IntoView {
    let c = case_memo(&driver, id);
    let a = draft(c, aid.clone());
    let exists = Memo::new(move |_| a.with(Option::is_some));
    // While this section's value is in dispute, moving on must not look like it settles it.
    let disputed = {
        let section = section.clone();
        Memo::new(move |_| {
            a.with(|a| {
                a.as_ref().is_some_and(|a| match &section {
                    Section::Summary => a.overall.is_conflict(),
                    Section::Category(cid) => {
                        a.category(cid).is_some_and(|c| c.rating.is_conflict())
                    }
                    Section::CompletedBy => false,
                })
            })
        })
    };
    let base = Route::assessment(id, &aid).href();
    let section = section.key();
    let sec = section;
    // After the last section, back to the task list.
    let next = match Section::parse(section).and_then(|s| s.next()) {
        Some(n) => Route::section(id, &aid, n).href(),
        None => base.clone(),
    };
    let d = driver.clone();
    let body = move || {
        let d = d.clone();
        let aid = aid.clone();
        if let Some((cid, label)) = vocab::RISK_CATEGORIES.iter().find(|(c, _)| *c == sec) {
            let rating = Memo::new(move |_| {
                a.get()
                    .and_then(|a| a.category(cid).map(|c| c.rating.clone()))
                    .unwrap_or_default()
            });
            let (d1, aid1) = (d.clone(), aid.clone());
            view! {
                <h1>{*label}</h1>
                <label class="fb-label" for="category-text">"Information and analysis"</label>
                <TextField id="category-text" rows=6
                          value=Signal::derive(move || a.with(|a| a.as_ref().and_then(|a| a.category(cid)).map(|c| c.text.clone()).unwrap_or_default()))
                          on_input=move |v: String| { d1.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_category_text(tx, &aid1, cid, &v)); }/>
                {move || {
                    let (d, aid) = (d.clone(), aid.clone());
                    let pick = Callback::new(move |v: String| { let by = d.author(); d.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_rating(tx, &aid, cid, &v, &by, now())); });
                    view! { <CriticalChoice id=format!("rating-{cid}") legend="Rating".into() choices=vocab::RATINGS value=rating.get() on_pick=pick/> }
                }}
            }.into_any()
        } else if sec == "summary" {
            let overall = Memo::new(move |_| a.get().map(|a| a.overall).unwrap_or_default());
            let (d1, aid1) = (d.clone(), aid.clone());
            view! {
                <h1>"Summary and overall risk level"</h1>
                <label class="fb-label" for="summary">"Summary of concerns and analysis"</label>
                <p class="fb-hint" id="summary-hint">"Discussed with the young person and their family. High ratings in education, health and family alone are common and do not by themselves mean criminal exploitation."</p>
                <TextField id="summary" rows=6 describedby="summary-hint"
                          value=Signal::derive(move || a.with(|a| a.as_ref().map(|a| a.summary.clone()).unwrap_or_default()))
                          on_input=move |v: String| { d1.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_field(tx, &aid1, AssessmentField::Summary, &v)); }/>
                {move || {
                    let (d, aid) = (d.clone(), aid.clone());
                    let pick = Callback::new(move |v: String| { let by = d.author(); d.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_overall(tx, &aid, &v, &by, now())); });
                    view! { <CriticalChoice id="overall".into() legend="Overall risk level".into() choices=vocab::LEVELS value=overall.get() on_pick=pick/> }
                }}
            }.into_any()
        } else {
            view! {
                <h1>"Who completed it"</h1>
                <label class="fb-label" for="completed-by">"Names and roles"</label>
                <p class="fb-hint" id="completed-by-hint">"For example, \"A. Worker (social care), B. Officer (youth justice)\"."</p>
                <TextField id="completed-by" describedby="completed-by-hint"
                       value=Signal::derive(move || a.with(|a| a.as_ref().map(|a| a.completed_by.clone()).unwrap_or_default()))
                       on_input=move |v: String| { d.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_field(tx, &aid, AssessmentField::CompletedBy, &v)); }/>
            }.into_any()
        }
    };
    // A submitted version (or one whose submission arrives while this is open) is shown
    // read-only, as submitted.
    let submitted =
        Memo::new(move |_| a.with(|a| a.as_ref().is_some_and(|a| a.submitted.is_some())));
    let frozen = {
        let d = driver.clone();
        move || match a.get().filter(|_| submitted.get()) {
            Some(v) => frozen_section(d.clone(), id, v, section),
            None => looking(),
        }
    };
    view! {
        <CaseTop case=c id=id/>
        <Show when=move || exists.get() && !submitted.get() fallback=frozen>
            {body.clone()}
            {let next = next.clone(); move || if disputed.get() {
                view! { <p><a class="fb-button fb-button-secondary fb-button-continue" href=next.clone() data-testid="save-continue">"Continue without choosing"</a></p> }.into_any()
            } else {
                view! { <a class="fb-button" href=next.clone() data-testid="save-continue">"Save and continue"</a> }.into_any()
            }}
            <p><a href=base.clone()>"Back to the task list"</a></p>
        </Show>
    }
}

/// A section of a submitted version: what it said when submitted, nothing to edit.
fn frozen_section(driver: Driver, id: DocumentId, a: Assessment, section: &str) -> AnyView {
    let base = Route::assessment(id, &a.id).href();
    let level = |c: &fieldbook_case::critical::Critical, choices| match c.settled() {
        Some(x) if x.by.is_empty() => vocab::label(choices, &x.value),
        Some(x) => format!(
            "{} (set by {} at {})",
            vocab::label(choices, &x.value),
            x.by,
            format_time(x.at)
        ),
        None if c.is_conflict() => "Set two ways at once".to_owned(),
        None => "Not set".to_owned(),
    };
    let text = |t: String| view! { <p class="fb-frozen" data-testid="frozen-text">{t}</p> };
    let body = match vocab::RISK_CATEGORIES.iter().find(|(c, _)| *c == section) {
        Some((cid, label)) => {
            let cat = a.category(cid).cloned();
            view! {
                <h1>{*label}</h1>
                <h2 class="fb-label">"Information and analysis"</h2>
                {text(cat.as_ref().map(|c| c.text.clone()).unwrap_or_default())}
                <h2 class="fb-label">"Rating"</h2>
                <p data-testid="frozen-rating">{cat.map(|c| level(&c.rating, vocab::RATINGS)).unwrap_or_default()}</p>
            }.into_any()
        }
        None if section == "summary" => view! {
            <h1>"Summary and overall risk level"</h1>
            <h2 class="fb-label">"Summary of concerns and analysis"</h2>
            {text(a.summary.clone())}
            <h2 class="fb-label">"Overall risk level"</h2>
            <p data-testid="frozen-rating">{level(&a.overall, vocab::LEVELS)}</p>
        }
        .into_any(),
        None => view! {
            <h1>"Who completed it"</h1>
            {text(a.completed_by.clone())}
        }
        .into_any(),
    };
    view! {
        {submitted_note(&a)}
        <LateEditsNotice driver=driver id=id version=a.clone()/>
        {body}
        <p><a href=base>"Back to the task list"</a></p>
    }
    .into_any()
}

/// Check answers, then submit.
#[component]
pub fn AssessmentCheck(driver: Driver, id: DocumentId, aid: String) -> impl IntoView {
    let c = case_memo(&driver, id);
    let a = draft(c, aid.clone());
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let aid2 = aid.clone();
    let submit = move |_| {
        let Some(current) = a.get_untracked() else {
            return;
        };
        let mut problems = validate::assessment(&current);
        // Lowering the level needs a recent face-to-face contact, or a reason.
        if let Some(k) = c.get_untracked() {
            problems.extend(fieldbook_case::stepdown::validate_assessment(
                &k,
                &current,
                now(),
                &super::home::clock_settings(&d),
            ));
        }
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        if d.act_on(id, ASSESSMENT_GONE, |tx| {
            assessment::submit(tx, &aid2, now())
        }) {
            go(&Route::Assessments(id));
        }
    };
    let is_draft =
        Memo::new(move |_| a.with(|a| a.as_ref().is_some_and(|a| a.submitted.is_none())));
    view! {
        <CaseTop case=c id=id/>
        <h1>{move || if is_draft.get() { "Check your answers before submitting the assessment" } else { "Answers in this assessment" }}</h1>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        {move || a.get().map(|a| {
            let to = |s: Section| Route::section(id, &a.id, s).href();
            // A submitted version has nothing to change.
            let change = a.submitted.is_none();
            view! {
                {submitted_note(&a)}
                <LateEditsNotice driver=driver.clone() id=id version=a.clone()/>
                <dl class="fb-summary-list" data-testid="check-list">
                    {a.categories.iter().zip(vocab::RISK_CATEGORIES).map(|(cat, (cid, label))| view! {
                        <div class="fb-summary-row" id=format!("rating-{cid}") tabindex="-1">
                            <dt>{*label}</dt>
                            <dd>{match (cat.rating.value(), cat.rating.is_conflict()) {
                                (Some(v), _) => vocab::label(vocab::RATINGS, v),
                                (None, true) => "Set two ways: choose one".into(),
                                (None, false) => "Not rated".into(),
                            }}<br/><span class="fb-hint">{cat.text.clone()}</span></dd>
                            {change.then(|| view! { <dd><a href=to(Section::Category(cid))>"Change" <span class="fb-visually-hidden">{format!(" {label}")}</span></a></dd> })}
                        </div>
                    }).collect_view()}
                    <div class="fb-summary-row" id="summary" tabindex="-1"><dt>"Summary"</dt><dd>{a.summary.clone()}</dd>{change.then(|| view! { <dd><a href=to(Section::Summary)>"Change" <span class="fb-visually-hidden">" summary"</span></a></dd> })}</div>
                    <div class="fb-summary-row" id="overall" tabindex="-1"><dt>"Overall risk level"</dt>
                        <dd>{a.overall.value().map(|v| vocab::label(vocab::LEVELS, v)).unwrap_or_else(|| if a.overall.is_conflict() { "Set two ways: choose one".into() } else { "Not set".into() })}</dd>
                        {change.then(|| view! { <dd><a href=to(Section::Summary)>"Change" <span class="fb-visually-hidden">" overall risk level"</span></a></dd> })}</div>
                    <div class="fb-summary-row" id="completed-by" tabindex="-1"><dt>"Completed by"</dt><dd>{a.completed_by.clone()}</dd>{change.then(|| view! { <dd><a href=to(Section::CompletedBy)>"Change" <span class="fb-visually-hidden">" who completed it"</span></a></dd> })}</div>
                </dl>
                {a.suggests_cce().then(|| view! { <p class="fb-warning" data-testid="suggests-cce">{SUGGESTS_CCE}</p> })}
                <NotSeenReason driver=driver.clone() id=id case=c version=a.clone() errors=errors/>
                <ReviewStatus driver=driver.clone() id=id case=c version=a.clone()/>
            }
        })}
        <Show when=move || is_draft.get()>
            <button class="fb-button" data-testid="submit-assessment" on:click=submit.clone()>"Submit assessment"</button>
        </Show>
    }
}

/// " · reviewed by … on …", " · confirmed by … on …" (before reviews recorded decisions),
/// or who it is waiting for.
fn review_line(a: &Assessment) -> String {
    match (&a.review, &a.confirmed, a.overall.value()) {
        (Some(r), _, _) => format!(
            " · reviewed by {} on {}: {}",
            r.by,
            format_time(r.at),
            vocab::label(vocab::LEVELS, &r.level)
        ),
        (None, Some((by, at)), _) => format!(" · confirmed by {by} on {}", format_time(*at)),
        (None, None, Some(level)) => format!(" · waiting for review by {}", reviewer_words(level)),
        (None, None, None) => " · not reviewed: the overall level is in dispute".to_owned(),
    }
}

/// Who reviews a version submitted at `level`, for people: "a team manager", "a child
/// protection chair".
fn reviewer_words(level: &str) -> String {
    let role = assessment::reviewer_for(level);
    format!("a {}", vocab::label(vocab::REVIEWERS, role).to_lowercase())
}

/// Whether the signed-in person may review as `reviewer` ("manager" or "chair").
fn may_review(driver: &Driver, reviewer: &str) -> bool {
    driver.signals.account.with(|a| {
        a.as_ref().is_some_and(|a| match reviewer {
            "chair" => a.role == Role::Chair,
            _ => a.role == Role::Manager,
        })
    })
}

/// On a submitted version's check page: its review, or who must review it and by when, and
/// for that person the way to the review.
#[component]
fn ReviewStatus(
    driver: Driver,
    id: DocumentId,
    case: Memo<Option<Case>>,
    version: Assessment,
) -> impl IntoView {
    version.submitted.map(|_| {
        if let Some(r) = &version.review {
            let mut lines = vec![format!(
                "Reviewed by {} ({}) on {}: overall level {}.",
                r.by,
                vocab::label(vocab::REVIEWERS, &r.role).to_lowercase(),
                on_at(r.at),
                vocab::label(vocab::LEVELS, &r.level)
            )];
            match (r.meeting_needed.as_str(), r.meeting_chair.as_str()) {
                ("yes", chair) => lines.push(format!(
                    "A CCE multi-agency meeting is needed, chaired by {}.",
                    vocab::label(vocab::REVIEWERS, chair).to_lowercase()
                )),
                ("no", _) => lines.push("A CCE multi-agency meeting is not needed.".to_owned()),
                _ => {}
            }
            let note = r.note.clone();
            return view! {
                <div class="fb-panel" data-testid="review-status">
                    <h2>"Review"</h2>
                    {lines.into_iter().map(|l| view! { <p>{l}</p> }).collect_view()}
                    {(!note.trim().is_empty()).then(|| view! { <p class="fb-note-text">{note}</p> })}
                </div>
            }
            .into_any();
        }
        // Confirmed before reviews recorded their decisions: that confirmation stands.
        if let Some((by, at)) = &version.confirmed {
            return view! {
                <div class="fb-panel" data-testid="review-status">
                    <h2>"Review"</h2>
                    <p>{format!("The overall level was confirmed by {by} on {}.", on_at(*at))}</p>
                </div>
            }
            .into_any();
        }
        let Some(level) = version.overall.value().map(str::to_owned) else {
            return view! {
                <div class="fb-panel" data-testid="review-status">
                    <h2>"Review"</h2>
                    <p>"The overall level was set two ways: choose one at the top of this page before it can be reviewed."</p>
                </div>
            }
            .into_any();
        };
        let reviewer = assessment::reviewer_for(&level);
        let settings = super::home::clock_settings(&driver);
        let due = case.with_untracked(|c| {
            let t = now();
            c.as_ref().and_then(|c| {
                clocks::clocks(c, t, &settings)
                    .into_iter()
                    .find(|k| {
                        k.kind == Kind::AssessmentReview
                            && k.source.id == version.id
                            && k.state.is_open()
                    })
                    .map(|k| words::when(&k, t))
                    .filter(|w| !w.is_empty())
            })
        });
        let waiting = match due {
            Some(w) => format!("Waiting for review by {} ({w})", reviewer_words(&level)),
            None => format!("Waiting for review by {}", reviewer_words(&level)),
        };
        let link = may_review(&driver, reviewer).then(|| {
            view! {
                <p><a class="fb-button" data-testid="review-link" href=Route::review(id, &version.id).href()>"Review this assessment"</a></p>
            }
        });
        let who = (link.is_none()).then(|| {
            view! { <p class="fb-hint" data-testid="review-who">{format!("Only {} can review it.", reviewer_words(&level))}</p> }
        });
        view! {
            <div class="fb-panel" data-testid="review-status">
                <h2>"Review"</h2>
                <p data-testid="review-waiting">{waiting}</p>
                {who}
                {link}
            </div>
        }
        .into_any()
    })
}

/// The review of a submitted version by the right person: a team manager confirms an
/// Emerging level; a child protection chair confirms a Moderate or High one and decides
/// whether a CCE multi-agency meeting is needed and who chairs it.
#[component]
pub fn AssessmentReview(driver: Driver, id: DocumentId, aid: String) -> impl IntoView {
    let c = case_memo(&driver, id);
    let a = draft(c, aid.clone());
    let ready = Memo::new(move |_| a.with(|a| a.as_ref().map(|a| a.id.clone())));
    view! {
        <CaseTop case=c id=id/>
        {move || match ready.get() {
            None => looking(),
            Some(_) => {
                let version = a.get_untracked().unwrap_or_default();
                view! { <ReviewForm driver=driver.clone() id=id version=version/> }.into_any()
            }
        }}
    }
}

#[component]
fn ReviewForm(driver: Driver, id: DocumentId, version: Assessment) -> impl IntoView {
    let check = Route::check(id, &version.id).href();
    let level = version.overall.value().map(str::to_owned);
    let refusal = match (&version.submitted, &level, &version.review) {
        (None, _, _) => Some(
            "This version has not been submitted yet: only a submitted version is reviewed."
                .to_owned(),
        ),
        (_, None, _) => Some(
            "The overall level was set two ways: it must be settled before the review.".to_owned(),
        ),
        (_, _, Some(r)) => Some(format!(
            "This version was reviewed by {} on {}.",
            r.by,
            on_at(r.at)
        )),
        (_, _, None) if version.confirmed.is_some() => {
            Some("The overall level of this version has already been confirmed.".to_owned())
        }
        _ => None,
    };
    let level = level.unwrap_or_default();
    let reviewer = assessment::reviewer_for(&level);
    if let Some(why) = refusal {
        return view! {
            <h1>"Review the risk assessment"</h1>
            <p data-testid="review-refused">{why}</p>
            <p><a href=check>"Back to the assessment"</a></p>
        }
        .into_any();
    }
    if !may_review(&driver, reviewer) {
        return view! {
            <h1>"Review the risk assessment"</h1>
            <p data-testid="review-who">{format!("This assessment is reviewed by {}. Your role cannot review it.", reviewer_words(&level))}</p>
            <p><a href=check>"Back to the assessment"</a></p>
        }
        .into_any();
    }
    let chair = reviewer == "chair";
    let r = RwSignal::new(Review {
        role: reviewer.to_owned(),
        level: level.clone(),
        // Preselected by level: the team manager chairs for Moderate, the chair for High.
        meeting_chair: if chair {
            if level == "high" { "chair" } else { "manager" }.to_owned()
        } else {
            String::new()
        },
        ..Default::default()
    });
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let (aid, submitted_level) = (version.id.clone(), level.clone());
    let back = Route::check(id, &version.id);
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut review = r.get_untracked();
        if review.meeting_needed != "yes" {
            review.meeting_chair.clear();
        }
        review.by = d.author();
        review.at = now();
        let problems = validate::review(&review, &submitted_level);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        if d.act_on(id, VERSION_GONE, |tx| assessment::review(tx, &aid, &review)) {
            go(&back);
        }
    };
    let initial = r.get_untracked();
    view! {
        <h1>"Review the risk assessment"</h1>
        <p>{format!("Submitted on {} with the overall level {}.", on_at(version.submitted.unwrap_or(0)), vocab::label(vocab::LEVELS, &level))}</p>
        <p><a href=check.clone()>"See the answers"</a></p>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=save novalidate>
            {move || field_error(&errors.get(), "review-level")}
            <Radios id="review-level".into() legend="Confirm the overall risk level".into() choices=vocab::LEVELS
                    selected=Some(initial.level.clone()) on_pick=Callback::new(move |v| r.update(|r| r.level = v)) hint=None/>
            {chair.then(|| view! {
                {move || field_error(&errors.get(), "review-meeting-needed")}
                <Radios id="review-meeting-needed".into() legend="Is a CCE multi-agency meeting needed?".into() choices=&[("yes", "Yes"), ("no", "No")]
                        selected=None on_pick=Callback::new(move |v| r.update(|r| r.meeting_needed = v)) hint=None/>
                <Show when=move || r.with(|r| r.meeting_needed == "yes")>
                    {move || field_error(&errors.get(), "review-meeting-chair")}
                    <Radios id="review-meeting-chair".into() legend="Who chairs it".into() choices=vocab::REVIEWERS
                            selected=Some(r.with_untracked(|r| r.meeting_chair.clone())) on_pick=Callback::new(move |v| r.update(|r| r.meeting_chair = v))
                            hint=Some("Usually the team manager for Moderate and the child protection chair for High.".into())/>
                </Show>
            })}
            <label class="fb-label" for="review-note">"Note"</label>
            <TextField id="review-note" rows=4 value=Signal::derive(move || r.with(|r| r.note.clone()))
                       on_input=move |v: String| r.update(|r| r.note = v)/>
            <button class="fb-button" type="submit" data-testid="save-review">"Save review"</button>
        </form>
    }
    .into_any()
}

/// On a draft's check page, when its overall level is lower than the previous submitted
/// version's: why, if the young person has not been seen face to face recently
/// (`fieldbook_case::stepdown::validate_assessment`). A submitted version shows the reason
/// it was given.
#[component]
fn NotSeenReason(
    driver: Driver,
    id: DocumentId,
    case: Memo<Option<Case>>,
    version: Assessment,
    errors: RwSignal<Vec<validate::FieldError>>,
) -> impl IntoView {
    use fieldbook_case::stepdown;
    let field = stepdown::ASSESSMENT_REASON_FIELD;
    if version.submitted.is_some() {
        return (!version.not_seen_reason.is_empty())
            .then(|| {
                view! {
                    <p data-testid="not-seen-reason-shown"><strong>"Why the level was lowered without a recent face-to-face contact: "</strong>{version.not_seen_reason.clone()}</p>
                }
            })
            .into_any();
    }
    let lowered = case.with_untracked(|k| {
        k.as_ref().and_then(|k| {
            let level = version.overall.value()?;
            stepdown::lowers_level(k, &version.id, level).map(|from| {
                let seen = match stepdown::last_seen(k) {
                    Some(t) => format!(
                        "They were last seen face to face {} ago.",
                        vocab::count(stepdown::days_since(t, now()) as usize, "day", "days")
                    ),
                    None => "No face-to-face contact is recorded.".to_owned(),
                };
                (vocab::label(vocab::LEVELS, from), seen)
            })
        })
    });
    let Some((from, seen)) = lowered else {
        return ().into_any();
    };
    let limit = super::home::clock_settings(&driver).not_seen_days;
    let aid = version.id.clone();
    let value = RwSignal::new(version.not_seen_reason.clone());
    view! {
        <div class="fb-panel" data-testid="not-seen-panel">
            <p>{format!("This lowers the overall level from {from}. {seen}")}</p>
            {move || field_error(&errors.get(), field)}
            <label class="fb-label" for=field>"Why they have not been seen face to face recently"</label>
            <p class="fb-hint" id="not-seen-reason-hint">{format!(
                "Needed when the last face-to-face contact was more than {} ago.",
                vocab::count(limit.max(0) as usize, "day", "days")
            )}</p>
            <TextField id=field rows=3 describedby="not-seen-reason-hint" value=value
                       on_input=move |v: String| {
                           value.set(v.clone());
                           driver.act_on(id, ASSESSMENT_GONE, |tx| assessment::set_field(tx, &aid, AssessmentField::NotSeenReason, &v));
                       }/>
        </div>
    }
    .into_any()
}
