//! The monthly service dataset (`#/dataset`), for a manager: each measure for a month with
//! a small bar chart of the last six months, and the month as CSV — computed on this device
//! from the cases on it (`fieldbook_case::dataset`, the same numbers and file as the
//! server's `admin dataset --month`).

use fieldbook_case::dataset::{self, Dataset, Month, Value};
use fieldbook_case::route::Route;
use fieldbook_case::Case;
use leptos::prelude::*;

use super::home::{is_manager, read_cases};
use crate::driver::Driver;
use crate::ui::now;

/// A measure over the months charted, oldest first.
#[derive(Clone, PartialEq)]
struct Line {
    id: String,
    section: &'static str,
    label: String,
    value: Value,
    history: Vec<(Month, Value)>,
}

fn lines(sets: &[Dataset]) -> Vec<Line> {
    let Some(last) = sets.last() else {
        return Vec::new();
    };
    last.measures
        .iter()
        .map(|m| Line {
            id: m.id.clone(),
            section: m.section,
            label: m.label.clone(),
            value: m.value,
            history: sets
                .iter()
                .filter_map(|d| d.get(&m.id).map(|v| (d.month, v)))
                .collect(),
        })
        .collect()
}

/// A short reading of a value for a chart label: "3", "50%", "–".
fn short(v: Value) -> String {
    match v {
        Value::Count(n) => n.to_string(),
        Value::Rate { .. } => v
            .number()
            .map(|p| format!("{p:.0}%"))
            .unwrap_or_else(|| "–".to_owned()),
    }
}

/// Six small bars with the month and value under each; its accessible name reads every value.
#[component]
fn Chart(line: Line) -> impl IntoView {
    const W: f64 = 36.0;
    const BAR: f64 = 24.0;
    const H: f64 = 48.0;
    let rate = matches!(line.value, Value::Rate { .. });
    let top = if rate {
        100.0
    } else {
        line.history
            .iter()
            .filter_map(|(_, v)| v.number())
            .fold(1.0_f64, f64::max)
    };
    let name = format!(
        "{}, last {} months: {}",
        line.label,
        line.history.len(),
        line.history
            .iter()
            .map(|(m, v)| format!("{} {}", m.label(), short(*v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let width = W * line.history.len() as f64;
    view! {
        <svg class="fb-chart" role="img" aria-label=name width=width.to_string() height="84"
             viewBox=format!("0 0 {width} 84") xmlns="http://www.w3.org/2000/svg">
            {line.history.iter().enumerate().map(|(i, (m, v))| {
                let h = v.number().map(|n| (n / top * H).max(if n > 0.0 { 2.0 } else { 0.0 })).unwrap_or(0.0);
                let x = i as f64 * W + (W - BAR) / 2.0;
                view! {
                    <rect x=x.to_string() y=(H - h).to_string() width=BAR.to_string() height=h.to_string() fill="#1d70b8"/>
                    <line x1=x.to_string() x2=(x + BAR).to_string() y1=H.to_string() y2=H.to_string() stroke="#505a5f"/>
                    <text x=(x + BAR / 2.0).to_string() y="64" text-anchor="middle" font-size="12" fill="#0b0c0c">{short(*v)}</text>
                    <text x=(x + BAR / 2.0).to_string() y="80" text-anchor="middle" font-size="12" fill="#0b0c0c">{m.short_label()}</text>
                }
            }).collect_view()}
        </svg>
    }
}

#[component]
pub fn DatasetPage(driver: Driver) -> impl IntoView {
    // Not sliced: the dataset counts every case.
    let reads = read_cases(&driver, false);
    let month = RwSignal::new(Month::last_complete(now()));
    let typed_wrong = RwSignal::new(false);
    let cases = Memo::new(move |_| {
        reads.with(|r| r.0.iter().map(|x| Case::clone(&x.case)).collect::<Vec<_>>())
    });
    let sets = Memo::new(move |_| {
        let m = month.get();
        let t = now();
        cases.with(|cases| {
            m.last_n(6)
                .into_iter()
                .map(|m| dataset::monthly(cases, m, t))
                .collect::<Vec<_>>()
        })
    });
    let current = Memo::new(move |_| sets.with(|s| s.last().cloned()));
    let s = driver.signals;
    let download_csv = move |_| {
        let Some(d) = current.get_untracked() else {
            return;
        };
        if let Err(e) = crate::ui::download(&dataset::file_name(d.month), &dataset::to_csv(&d)) {
            s.error
                .set(Some(format!("Could not download the CSV: {e}")));
        }
    };
    let manager = is_manager(&driver);
    view! {
        <h1>"Monthly service dataset"</h1>
        <p class="fb-hint">"Counted from the cases on this device. Months run midnight to midnight, London time."</p>
        {(!manager).then(|| view! {
            <p class="fb-hint">"This view is meant for managers: it counts only the cases on this device."</p>
        })}
        <div class=move || if typed_wrong.get() { "fb-form-group fb-form-group-error" } else { "fb-form-group" }>
            <label class="fb-label" for="dataset-month">"Month"</label>
            <p class="fb-hint" id="dataset-month-hint">"For example, 2026-10. The last complete month is shown first."</p>
            {move || typed_wrong.get().then(|| view! {
                <p class="fb-error-message" id="dataset-month-error" role="alert">
                    <span class="fb-visually-hidden">"Error: "</span>"Enter a month as a year and month, for example 2026-10"
                </p>
            })}
            <input id="dataset-month" class="fb-input fb-input-short" type="month" data-testid="dataset-month"
                   aria-describedby="dataset-month-hint"
                   prop:value=move || month.get().to_string()
                   on:change=move |ev| match Month::parse(&event_target_value(&ev)) {
                       Some(m) => { typed_wrong.set(false); month.set(m) }
                       None => typed_wrong.set(true),
                   }/>
        </div>
        {move || current.get().map(|d| view! {
            <p data-testid="dataset-summary">{format!(
                "{}: {} cases counted.{}",
                d.month.label(),
                d.cases,
                if d.complete { "" } else { " This month is not over yet: the numbers will change." }
            )}</p>
        })}
        <button type="button" class="fb-button" data-testid="dataset-csv" on:click=download_csv>"Download CSV"</button>
        {move || {
            let all = sets.with(|s| lines(s));
            let mut sections: Vec<&'static str> = Vec::new();
            for l in &all {
                if !sections.contains(&l.section) {
                    sections.push(l.section);
                }
            }
            sections.into_iter().map(|section| {
                let mine: Vec<Line> = all.iter().filter(|l| l.section == section).cloned().collect();
                view! {
                    <section class="fb-dataset-section">
                        <h2>{section}</h2>
                        <ul class="fb-list fb-dataset-list">
                            {mine.into_iter().map(|l| {
                                let (id, label, words) = (l.id.clone(), l.label.clone(), l.value.words());
                                view! {
                                    <li class="fb-measure" data-measure=id>
                                        <p class="fb-measure-label">{label}</p>
                                        <p class="fb-measure-value" data-testid="measure-value">{words}</p>
                                        <Chart line=l/>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                }
            }).collect_view()
        }}
        <p><a href=Route::Team.href()>"Back to your team’s deadlines"</a></p>
    }
}
