//! A case's deadlines: every open clock in words with who must act and a link to the record
//! that started it, and the ones already met under "Done". Shown as a section of the case
//! page and as a page of its own (`Route::Deadlines`, where "+2 more due" leads).

use fieldbook_case::clocks::{words, Clock, State};
use fieldbook_case::due;
use fieldbook_case::Case;
use fieldbook_sync::DocumentId;
use leptos::prelude::*;

use super::home::{case_clocks, clock_settings, source_link};
use super::{case_memo, looking, CaseTop};
use crate::driver::Driver;

/// The "Deadlines" section of a case (`heading`: its own h2; the page has an h1 instead).
#[component]
pub fn Deadlines(
    driver: Driver,
    id: DocumentId,
    case: Memo<Option<Case>>,
    #[prop(optional)] page: bool,
) -> impl IntoView {
    let now = crate::now::ticking();
    let settings = clock_settings(&driver);
    // `case` changes only when the case does; the clocks move with the time.
    let clocks = Memo::new(move |_| {
        let now = now.get();
        case.with(|c| {
            c.as_ref().map(|c| {
                let (open, done) = case_clocks(c, now, &settings);
                let said = |cs: Vec<Clock>| {
                    cs.into_iter()
                        .map(|c| Said::of(id, &c, now))
                        .collect::<Vec<_>>()
                };
                (said(open), said(done))
            })
        })
    });
    view! {
        <section class="fb-deadlines" aria-labelledby="deadlines" data-testid="deadlines">
            {if page {
                view! { <h1 id="deadlines">"Deadlines"</h1> }.into_any()
            } else {
                view! { <h2 id="deadlines">"Deadlines"</h2> }.into_any()
            }}
            {move || clocks.get().map(|(open, done)| view! {
                {if open.is_empty() {
                    view! { <p class="fb-hint" data-testid="no-deadlines">"Nothing is due."</p> }.into_any()
                } else {
                    view! {
                        <ul class="fb-list" data-testid="deadlines-open">
                            {open.into_iter().map(|s| s.view()).collect_view()}
                        </ul>
                    }.into_any()
                }}
                {(!done.is_empty()).then(|| view! {
                    <details class="fb-details" data-testid="deadlines-done">
                        <summary>{format!("Done ({})", done.len())}</summary>
                        <ul class="fb-list">
                            {done.into_iter().map(|s| s.view()).collect_view()}
                        </ul>
                    </details>
                })}
            })}
        </section>
    }
}

/// One clock as it is said.
#[derive(Clone, PartialEq)]
struct Said {
    line: String,
    whom: String,
    urgency: Option<due::Urgency>,
    late: bool,
    link: (String, &'static str),
}

impl Said {
    fn of(case: DocumentId, c: &Clock, now: i64) -> Said {
        let (route, label) = source_link(case, c);
        Said {
            line: words::line(c, now),
            whom: c.whom.clone(),
            urgency: due::urgency(c),
            late: matches!(c.state, State::MetLate { .. }),
            link: (route.href(), label),
        }
    }

    fn view(self) -> impl IntoView {
        let class = self
            .urgency
            .map_or(if self.late { "done-late" } else { "done" }, |u| u.class());
        view! {
            <li class=format!("fb-deadline fb-due-{class}") data-testid="deadline">
                <p class="fb-due">
                    {self.urgency.and_then(due::Urgency::tag).map(|t| view! {
                        <strong class=format!("fb-due-tag fb-due-tag-{class}")>{t}</strong>
                    })}
                    {self.line}
                </p>
                <p class="fb-hint">
                    {format!("Who acts: {} · ", self.whom)}
                    <a href=self.link.0>{self.link.1}</a>
                </p>
            </li>
        }
    }
}

/// A case's deadlines as a page of their own.
#[component]
pub fn DeadlinesPage(driver: Driver, id: DocumentId) -> impl IntoView {
    let c = case_memo(&driver, id);
    view! {
        <CaseTop case=c id=id/>
        {move || c.with(Option::is_none).then(looking)}
        <Show when=move || c.with(Option::is_some)>
            <Deadlines driver=driver.clone() id=id case=c page=true/>
        </Show>
    }
}
