//! The way into the app: the device's database opens locked (`Locked`), and the only ways
//! to the cases are a passcode (the lock screen), or signing in again, which brings the
//! server-held device key. With no keyring yet, the device is new: sign in, then choose a
//! passcode. No screen here shows case content; the title stays "Fieldbook".

use std::cell::RefCell;
use std::rc::Rc;

use fieldbook_browser_store::{Locked, UnlockError};
use fieldbook_case::account::{Account, SignInProblem};
use fieldbook_case::validate::FieldError;
use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;

use crate::device::{self, Record};
use crate::driver::{Driver, DATABASE, OLD_DATABASE};
use crate::http;
use crate::ui::{field_error, ErrorSummary};

/// Why the sign-in page is shown.
#[derive(Clone, Debug, PartialEq)]
pub enum Entry {
    /// No one has set this device up (or it was emptied).
    Fresh,
    /// Too many wrong passcodes: the copy was erased, keeping `kept` cases with unsent changes.
    Wiped { attempts: u32, kept: usize },
    /// The device has not reached the server for more than `days` days.
    Lease { days: u64 },
    /// The person asked: "Forgotten your passcode?".
    Forgotten,
}

/// What the page shows.
#[derive(Clone)]
pub enum Screen {
    Opening,
    Failed(String),
    SignIn(Entry),
    /// Choose a passcode: for a new device (`None`), or a new one for a running app.
    ChoosePasscode(Option<Driver>),
    Locked,
    App(Driver),
}

/// A fresh sign-in waiting for its passcode: kept in memory for this flow only.
struct Pending {
    account: Account,
    password: String,
    record: Record,
}

struct Inner {
    locked: Option<Locked>,
    pending: Option<Pending>,
    url: String,
}

/// Cheap to clone.
#[derive(Clone)]
pub struct Gate {
    pub screen: RwSignal<Screen>,
    inner: SendWrapper<Rc<RefCell<Inner>>>,
}

impl Gate {
    pub fn new(sync_url: String) -> Gate {
        let gate = Gate {
            screen: RwSignal::new(Screen::Opening),
            inner: SendWrapper::new(Rc::new(RefCell::new(Inner {
                locked: None,
                pending: None,
                url: sync_url,
            }))),
        };
        let g = gate.clone();
        leptos::task::spawn_local(async move { g.open().await });
        gate
    }

    async fn open(&self) {
        // The unsealed database of earlier versions: its changes were sent or are lost with
        // it; nothing readable stays on the device. Not awaited: another tab still holding
        // it open delays the deletion, not this app.
        leptos::task::spawn_local(async {
            if let Err(e) = fieldbook_browser_store::IdbStore::delete_database(OLD_DATABASE).await {
                web_sys::console::warn_1(&format!("old database not deleted: {e}").into());
            }
        });
        // A device with no database (new, signed out, removed) is not given an empty one
        // just to find that out: it is created when someone signs in.
        if database_absent().await {
            return self.screen.set(Screen::SignIn(Entry::Fresh));
        }
        let locked = match Locked::open(DATABASE).await {
            Ok(l) => l,
            Err(e) => return self.screen.set(Screen::Failed(e.to_string())),
        };
        let screen = if !locked.has_keyring() {
            Screen::SignIn(Entry::Fresh)
        } else {
            let facts = locked.facts();
            let record = Record::of(&facts);
            let policy = record.device_policy;
            if let Some(w) = record.wiped {
                Screen::SignIn(Entry::Wiped {
                    attempts: w.attempts,
                    kept: w.kept,
                })
            } else if device::lease_expired(&facts, &policy, js_sys::Date::now()) {
                Screen::SignIn(Entry::Lease {
                    days: policy.lease_days,
                })
            } else {
                Screen::Locked
            }
        };
        self.inner.borrow_mut().locked = Some(locked);
        self.screen.set(screen);
    }

    fn record(&self) -> Record {
        self.inner
            .borrow()
            .locked
            .as_ref()
            .map(|l| Record::of(&l.facts()))
            .unwrap_or_default()
    }

    fn url(&self) -> String {
        self.inner.borrow().url.clone()
    }

    /// Run the app over an unlocked store.
    async fn run(&self, store: fieldbook_browser_store::IdbStore) -> Result<Driver, String> {
        let driver = Driver::start(store, self.url()).await?;
        device::watch(&driver, &driver.record().device_policy);
        Ok(driver)
    }

