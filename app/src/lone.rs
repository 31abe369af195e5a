//! Lone working on the phone (docs/LONE-WORKING.md): the worker's open check-in, the
//! banner with "Check out" on every screen while there is one, and the prompt once its
//! expected time has passed — computed from the page's own clock (`crate::now`), so it
//! shows with no signal at all.
//!
//! The check-in is the server's record (`/api/checkins`), not a case's: nothing is queued.
//! The phone remembers only the open check-in's id and expected time (in `localStorage`,
//! no place, no names), with whose it is, so the banner and the prompt survive a reload
//! offline and a colleague signing in on a shared phone never sees someone else's.

use fieldbook_case::lone;
use leptos::prelude::*;
use serde::Deserialize;

use crate::http;

const STORE_KEY: &str = "fieldbook-lone-checkin";

/// The worker's open check-in, as far as this phone knows.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Open {
    pub id: String,
    pub expected_back: i64,
}

/// The check-in as the server sends it (what the phone needs of it).
#[derive(Deserialize)]
struct Sent {
    id: String,
    expected_back: i64,
}

/// Lone working state shared by the banner and the check-in screen (a context of `Signed`).
#[derive(Clone, Copy)]
pub struct Lone {
    /// Whose check-ins (the signed-in person's user id).
    user: StoredValue<String>,
    pub open: RwSignal<Option<Open>>,
    /// What the last check-out said: (a problem?, words).
    pub message: RwSignal<Option<(bool, String)>>,
    pub busy: RwSignal<bool>,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// What the phone keeps: the open check-in and the user it belongs to.
#[derive(Deserialize, serde::Serialize)]
struct Kept {
    user: String,
    open: Open,
}

fn remembered(user: &str) -> Option<Open> {
    let text = storage()?.get_item(STORE_KEY).ok().flatten()?;
    let kept: Kept = serde_json::from_str(&text).ok()?;
    (kept.user == user).then_some(kept.open)
}

fn remember(user: &str, open: Option<&Open>) {
    let Some(s) = storage() else { return };
    let kept = open.map(|o| Kept {
        user: user.to_owned(),
        open: o.clone(),
    });
    let done = match kept.and_then(|k| serde_json::to_string(&k).ok()) {
        Some(text) => s.set_item(STORE_KEY, &text),
        None => s.remove_item(STORE_KEY),
    };
    if done.is_err() {
        web_sys::console::warn_1(
            &"Fieldbook: could not remember the check-in on this device".into(),
        );
    }
}

impl Lone {
    /// The state for a signed-in person: what this phone remembers, then what the server says.
    pub fn start(user: String) -> Lone {
        let lone = Lone {
            open: RwSignal::new(remembered(&user)),
            user: StoredValue::new(user),
            message: RwSignal::new(None),
            busy: RwSignal::new(false),
        };
        lone.refresh();
        lone
    }

    /// Ask the server for the open check-in; offline, keep what the phone knows.
    pub fn refresh(self) {
        leptos::task::spawn_local(async move {
            let Ok(answer) = http::call("GET", "/api/checkins/mine", None).await else {
                return;
            };
            if answer.status != 200 {
                return;
            }
            #[derive(Deserialize)]
            struct Mine {
                checkin: Option<Sent>,
            }
            if let Ok(m) = serde_json::from_str::<Mine>(&answer.body) {
                self.set(m.checkin.map(|c| Open {
                    id: c.id,
                    expected_back: c.expected_back,
                }));
            }
        });
    }

    pub fn set(self, open: Option<Open>) {
        self.user.with_value(|u| remember(u, open.as_ref()));
        self.open.set(open);
    }

    /// The server accepted a check-in: its answer body.
    pub fn checked_in(self, body: &str) -> Option<Open> {
        let sent: Sent = serde_json::from_str(body).ok()?;
        let open = Open {
            id: sent.id,
            expected_back: sent.expected_back,
        };
        self.set(Some(open.clone()));
        self.message.set(None);
        Some(open)
    }

