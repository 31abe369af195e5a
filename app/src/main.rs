//! Fieldbook PWA: case list, case page with contact notes, and the note form. All state
//! lives in Automerge documents held by the [`driver::Driver`]; the UI only renders them.

mod driver;

use driver::Driver;
use fieldbook_case::{self as case, NoteField, CONTACT_TYPES};
use fieldbook_sync::DocumentId;
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn main() {
    console_error_panic_hook::set_once();
    register_service_worker();
    leptos::mount::mount_to_body(Root);
}

/// The app's pages, from the URL fragment (so a reload lands on the same page offline).
#[derive(Debug, Clone, PartialEq)]
enum Page {
    Cases,
    Case(DocumentId),
    Note(DocumentId, String),
}

fn parse_hash(hash: &str) -> Page {
    let parts: Vec<&str> = hash
        .trim_start_matches('#')
        .trim_start_matches('/')
        .split('/')
        .collect();
    match parts.as_slice() {
        ["case", id] => id.parse().map(Page::Case).unwrap_or(Page::Cases),
        ["case", id, "note", note] => id
            .parse()
            .map(|d| Page::Note(d, (*note).to_owned()))
            .unwrap_or(Page::Cases),
        _ => Page::Cases,
    }
}

fn go(hash: &str) {
    let _ = web_sys::window().expect("window").location().set_hash(hash);
}

fn current_hash() -> String {
    web_sys::window()
        .expect("window")
        .location()
        .hash()
        .unwrap_or_default()
}

fn sync_url() -> String {
    let loc = web_sys::window().expect("window").location();
    let proto = if loc.protocol().unwrap_or_default() == "https:" {
        "wss"
    } else {
        "ws"
    };
    format!("{proto}://{}/sync", loc.host().unwrap_or_default())
}

#[component]
fn Root() -> impl IntoView {
    let driver: RwSignal<Option<Driver>, LocalStorage> = RwSignal::new_local(None);
    let failed = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match Driver::start(sync_url()).await {
            Ok(d) => driver.set(Some(d)),
            Err(e) => failed.set(Some(e)),
        }
    });
    view! {
        {move || match (driver.get(), failed.get()) {
            (Some(d), _) => view! { <App driver=d/> }.into_any(),
            (None, Some(e)) => view! {
                <main class="fb-main"><div class="fb-error" role="alert">
                    <h2>"Fieldbook cannot store cases on this device"</h2><p>{e}</p>
                </div></main>
            }.into_any(),
            _ => view! { <main class="fb-main"><p>"Opening your cases…"</p></main> }.into_any(),
        }}
    }
}

#[component]
fn App(driver: Driver) -> impl IntoView {
    let page = RwSignal::new(parse_hash(&current_hash()));
    let on_hash = Closure::<dyn FnMut()>::new(move || page.set(parse_hash(&current_hash())));
    let _ = web_sys::window()
        .expect("window")
        .add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    on_hash.forget();
    let persisted = RwSignal::new(None::<bool>);
    request_persistence(persisted);
    let update_ready = RwSignal::new(false);
    watch_for_update(update_ready);

    let s = driver.signals;
    let d2 = driver.clone();
    view! {
        <header class="fb-header">
            <a class="fb-logo" href="#/">"Fieldbook"</a>
            <span class=move || format!("fb-status fb-status-{:?}", s.status.get()).to_lowercase()
                  data-testid="sync-status">{move || s.status.get().label()}</span>
        </header>
        <div class="fb-banner" data-testid="unsent">
            {move || match s.unsent.get() {
                0 => "Everything is on the server".to_owned(),
                1 => "1 change not yet on the server".to_owned(),
                n => format!("{n} changes not yet on the server"),
            }}
            " · "
            <span data-testid="saved">{move || if s.unsaved.get() == 0 { "Saved on this device" } else { "Saving…" }}</span>
            " · "
            <span data-testid="persistence">{move || match persisted.get() {
                Some(true) => "Storage: persistent",
                Some(false) => "Storage: may be cleared by the browser",
                None => "Storage: checking",
            }}</span>
        </div>
        <Show when=move || update_ready.get()>
            <div class="fb-update" role="status">
                "An update is available. "
                <button class="fb-button fb-button-secondary" on:click=move |_| apply_update()>"Reload"</button>
            </div>
        </Show>
        <Show when=move || s.error.get().is_some()>
            <div class="fb-error" role="alert">{move || s.error.get().unwrap_or_default()}</div>
        </Show>
        <main class="fb-main">
            {move || {
                let d = d2.clone();
                match page.get() {
                    Page::Cases => view! { <CaseList driver=d/> }.into_any(),
                    Page::Case(id) => view! { <CasePage driver=d id=id/> }.into_any(),
                    Page::Note(id, note) => view! { <NoteForm driver=d id=id note=note/> }.into_any(),
                }
            }}
        </main>
    }
}