    /// Unlock with a passcode. `Err` is what to tell the person.
    async fn unlock(&self, passcode: &str) -> Result<(), String> {
        let Some(locked) = self.inner.borrow_mut().locked.take() else {
            return Err("Fieldbook is still opening. Try again in a moment.".to_owned());
        };
        let policy = Record::of(&locked.facts()).device_policy;
        match locked.unlock(passcode).await {
            Ok(store) => {
                let driver = self.run(store).await?;
                self.screen.set(Screen::App(driver));
                Ok(())
            }
            Err((locked, UnlockError::WrongPasscode { failed_attempts })) => {
                if failed_attempts >= policy.unlock_attempts {
                    let mut facts = locked.facts();
                    let kept = facts.unsent.clone();
                    // Recorded first: a reload mid-way still says what happened and asks
                    // for sign-in, not the passcode (which is about to be gone).
                    let mut record = Record::of(&facts);
                    record.wiped = Some(device::Wiped {
                        attempts: failed_attempts,
                        kept: kept.len(),
                    });
                    facts.policy = Some(record.to_json());
                    let mut wiped = locked.put_facts(&facts).await;
                    if wiped.is_ok() {
                        wiped = locked.wipe_except(&kept).await;
                    }
                    self.inner.borrow_mut().locked = Some(locked);
                    wiped.map_err(|e| format!("Could not erase this device's copy: {e}"))?;
                    self.screen.set(Screen::SignIn(Entry::Wiped {
                        attempts: failed_attempts,
                        kept: kept.len(),
                    }));
                    return Ok(());
                }
                self.inner.borrow_mut().locked = Some(locked);
                let mut text = "The passcode is not right.".to_owned();
                if let Some(left) = device::attempts_left(&policy, failed_attempts) {
                    text.push_str(&format!(
                        " {} left. After that this device's copy of your cases will be erased.",
                        fieldbook_case::vocab::count(left as usize, "attempt", "attempts")
                    ));
                }
                Err(text)
            }
            Err((locked, UnlockError::NoPasscode)) => {
                self.inner.borrow_mut().locked = Some(locked);
                self.screen.set(Screen::SignIn(Entry::Forgotten));
                Ok(())
            }
            Err((locked, e)) => {
                self.inner.borrow_mut().locked = Some(locked);
                Err(format!("Fieldbook could not open this device's copy: {e}"))
            }
        }
    }

    /// Sign in from the gate (new device, or signing in again to unlock).
    pub async fn sign_in(
        &self,
        entry: &Entry,
        username: &str,
        password: &str,
    ) -> Result<(), SignInProblem> {
        let device_id = self.record().device_id;
        let (new, answer_body) = http::sign_in(username, password, device_id.as_deref()).await?;
        let record = Record::from_session_body(&answer_body);
        if self.inner.borrow().locked.is_none() {
            let opened = Locked::open(DATABASE)
                .await
                .map_err(|e| SignInProblem::Device(e.to_string()))?;
            self.inner.borrow_mut().locked = Some(opened);
        }
        let has_keyring = self
            .inner
            .borrow()
            .locked
            .as_ref()
            .is_some_and(Locked::has_keyring);
        if !has_keyring {
            self.inner.borrow_mut().pending = Some(Pending {
                account: new,
                password: password.to_owned(),
                record,
            });
            self.screen.set(Screen::ChoosePasscode(None));
            return Ok(());
        }
        let key = device::fetch_device_key(password)
            .await
            .map_err(SignInProblem::Device)?;
        let Some(locked) = self.inner.borrow_mut().locked.take() else {
            return Err(SignInProblem::StillOpening);
        };
        match locked.unlock_with_server_key(&key).await {
            Ok(store) => {
                let mut facts = store
                    .facts()
                    .await
                    .map_err(|e| SignInProblem::Device(e.to_string()))?;
                facts.policy = Some(record.to_json());
                store
                    .put_facts(&facts)
                    .await
                    .map_err(|e| SignInProblem::Device(e.to_string()))?;
                let driver = self.run(store).await.map_err(SignInProblem::Device)?;
                driver.signed_in(new).await.map_err(SignInProblem::Device)?;
                // The lease only needed the server: the passcode still works. Otherwise a
                // new one is chosen.
                self.screen.set(if matches!(entry, Entry::Lease { .. }) {
                    Screen::App(driver)
                } else {
                    Screen::ChoosePasscode(Some(driver))
                });
                Ok(())
            }
            Err((locked, _)) => {
                // Not this device's key: someone else's copy. Theirs is kept while it holds
                // unsent changes; otherwise the device starts afresh for the new person.
                if !locked.facts().unsent.is_empty() {
                    self.inner.borrow_mut().locked = Some(locked);
                    // Ending the new session keeps the device from ever sending the last
                    // person's changes as them; if it fails the session expires.
                    if http::call("DELETE", "/api/session", None).await.is_err() {
                        web_sys::console::warn_1(&"session not ended".into());
                    }
                    return Err(SignInProblem::OthersUnsent(
                        "the person who used it before".to_owned(),
                    ));
                }
                locked
                    .delete()
                    .await
                    .map_err(|e| SignInProblem::Device(e.to_string()))?;
                let fresh = Locked::open(DATABASE)
                    .await
                    .map_err(|e| SignInProblem::Device(e.to_string()))?;
                let mut inner = self.inner.borrow_mut();
                inner.locked = Some(fresh);
                inner.pending = Some(Pending {
                    account: new,
                    password: password.to_owned(),
                    record,
                });
                drop(inner);
                self.screen.set(Screen::ChoosePasscode(None));
                Ok(())
            }
        }
    }

