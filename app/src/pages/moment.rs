//! Reachable moments (`fieldbook_case::moments`): logging one — an arrest or time in
//! custody, a hospital or A&E attendance, a return from missing, an exclusion, a disclosure,
//! a new court order — from any device with edit rights on the case; the case page's list
//! of them with their follow-up; the pattern flags (`fieldbook_case::reach`) at the top of
//! the case page; and the young person's additional needs shown where they matter (this
//! screen, the contact note and the missing episode), not only in the profile.

use fieldbook_case::clocks::{self, words, Kind};
use fieldbook_case::moments::{self, Moment};
use fieldbook_case::route::Route;
use fieldbook_case::{reach, removal, vocab, Case};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::home::clock_settings;
use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{
    field_error, format_time, from_local_input, go, new_id, now, to_local_input, ErrorSummary,
    Radios, TextField,
};

/// Shown when the moment being changed is no longer on this device.
const MOMENT_GONE: &str =
    "This reachable moment is no longer on this device (it may have been removed on another device). Your change was not saved.";

#[component]
pub fn MomentForm(driver: Driver, id: DocumentId, moment: Option<String>) -> impl IntoView {
    let c = case_memo(&driver, id);
    // An existing moment is edited only once it is on this device.
    let mid = moment.clone();
    let found = Memo::new(move |_| match &mid {
        None => Some(None),
        Some(mid) => c.with(|k| {
            k.as_ref()
                .and_then(|k| k.moments.iter().find(|m| &m.id == mid).cloned().map(Some))
        }),
    });
    let ready = Memo::new(move |_| found.with(Option::is_some));
    view! {
        <CaseTop case=c id=id/>
        <NeedsCallout case=c/>
        {move || if ready.get() {
            let existing = found.get_untracked().flatten();
            view! { <MomentFields driver=driver.clone() id=id case=c existing=existing/> }.into_any()
        } else {
            looking()
        }}
    }
}

#[component]
fn MomentFields(
    driver: Driver,
    id: DocumentId,
    case: Memo<Option<Case>>,
    existing: Option<Moment>,
) -> impl IntoView {
    let is_new = existing.is_none();
    let m = RwSignal::new(existing.unwrap_or_else(|| Moment {
        id: new_id(),
        ..Default::default()
    }));
    let mid = m.with_untracked(|m| m.id.clone());
    let errors = RwSignal::new(Vec::new());
    let settings = clock_settings(&driver);
    let hours = settings.follow_up_hours;
    let d = driver.clone();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut moment = m.get_untracked();
        if is_new {
            moment.by = d.author();
        } else {
            // What happened is saved as it is typed (below): check what the case holds.
            moment.what = case.with_untracked(|c| {
                c.as_ref()
                    .and_then(|c| c.moments.iter().find(|x| x.id == moment.id))
                    .map(|x| x.what.clone())
                    .unwrap_or_default()
            });
        }
        let problems = moments::check(&moment, now());
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        let saved = if is_new {
            d.act(id, |tx| moments::add(tx, &moment))
        } else {
            d.act_on(id, MOMENT_GONE, |tx| {
                moments::set_meta(tx, &moment.id, Some(&moment.kind), Some(moment.at))
            })
        };
        if saved {
            go(&Route::Case(id));
        }
    };
    // A new moment's words are kept in the form until it is saved; an existing one's are
    // written as they are typed, so a colleague's edit to the same words merges by character.
    let d = driver.clone();
    let what_value = Signal::derive(move || {
        if is_new {
            m.with(|m| m.what.clone())
        } else {
            case.with(|c| {
                c.as_ref()
                    .and_then(|c| c.moments.iter().find(|x| x.id == mid))
                    .map(|x| x.what.clone())
                    .unwrap_or_default()
            })
        }
    });
    let mid = m.with_untracked(|m| m.id.clone());
    let on_what = move |v: String| {
        if is_new {
            m.update(|m| m.what = v);
        } else {
            d.act_on(id, MOMENT_GONE, |tx| moments::set_what(tx, &mid, &v));
        }
    };
    let mid = m.with_untracked(|m| m.id.clone());
    let follow_up = Memo::new(move |_| {
        let now = crate::now::read();
        case.with(|c| {
            let c = c.as_ref()?;
            clocks::clocks(c, now, &settings)
                .into_iter()
                .find(|k| k.kind == Kind::FollowUp && k.source.id == mid)
                .map(|k| words::when(&k, now))
        })
    });
    let initial = m.get_untracked();
    let logged_by = initial.by.clone();
    view! {
        <h1>{if is_new { "Log a reachable moment" } else { "Reachable moment" }}</h1>
        <p class="fb-hint">{format!(
            "A time when the young person may accept help. The allocated worker is asked to follow it up within {}.",
            vocab::count(hours.max(0) as usize, "hour", "hours")
        )}</p>
        {(!is_new).then(|| view! {
            <p data-testid="moment-follow-up">
                {move || follow_up.get().map(|w| format!("Follow-up: {w}")).unwrap_or_default()}
                {(!logged_by.is_empty()).then(|| format!(" · Logged by {logged_by}"))}
            </p>
        })}
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=save novalidate>
            {move || field_error(&errors.get(), "moment-kind")}
            <Radios id="moment-kind".into() legend="What kind of moment was it?".into() choices=vocab::REACHABLE_MOMENTS
                    selected=Some(initial.kind.clone()) on_pick=Callback::new(move |v| m.update(|m| m.kind = v)) hint=None/>
            {move || field_error(&errors.get(), "moment-at")}
            <label class="fb-label" for="moment-at">"When it happened"</label>
            <p class="fb-hint" id="moment-at-hint">"London time. It cannot be later than now."</p>
            <input id="moment-at" class="fb-input fb-input-short" type="datetime-local" aria-describedby="moment-at-hint"
                   prop:value=move || m.with(|m| if m.at > 0 { to_local_input(m.at) } else { String::new() })
                   on:change=move |ev| { let v = from_local_input(&event_target_value(&ev)); m.update(|m| m.at = v.unwrap_or(0)) }/>
            {move || field_error(&errors.get(), "moment-what")}
            <label class="fb-label" for="moment-what">"What happened"</label>
            <p class="fb-hint" id="moment-what-hint">"Say where you heard about it and from whom, for example the custody sergeant or the hospital's safeguarding nurse."</p>
            <TextField id="moment-what" rows=5 describedby="moment-what-hint" value=what_value on_input=on_what/>
            <button class="fb-button" type="submit" data-testid="save-moment">
                {if is_new { "Save moment" } else { "Save changes" }}
            </button>
        </form>
    }
}