    /// Check out of the open check-in; says what happened in `message`.
    pub fn check_out(self) {
        let Some(open) = self.open.get_untracked() else {
            return;
        };
        if self.busy.get_untracked() {
            return;
        }
        self.busy.set(true);
        leptos::task::spawn_local(async move {
            let path = format!("/api/checkins/{}/out", open.id);
            let answer = http::call("POST", &path, None).await;
            self.busy.set(false);
            let said = match answer {
                Err(http::Unreachable) => (
                    true,
                    "Your check-out was NOT sent: there is no connection to the server. Call your manager to tell them you are safe, then try again.".to_owned(),
                ),
                Ok(a) if a.status == 200 => {
                    #[derive(Deserialize)]
                    struct Out {
                        checked_out_at: i64,
                        late: bool,
                    }
                    self.set(None);
                    match serde_json::from_str::<Out>(&a.body) {
                        Ok(o) if o.late => (
                            false,
                            format!(
                                "Checked out at {}. This was after the time you gave ({}), so it is recorded as late.",
                                lone::hhmm(o.checked_out_at),
                                lone::hhmm(open.expected_back)
                            ),
                        ),
                        Ok(o) => (false, format!("Checked out at {}.", lone::hhmm(o.checked_out_at))),
                        Err(_) => (false, "Checked out.".to_owned()),
                    }
                }
                Ok(a) if a.status == 404 => {
                    self.set(None);
                    (
                        true,
                        "The server has no open check-in of yours. If you are still on a visit, check in again or call your manager.".to_owned(),
                    )
                }
                Ok(a) => (
                    true,
                    format!(
                        "Your check-out was NOT recorded: {} Call your manager to tell them you are safe.",
                        server_error(&a.body)
                    ),
                ),
            };
            self.message.set(Some(said));
        });
    }
}

/// The `error` of a server answer, or a plain fallback.
pub fn server_error(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "the server could not take it.".to_owned())
}

/// The lone working state of the signed-in person (provided by `Signed`).
pub fn state() -> Lone {
    expect_context::<Lone>()
}

/// Shown at the top of every screen while checked in: when to be back and "Check out";
/// once that time has passed, the prompt to check out or call the manager.
#[component]
pub fn LoneBanner() -> impl IntoView {
    let lone = state();
    let now = crate::now::ticking();
    view! {
        {move || lone.open.get().map(|open| {
            let due = lone::prompt(open.expected_back, now.get());
            let overdue = due.is_some();
            let text = due.unwrap_or_else(|| format!(
                "You are checked in for a visit. Check out when you are back (by {}).",
                lone::hhmm(open.expected_back)
            ));
            view! {
                <div class=if overdue { "fb-lone fb-lone-due" } else { "fb-lone" }
                     role=if overdue { "alert" } else { "status" }
                     data-testid="lone-banner">
                    <p data-testid=if overdue { "lone-prompt" } else { "lone-checked-in" }>{text}</p>
                    <button type="button" class="fb-button" data-testid="check-out"
                            disabled=move || lone.busy.get()
                            on:click=move |_| lone.check_out()>"Check out"</button>
                </div>
            }
        })}
        {move || lone.message.get().map(|(problem, text)| view! {
            <div class=if problem { "fb-error" } else { "fb-lone fb-lone-done" }
                 role=if problem { "alert" } else { "status" } data-testid="lone-message">
                <p>{text}</p>
                <button type="button" class="fb-button fb-button-secondary"
                        on:click=move |_| lone.message.set(None)>"Dismiss"</button>
            </div>
        })}
    }
}

/// One check-in on the manager's view.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Alert {
    id: String,
    display_name: String,
    #[serde(rename = "where")]
    place: String,
    with_whom: String,
    expected_back: i64,
    checked_out_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
struct Alerts {
    open: Vec<Alert>,
    closed_late: Vec<Alert>,
}

/// What the manager's view last heard about lone working alerts.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Heard {
    Checking,
    Got(Alerts),
    /// Not a manager: nothing to show.
    NotForYou,
    /// No answer: say that it cannot check.
    Offline,
    Failed(String),
}

/// How often the manager's view asks again while it is on screen.
const POLL_MS: i64 = 30_000;

