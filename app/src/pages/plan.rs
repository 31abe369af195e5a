//! The safety plan as an action list, grouped, each action with its owner, due date and
//! status; and the plan's review date.

use fieldbook_case::plan::{self, Action, ActionField};
use fieldbook_case::{removal, validate, vocab};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, CaseTop};
use crate::driver::Driver;
use crate::ui::{field_error, new_id, now, ErrorSummary, TextField, ACTION_GONE};

#[component]
pub fn SafetyPlan(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    let p = Memo::new(move |_| c.get().map(|k| k.plan).unwrap_or_default());
    let draft = RwSignal::new(Action {
        group: "family".into(),
        status: "not-started".into(),
        ..Default::default()
    });
    let errors = RwSignal::new(Vec::new());
    let d = driver.clone();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let mut a = draft.get_untracked();
        a.id = new_id();
        let problems = validate::action(&a);
        if !problems.is_empty() {
            errors.set(problems);
            return;
        }
        errors.set(Vec::new());
        if d.act(id, |tx| plan::add_action(tx, &a)) {
            draft.set(Action {
                group: a.group,
                status: "not-started".into(),
                ..Default::default()
            });
        }
    };
    let d = driver.clone();
    let d2 = driver.clone();
    let d3 = driver.clone();
    view! {
        <CaseTop case=c id=id/>
        <h1>"Safety plan"</h1>
        <label class="fb-label" for="plan-known">"What is known about the exploitation and who is involved"</label>
        <TextField id="plan-known" rows=4 value=Signal::derive(move || p.with(|p| p.known.clone()))
                   on_input=move |v: String| { d3.act(id, |tx| plan::set_known(tx, &v)); }/>
        <label class="fb-label" for="plan-review">"Next review"</label>
        <input id="plan-review" class="fb-input fb-input-short" type="date" prop:value=move || p.with(|p| p.review.clone())
               on:change=move |ev| { let v = event_target_value(&ev); d2.act(id, |tx| plan::set_review(tx, &v)); }/>
        {move || {
            let plan = p.get();
            vocab::ACTION_GROUPS.iter().map(|(gid, glabel)| {
                let actions: Vec<Action> = plan.actions.iter().filter(|a| a.group == *gid && removal::visible(&a.removal)).cloned().collect();
                let d = d.clone();
                view! {
                    <h2>{*glabel}</h2>
                    <ul class="fb-list" data-testid=format!("actions-{gid}")>
                        {actions.into_iter().map(|a| {
                            let (d1, d2, d3, aid, aid2, aid3) = (d.clone(), d.clone(), d.clone(), a.id.clone(), a.id.clone(), a.id.clone());
                            let sid = format!("status-{}", a.id);
                            view! {
                                <li>
                                    <strong>{a.text.clone()}</strong>
                                    <p class="fb-hint">{format!("Owner: {} · {}", a.owner, match a.due.trim() {
                                        "" => "No due date".to_owned(),
                                        due => format!("due {}", fieldbook_case::long_date(due)),
                                    })}</p>
                                    {a.removal.as_ref().map(|r| view! { <p class="fb-warning">{format!("Removed by {}, but changed since on another device. ", r.by)}
                                        <button class="fb-button fb-button-secondary" on:click=move |_| { d3.act_on(id, ACTION_GONE, |tx| plan::restore_action(tx, &aid3)); }>"Keep it"</button></p> })}
                                    <label class="fb-label" for=sid.clone()>"Status"</label>
                                    <select id=sid class="fb-input fb-input-short" on:change=move |ev| { let v = event_target_value(&ev); d1.act_on(id, ACTION_GONE, |tx| plan::set_action(tx, &aid, ActionField::Status, &v)); }>
                                        {vocab::ACTION_STATUS.iter().map(|(s, l)| view! { <option value=*s selected=a.status == *s>{*l}</option> }).collect_view()}
                                    </select>
                                    <button class="fb-button fb-button-secondary" on:click=move |_| { let by = d2.author(); d2.act_on(id, ACTION_GONE, |tx| plan::remove_action(tx, &aid2, &by, now())); }>"Remove"</button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }
            }).collect_view()
        }}
        <h2>"Add an action"</h2>
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <form on:submit=add novalidate>
            <label class="fb-label" for="action-group">"Kind of action"</label>
            <select id="action-group" class="fb-input" on:change=move |ev| { let v = event_target_value(&ev); draft.update(|a| a.group = v) }>
                {vocab::ACTION_GROUPS.iter().map(|(g, l)| view! { <option value=*g selected=move || draft.with(|a| a.group == *g)>{*l}</option> }).collect_view()}
            </select>
            {move || field_error(&errors.get(), "action-text")}
            <label class="fb-label" for="action-text">"Action"</label>
            <TextField id="action-text" value=Signal::derive(move || draft.with(|a| a.text.clone())) on_input=move |v: String| draft.update(|a| a.text = v)/>
            {move || field_error(&errors.get(), "action-owner")}
            <label class="fb-label" for="action-owner">"Owner"</label>
            <TextField id="action-owner" value=Signal::derive(move || draft.with(|a| a.owner.clone())) on_input=move |v: String| draft.update(|a| a.owner = v)/>
            {move || field_error(&errors.get(), "action-due")}
            <label class="fb-label" for="action-due">"Due date (optional)"</label>
            <p class="fb-hint" id="action-due-hint">"Leave it empty for something ongoing, like \"Appointments at 3pm\"."</p>
            <input id="action-due" class="fb-input fb-input-short" type="date" aria-describedby="action-due-hint"
                   prop:value=move || draft.with(|a| a.due.clone()) on:input=move |ev| { let v = event_target_value(&ev); draft.update(|a| a.due = v) }/>
            <button class="fb-button" type="submit">"Add action"</button>
        </form>
    }
}
