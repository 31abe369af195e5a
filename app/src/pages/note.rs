//! The contact note form. Every keystroke is a small change written to IndexedDB at once:
//! a killed tab loses nothing, and there is no "Save" to forget.

use fieldbook_case::notes::{self, NoteField};
use fieldbook_case::route::Route;
use fieldbook_case::{validate, vocab, CONTACT_TYPES};
use fieldbook_sync::automerge::transaction::Transaction;
use fieldbook_sync::automerge::{AutomergeError, ObjId};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;
use crate::ui::{from_local_input, go, now, to_local_input, TextField, NOTE_GONE};

/// One edit of this note (a `fieldbook_case::notes` writer with the note id still to fill in).
type NoteEdit = Box<dyn FnOnce(&mut Transaction<'_>, &str) -> Result<bool, AutomergeError>>;

#[component]
pub fn NoteForm(driver: Driver, id: DocumentId, note: String) -> impl IntoView {
    let c = case_memo(&driver, id);
    let nid = note.clone();
    let current = Memo::new(move |_| {
        c.with(|k| {
            k.as_ref()
                .and_then(|k| k.notes.iter().find(|n| n.id == nid).cloned())
        })
    });
    let exists = Memo::new(move |_| current.with(Option::is_some));
    let field = move |f: fn(&fieldbook_case::Note) -> String| {
        Signal::derive(move || current.with(|n| n.as_ref().map(f).unwrap_or_default()))
    };
    // A contact time the worker typed that cannot be saved (later than now): kept in the
    // field, with the error, until they correct it.
    let at_refused = RwSignal::new(None::<(String, String)>);

    let d = driver.clone();
    let nid = note.clone();
    // Where the note was found last keystroke, so the next one does not search every note.
    let found = StoredValue::new(None::<ObjId>);
    let edit = move |f: NoteField, v: String| {
        d.act_on(id, NOTE_GONE, |tx| {
            let mut hint = found.get_value();
            let done = notes::set_field_near(tx, &nid, &mut hint, f, &v);
            found.set_value(hint);
            done
        });
    };
    let d = driver.clone();
    let nid = note.clone();
    let change = move |f: NoteEdit| d.act_on(id, NOTE_GONE, |tx| f(tx, &nid));
    let (e1, e2, e3, e4, e5) = (edit.clone(), edit.clone(), edit.clone(), edit.clone(), edit);
    let (c1, c2, c3, c4, c5, c6, c7) = (
        change.clone(),
        change.clone(),
        change.clone(),
        change.clone(),
        change.clone(),
        change.clone(),
        change.clone(),
    );
    // One indicator's checkbox, bound to this note.
    let indicator = move |iid: &str, label: &str| {
        let c4 = c4.clone();
        let cid = format!("ind-{iid}");
        let (key, iid) = (iid.to_owned(), iid.to_owned());
        view! {
            <div class="fb-checkbox">
                <input type="checkbox" id=cid.clone() prop:checked=move || current.with(|n| n.as_ref().is_some_and(|n| n.indicators.contains(&key)))
                       on:change=move |ev| { let on = event_target_checked(&ev); let iid = iid.clone(); c4(Box::new(move |tx, n| notes::set_indicator(tx, n, &iid, on))); }/>
                <label for=cid>{label.to_owned()}</label>
            </div>
        }
    };
    // Indicators ticked on this note that today's checklist no longer offers.
    let retired = Memo::new(move |_| {
        current.with(|n| {
            n.as_ref()
                .map(|n| {
                    n.indicators
                        .iter()
                        .filter(|i| !vocab::INDICATORS.iter().any(|(x, _)| x == i))
                        .cloned()
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    });
    // "Does this contact follow up a reachable moment?": the case's open and recent moments,
    // and the one this note already names.
    let settings = super::home::clock_settings(&driver);
    let follow_up_choices = Memo::new(move |_| {
        let chosen = current.with(|n| {
            n.as_ref()
                .map(|n| n.follow_up_of.clone())
                .unwrap_or_default()
        });
        c.with(|k| {
            k.as_ref()
                .map(|k| fieldbook_case::reach::follow_up_choices(k, now(), &settings, &chosen))
                .unwrap_or_default()
        })
    });
    let c8 = change.clone();
    let (d_intel, nid_intel) = (driver.clone(), note.clone());
    let d = driver.clone();
    let nid = note.clone();
    view! {
        <CaseTop case=c id=id/>
        <super::moment::NeedsCallout case=c/>
        {move || (!exists.get()).then(looking)}
        // Built once and bound to the note, so typing never re-creates the field under the cursor.
        <div style:display=move || if exists.get() { "block" } else { "none" }>
            <h1>"Contact note"</h1>
            {move || current.get().and_then(|n| n.removal).map(|r| {
                let (d, d2, nid, c6) = (d.clone(), d.clone(), nid.clone(), c6.clone());
                view! {
                    <div class="fb-warning" role="status">
                        {format!("{} removed this note, but it was changed on another device at the same time.", r.by)}
                        <button class="fb-button fb-button-secondary" on:click=move |_| { let by = d.author(); if c6(Box::new(move |tx, n| notes::remove(tx, n, &by, now()))) { go(&Route::Case(id)) } }>"Remove it"</button>
                        <button class="fb-button fb-button-secondary" on:click=move |_| { d2.act_on(id, NOTE_GONE, |tx| notes::restore(tx, &nid)); }>"Keep it"</button>
                    </div>
                }
            })}
            <div class=move || if at_refused.with(Option::is_some) { "fb-form-group fb-form-group-error" } else { "fb-form-group" }>
                <label class="fb-label" for="note-at">"Date and time"</label>
                <p class="fb-hint" id="note-at-hint">"When the contact happened. It cannot be later than now."</p>
                {move || at_refused.get().map(|(_, message)| view! {
                    <p class="fb-error-message" id="note-at-error" role="alert" data-testid="note-at-error">
                        <span class="fb-visually-hidden">"Error: "</span>{message}
                    </p>
                })}
                <input id="note-at" class="fb-input fb-input-short" type="datetime-local"
                       aria-describedby="note-at-hint note-at-error" aria-invalid=move || at_refused.with(Option::is_some).to_string()
                       prop:value=move || at_refused.get().map(|(typed, _)| typed).unwrap_or_else(|| current.with(|n| n.as_ref().map(|n| to_local_input(n.at)).unwrap_or_default()))
                       on:change={let c1 = c1.clone(); move |ev| {
                           let typed = event_target_value(&ev);
                           let Some(t) = from_local_input(&typed) else { return };
                           match validate::contact_time(t, now()).into_iter().next() {
                               Some(e) => at_refused.set(Some((typed, e.message))),
                               None => {
                                   at_refused.set(None);
                                   c1(Box::new(move |tx, n| notes::set_meta(tx, n, None, Some(t))));
                               }
                           }
                       }}/>
            </div>
            <label class="fb-label" for="note-kind">"Type of contact"</label>
            <select id="note-kind" class="fb-input" on:change={let c2 = c2.clone(); move |ev| { let k = event_target_value(&ev); c2(Box::new(move |tx, n| notes::set_meta(tx, n, Some(&k), None))); }}>
                {CONTACT_TYPES.iter().map(|t| view! { <option value=*t selected=move || current.with(|n| n.as_ref().is_some_and(|n| n.kind == *t))>{*t}</option> }).collect_view()}
            </select>
            <label class="fb-label" for="note-duration">"How long (minutes)"</label>
            <input id="note-duration" class="fb-input fb-input-short" type="number" inputmode="numeric" min="0"
                   prop:value=move || current.with(|n| n.as_ref().filter(|n| n.duration > 0).map(|n| n.duration.to_string()).unwrap_or_default())
                   on:change={let c3 = c3.clone(); move |ev| { let m = event_target_value(&ev).parse().unwrap_or(0); c3(Box::new(move |tx, n| notes::set_duration(tx, n, m))); }}/>
            <label class="fb-label" for="note-place">"Where"</label>
            <TextField id="note-place" value=field(|n| n.place.clone()) on_input=move |v: String| e1(NoteField::Place, v)/>
            <label class="fb-label" for="note-present">"Who was present"</label>
            <TextField id="note-present" value=field(|n| n.present.clone()) on_input=move |v: String| e2(NoteField::Present, v)/>
            <label class="fb-label" for="note-text">"What happened"</label>
            <TextField id="note-text" rows=8 value=field(|n| n.text.clone()) on_input=move |v: String| e3(NoteField::Text, v)/>
            <label class="fb-label" for="note-words">"In their own words"</label>
            <p class="fb-hint" id="note-words-hint">"What the young person said, as they said it."</p>
            <TextField id="note-words" rows=3 describedby="note-words-hint" value=field(|n| n.own_words.clone())
                       on_input=move |v: String| e4(NoteField::OwnWords, v)/>
            <fieldset class="fb-fieldset">
                <legend class="fb-label">"Indicators observed"</legend>
                {vocab::INDICATORS.iter().map(|(iid, label)| indicator(iid, label)).collect_view()}
                // Ticked on this note from an older checklist: still shown, with the old words.
                {move || retired.get().into_iter().map(|iid| {
                    let label = vocab::indicator_label(&iid);
                    indicator(&iid, &label)
                }).collect_view()}
            </fieldset>
            <div class="fb-checkbox">
                <input type="checkbox" id="note-reachable" prop:checked=move || current.with(|n| n.as_ref().is_some_and(|n| n.reachable))
                       on:change=move |ev| { let on = event_target_checked(&ev); c5(Box::new(move |tx, n| {
                           // Not a reachable moment after all: its kind goes with it.
                           if !on && !notes::set_reachable_kind(tx, n, "")? {
                               return Ok(false);
                           }
                           notes::set_reachable(tx, n, on)
                       })); }/>
                <label for="note-reachable">"This was a reachable moment"</label>
            </div>
            <Show when=move || current.with(|n| n.as_ref().is_some_and(|n| n.reachable))>
                <fieldset class="fb-fieldset fb-conditional">
                    <legend class="fb-label">"What kind of reachable moment?"</legend>
                    {vocab::REACHABLE_MOMENTS.iter().enumerate().map(|(i, (kid, label))| {
                        let rid = if i == 0 { "note-reachable-kind".to_owned() } else { format!("note-reachable-kind-{kid}") };
                        let c7 = c7.clone();
                        view! {
                            <div class="fb-radio">
                                <input type="radio" id=rid.clone() name="note-reachable-kind" value=*kid
                                       prop:checked=move || current.with(|n| n.as_ref().is_some_and(|n| n.reachable_kind == *kid))
                                       on:change=move |_| { c7(Box::new(move |tx, n| notes::set_reachable_kind(tx, n, kid))); }/>
                                <label for=rid>{*label}</label>
                            </div>
                        }
                    }).collect_view()}
                </fieldset>
            </Show>
            {move || {
                let choices = follow_up_choices.get();
                let c8 = c8.clone();
                (!choices.is_empty()).then(move || {
                    let chosen = move |mid: &str| current.with(|n| n.as_ref().is_some_and(|n| n.follow_up_of == mid));
                    let pick = move |mid: String| {
                        let c8 = c8.clone();
                        move |_| { let mid = mid.clone(); c8(Box::new(move |tx, n| notes::set_follow_up_of(tx, n, &mid))); }
                    };
                    view! {
                        <fieldset class="fb-fieldset" data-testid="note-follow-up-of">
                            <legend class="fb-label">"Does this contact follow up a reachable moment?"</legend>
                            <p class="fb-hint">"Choosing one marks its follow-up as done."</p>
                            <div class="fb-radio">
                                <input type="radio" id="note-follow-up-of" name="note-follow-up-of" value=""
                                       prop:checked=move || chosen("") on:change=pick(String::new())/>
                                <label for="note-follow-up-of">"No"</label>
                            </div>
                            {choices.into_iter().map(|ch| {
                                let rid = format!("note-follow-up-of-{}", ch.id);
                                let mid = ch.id.clone();
                                let state = if ch.open { "follow-up due" } else { "already followed up" };
                                view! {
                                    <div class="fb-radio">
                                        <input type="radio" id=rid.clone() name="note-follow-up-of" value=ch.id.clone()
                                               prop:checked=move || chosen(&mid) on:change=pick(ch.id.clone())/>
                                        <label for=rid>{format!("Yes: {} ({state})", ch.label)}</label>
                                    </div>
                                }
                            }).collect_view()}
                        </fieldset>
                    }
                })
            }}
            <label class="fb-label" for="note-follow-ups">"Follow-up actions"</label>
            <TextField id="note-follow-ups" rows=3 value=field(|n| n.follow_ups.clone())
                       on_input=move |v: String| e5(NoteField::FollowUps, v)/>
            <div class="fb-checkbox">
                <input type="checkbox" id="note-intelligence" prop:checked=move || current.with(|n| n.as_ref().is_some_and(|n| n.intelligence))
                       on:change=move |ev| { let on = event_target_checked(&ev); d_intel.act_on(id, NOTE_GONE, |tx| notes::set_intelligence(tx, &nid_intel, on)); }/>
                <label for="note-intelligence">"Intelligence form submitted to police"</label>
            </div>
            <a class="fb-button" data-testid="note-done" href=Route::Case(id).href()>"Done"</a>
        </div>
    }
}