/// The case page's "Reachable moments": each one shown (newest first) with its follow-up in
/// words, and "Log a reachable moment".
#[component]
pub fn MomentList(driver: Driver, case: Memo<Option<Case>>, id: DocumentId) -> impl IntoView {
    let now = crate::now::ticking();
    let settings = clock_settings(&driver);
    let list = Memo::new(move |_| {
        let now = now.get();
        case.with(|c| {
            let Some(c) = c.as_ref() else {
                return Vec::new();
            };
            let all = clocks::clocks(c, now, &settings);
            c.moments
                .iter()
                .filter(|m| removal::visible(&m.removal))
                .map(|m| {
                    let follow_up = all
                        .iter()
                        .find(|k| k.kind == Kind::FollowUp && k.source.id == m.id)
                        .map(|k| words::when(k, now))
                        .unwrap_or_default();
                    (m.clone(), follow_up)
                })
                .collect::<Vec<_>>()
        })
    });
    view! {
        <h2>"Reachable moments"</h2>
        {move || {
            let all = list.get();
            (!all.is_empty()).then(|| view! {
                <ul class="fb-list" data-testid="moments">
                    {all.into_iter().map(|(m, follow_up)| view! {
                        <li data-testid="moment">
                            <a href=Route::moment(id, &m.id).href()>{format!("{} — {}", format_time(m.at), vocab::label(vocab::REACHABLE_MOMENTS, &m.kind))}</a>
                            <p class="fb-hint">{format!("Follow-up: {follow_up}")}</p>
                            <p class="fb-note-text">{m.what.clone()}</p>
                        </li>
                    }).collect_view()}
                </ul>
            })
        }}
        <p><a class="fb-button fb-button-secondary" data-testid="log-moment" href=Route::Moment(id, None).href()>"Log a reachable moment"</a></p>
    }
}

/// Current pattern flags ("3 hospital attendances in 90 days"), in words, at the top of the
/// case page. Nothing when there are none.
#[component]
pub fn PatternFlags(driver: Driver, case: Memo<Option<Case>>) -> impl IntoView {
    let now = crate::now::ticking();
    let settings = clock_settings(&driver);
    let flags = Memo::new(move |_| {
        let now = now.get();
        case.with(|c| {
            c.as_ref()
                .map(|c| {
                    reach::current(c, now, &settings)
                        .into_iter()
                        .map(|f| f.words)
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    move || {
        let all = flags.get();
        (!all.is_empty()).then(|| {
            view! {
                <div class="fb-flags" role="region" aria-label="Patterns" data-testid="pattern-flags">
                    <ul>
                        {all.into_iter().map(|w| view! {
                            <li data-testid="pattern-flag"><strong>"Pattern: "</strong>{w}</li>
                        }).collect_view()}
                    </ul>
                </div>
            }
        })
    }
}

/// The young person's communication and learning needs (`Profile.needs`), as a labelled
/// callout at the top of a screen where someone works with them. Nothing when empty.
#[component]
pub fn NeedsCallout(case: Memo<Option<Case>>) -> impl IntoView {
    let needs = Memo::new(move |_| {
        case.with(|c| {
            c.as_ref()
                .map(|c| c.profile.needs.trim().to_owned())
                .filter(|n| !n.is_empty())
        })
    });
    move || {
        needs.get().map(|n| {
            view! {
                <aside class="fb-needs" aria-labelledby="needs-heading" data-testid="needs-callout">
                    <h2 id="needs-heading" class="fb-needs-heading">"Communication and learning needs"</h2>
                    <p class="fb-note-text">{n}</p>
                </aside>
            }
        })
    }
}
