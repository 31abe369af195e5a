//! Fieldbook PWA: case list, case page with contact notes, and the note form. All state
//! lives in Automerge documents held by the [`driver::Driver`]; the UI only renders them.
//! Until someone signs in on the device, the only screen is "Sign in to Fieldbook".

mod device;
mod driver;
mod gate;
mod http;
mod lone;
mod now;
mod pages;
mod ui;

use driver::Driver;
use fieldbook_case::route::Route;
use fieldbook_case::status;
use gate::{ChoosePasscode, Gate, LockScreen, Screen};
use leptos::prelude::*;
use lone::LoneBanner;
use pages::assessment::{
    AssessmentCheck, AssessmentReview, AssessmentSection, AssessmentTasks, Assessments,
};
use pages::case::CasePage;
use pages::cases::CaseList;
use pages::checkin::CheckInPage;
use pages::chronology::Chronology;
use pages::concern::ConcernForm;
use pages::dataset::DatasetPage;
use pages::deadlines::DeadlinesPage;
use pages::home::TeamPage;
use pages::meeting::MeetingForm;
use pages::missing::MissingForm;
use pages::moment::MomentForm;
use pages::note::NoteForm;
use pages::plan::SafetyPlan;
use pages::profile::ProfileForm;
use pages::settings::Settings;
use pages::signin::SignIn;
use pages::transfer::TransferPage;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn main() {
    console_error_panic_hook::set_once();
    register_service_worker();
    leptos::mount::mount_to_body(Root);
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
    device::reload_when_restored();
    let gate = Gate::new(sync_url());
    let screen = gate.screen;
    let header = || {
        view! {
            <header class="fb-header">
                <span class="fb-logo">"Fieldbook"</span>
            </header>
        }
    };
    let done = move |_| {
        if Route::parse(&current_hash()) == Route::SignIn {
            ui::go(&Route::Cases);
        }
        ui::show_page_top();
    };
    view! {
        {move || match screen.get() {
            Screen::App(d) => {
                let removed = d.signals.device_removed;
                view! {
                    {move || if removed.get() {
                        view! { {header()} <main class="fb-main"><DeviceRemoved/></main> }.into_any()
                    } else {
                        view! { <App driver=d.clone()/> }.into_any()
                    }}
                }.into_any()
            }
            Screen::Opening => view! { {header()} <main class="fb-main"><p>"Opening Fieldbook…"</p></main> }.into_any(),
            Screen::Failed(e) => view! {
                {header()}
                <main class="fb-main"><div class="fb-error" role="alert">
                    <h2>"Fieldbook cannot store cases on this device"</h2><p>{e}</p>
                </div></main>
            }.into_any(),
            Screen::SignIn(entry) => view! {
                {header()}
                <main class="fb-main"><SignIn gate=(gate.clone(), entry) on_done=done/></main>
            }.into_any(),
            Screen::ChoosePasscode(d) => view! {
                {header()}
                <main class="fb-main"><ChoosePasscode gate=gate.clone() driver=d/></main>
            }.into_any(),
            Screen::Locked => view! {
                {header()}
                <main class="fb-main"><LockScreen gate=gate.clone()/></main>
            }.into_any(),
        }}
    }
}

#[component]
fn DeviceRemoved() -> impl IntoView {
    view! {
        <div class="fb-error" role="alert" data-testid="device-removed">
            <h1>"This device has been removed from Fieldbook by an administrator."</h1>
            <p>"Everything Fieldbook kept on it has been deleted. Talk to your manager if you need to use Fieldbook on this device again."</p>
        </div>
    }
}

/// Someone is signed in on this device (and did not sign out): cases may be shown.
fn signed_in(driver: &Driver) -> bool {
    driver
        .signals
        .account
        .with_untracked(|a| a.as_ref().is_some_and(|a| a.is_signed_in()))
}

#[component]
fn App(driver: Driver) -> impl IntoView {
    let s = driver.signals;
    let shown = Memo::new(move |_| {
        s.account
            .with(|a| a.as_ref().is_some_and(|a| a.is_signed_in()))
    });
    let d = driver.clone();
    view! {
        {move || if shown.get() {
            view! { <Signed driver=d.clone()/> }.into_any()
        } else {
            view! { <SignInOnly driver=d.clone()/> }.into_any()
        }}
    }
}