/// Lone working alerts at the top of the manager's view (`#/team`): open overdue check-ins
/// of their team(s), most overdue first, then late check-outs of the last day. Asked for
/// when the view opens, every 30 s while it is visible, and when the page comes back.
#[component]
pub fn TeamAlerts() -> impl IntoView {
    let heard = RwSignal::new(Heard::Checking);
    let now = crate::now::ticking();
    let asked_at = RwSignal::new(None::<i64>);
    let fetch = move || {
        asked_at.set(Some(crate::now::read()));
        leptos::task::spawn_local(async move {
            let h = match http::call("GET", "/api/alerts", None).await {
                Err(http::Unreachable) => Heard::Offline,
                Ok(a) if a.status == 200 => match serde_json::from_str::<Alerts>(&a.body) {
                    Ok(v) => Heard::Got(v),
                    Err(_) => Heard::Failed("the server's answer was not understood".into()),
                },
                Ok(a) if a.status == 403 => Heard::NotForYou,
                Ok(a) => Heard::Failed(server_error(&a.body)),
            };
            heard.set(h);
        });
    };
    // Ask now, then whenever the ticking clock says 30 s have passed while visible.
    Effect::new(move |_| {
        let t = now.get();
        let visible = web_sys::window()
            .and_then(|w| w.document())
            .is_none_or(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
        let due = asked_at.get_untracked().is_none_or(|at| t - at >= POLL_MS);
        if visible && due {
            fetch();
        }
    });
    // Coming back to the page: ask at once.
    let handle = window_event_listener(leptos::ev::focus, move |_| fetch());
    on_cleanup(move || handle.remove());
    view! {
        {move || match heard.get() {
            Heard::Checking | Heard::NotForYou => ().into_any(),
            Heard::Offline => view! {
                <div class="fb-warning" role="status" data-testid="lone-alerts-offline">
                    <p>"Cannot check for lone working alerts: there is no connection to the server. If you are expecting someone back from a visit, phone them."</p>
                </div>
            }.into_any(),
            Heard::Failed(why) => view! {
                <div class="fb-warning" role="status" data-testid="lone-alerts-offline">
                    <p>{format!("Cannot check for lone working alerts: {why}")}</p>
                </div>
            }.into_any(),
            Heard::Got(a) => view! {
                <section class="fb-lone-alerts" aria-labelledby="lone-alerts-title" data-testid="lone-alerts">
                    <h2 id="lone-alerts-title">"Lone working"</h2>
                    {a.open.is_empty().then(|| view! {
                        <p class="fb-hint" data-testid="no-lone-alerts">"Nobody is overdue from a visit."</p>
                    })}
                    {a.open.into_iter().map(|c| {
                        let minutes = move || (now.get() - c.expected_back).max(0) / 60_000;
                        let headline = format!(
                            "Overdue check-in: {}, due back {}",
                            c.display_name,
                            lone::hhmm(c.expected_back)
                        );
                        view! {
                            <div class="fb-error fb-lone-alert" role="alert" data-testid="lone-alert" data-checkin=c.id.clone()>
                                <p><strong>{move || format!("{headline}, {}", lone::ago(minutes()))}</strong></p>
                                <p>{format!("Where: {}", c.place)}</p>
                                <p>{format!("With: {}", c.with_whom)}</p>
                                <p>"Phone them now. If you cannot reach them, follow your lone working procedure."</p>
                            </div>
                        }
                    }).collect_view()}
                    {(!a.closed_late.is_empty()).then(|| view! {
                        <h3>"Checked out late (last 24 hours)"</h3>
                        <ul class="fb-list">
                            {a.closed_late.into_iter().map(|c| {
                                let out = c.checked_out_at.unwrap_or(c.expected_back);
                                view! {
                                    <li data-testid="lone-late">{format!(
                                        "{} checked out at {}, {} minutes after {}",
                                        c.display_name,
                                        lone::hhmm(out),
                                        (out - c.expected_back).max(0) / 60_000,
                                        lone::hhmm(c.expected_back)
                                    )}</li>
                                }
                            }).collect_view()}
                        </ul>
                    })}
                </section>
            }.into_any(),
        }}
    }
}
