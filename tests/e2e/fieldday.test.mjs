// Issue 8, "Field day", in headless Chromium against the real server: a dispute settled from
// the case page's banner on one phone (gone on both), pages that open at the top, open-ended
// safety-plan actions, contact times in the future refused, counts, "reported by" in the
// chronology, level and age on the case page, the chronology's first event on a phone's first
// screen, and a colleague's edit arriving in a field without moving the caret.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { createCase, addNote, upToDate, axeViolations, useApp, offline, startAssessment, DISPLAY_NAMES, literally } from "./browser.mjs"

const CATEGORIES = [
  "missing", "coercion", "contact", "substances", "education", "online",
  "sexual-health", "health", "family", "offending", "isolation", "safeguarding",
]
const PHONE = { width: 360, height: 740 }
const app = useApp()

/** A phone with the demo person `who` signed in (the author of its changes), service worker ready. */
async function device(who, viewport) {
  return (await app.phone(who, viewport ? { viewport } : {})).page
}

// Ayo and Bea are in the same team: both may edit each other's cases.
const AYO = literally(DISPLAY_NAMES.ayo)
const BEA = literally(DISPLAY_NAMES.bea)
const AT = String.raw` at \d\d/\d\d/\d{4} \d\d:\d\d`

/** Local date `YYYY-MM-DD`, `days` from today. */
function localDate(days = 0) {
  const d = new Date(Date.now() + days * 86_400_000)
  const pad = n => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
}

/** Whole years from `dob` (YYYY-MM-DD) to today, counted as a person would. */
function ageToday(dob) {
  const [y, m, d] = dob.split("-").map(Number)
  const now = new Date()
  const birthdayPassed = now.getMonth() + 1 > m || (now.getMonth() + 1 === m && now.getDate() >= d)
  return now.getFullYear() - y - (birthdayPassed ? 0 : 1)
}

async function recordMissing(page, caseId, { from = "Home", reportedBy = "" } = {}) {
  await page.goto(`${app.server.url}#/case/${caseId}/missing/new`)
  await page.getByLabel("When they went missing").fill(`${localDate(-1)}T09:00`)
  await page.getByLabel(from, { exact: true }).check()
  if (reportedBy) await page.getByLabel("Reported by").fill(reportedBy)
  await page.getByTestId("save-missing").click()
  await page.getByTestId("missing-list").waitFor()
}

