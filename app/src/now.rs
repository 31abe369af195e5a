//! The time now, ticking: a signal of `Date.now()` (ms) that moves every 5 seconds and at
//! once when the page comes back (`visibilitychange`, `focus`), so screens that say "due in
//! 3 hours" or "overdue by 6 hours" keep up without a reload.
//!
//! Time is read ONLY through `Date.now()`: the e2e tests fix the page's clock with
//! Playwright's `page.clock.setFixedTime`, which changes what `Date` says and keeps timers
//! running.

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How often the time moves on screen.
const TICK_MS: i32 = 5_000;

/// The time now in ms since the epoch (the page's `Date.now()`).
pub fn read() -> i64 {
    js_sys::Date::now() as i64
}

/// A signal of the time now, ticking while the calling component lives (its timer and
/// listeners are removed when the component is cleaned up).
pub fn ticking() -> RwSignal<i64> {
    let now = RwSignal::new(read());
    let Some(window) = web_sys::window() else {
        return now;
    };
    let update = Closure::<dyn FnMut()>::new(move || {
        let t = read();
        if now.get_untracked() != t {
            now.set(t);
        }
    });
    let f: &js_sys::Function = update.as_ref().unchecked_ref();
    // A window always accepts a timer and listeners; if one is refused the time still moves
    // with the others (and on every re-render that reads it).
    let interval = match window.set_interval_with_callback_and_timeout_and_arguments_0(f, TICK_MS) {
        Ok(id) => Some(id),
        Err(e) => {
            warn("interval", &e);
            None
        }
    };
    let doc = window.document();
    if let Some(doc) = &doc {
        if let Err(e) = doc.add_event_listener_with_callback("visibilitychange", f) {
            warn("visibilitychange", &e);
        }
    }
    if let Err(e) = window.add_event_listener_with_callback("focus", f) {
        warn("focus", &e);
    }
    let held = SendWrapper::new((window, doc, update, interval));
    on_cleanup(move || {
        let (window, doc, update, interval) = held.take();
        let f: &js_sys::Function = update.as_ref().unchecked_ref();
        if let Some(id) = interval {
            window.clear_interval_with_handle(id);
        }
        if let Some(doc) = doc {
            if let Err(e) = doc.remove_event_listener_with_callback("visibilitychange", f) {
                warn("visibilitychange", &e);
            }
        }
        if let Err(e) = window.remove_event_listener_with_callback("focus", f) {
            warn("focus", &e);
        }
        // `update` is dropped here, after nothing can call it.
    });
    now
}

fn warn(what: &str, e: &JsValue) {
    web_sys::console::warn_2(
        &JsValue::from_str(&format!(
            "Fieldbook: the {what} listener of the clock failed"
        )),
        e,
    );
}