    /// The chosen passcode: set up the new device (with its server-held key), or replace the
    /// passcode of the running app.
    async fn choose(&self, driver: Option<Driver>, passcode: &str) -> Result<(), String> {
        if let Some(d) = driver {
            d.set_passcode(passcode).await?;
            self.screen.set(Screen::App(d));
            return Ok(());
        }
        let Some(pending) = self.inner.borrow_mut().pending.take() else {
            return Err("Sign in again to set up this device.".to_owned());
        };
        let key = match device::fetch_device_key(&pending.password).await {
            Ok(k) => k,
            Err(e) => {
                self.inner.borrow_mut().pending = Some(pending);
                return Err(e);
            }
        };
        let Pending {
            account,
            password,
            record,
        } = pending;
        drop(password);
        let Some(locked) = self.inner.borrow_mut().locked.take() else {
            return Err("Fieldbook is still opening. Try again in a moment.".to_owned());
        };
        let store = locked
            .create(passcode, &key)
            .await
            .map_err(|e| e.to_string())?;
        let mut facts = store.facts().await.map_err(|e| e.to_string())?;
        facts.policy = Some(record.to_json());
        facts.failed_attempts = 0;
        store.put_facts(&facts).await.map_err(|e| e.to_string())?;
        let driver = self.run(store).await?;
        driver.signed_in(account).await?;
        self.screen.set(Screen::App(driver));
        Ok(())
    }
}

/// The browser lists no database named [`DATABASE`] (false if it cannot tell).
async fn database_absent() -> bool {
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Ok(factory) = js_sys::Reflect::get(&window, &"indexedDB".into()) else {
        return false;
    };
    let Ok(list) = js_sys::Reflect::get(&factory, &"databases".into()) else {
        return false;
    };
    let Some(list) = list.dyn_ref::<js_sys::Function>() else {
        return false;
    };
    let Ok(promise) = list.call0(&factory) else {
        return false;
    };
    let Ok(names) = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::from(promise)).await
    else {
        return false;
    };
    !js_sys::Array::from(&names).iter().any(|d| {
        js_sys::Reflect::get(&d, &"name".into())
            .ok()
            .and_then(|n| n.as_string())
            .is_some_and(|n| n == DATABASE)
    })
}

/// "Fieldbook is locked": the passcode, and a way in for those who forgot it.
#[component]
pub fn LockScreen(gate: Gate) -> impl IntoView {
    let passcode = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let g = gate.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let p = passcode.get_untracked();
        if p.is_empty() {
            problem.set(Some("Enter your passcode".to_owned()));
            return;
        }
        busy.set(true);
        let g = g.clone();
        leptos::task::spawn_local(async move {
            let result = g.unlock(&p).await;
            busy.set(false);
            passcode.set(String::new());
            problem.set(result.err());
        });
    };
    let forgot = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        gate.screen.set(Screen::SignIn(Entry::Forgotten));
    };
    let errors = move || {
        problem
            .get()
            .map(|m| {
                vec![FieldError {
                    field: "passcode".to_owned(),
                    message: m,
                }]
            })
            .unwrap_or_default()
    };
    view! {
        <div data-testid="lock-screen">
            {move || view! { <ErrorSummary errors=errors()/> }}
            <h1>"Fieldbook is locked"</h1>
            <form on:submit=submit novalidate>
                <div class=move || if problem.get().is_some() { "fb-form-group-error" } else { "" }>
                    <label class="fb-label" for="passcode">"Passcode"</label>
                    {move || field_error(&errors(), "passcode")}
                    <input id="passcode" name="passcode" class="fb-input" type="password"
                           autocomplete="current-password" inputmode="text"
                           prop:value=move || passcode.get()
                           on:input=move |ev| passcode.set(event_target_value(&ev))/>
                </div>
                <button class="fb-button" type="submit" aria-disabled=move || busy.get().then_some("true")>
                    {move || if busy.get() { "Unlocking…" } else { "Unlock" }}
                </button>
            </form>
            <p><a href="#" data-testid="forgot-passcode" on:click=forgot>"Forgotten your passcode?"</a></p>
        </div>
    }
}