test("a dispute is settled from the case page's banner on one phone and disappears on both", async () => {
  const a = await device("ayo", PHONE)
  const b = await device("bea", PHONE)
  const name = "Test Person Banner"
  const id = await createCase(a, name)
  const aid = await startAssessment(a, app.server.url, id)
  await upToDate(a)
  const summary = `#/case/${id}/assessment/${aid}/summary`
  await b.goto(app.server.url + summary)
  await b.getByLabel("Moderate", { exact: true }).waitFor({ timeout: TIMEOUT })
  await upToDate(b)

  await app.server.stop()
  await offline(a)
  await offline(b)
  await a.goto(app.server.url + summary)
  await a.getByLabel("High", { exact: true }).check()
  await b.getByLabel("Emerging", { exact: true }).check()
  for (const p of [a, b]) await p.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await app.server.start()

  // Where the chooser is on the page, the banner points to it, and moving on does not look
  // like choosing.
  const banner = a.getByTestId("conflicts")
  await banner.getByTestId("dispute").filter({ hasText: "Overall risk level (draft assessment)" }).waitFor({ timeout: TIMEOUT })
  await banner.getByRole("link", { name: /Choose on this page/ }).waitFor()
  assert.equal(await banner.getByRole("button").count(), 0, "no second set of Keep buttons on the chooser's own page")
  assert.equal(await a.getByTestId("save-continue").textContent(), "Continue without choosing")
  assert.match(await a.getByTestId("save-continue").getAttribute("class"), /fb-button-secondary/, "not the green primary button")
  await banner.getByRole("link", { name: /Choose on this page/ }).click()
  assert.equal(await a.evaluate(() => document.activeElement?.id), "overall", "the link goes to the chooser")
  await a.screenshot({ path: "/tmp/fieldday-dispute-section-360.png", fullPage: true })
  assert.deepEqual(await axeViolations(a), [], "assessment section with a dispute")

  // The case page lists the dispute with both values, who set each and when, and Keep buttons.
  for (const p of [a, b]) {
    await p.goto(`${app.server.url}#/case/${id}`)
    await p.getByTestId("case-name").waitFor()
    const dispute = p.getByTestId("conflicts").getByTestId("dispute").filter({ hasText: "Overall risk level" })
    await dispute.waitFor({ timeout: TIMEOUT })
    const values = await dispute.getByTestId("candidate").allTextContents()
    assert.equal(values.length, 2, values.join(" | "))
    assert.ok(values.some(v => new RegExp(`^High — set by ${AYO}${AT}`).test(v)), values.join(" | "))
    assert.ok(values.some(v => new RegExp(`^Emerging — set by ${BEA}${AT}`).test(v)), values.join(" | "))
    await dispute.getByRole("button", { name: /^Keep High/ }).waitFor()
    await dispute.getByRole("button", { name: /^Keep Emerging/ }).waitFor()
  }
  await b.screenshot({ path: "/tmp/fieldday-dispute-case-360.png" })
  assert.deepEqual(await axeViolations(b), [], "case page with the dispute banner")

  await b.getByTestId("conflicts").getByRole("button", { name: /^Keep High/ }).click()
  await b.getByTestId("dispute-kept").filter({ hasText: "Overall risk level: kept High." }).waitFor()
  await b.screenshot({ path: "/tmp/fieldday-dispute-kept-360.png" })
  for (const p of [b, a]) {
    await p.getByTestId("conflicts").waitFor({ state: "detached", timeout: TIMEOUT })
    await p.goto(app.server.url + summary)
    await p.getByText(new RegExp(`Set by ${BEA} at`)).waitFor({ timeout: TIMEOUT })
    assert.ok(await p.getByLabel("High", { exact: true }).isChecked())
    assert.equal(await p.getByTestId("conflicts").count(), 0)
    assert.equal(await p.getByTestId("save-continue").textContent(), "Save and continue")
  }
  await a.context().close()
  await b.context().close()
})

test("a page opened from the bottom of the case page opens at its top, heading focused", async () => {
  const page = await device("ayo", PHONE)
  const id = await createCase(page, "Test Person Scroll")
  await recordMissing(page, id)
  // Back on the case page (recording returns there); go to its bottom.
  await page.getByTestId("missing-list").waitFor()
  await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight))
  const link = page.getByTestId("missing-list").getByRole("link").first()
  await link.scrollIntoViewIfNeeded()
  assert.ok(await page.evaluate(() => window.scrollY > 500), "the episode link is far down the case page")
  await link.click()
  const heading = page.getByRole("heading", { level: 1, name: "Missing episode" })
  await heading.waitFor()
  assert.equal(await page.evaluate(() => window.scrollY), 0)
  const box = await heading.boundingBox()
  assert.ok(box.y >= 0 && box.y + box.height <= PHONE.height, JSON.stringify(box))
  // Focus moves to the heading (a screen reader announces the new page) without scrolling.
  await page.waitForFunction(() => document.activeElement?.tagName === "H1")
  assert.equal(await page.evaluate(() => window.scrollY), 0)
  await page.screenshot({ path: "/tmp/fieldday-episode-360.png" })
  assert.deepEqual(await axeViolations(page), [], "missing episode opened at its top")
  await page.context().close()
})