/// No one is signed in: the sign-in screen and nothing else (no case, no connection).
#[component]
fn SignInOnly(driver: Driver) -> impl IntoView {
    // Wherever the person was going (a link to a case, say), they go there once signed in:
    // the app opens on the page in the URL and asks for its case.
    let done = move |_| {
        if Route::parse(&current_hash()) == Route::SignIn {
            ui::go(&Route::Cases);
        }
        ui::show_page_top();
    };
    view! {
        <header class="fb-header">
            <span class="fb-logo">"Fieldbook"</span>
        </header>
        <main class="fb-main">
            <SignIn driver=driver on_done=done/>
        </main>
    }
}

/// Someone is signed in: the app.
#[component]
fn Signed(driver: Driver) -> impl IntoView {
    let page = RwSignal::new(Route::parse(&current_hash()));
    open_case(&driver, &page.get_untracked());
    let d = driver.clone();
    let on_hash = Closure::<dyn FnMut()>::new(move || {
        let route = Route::parse(&current_hash());
        open_case(&d, &route);
        page.set(route);
        ui::show_page_top();
    });
    // Gone with this screen (signing out): the next one listens for itself.
    let listener: js_sys::Function = on_hash.as_ref().unchecked_ref::<js_sys::Function>().clone();
    on_cleanup(move || {
        if let Some(w) = web_sys::window() {
            let _ = w.remove_event_listener_with_callback("hashchange", &listener);
        }
    });
    // Cannot fail for a window.
    let _ = web_sys::window()
        .expect("window")
        .add_event_listener_with_callback("hashchange", on_hash.as_ref().unchecked_ref());
    on_hash.forget();
    let persisted = RwSignal::new(None::<bool>);
    request_persistence(persisted);
    let update_ready = RwSignal::new(false);
    watch_for_update(update_ready);

    // Lone working: the open check-in, its banner and prompt on every screen.
    provide_context(lone::Lone::start(
        driver
            .signals
            .account
            .with_untracked(|a| a.as_ref().map(|a| a.user_id.clone()))
            .unwrap_or_default(),
    ));
    let s = driver.signals;
    let d2 = driver.clone();
    let exit_url = driver.record().device_policy.exit_url;
    let name = move || {
        s.account.with(|a| {
            a.as_ref()
                .map(|a| a.display_name.clone())
                .unwrap_or_default()
        })
    };
    view! {
        <div class="fb-exit-wrap">
            <button type="button" class="fb-exit" data-testid="exit-this-page"
                    on:click=move |_| device::quick_exit(&exit_url)>
                "Exit this page"
            </button>
        </div>
        <header class="fb-header">
            <a class="fb-logo" href=Route::Cases.href()>"Fieldbook"</a>
            <a class="fb-user" href=Route::Settings.href() data-testid="user-name">{name}</a>
            <span class=move || s.status.get().class()
                  data-testid="sync-status">{move || s.status.get().label()}</span>
        </header>
        <Show when=move || s.signed_out.get()>
            <div class="fb-error" role="alert" data-testid="signed-out">
                <p>"Your sign-in has ended. Sign in again to send your changes. Changes on this device are kept."</p>
                <p><a href=Route::SignIn.href()>"Sign in"</a></p>
            </div>
        </Show>
        <div class="fb-banner" data-testid="unsent">
            <span data-testid="waiting">{move || {
                let sent = s.sent_at.get().map(sent_when);
                s.waiting.with(|w| status::banner(s.status.get(), sent.as_deref(), w.as_deref()))
            }}</span>
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
            <div class="fb-error" role="alert" data-testid="error">
                <p>{move || s.error.get().unwrap_or_default()}</p>
                <button type="button" class="fb-button fb-button-secondary" on:click=move |_| s.error.set(None)>"Dismiss"</button>
            </div>
        </Show>
        <LoneBanner/>
        <main class="fb-main">
            {move || {
                let d = d2.clone();
                match page.get() {
                    Route::Cases => view! { <CaseList driver=d/> }.into_any(),
                    Route::Team => view! { <TeamPage driver=d/> }.into_any(),
                    Route::Settings => view! { <Settings driver=d/> }.into_any(),
                    Route::SignIn => {
                        view! { <SignIn driver=d on_done=|_| ui::go(&Route::Cases)/> }.into_any()
                    }
                    Route::Case(id) => view! { <CasePage driver=d id=id/> }.into_any(),
                    Route::Note(id, note) => view! { <NoteForm driver=d id=id note=note.to_string()/> }.into_any(),
                    Route::Assessments(id) => view! { <Assessments driver=d id=id/> }.into_any(),
                    Route::AssessmentTasks(id, a) => view! { <AssessmentTasks driver=d id=id aid=a.to_string()/> }.into_any(),
                    Route::AssessmentSection(id, a, s) => view! { <AssessmentSection driver=d id=id aid=a.to_string() section=s/> }.into_any(),
                    Route::AssessmentCheck(id, a) => view! { <AssessmentCheck driver=d id=id aid=a.to_string()/> }.into_any(),
                    Route::AssessmentReview(id, a) => view! { <AssessmentReview driver=d id=id aid=a.to_string()/> }.into_any(),
                    Route::Meeting(id, m) => view! { <MeetingForm driver=d id=id meeting=m.map(|m| m.to_string())/> }.into_any(),
                    Route::Concern(id, c) => view! { <ConcernForm driver=d id=id concern=c.map(|c| c.to_string())/> }.into_any(),
                    Route::Missing(id, e) => view! { <MissingForm driver=d id=id episode=e.map(|e| e.to_string())/> }.into_any(),
                    Route::Plan(id) => view! { <SafetyPlan driver=d id=id/> }.into_any(),
                    Route::Profile(id) => view! { <ProfileForm driver=d id=id/> }.into_any(),
                    Route::Chronology(id) => view! { <Chronology driver=d id=id/> }.into_any(),
                    Route::Deadlines(id) => view! { <DeadlinesPage driver=d id=id/> }.into_any(),
                    Route::Moment(id, m) => view! { <MomentForm driver=d id=id moment=m.map(|m| m.to_string())/> }.into_any(),
                    Route::StepDown(id) => view! { <pages::stepdown::StepDownPage driver=d id=id/> }.into_any(),
                    Route::Nrm(id) => view! { <pages::nrm::NrmPage driver=d id=id/> }.into_any(),
                    Route::Transfer(id) => view! { <TransferPage driver=d id=id/> }.into_any(),
                    Route::Dataset => view! { <DatasetPage driver=d/> }.into_any(),
                    Route::NotFound => view! { <NotFound/> }.into_any(),
                    Route::CheckIn(case) => view! { <CheckInPage driver=d case=case/> }.into_any(),
                }
            }}
        </main>
    }
}