/// Choose a passcode (GOV.UK question page: passcode and confirmation, error summary).
#[component]
pub fn ChoosePasscode(gate: Gate, driver: Option<Driver>) -> impl IntoView {
    let first = RwSignal::new(String::new());
    let again = RwSignal::new(String::new());
    let errors = RwSignal::new(Vec::<FieldError>::new());
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (p, q) = (first.get_untracked(), again.get_untracked());
        let problem = if p.chars().count() < 6 {
            Some(("new-passcode", "Passcode must be 6 characters or more"))
        } else if p != q {
            Some(("confirm-passcode", "Passcodes do not match"))
        } else {
            None
        };
        if let Some((field, message)) = problem {
            errors.set(vec![FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            }]);
            return;
        }
        busy.set(true);
        let (g, d) = (gate.clone(), driver.clone());
        leptos::task::spawn_local(async move {
            let result = g.choose(d, &p).await;
            busy.set(false);
            if let Err(e) = result {
                errors.set(vec![FieldError {
                    field: "new-passcode".to_owned(),
                    message: e,
                }]);
            }
        });
    };
    let invalid = move |field: &'static str| errors.with(|e| e.iter().any(|e| e.field == field));
    view! {
        {move || view! { <ErrorSummary errors=errors.get()/> }}
        <h1>"Choose a passcode for this device"</h1>
        <p class="fb-hint">"You will enter it to open Fieldbook on this device. It must be 6 characters or more. Fieldbook locks when you have not used it for a while."</p>
        <form on:submit=submit novalidate>
            <div class=move || if invalid("new-passcode") { "fb-form-group-error" } else { "" }>
                <label class="fb-label" for="new-passcode">"Passcode"</label>
                {move || field_error(&errors.get(), "new-passcode")}
                <input id="new-passcode" class="fb-input" type="password" autocomplete="new-password"
                       prop:value=move || first.get()
                       on:input=move |ev| first.set(event_target_value(&ev))/>
            </div>
            <div class=move || if invalid("confirm-passcode") { "fb-form-group-error" } else { "" }>
                <label class="fb-label" for="confirm-passcode">"Confirm passcode"</label>
                {move || field_error(&errors.get(), "confirm-passcode")}
                <input id="confirm-passcode" class="fb-input" type="password" autocomplete="new-password"
                       prop:value=move || again.get()
                       on:input=move |ev| again.set(event_target_value(&ev))/>
            </div>
            <button class="fb-button" type="submit" aria-disabled=move || busy.get().then_some("true")>
                {move || if busy.get() { "Saving…" } else { "Save passcode" }}
            </button>
        </form>
    }
}

/// What the sign-in page says first, by why it is shown.
pub fn entry_notice(entry: &Entry) -> Option<AnyView> {
    let text = match entry {
        Entry::Fresh => return None,
        Entry::Wiped { attempts, kept } => {
            let mut t = vec![format!(
                "This device's copy was erased after {attempts} wrong passcodes."
            )];
            if *kept > 0 {
                t.push(format!(
                    "{} {} changes not yet sent. They are kept, encrypted, until you sign in again.",
                    fieldbook_case::vocab::count(*kept, "case", "cases"),
                    if *kept == 1 { "has" } else { "have" }
                ));
            }
            t
        }
        Entry::Lease { days } => vec![format!(
            "This device has not reached the server for more than {days} days. Connect to the internet and sign in to unlock."
        )],
        Entry::Forgotten => vec![
            "Sign in to unlock this device, then choose a new passcode.".to_owned(),
        ],
    };
    Some(
        view! {
            <div class="fb-error" role="alert" data-testid="lock-notice">
                {text.into_iter().map(|p| view! { <p>{p}</p> }).collect_view()}
            </div>
        }
        .into_any(),
    )
}