test("a safety-plan action can be saved with no due date", async () => {
  const page = await device("ayo", PHONE)
  const id = await createCase(page, "Test Person Plan")
  await page.goto(`${app.server.url}#/case/${id}/plan`)
  await page.getByLabel("Action", { exact: true }).fill("Appointments at 3pm")
  await page.getByLabel("Owner").fill("Youth worker")
  assert.equal(await page.getByLabel(/Due date/).inputValue(), "")
  await page.getByRole("button", { name: "Add action" }).click()
  const action = page.getByTestId("actions-family").getByRole("listitem").filter({ hasText: "Appointments at 3pm" })
  await action.waitFor()
  assert.match(await action.textContent(), /Owner: Youth worker · No due date/)
  assert.equal(await page.locator("#error-summary").count(), 0)
  // A dated one still shows its date.
  await page.getByLabel("Action", { exact: true }).fill("School meeting")
  await page.getByLabel("Owner").fill("School")
  await page.getByLabel(/Due date/).fill("2030-03-04")
  await page.getByRole("button", { name: "Add action" }).click()
  await page.getByTestId("actions-family").getByText("Owner: School · due 4 March 2030").waitFor()
  await page.screenshot({ path: "/tmp/fieldday-plan-360.png", fullPage: true })
  assert.deepEqual(await axeViolations(page), [], "safety plan")
  await page.context().close()
})

test("a contact time later than now is refused with a message, keeping what was typed", async () => {
  const page = await device("ayo", PHONE)
  const id = await createCase(page, "Test Person Future")
  await page.getByTestId("add-note").click()
  const at = page.getByLabel("Date and time")
  await at.waitFor()
  const saved = await at.inputValue()
  await page.getByLabel("What happened").fill("Met at the youth club.")
  const tomorrow = `${localDate(1)}T10:30`
  await at.fill(tomorrow)
  const error = page.getByTestId("note-at-error")
  await error.filter({ hasText: "Date and time of the contact must be now or in the past" }).waitFor()
  assert.equal(await at.inputValue(), tomorrow, "the typed time stays for correcting")
  assert.equal(await at.getAttribute("aria-invalid"), "true")
  // Typing elsewhere (which re-renders the note) keeps both the typed time and the text.
  await page.getByLabel("Where").fill("Youth club")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  assert.equal(await at.inputValue(), tomorrow)
  assert.equal(await page.getByLabel("What happened").inputValue(), "Met at the youth club.")
  await page.screenshot({ path: "/tmp/fieldday-future-360.png" })
  assert.deepEqual(await axeViolations(page), [], "note form with the time refused")
  // Nothing in the future was stored: the case page shows the time the note had.
  await page.getByTestId("note-done").click()
  const [date, time] = saved.split("T")
  const [y, m, d] = date.split("-")
  await page.getByTestId("notes").getByText(`${d}/${m}/${y} ${time}`).waitFor()
  // A time in the past is accepted and the message goes.
  await page.getByTestId("notes").getByRole("link").first().click()
  await at.fill(`${localDate(-1)}T10:30`)
  await error.waitFor({ state: "detached" })
  await page.getByTestId("note-done").click()
  const [py, pm, pd] = localDate(-1).split("-")
  await page.getByTestId("notes").getByText(`${pd}/${pm}/${py} 10:30`).waitFor()
  await page.context().close()
})

test("counts read naturally, the chronology says who reported them missing, and fits a phone", async () => {
  const page = await device("ayo", PHONE)
  const name = "Test Person Counted"
  const id = await createCase(page, name)
  await addNote(page, "Talked about football.")
  await recordMissing(page, id, { reportedBy: "Mum" })
  await page.goto(app.server.url)
  const row = page.getByTestId("case-list").getByRole("listitem").filter({ hasText: name })
  await row.waitFor()
  assert.match(await row.textContent(), / · 1 note(?!s)/)
  assert.deepEqual(await axeViolations(page), [], "case list")

  await page.goto(`${app.server.url}#/case/${id}/chronology`)
  const table = page.getByTestId("chronology")
  const missing = table.locator("tr[data-kind=missing]")
  await missing.waitFor()
  assert.match(await missing.textContent(), /Went missing from home.*Reported by Mum/)
  // At 360 × 740 the filters are folded away and the first event is on the first screen.
  const first = table.locator("tbody tr").first()
  const box = await first.boundingBox()
  await page.screenshot({ path: "/tmp/fieldday-chronology-360.png" })
  assert.ok(box.y + box.height <= PHONE.height, `first event ends at ${box.y + box.height}px`)
  assert.equal(await page.getByLabel("Contact", { exact: true }).isVisible(), false)
  await page.getByTestId("filter-events").click()
  await page.getByLabel("Contact", { exact: true }).uncheck()
  await table.locator("tr[data-kind=contact]").waitFor({ state: "detached" })
  await page.getByTestId("filter-events").filter({ hasText: "(1 of 11 kinds hidden)" }).waitFor()
  assert.deepEqual(await axeViolations(page), [], "chronology with the filters open")
  await page.context().close()
})

