//! What keeps a lost phone from showing anything: the server's device policy (kept in the
//! lock facts, so it applies offline and while locked), the lease, locking after idle time
//! or time hidden, and "Exit this page". Locking is a reload: it is what drops the keys
//! from this page's memory; the reloaded app opens locked.

use std::cell::Cell;
use std::rc::Rc;

use fieldbook_browser_store::LockFacts;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::driver::Driver;

/// What the administrator set for devices (`device_policy` in the session answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub idle_lock_secs: u64,
    pub hidden_grace_secs: u64,
    pub unlock_attempts: u32,
    pub lease_days: u64,
    pub exit_url: String,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            idle_lock_secs: 300,
            hidden_grace_secs: 30,
            unlock_attempts: 5,
            lease_days: 14,
            exit_url: "exit.html".to_owned(),
        }
    }
}

/// The service's deadline settings (`clock_settings` in the session answer), kept with the
/// device policy so the home screen uses them offline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClockSettings {
    pub nrm_reminder_days: Vec<u32>,
    pub due_soon_hours: u32,
    pub transition_notice_days: u32,
}

impl Default for ClockSettings {
    fn default() -> Self {
        ClockSettings::from(&fieldbook_case::clocks::Settings::default())
    }
}

impl From<&fieldbook_case::clocks::Settings> for ClockSettings {
    fn from(s: &fieldbook_case::clocks::Settings) -> Self {
        ClockSettings {
            nrm_reminder_days: s.nrm_reminder_days.clone(),
            due_soon_hours: s.due_soon_hours as u32,
            transition_notice_days: s.transition_notice_days as u32,
        }
    }
}

impl ClockSettings {
    pub fn to_settings(&self) -> fieldbook_case::clocks::Settings {
        let d = fieldbook_case::clocks::Settings::default();
        fieldbook_case::clocks::Settings {
            nrm_reminder_days: if self.nrm_reminder_days.is_empty() {
                d.nrm_reminder_days
            } else {
                self.nrm_reminder_days.clone()
            },
            due_soon_hours: self.due_soon_hours.into(),
            transition_notice_days: self.transition_notice_days.into(),
            ..d
        }
    }
}

/// What the app keeps in `LockFacts::policy` (plain, readable while locked: no content).
/// The device id lets a locked device sign in again as the same device, whose server-held
/// key unwraps its data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Record {
    pub device_policy: Policy,
    pub clock_settings: ClockSettings,
    pub device_id: Option<String>,
    /// The copy was erased after too many wrong passcodes: only signing in opens it now.
    pub wiped: Option<Wiped>,
}

/// How the copy came to be erased (said on the sign-in page until someone signs in).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Wiped {
    pub attempts: u32,
    pub kept: usize,
}