#[component]
fn CaseList(driver: Driver) -> impl IntoView {
    let s = driver.signals;
    let name = RwSignal::new(String::new());
    let known_as = RwSignal::new(String::new());
    let dob = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let d = driver.clone();
    let create = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let profile = case::Profile {
            name: name.get_untracked().trim().to_owned(),
            known_as: known_as.get_untracked().trim().to_owned(),
            dob: dob.get_untracked(),
            ..Default::default()
        };
        if let Some(e) = case::validate::profile(&profile).into_iter().next() {
            error.set(Some(e.message));
            return;
        }
        error.set(None);
        match d.create(|tx| case::create(tx, &profile)) {
            Ok(id) => go(&format!("#/case/{id}")),
            Err(e) => error.set(Some(e)),
        }
    };
    let d = driver.clone();
    let rows = move || {
        s.revision.get();
        let mut rows: Vec<(DocumentId, case::Case)> = s
            .cases
            .get()
            .into_iter()
            .filter_map(|id| {
                d.with_doc(&id, |doc| case::is_case(doc).then(|| (id, case::read(doc))))
                    .flatten()
            })
            .collect();
        rows.sort_by(|a, b| a.1.profile.name.cmp(&b.1.profile.name));
        rows
    };
    let progress = move || {
        let (have, total) = s.fetched.get();
        (total > 0).then(|| {
            let text = if have < total {
                format!("Fetching cases from the server: {have} of {total}")
            } else if total == 1 {
                "The 1 case in your caseload is on this device".to_owned()
            } else {
                format!("All {total} cases in your caseload are on this device")
            };
            view! {
                <div class="fb-progress" role="status" data-testid="caseload-progress">
                    <p>{text}</p>
                    <Show when=move || { let (h, t) = s.fetched.get(); h < t }>
                        <progress max=move || s.fetched.get().1 value=move || s.fetched.get().0></progress>
                    </Show>
                </div>
            }
        })
    };
    view! {
        <h1>"Cases"</h1>
        {progress}
        <ul class="fb-list" data-testid="case-list">
            <For each=rows key=|(id, c)| (*id, c.profile.name.clone(), c.notes.len()) let:row>
                <li><a href=format!("#/case/{}", row.0)>{row.1.profile.name.clone()}</a>
                    <span class="fb-hint">{format!(" · {} notes", row.1.notes.len())}</span></li>
            </For>
        </ul>
        <h2>"Add a case"</h2>
        <form on:submit=create novalidate>
            <Show when=move || error.get().is_some()>
                <p class="fb-error-message" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <label class="fb-label" for="case-name">"Name"</label>
            <input id="case-name" class="fb-input" autocomplete="off" prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
            <label class="fb-label" for="case-known-as">"Known as"</label>
            <input id="case-known-as" class="fb-input" autocomplete="off" prop:value=move || known_as.get() on:input=move |ev| known_as.set(event_target_value(&ev))/>
            <label class="fb-label" for="case-dob">"Date of birth"</label>
            <input id="case-dob" class="fb-input fb-input-short" type="date" prop:value=move || dob.get() on:input=move |ev| dob.set(event_target_value(&ev))/>
            <button class="fb-button" type="submit">"Create case"</button>
        </form>
    }
}

fn new_note_id() -> String {
    format!("{:016x}", (js_sys::Math::random() * 2f64.powi(53)) as u64)
}

#[component]
fn CasePage(driver: Driver, id: DocumentId) -> impl IntoView {
    let s = driver.signals;
    if driver.with_doc(&id, |_| ()).is_none() {
        driver.find(id);
    }
    let d = driver.clone();
    let data = move || {
        s.revision.get();
        d.with_doc(&id, case::read)
    };
    let d = driver.clone();
    let add = move |_| {
        let note = case::Note {
            id: new_note_id(),
            at: js_sys::Date::now() as i64,
            kind: CONTACT_TYPES[0].into(),
            ..Default::default()
        };
        if d.change(id, |tx| case::add_note(tx, &note)).is_ok() {
            go(&format!("#/case/{id}/note/{}", note.id));
        }
    };
    view! {
        {move || match data() {
            None => view! { <p data-testid="case-loading">"Looking for this case…"</p> }.into_any(),
            Some(c) => view! {
                <h1 data-testid="case-name">{c.profile.name.clone()}</h1>
                <p class="fb-hint">{case::profile_summary(&c.profile)}</p>
                <button class="fb-button" data-testid="add-note" on:click=add.clone()>"Add contact note"</button>
                <h2>"Contact notes"</h2>
                <ol class="fb-notes" data-testid="notes">
                    {c.notes.into_iter().map(|n| view! {
                        <li class="fb-note">
                            <a href=format!("#/case/{id}/note/{}", n.id)>{format_time(n.at)} " · " {n.kind.clone()}</a>
                            <p class="fb-hint">{n.place.clone()}</p>
                            <p class="fb-note-text" data-testid="note-text">{n.text.clone()}</p>
                        </li>
                    }).collect_view()}
                </ol>
            }.into_any(),
        }}
    }
}

