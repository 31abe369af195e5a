//! The connection, run by [`fieldbook_sync::health::Monitor`]: dial, heartbeat, give up on
//! a silent connection, reconnect with backoff, follow the browser's online/offline events,
//! and show the status.

use fieldbook_case::status::Status;
use fieldbook_sync::health::Action;
use fieldbook_sync::{ConnId, Identity, Message};
use leptos::prelude::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use super::{now, Driver};

impl Driver {
    /// Run the monitor: carry out what is due, show the status, and wake up when it next
    /// has something to do.
    pub(super) fn tick(&self) {
        let actions = self.inner.borrow_mut().monitor.tick(now());
        self.perform(actions);
        self.arm();
    }

    pub(super) fn perform(&self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Dial => self.dial(),
                Action::Ping => {
                    let inner = self.inner.borrow();
                    if let Some((_, ws)) = &inner.ws {
                        if ws.ready_state() == WebSocket::OPEN {
                            // A failed heartbeat is a silent link: the monitor's timeout
                            // notices it, which is the point of sending one.
                            let _ = ws.send_with_u8_array(&Message::Heartbeat.encode());
                        }
                    }
                }
                Action::Close(reason) => {
                    // The monitor already counts it as closed: forget the socket first, so
                    // its close event is not reported again.
                    let Some((conn, ws)) = self.inner.borrow_mut().ws.take() else {
                        continue;
                    };
                    // Already forgotten and disconnected from the engine: a socket that
                    // will not close politely is dropped all the same.
                    let _ = ws.close_with_code_and_reason(1000, reason.describe());
                    let out = {
                        let mut inner = self.inner.borrow_mut();
                        // The live view of what the server has is gone: count afresh.
                        inner.touch_all = true;
                        inner.runner.engine_mut().disconnect(conn, now())
                    };
                    self.enqueue(out);
                }
            }
        }
    }

    /// (Re)arm the one timer for the monitor's next wakeup, and show the current status.
    pub(super) fn arm(&self) {
        let window = web_sys::window().expect("window");
        let (wake, old) = {
            let mut inner = self.inner.borrow_mut();
            (inner.monitor.next_wakeup(), inner.timer.take())
        };
        if let Some(old) = old {
            window.clear_timeout_with_handle(old);
        }
        if let Some(at) = wake {
            let this = self.clone();
            let cb = Closure::once_into_js(move || {
                this.inner.borrow_mut().timer = None;
                this.tick();
            });
            let delay = at.saturating_sub(now()).min(i32::MAX as u64) as i32;
            self.inner.borrow_mut().timer = window
                .set_timeout_with_callback_and_timeout_and_arguments_0(cb.unchecked_ref(), delay)
                .ok();
        }
        self.show_status();
    }

    pub(super) fn show_status(&self) {
        let (status, sent_at) = Status::of(self.inner.borrow().monitor.status());
        if self.signals.status.get_untracked() != status {
            self.signals.status.set(status);
        }
        if self.signals.sent_at.get_untracked() != sent_at {
            self.signals.sent_at.set(sent_at);
        }
    }

    /// Open a WebSocket to the server (the monitor said to).
    pub(super) fn dial(&self) {
        let url = self.inner.borrow().url.clone();
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => {
                self.inner.borrow_mut().monitor.closed(now());
                return;
            }
        };
        ws.set_binary_type(BinaryType::Arraybuffer);
        let conn = {
            let mut inner = self.inner.borrow_mut();
            let conn = ConnId(inner.next_conn);
            inner.next_conn += 1;
            inner.ws = Some((conn, ws.clone()));
            inner.joined = false;
            conn
        };
        let current = {
            let this = self.clone();
            move || this.inner.borrow().ws.as_ref().map(|(c, _)| *c) == Some(conn)
        };

        let this = self.clone();
        let is_current = current.clone();
        let onopen = Closure::<dyn FnMut()>::new(move || {
            if !is_current() {
                return;
            }
            let out = {
                let mut inner = this.inner.borrow_mut();
                inner.monitor.opened(now());
                inner
                    .runner
                    .engine_mut()
                    .connect(conn, Identity("server".into()), now())
            };
            this.enqueue(out);
            this.arm();
        });
        ws.set_onopen(Some(onopen.as_ref().unchecked_ref()));
        onopen.forget();

        let this = self.clone();
        let is_current = current.clone();
        let onmessage = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if !is_current() {
                return;
            }
            if let Ok(buf) = e.data().dyn_into::<js_sys::ArrayBuffer>() {
                let bytes = js_sys::Uint8Array::new(&buf).to_vec();
                this.inner.borrow_mut().monitor.received(now());
                if Message::is_heartbeat(&bytes) {
                    // Alive; nothing for the engine. The next wakeup moved: re-arm.
                    return this.arm();
                }
                let out = this
                    .inner
                    .borrow_mut()
                    .runner
                    .engine_mut()
                    .receive(conn, &bytes, now());
                this.enqueue(out);
            }
        });
        ws.set_onmessage(Some(onmessage.as_ref().unchecked_ref()));
        onmessage.forget();

        let this = self.clone();
        let onclose = Closure::<dyn FnMut(CloseEvent)>::new(move |_: CloseEvent| {
            if !current() {
                return;
            }
            let (out, refused) = {
                let mut inner = this.inner.borrow_mut();
                inner.ws = None;
                inner.monitor.closed(now());
                let refused = !inner.joined;
                inner.touch_all = true;
                (inner.runner.engine_mut().disconnect(conn, now()), refused)
            };
            this.enqueue(out);
            this.arm();
            // Never got the server's `peer`: perhaps a 401 at the upgrade, which the
            // browser does not show. Ask.
            if refused {
                this.check_session();
            }
        });
        ws.set_onclose(Some(onclose.as_ref().unchecked_ref()));
        onclose.forget();
    }

    /// Follow the browser's view of the network: `offline` shows Offline and closes the
    /// connection at once; `online` dials at once (if someone is signed in).
    pub(super) fn watch_network(&self) {
        let window = web_sys::window().expect("window");
        for (event, online) in [("online", true), ("offline", false)] {
            let this = self.clone();
            let cb = Closure::<dyn FnMut()>::new(move || {
                this.inner.borrow_mut().online = online;
                this.apply_network();
            });
            // Cannot fail for a window; without the events the heartbeat still notices.
            let _ = window.add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
            cb.forget();
        }
    }
}
