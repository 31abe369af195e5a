//! Re-rendering and bookkeeping after writes, held back while a burst of writes (typing)
//! continues so the next keystroke's save is not delayed.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use leptos::prelude::*;

use super::Driver;

/// Re-rendering and `refresh` both walk whole documents: run after every keystroke's save,
/// they keep the page busy when the next key arrives (and its save starts late). So after
/// the first write following a pause they run at once, but while writes keep coming (a burst
/// of typing) they wait until writes pause this long…
const SETTLE_QUIET_MS: f64 = 250.0;
/// …or at most this long.
const SETTLE_AT_MOST_MS: f64 = 1_000.0;

/// Re-rendering and bookkeeping owed after writes (see [`SETTLE_QUIET_MS`]).
#[derive(Default)]
pub(super) struct Settle {
    /// A document may have changed since the last re-render.
    pub(super) render: bool,
    /// When the latest batch of writes was carried out (ms since the epoch).
    active: f64,
    /// When the oldest batch not yet settled was carried out.
    since: f64,
    /// A timer will settle; later batches join it.
    armed: bool,
}

impl Driver {
    /// After a batch: re-render (if a document changed) and refresh now if writes had paused,
    /// else once they pause (see [`SETTLE_QUIET_MS`]). A lone click shows at once; a burst of
    /// keystrokes is saved key by key and re-rendered when it ends.
    pub(super) fn settle(&self) {
        let t = js_sys::Date::now();
        let now_too = {
            let mut inner = self.inner.borrow_mut();
            let s = &mut inner.settle;
            let paused = t - s.active >= SETTLE_QUIET_MS;
            s.active = t;
            if s.armed {
                return;
            }
            if !paused {
                s.since = t;
                s.armed = true;
            }
            paused
        };
        if now_too {
            self.settle_now();
        } else {
            self.settle_after(SETTLE_QUIET_MS);
        }
    }

    pub(super) fn settle_after(&self, delay: f64) {
        let this = self.clone();
        let cb = Closure::once_into_js(move || {
            let t = js_sys::Date::now();
            let due = {
                let s = &this.inner.borrow().settle;
                (s.active + SETTLE_QUIET_MS).min(s.since + SETTLE_AT_MOST_MS)
            };
            if t + 1.0 < due {
                return this.settle_after(due - t);
            }
            this.inner.borrow_mut().settle.armed = false;
            this.settle_now();
        });
        // Fails only without a window (page unloading): nothing left to render.
        let _ = web_sys::window()
            .expect("window")
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                cb.unchecked_ref(),
                delay.ceil() as i32,
            );
    }

    pub(super) fn settle_now(&self) {
        let render = std::mem::take(&mut self.inner.borrow_mut().settle.render);
        if render {
            self.signals.revision.update(|r| *r += 1);
        }
        self.refresh();
    }
}