fn format_time(ms: i64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        d.get_date(),
        d.get_month() + 1,
        d.get_full_year(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// `datetime-local` value (local time) for a timestamp, and back.
fn to_local_input(ms: i64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

fn from_local_input(v: &str) -> Option<i64> {
    let ms = js_sys::Date::new(&JsValue::from_str(v)).get_time();
    (!ms.is_nan()).then_some(ms as i64)
}

#[component]
fn NoteForm(driver: Driver, id: DocumentId, note: String) -> impl IntoView {
    let s = driver.signals;
    if driver.with_doc(&id, |_| ()).is_none() {
        driver.find(id);
    }
    let d = driver.clone();
    let nid = note.clone();
    let current = move || {
        s.revision.get();
        d.with_doc(&id, |doc| {
            case::read(doc).notes.into_iter().find(|n| n.id == nid)
        })
        .flatten()
    };
    // Every keystroke is a small change written to IndexedDB at once: a killed tab loses nothing.
    let edit = {
        let d = driver.clone();
        let note = note.clone();
        move |field: NoteField, value: String| {
            let _ = d.change(id, |tx| {
                case::set_note_field(tx, &note, field, &value).map(|_| ())
            });
        }
    };
    let meta = {
        let d = driver.clone();
        let note = note.clone();
        move |kind: Option<String>, at: Option<i64>| {
            let _ = d.change(id, |tx| {
                case::set_note_meta(tx, &note, kind.as_deref(), at).map(|_| ())
            });
        }
    };
    let (e1, e2, e3, m1, m2) = (edit.clone(), edit.clone(), edit, meta.clone(), meta);
    view! {
        {move || match current() {
            None => view! { <p>"This note is not on this device yet."</p> }.into_any(),
            Some(n) => {
                let (e1, e2, e3, m1, m2) = (e1.clone(), e2.clone(), e3.clone(), m1.clone(), m2.clone());
                view! {
                <h1>"Contact note"</h1>
                <label class="fb-label" for="note-at">"Date and time"</label>
                <input id="note-at" class="fb-input fb-input-short" type="datetime-local" prop:value=to_local_input(n.at)
                       on:change=move |ev| m1(None, from_local_input(&event_target_value(&ev)))/>
                <label class="fb-label" for="note-kind">"Type of contact"</label>
                <select id="note-kind" class="fb-input" on:change=move |ev| m2(Some(event_target_value(&ev)), None)>
                    {CONTACT_TYPES.iter().map(|t| view! { <option value=*t selected=n.kind == *t>{*t}</option> }).collect_view()}
                </select>
                <label class="fb-label" for="note-place">"Where"</label>
                <input id="note-place" class="fb-input" prop:value=n.place.clone() on:input=move |ev| e1(NoteField::Place, event_target_value(&ev))/>
                <label class="fb-label" for="note-present">"Who was present"</label>
                <input id="note-present" class="fb-input" prop:value=n.present.clone() on:input=move |ev| e2(NoteField::Present, event_target_value(&ev))/>
                <label class="fb-label" for="note-text">"What happened"</label>
                <textarea id="note-text" class="fb-textarea" rows="8" prop:value=n.text.clone()
                          on:input=move |ev| e3(NoteField::Text, event_target_value(&ev))></textarea>
                <a class="fb-button" data-testid="note-done" href=format!("#/case/{id}")>"Done"</a>
            }.into_any()},
        }}
    }
}

fn register_service_worker() {
    let nav = web_sys::window().expect("window").navigator();
    if js_sys::Reflect::has(&nav, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        let _ = nav.service_worker().register("/sw.js");
    }
}

/// Show "update available" when a new service worker is waiting.
fn watch_for_update(ready: RwSignal<bool>) {
    let nav = web_sys::window().expect("window").navigator();
    if !js_sys::Reflect::has(&nav, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        return;
    }
    let cb = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| ready.set(true));
    let _ = nav
        .service_worker()
        .add_event_listener_with_callback("message", cb.as_ref().unchecked_ref());
    cb.forget();
    leptos::task::spawn_local(async move {
        let Ok(reg) =
            wasm_bindgen_futures::JsFuture::from(nav.service_worker().ready().expect("ready"))
                .await
        else {
            return;
        };
        let reg: web_sys::ServiceWorkerRegistration = reg.unchecked_into();
        if reg.waiting().is_some() {
            ready.set(true);
        }
    });
}

fn apply_update() {
    let nav = web_sys::window().expect("window").navigator();
    leptos::task::spawn_local(async move {
        if let Ok(reg) =
            wasm_bindgen_futures::JsFuture::from(nav.service_worker().ready().expect("ready")).await
        {
            let reg: web_sys::ServiceWorkerRegistration = reg.unchecked_into();
            if let Some(w) = reg.waiting() {
                let _ = w.post_message(&JsValue::from_str("skip-waiting"));
            }
        }
        let _ = web_sys::window().expect("window").location().reload();
    });
}

fn request_persistence(granted: RwSignal<Option<bool>>) {
    leptos::task::spawn_local(async move {
        let storage = web_sys::window().expect("window").navigator().storage();
        let result = match storage.persist() {
            Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
                .await
                .ok()
                .and_then(|v| v.as_bool()),
            Err(_) => None,
        };
        granted.set(Some(result.unwrap_or(false)));
    });
}