/// Opening a page about a case that is not on this device asks for it (local store first,
/// then the server). Done here, on navigation, rather than while the page renders: nothing
/// that renders changes the driver's state or a document.
fn open_case(driver: &Driver, route: &Route) {
    if !signed_in(driver) {
        return;
    }
    if let Some(id) = route.case() {
        if driver.with_doc(&id, |_| ()).is_none() {
            driver.find(id);
        }
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p>"If you followed a link, it may be incomplete."</p>
        <p><a href=Route::Cases.href()>"Go to your cases"</a></p>
    }
}

/// "at 14:02" (London time), or "on 12/03/2026 at 14:02" if not today.
fn sent_when(at: u64) -> String {
    use fieldbook_case::clocks::london;
    let (d, today) = (london::local(at as i64), london::local(ui::now()));
    let time = format!("at {:02}:{:02}", d.hour, d.minute);
    if d.date() == today.date() {
        time
    } else {
        format!("on {:02}/{:02}/{} {time}", d.day, d.month, d.year)
    }
}

fn register_service_worker() {
    let nav = web_sys::window().expect("window").navigator();
    if js_sys::Reflect::has(&nav, &JsValue::from_str("serviceWorker")).unwrap_or(false) {
        // A promise: a browser that refuses (private mode) leaves the app working online;
        // the storage line in the banner already says whether data may be cleared.
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
    // Cannot fail where a service worker container exists (checked above).
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
                // The reload below loads whichever worker is active: no worse than now.
                let _ = w.post_message(&JsValue::from_str("skip-waiting"));
            }
        }
        // Reload throws only for a detached document.
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
