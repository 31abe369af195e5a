// Issue 13, items 2 and 3, on the phone: a case whose last face-to-face contact was 40 days
// ago shows "Not seen face to face for 40 days" on home and on the case; closing it
// without a reason is refused with an error summary whose link focuses the reason field;
// with a reason it is closed and says so at the top. The NRM screen records a referral
// with its date and reference — the "NRM referral in place" label appears without touching
// the profile — and a reasonable-grounds decision. Real server, real Chromium, real
// IndexedDB; 360 px screenshots and axe-core on each new screen.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, createCase, screenshot360, signInAs, upToDate, useApp } from "./browser.mjs"

const app = useApp()
const PHONE = { viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB" }
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

// London dates, whatever the test machine's own zone.
const LONDON = new Intl.DateTimeFormat("en-GB", { timeZone: "Europe/London", year: "numeric", month: "numeric", day: "numeric" })
function londonDay(ms) {
  const p = Object.fromEntries(LONDON.formatToParts(new Date(ms)).map(x => [x.type, Number(x.value)]))
  return { y: p.year, m: p.month, d: p.day }
}
function plusDays(day, n) {
  const t = new Date(Date.UTC(day.y, day.m - 1, day.d + n))
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() }
}
const iso = day => `${day.y}-${String(day.m).padStart(2, "0")}-${String(day.d).padStart(2, "0")}`
const long = day => `${day.d} ${MONTHS[day.m - 1]} ${day.y}`

// Mid-morning today in London (the page's clock starts here and keeps running), so "40
// days ago at 10:00" is 40 London days ago whatever time the test runs.
const NOW = Date.now()
const TODAY = londonDay(NOW)
const FORTY_AGO = plusDays(TODAY, -40)

async function phone(who) {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await page.clock.install({ time: NOW })
  await signInAs(page, app.server.url, who)
  return { context, page }
}

test("closing a case not seen face to face for 40 days needs a reason; the flag shows on home and the case; the NRM tracker derives its label", async t => {
  const { context, page } = await phone("ayo")
  try {
    const NAME = "Invented Gatekeeper Person"
    const id = await createCase(page, NAME)

    // A face-to-face contact 40 days ago, and nothing since.
    await page.getByTestId("add-note").click()
    await page.getByLabel("What happened").waitFor()
    await page.getByLabel("Date and time").fill(`${iso(FORTY_AGO)}T10:00`)
    await page.getByLabel("What happened").fill("Planned visit at home; talked about college.")
    await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
    await page.getByTestId("note-done").click()
    await page.getByTestId("case-name").filter({ hasText: NAME }).waitFor()

    // The flag, in words, at the top of the case and on the home card.
    const flag = "Not seen face to face for 40 days"
    await page.getByTestId("not-seen-flag").filter({ hasText: flag }).waitFor({ timeout: TIMEOUT })
    await page.goto(`${app.server.url}#/`)
    const card = page.getByTestId("due-line").filter({ hasText: NAME })
    await card.getByTestId("case-flags").filter({ hasText: flag }).waitFor({ timeout: TIMEOUT })

    // "Step down or close" from the case page.
    await card.getByTestId("case-link").click()
    await page.getByTestId("step-down-link").click()
    await page.getByRole("heading", { name: "Step down or close" }).waitFor()
    assert.match(await page.getByTestId("stepdown-last-seen-now").textContent(), /\(40 days ago\)/)
    assert.equal(await page.getByLabel("Date last seen face to face").inputValue(), iso(FORTY_AGO), "pre-filled from the notes")
    await page.getByLabel("Close the case").check()
    await page.getByLabel("What has changed, and how we know").fill("In college every day since September; no missing episodes since July.")
    await page.getByLabel("Exit safety plan").fill("Youth worker keeps weekly contact; his mother knows who to call.")
    await page.getByLabel("Manager who agreed it").fill("Invented Manager")
    await page.getByTestId("save-stepdown").click()

    // Refused: the error summary names the reason field, and its link focuses it.
    const summary = page.locator("#error-summary")
    await summary.getByRole("heading", { name: "There is a problem" }).waitFor()
    const link = summary.getByRole("link", { name: /not been seen face to face for 40 days/ })
    await link.waitFor()
    assert.equal(await summary.getByRole("link").count(), 1, "only the reason is missing")
    t.diagnostic(`screenshot: ${await screenshot360(page, "gates-step-down-errors-360")}`)
    assert.deepEqual(await axeViolations(page), [], "step-down screen with errors")
    await link.click()
    assert.equal(await page.evaluate(() => document.activeElement?.id), "stepdown-reason")
    assert.equal(await page.getByTestId("case-closed").count(), 0, "not closed")

    // With a reason: saved, and the case says it is closed at the top of every screen.
    await page.getByLabel("Why they have not been seen face to face recently").fill("Moved to his aunt's in another area; seen there by their youth service on 20 October.")
    await page.getByTestId("save-stepdown").click()
    await page.getByTestId("case-name").filter({ hasText: NAME }).waitFor()
    await page.getByTestId("case-closed").filter({ hasText: `Closed on ${long(TODAY)}` }).waitFor()
    await page.goto(`${app.server.url}#/case/${id}/chronology`)
    await page.getByTestId("case-closed").filter({ hasText: `Closed on ${long(TODAY)}` }).waitFor()

    // NRM: no hand-set label any more; a referral with date and reference derives it.
    await page.goto(`${app.server.url}#/case/${id}`)
    await page.getByTestId("case-name").waitFor()
    assert.equal(await page.locator("input[name=hazard-nrm]").count(), 0, "no manual NRM label toggle")
    assert.equal(await page.getByTestId("hazards").filter({ hasText: "NRM referral in place" }).count(), 0)
    await page.getByTestId("nrm-link").click()
    await page.getByRole("heading", { name: "National Referral Mechanism (NRM)" }).waitFor()
    t.diagnostic(`screenshot: ${await screenshot360(page, "gates-nrm-360")}`)
    assert.deepEqual(await axeViolations(page), [], "NRM screen")
    const referred = plusDays(TODAY, -30)
    await page.getByLabel("Date of the referral").fill(iso(referred))
    await page.getByLabel("Reference number").fill("NRM-INVENTED-0001")
    await page.getByTestId("save-nrm").click()
    await page.getByTestId("hazards").filter({ hasText: "NRM referral in place" }).waitFor({ timeout: TIMEOUT })
    await page.getByTestId("nrm-tracker").filter({ hasText: `Referred on ${long(referred)}, reference NRM-INVENTED-0001` }).waitFor()
    assert.match(await page.getByTestId("nrm-status").textContent(), /^Referred/)

    // A positive reasonable-grounds decision shows, and the label stays.
    const decided = plusDays(TODAY, -2)
    await page.getByTestId("nrm-edit").click()
    await page.getByRole("heading", { name: "National Referral Mechanism (NRM)" }).waitFor()
    assert.equal(await page.getByLabel("Reference number").inputValue(), "NRM-INVENTED-0001")
    await page.locator("input[name=nrm-rg][value=positive]").check()
    await page.locator("#nrm-rg-date").fill(iso(decided))
    await page.getByTestId("save-nrm").click()
    await page.getByTestId("nrm-tracker").filter({ hasText: `Reasonable grounds decision: Positive on ${long(decided)}` }).waitFor({ timeout: TIMEOUT })
    assert.match(await page.getByTestId("nrm-status").textContent(), /^Reasonable grounds decision/)
    assert.equal(await page.getByTestId("hazards").filter({ hasText: "NRM referral in place" }).count(), 1)
    await upToDate(page)
  } finally {
    await context.close()
  }
})