impl Record {
    pub fn of(facts: &LockFacts) -> Record {
        facts
            .policy
            .as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// From a session answer's body (`device_policy`, `device.id`); defaults where absent.
    pub fn from_session_body(body: &str) -> Record {
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        Record {
            device_policy: serde_json::from_value(v["device_policy"].clone()).unwrap_or_default(),
            clock_settings: serde_json::from_value(v["clock_settings"].clone()).unwrap_or_default(),
            device_id: v["device"]["id"].as_str().map(str::to_owned),
            wiped: None,
        }
    }
}

const DAY_MS: f64 = 86_400_000.0;

/// Days since the device last reached the server, if that is more than the lease allows.
pub fn lease_expired(facts: &LockFacts, policy: &Policy, now_ms: f64) -> bool {
    facts
        .last_contact_ms
        .is_some_and(|t| now_ms - t > policy.lease_days as f64 * DAY_MS)
}

/// How many attempts are left, to show once two or fewer remain.
pub fn attempts_left(policy: &Policy, failed: u32) -> Option<u32> {
    let left = policy.unlock_attempts.saturating_sub(failed);
    (left <= 2).then_some(left)
}

fn window() -> web_sys::Window {
    web_sys::window().expect("window")
}

/// Lock now: let the queued writes commit (never lose a keystroke), record which cases hold
/// unsent changes, and reload into the lock screen.
pub fn lock(driver: &Driver) {
    let d = driver.clone();
    leptos::task::spawn_local(async move {
        d.settled().await;
        d.save_unsent().await;
        reload_locked();
    });
}

/// Reload the page (the reloaded app opens locked). Throws only for a detached document.
pub fn reload_locked() {
    let _ = window().location().reload();
}

/// "Exit this page": blank the page and leave for the neutral page at once (writes already
/// handed to IndexedDB complete on their own); the app's history entry opens locked.
pub fn quick_exit(exit_url: &str) {
    if let Some(body) = window().document().and_then(|d| d.body()) {
        body.set_inner_html("");
    }
    // Throws only for a detached document.
    let _ = window().location().replace(exit_url);
}

/// Lock after `idle_lock_secs` without a pointer, key or input event, and when the page
/// has been hidden longer than `hidden_grace_secs`; three Shift presses in a row leave for
/// the exit page. Listeners live as long as the page (locking reloads it).
pub fn watch(driver: &Driver, policy: &Policy) {
    let last = Rc::new(Cell::new(js_sys::Date::now()));
    let hidden_since = Rc::new(Cell::new(None::<f64>));
    let locking = Rc::new(Cell::new(false));
    let shifts = Rc::new(Cell::new((0u32, 0f64)));
    let doc = window().document().expect("document");
    let (idle_ms, grace_ms) = (
        policy.idle_lock_secs as f64 * 1000.0,
        policy.hidden_grace_secs as f64 * 1000.0,
    );

    let touched = {
        let last = last.clone();
        Closure::<dyn FnMut()>::new(move || last.set(js_sys::Date::now()))
    };
    for ev in ["pointerdown", "keydown", "input", "touchstart"] {
        // Cannot fail for a document.
        let _ = doc.add_event_listener_with_callback_and_bool(
            ev,
            touched.as_ref().unchecked_ref(),
            true,
        );
    }
    touched.forget();

    let exit_url = policy.exit_url.clone();
    let on_key =
        Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |ev: web_sys::KeyboardEvent| {
            let now = js_sys::Date::now();
            let (n, first) = shifts.get();
            if ev.key() != "Shift" || ev.repeat() {
                shifts.set((0, 0.0));
                return;
            }
            let (n, first) = if n == 0 || now - first > 5_000.0 {
                (1, now)
            } else {
                (n + 1, first)
            };
            if n >= 3 {
                shifts.set((0, 0.0));
                quick_exit(&exit_url);
            } else {
                shifts.set((n, first));
            }
        });
    let _ = doc.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref());
    on_key.forget();

    let check = {
        let (d, last, hidden_since, locking) = (
            driver.clone(),
            last.clone(),
            hidden_since.clone(),
            locking.clone(),
        );
        move || {
            let now = js_sys::Date::now();
            let hidden = window()
                .document()
                .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Hidden);
            if hidden && hidden_since.get().is_none() {
                hidden_since.set(Some(now));
            }
            // Hidden too long counts whether still hidden or just back (then before anything
            // is shown for longer); a page coming back forgets when it was hidden.
            let hidden_too_long = hidden_since.get().is_some_and(|t| now - t > grace_ms);
            if !hidden {
                hidden_since.set(None);
            }
            // One lock, whichever condition (or timer tick) gets there first.
            if (now - last.get() > idle_ms || hidden_too_long) && !locking.replace(true) {
                lock(&d);
            }
        }
    };
    let check = Rc::new(check);
    let on_visibility = {
        let check = check.clone();
        Closure::<dyn FnMut()>::new(move || check())
    };
    let _ = doc.add_event_listener_with_callback(
        "visibilitychange",
        on_visibility.as_ref().unchecked_ref(),
    );
    on_visibility.forget();
    let tick = Closure::<dyn FnMut()>::new(move || check());
    let _ = window()
        .set_interval_with_callback_and_timeout_and_arguments_0(tick.as_ref().unchecked_ref(), 500);
    tick.forget();
}

/// A page restored from the back/forward cache would show what it showed when left (the
/// case, after "Exit this page"): reload it instead, which opens locked.
pub fn reload_when_restored() {
    let cb = Closure::<dyn FnMut(web_sys::PageTransitionEvent)>::new(
        |ev: web_sys::PageTransitionEvent| {
            if ev.persisted() {
                reload_locked();
            }
        },
    );
    let _ = window().add_event_listener_with_callback("pageshow", cb.as_ref().unchecked_ref());
    cb.forget();
}

/// Decode the server's base64 device key (32 bytes).
pub fn decode_key(b64: &str) -> Option<[u8; 32]> {
    let bin = window().atob(b64).ok()?;
    let bytes: Vec<u8> = bin.chars().map(|c| c as u32).map(|c| c as u8).collect();
    bytes.try_into().ok()
}

/// `POST /api/device-key` with the password the person has just typed.
pub async fn fetch_device_key(password: &str) -> Result<[u8; 32], String> {
    let body = serde_json::json!({ "password": password }).to_string();
    let answer = crate::http::call("POST", "/api/device-key", Some(&body))
        .await
        .map_err(|_| {
            "Fieldbook cannot reach the server. Check your signal and try again.".to_owned()
        })?;
    if answer.status != 200 {
        return Err(format!(
            "Fieldbook's server could not set up this device (error {}). Try again.",
            answer.status
        ));
    }
    let v: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    v["key"]
        .as_str()
        .and_then(decode_key)
        .ok_or_else(|| "Fieldbook's server gave an answer this app cannot read.".to_owned())
}
