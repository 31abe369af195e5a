//! Recording a multi-agency meeting: when, what kind, who chaired and attended, the level
//! agreed and the decisions taken, whether the safety plan as it stands was agreed, and the
//! next review date. Saved with one button after validation (`docs/domain/meetings.md`).

use fieldbook_case::meetings::{self, Attendee, Meeting, MEETING_TYPES, NRM_DECISIONS};
use fieldbook_case::route::Route;
use fieldbook_case::{removal, validate, vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{
    field_error, format_time, from_local_input, go, new_id, now, to_local_input, ErrorSummary,
    Radios, TextField,
};

/// Shown when the meeting being saved is no longer on this device.
const MEETING_GONE: &str =
    "This meeting is no longer on this device (it may have been removed on another device). Your change was not saved.";

#[component]
pub fn MeetingForm(driver: Driver, id: DocumentId, meeting: Option<String>) -> impl IntoView {
    let c = case_memo(&driver, id);
    // An existing meeting is edited only once it is on this device: saving a form that was
    // never filled from it would blank its fields.
    let mid = meeting.clone();
    let found = Memo::new(move |_| match &mid {
        None => Some(None),
        Some(mid) => c.with(|k| {
            k.as_ref()
                .and_then(|k| k.meetings.iter().find(|m| &m.id == mid).cloned().map(Some))
        }),
    });
    let ready = Memo::new(move |_| found.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        {move || if ready.get() {
            let existing = found.get_untracked().flatten();
            view! { <MeetingFields driver=driver.clone() id=id existing=existing/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn MeetingFields(driver: Driver, id: DocumentId, existing: Option<Meeting>) -> impl IntoView {
    let is_new = existing.is_none();
    let before = existing.clone();
    let m = RwSignal::new(existing.unwrap_or_else(|| Meeting {
        id: new_id(),
        attendees: vec![Attendee {
            id: new_id(),
            ..Default::default()
        }],
        ..Default::default()
    }));
    let agreed = RwSignal::new(m.with_untracked(Meeting::plan_agreed));
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut meeting = m.get_untracked();
        // Rows left empty are not people.
        meeting
            .attendees
            .retain(|a| !(a.name.trim().is_empty() && a.agency.trim().is_empty()));
        if meeting.meeting_needed != "yes" {
            meeting.meeting_chair.clear();
        }
        if meeting.by.is_empty() {
            meeting.by = d.author();
        }
        let problems = validate::meeting(&meeting, now());
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        let agree = agreed.get_untracked();
        let gone: Vec<String> = before
            .as_ref()
            .map(|b| {
                b.attendees
                    .iter()
                    .filter(|a| !meeting.attendees.iter().any(|x| x.id == a.id))
                    .map(|a| a.id.clone())
                    .collect()
            })
            .unwrap_or_default();
        let (by, at) = (d.author(), now());
        let saved = d.act_on(id, MEETING_GONE, |tx| {
            // The plan as it stands: the document's heads before this change (the plan's
            // edits were committed as they were typed). Agreed once; unticking clears it.
            if !agree {
                meeting.plan_heads.clear();
            } else if meeting.plan_heads.is_empty() {
                meeting.plan_heads = meetings::heads_now(tx);
            }
            meetings::save(tx, &meeting)?;
            for a in &gone {
                meetings::remove_attendee(tx, &meeting.id, a, &by, at)?;
            }
            Ok(true)
        });
        if saved {
            go(&Route::Case(id));
        }
    };
    let attendee_rows = move || {
        let list = m.with(|m| m.attendees.clone());
        let count = list.len();
        list.into_iter()
            .enumerate()
            .map(|(i, a)| {
                let n = i + 1;
                let aid = a.id.clone();
                let (aid1, aid2, aid3, aid4) = (aid.clone(), aid.clone(), aid.clone(), aid.clone());
                let name_id = format!("attendee-name-{aid}");
                let agency_id = format!("attendee-agency-{aid}");
                view! {
                    <fieldset class="fb-fieldset fb-attendee" data-testid="attendee">
                        <legend class="fb-label">{format!("Attendee {n}")}</legend>
                        <label class="fb-label" for=name_id.clone()>"Name"</label>
                        <TextField id=name_id value=Signal::derive(move || m.with(|m| m.attendees.iter().find(|x| x.id == aid1).map(|x| x.name.clone()).unwrap_or_default()))
                                   on_input=move |v: String| m.update(|m| if let Some(x) = m.attendees.iter_mut().find(|x| x.id == aid2) { x.name = v })/>
                        <label class="fb-label" for=agency_id.clone()>"Agency"</label>
                        <TextField id=agency_id value=Signal::derive(move || m.with(|m| m.attendees.iter().find(|x| x.id == aid3).map(|x| x.agency.clone()).unwrap_or_default()))
                                   on_input=move |v: String| m.update(|m| if let Some(x) = m.attendees.iter_mut().find(|x| x.id == aid4) { x.agency = v })/>
                        {(count > 1).then(|| view! {
                            <button type="button" class="fb-button fb-button-secondary"
                                    on:click=move |_| m.update(|m| m.attendees.retain(|x| x.id != aid))>
                                "Remove" <span class="fb-visually-hidden">{format!(" attendee {n}")}</span>
                            </button>
                        })}
                    </fieldset>
                }
            })
            .collect_view()
    };
    let add_attendee = move |_| {
        let aid = new_id();
        m.update(|m| {
            m.attendees.push(Attendee {
                id: aid.clone(),
                ..Default::default()
            })
        });
        crate::ui::focus(&format!("attendee-name-{aid}"));
    };
    let initial = m.get_untracked();
    view! {
        <h1>{if is_new { "Record a meeting" } else { "Meeting" }}</h1>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        {(!is_new).then(|| view! { <PlanAsAgreed driver=driver.clone() id=id meeting=initial.clone()/> })}
        <form on:submit=save novalidate>
            {move || field_error(&errors.get(), "meeting-date")}
            <label class="fb-label" for="meeting-date">"Date and time of the meeting"</label>
            <input id="meeting-date" class="fb-input fb-input-short" type="datetime-local"
                   prop:value=move || m.with(|m| if m.at > 0 { to_local_input(m.at) } else { String::new() })
                   on:change=move |ev| { let v = from_local_input(&event_target_value(&ev)); m.update(|m| m.at = v.unwrap_or(0)) }/>
            {move || field_error(&errors.get(), "meeting-kind")}
            <Radios id="meeting-kind".into() legend="Type of meeting".into() choices=MEETING_TYPES
                    selected=Some(initial.kind.clone()) on_pick=Callback::new(move |v| m.update(|m| m.kind = v)) hint=None/>
            {move || field_error(&errors.get(), "meeting-chair")}
            <label class="fb-label" for="meeting-chair">"Who chaired it"</label>
            <TextField id="meeting-chair" value=Signal::derive(move || m.with(|m| m.chair.clone()))
                       on_input=move |v: String| m.update(|m| m.chair = v)/>
            <h2>"Who attended"</h2>
            {attendee_rows}
            <button type="button" class="fb-button fb-button-secondary" data-testid="add-attendee" on:click=add_attendee>"Add attendee"</button>
            <h2>"What was agreed"</h2>
            <Radios id="meeting-level".into() legend="Overall risk level agreed".into() choices=vocab::LEVELS
                    selected=Some(initial.level.clone()) on_pick=Callback::new(move |v| m.update(|m| m.level = v)) hint=None/>
            <Radios id="meeting-needed".into() legend="Is a CCE multi-agency meeting needed?".into() choices=&[("yes", "Yes"), ("no", "No")]
                    selected=Some(initial.meeting_needed.clone()) on_pick=Callback::new(move |v| m.update(|m| m.meeting_needed = v)) hint=None/>
            <Show when=move || m.with(|m| m.meeting_needed == "yes")>
                {move || field_error(&errors.get(), "meeting-chaired-by")}
                <Radios id="meeting-chaired-by".into() legend="Who chairs it".into() choices=vocab::REVIEWERS
                        selected=Some(m.with_untracked(|m| m.meeting_chair.clone())) on_pick=Callback::new(move |v| m.update(|m| m.meeting_chair = v))
                        hint=Some("A team manager for Moderate, a child protection chair for High.".into())/>
            </Show>
            <Radios id="meeting-nrm".into() legend="National Referral Mechanism (NRM) referral".into() choices=NRM_DECISIONS
                    selected=Some(initial.nrm.clone()) on_pick=Callback::new(move |v| m.update(|m| m.nrm = v)) hint=None/>
            <div class="fb-checkbox">
                <input type="checkbox" id="meeting-icpc" prop:checked=move || m.with(|m| m.icpc_considered)
                       on:change=move |ev| { let on = event_target_checked(&ev); m.update(|m| m.icpc_considered = on) }/>
                <label for="meeting-icpc">"An initial child protection conference (ICPC) was considered"</label>
            </div>
            <div class="fb-checkbox">
                <input type="checkbox" id="meeting-plan-agreed" prop:checked=move || agreed.get()
                       on:change=move |ev| agreed.set(event_target_checked(&ev))/>
                <label for="meeting-plan-agreed">"The safety plan as it stands was agreed at this meeting"</label>
            </div>
            {move || field_error(&errors.get(), "meeting-next-review")}
            <label class="fb-label" for="meeting-next-review">"Next review date"</label>
            <input id="meeting-next-review" class="fb-input fb-input-short" type="date"
                   prop:value=move || m.with(|m| m.next_review.clone())
                   on:change=move |ev| { let v = event_target_value(&ev); m.update(|m| m.next_review = v) }/>
            <label class="fb-label" for="meeting-decisions">"Decisions and actions"</label>
            <TextField id="meeting-decisions" rows=5 value=Signal::derive(move || m.with(|m| m.decisions.clone()))
                       on_input=move |v: String| m.update(|m| m.decisions = v)/>
            <button class="fb-button" type="submit" data-testid="save-meeting">"Save meeting"</button>
        </form>
    }
}

/// "See the plan as agreed": the safety plan read at the point this meeting agreed it.
#[component]
fn PlanAsAgreed(driver: Driver, id: DocumentId, meeting: Meeting) -> impl IntoView {
    meeting.plan_agreed().then(|| {
        let plan = driver
            .with_doc(&id, |doc| meetings::plan_as_agreed(doc, &meeting))
            .flatten();
        view! {
            <details class="fb-details" data-testid="plan-as-agreed">
                <summary>"See the plan as agreed"</summary>
                {match plan {
                    None => view! { <p>"The plan as agreed is not on this device yet."</p> }.into_any(),
                    Some(p) => view! {
                        <h2>"What we know"</h2>
                        <p class="fb-note-text">{p.known.clone()}</p>
                        <h2>"Actions"</h2>
                        <ul class="fb-list">
                            {p.actions.into_iter().filter(|a| removal::visible(&a.removal)).map(|a| view! {
                                <li>{format!("{} — {} ({})", a.text, a.owner, vocab::label(vocab::ACTION_STATUS, &a.status))}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                }}
            </details>
        }
    })
}

/// The case page's "Meetings" section: each meeting (newest first) and "Record a meeting".
#[component]
pub fn MeetingList(case: Memo<Option<Case>>, id: DocumentId) -> impl IntoView {
    let list = Memo::new(move |_| {
        case.with(|c| {
            c.as_ref()
                .map(|c| {
                    c.meetings
                        .iter()
                        .filter(|m| removal::visible(&m.removal))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    view! {
        <h2>"Meetings"</h2>
        {move || {
            let all = list.get();
            (!all.is_empty()).then(|| view! {
                <ul class="fb-list" data-testid="meetings">
                    {all.into_iter().map(|m| {
                        let mut facts = Vec::new();
                        if !m.level.is_empty() {
                            facts.push(format!("level agreed: {}", vocab::label(vocab::LEVELS, &m.level)));
                        }
                        if m.plan_agreed() {
                            facts.push("safety plan agreed".to_owned());
                        }
                        facts.push(vocab::count(m.attendees.len(), "attendee", "attendees"));
                        view! {
                            <li>
                                <a href=Route::meeting(id, &m.id).href()>{format!("{} — {}", format_time(m.at), vocab::label(MEETING_TYPES, &m.kind))}</a>
                                <p class="fb-hint">{facts.join(" · ")}</p>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })
        }}
        <p><a class="fb-button fb-button-secondary" data-testid="record-meeting" href=Route::Meeting(id, None).href()>"Record a meeting"</a></p>
    }
}