test("the case page shows the name once, the age and the current risk level", async () => {
  const page = await device("ayo", PHONE)
  const name = "Test Person Levelled"
  const id = await createCase(page, name)
  // createCase enters a date of birth of 2010-05-17.
  const facts = page.getByTestId("case-facts")
  assert.match(await facts.textContent(), new RegExp(`^Age ${ageToday("2010-05-17")} · Known as Test · Born 17 May 2010$`))
  assert.equal(await page.getByTestId("risk-level").textContent(), "No risk assessment yet")
  assert.equal(await page.locator("main").getByText(name, { exact: true }).count(), 1, "the name appears once")

  const aid = await startAssessment(page, app.server.url, id)
  const base = `${app.server.url}#/case/${id}/assessment/${aid}`
  for (const cid of CATEGORIES) {
    await page.goto(`${base}/${cid}`)
    await page.getByLabel("Emerging", { exact: true }).check()
  }
  await page.goto(`${base}/summary`)
  await page.getByLabel("Summary of concerns and analysis").fill("Worries about new older friends.")
  await page.getByLabel("Moderate", { exact: true }).check()
  await page.goto(`${base}/completed-by`)
  await page.getByLabel("Names and roles").fill("Worker A (social care)")
  await page.goto(`${base}/check`)
  await page.getByTestId("submit-assessment").click()
  await page.getByTestId("assessment-history").waitFor()

  await page.goto(`${app.server.url}#/case/${id}`)
  const [y, m, d] = localDate().split("-")
  await page.getByTestId("risk-level").filter({ hasText: `Risk level: Moderate · assessed ${d}/${m}/${y}` }).waitFor()
  assert.equal(await page.locator("main").getByText(name, { exact: true }).count(), 1, "the name appears once")
  await page.screenshot({ path: "/tmp/fieldday-case-360.png" })
  assert.deepEqual(await axeViolations(page), [], "case page with level and age")
  await page.context().close()
})

test("a colleague's edit to the same field arrives without moving the caret", async () => {
  const a = await device("ayo")
  const b = await device("bea")
  const id = await createCase(a, "Test Person Caret")
  await a.getByTestId("add-note").click()
  const fieldA = a.getByLabel("What happened")
  await fieldA.fill("Met at the park")
  await upToDate(a)
  const noteUrl = a.url()
  await b.goto(noteUrl)
  const fieldB = b.getByLabel("What happened")
  await b.waitForFunction(() => document.querySelector("#note-text")?.value === "Met at the park", null, { timeout: TIMEOUT })
  await upToDate(b)

  // Phone A's caret sits after "Met at" (6), the field focused.
  await fieldA.focus()
  await fieldA.evaluate(el => el.setSelectionRange(6, 6))
  // Phone B types at the start of the same field.
  await fieldB.focus()
  await fieldB.evaluate(el => el.setSelectionRange(0, 0))
  await b.keyboard.type("Today: ")
  await a.waitForFunction(() => document.querySelector("#note-text")?.value === "Today: Met at the park", null, { timeout: TIMEOUT })
  const caret = await fieldA.evaluate(el => [el.selectionStart, el.selectionEnd, document.activeElement === el])
  assert.deepEqual(caret, [6 + "Today: ".length, 6 + "Today: ".length, true])
  // And A goes on typing where the caret was.
  await a.keyboard.type(" with friends")
  assert.equal(await fieldA.inputValue(), "Today: Met at with friends the park")
  await a.context().close()
  await b.context().close()
})
