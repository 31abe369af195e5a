// Lone working (issue 13, item 5): a worker checks in before a visit on the phone; when the
// time they gave passes without a check-out, the server's scan raises an alert that the
// manager's team view shows, and the worker's phone shows the prompt from its own clock; the
// worker checks out, recorded as late, and the alert clears. Offline, a check-in is refused
// in plain words, never queued. Nothing fakes the server's clock: the expected time is set
// a few tens of seconds ahead (the time input takes seconds) and the test waits for what
// the people would see. Real server, real Chromium.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, screenshot360, useApp, DISPLAY_NAMES, literally } from "./browser.mjs"

// The server looks for overdue check-ins every second (default 30).
process.env.FIELDBOOK_LONE_WORKING_SCAN_SECS = "1"
const app = useApp()

const PHONE = { viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB" }
// The expected time is this far ahead when the worker presses "Check in".
const AHEAD_MS = 35_000
// Long enough for the time to pass, the phone's 5 s tick, and the manager view's 30 s poll.
const LONG = 120_000

const LONDON = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
})
/** "15:30:45" in London for the instant `ms`. */
const londonTime = ms => LONDON.format(new Date(ms))
const hhmm = ms => londonTime(ms).slice(0, 5)

async function phone(who) {
  return app.phone(who, PHONE)
}

async function noAxeViolations(page, what) {
  assert.deepEqual(await axeViolations(page), [], `axe on ${what}`)
}

test("a check-in whose time passes alerts the manager and prompts the worker; the late check-out is recorded and the alert clears", async () => {
  const worker = await phone("ayo")
  const manager = await phone("mo")
  try {
    const w = worker.page
    await w.getByTestId("checkin-link").click()
    await w.getByRole("heading", { name: "Lone working" }).waitFor()
    await noAxeViolations(w, "the check-in screen")
    await screenshot360(w, "lone-working-checkin")

    // Nothing filled in: an error summary linking to each field.
    await w.getByTestId("check-in").click()
    const summary = w.locator("#error-summary")
    await summary.getByText("There is a problem").waitFor()
    assert.equal(await summary.getByRole("link").count(), 3)
    await summary.getByRole("link", { name: "Enter where you are going" }).click()
    assert.equal(await w.evaluate(() => document.activeElement?.id), "checkin-where")
    await noAxeViolations(w, "the check-in screen with errors")

    // "In 1 hour" fills the time in.
    await w.getByTestId("in-1-hour").click()
    assert.match(await w.getByLabel("Expected back by").inputValue(), /^\d\d:\d\d$/)

    await w.getByLabel("Where are you going?").fill("Invented Lane community centre")
    await w.getByLabel("Who will you be with?").fill("Invented young person and parent")
    const back = Date.now() + AHEAD_MS
    await w.getByLabel("Expected back by").fill(londonTime(back))
    await w.getByTestId("check-in").click()
    const confirmed = w.getByTestId("checkin-confirmed")
    await confirmed.waitFor({ timeout: TIMEOUT })
    assert.equal(
      (await confirmed.textContent()).trim(),
      `Checked in — if you have not checked out by ${hhmm(back)}, your manager will be alerted`,
    )
    // The banner, with one-tap "Check out", on every screen.
    await w.getByTestId("lone-checked-in").waitFor()
    await w.goto(`${app.server.url}#/`)
    await w.getByTestId("case-list").waitFor()
    await w.getByTestId("lone-banner").getByRole("button", { name: "Check out" }).waitFor()
    await noAxeViolations(w, "the banner on home")
    await screenshot360(w, "lone-working-banner")

    // The manager's view, before the time: nobody overdue.
    const m = manager.page
    await m.goto(`${app.server.url}#/team`)
    await m.getByTestId("lone-alerts").waitFor({ timeout: TIMEOUT })

    // The time passes. The worker's phone prompts from its own clock...
    const prompt = w.getByTestId("lone-prompt")
    await prompt.waitFor({ timeout: LONG })
    assert.equal(
      (await prompt.textContent()).trim(),
      `You were due back at ${hhmm(back)}. Check out now, or call your manager`,
    )
    assert.equal(await w.getByTestId("lone-banner").getAttribute("role"), "alert")
    await screenshot360(w, "lone-working-prompt")
    // ... and the manager's view shows the alert (its 30 s poll, no reload).
    const alert = m.getByTestId("lone-alert")
    await alert.waitFor({ timeout: LONG })
    const text = await alert.textContent()
    assert.match(text, new RegExp(literally(`Overdue check-in: ${DISPLAY_NAMES.ayo}, due back ${hhmm(back)}, `)))
    assert.match(text, /ago|just now/)
    assert.match(text, /Where: Invented Lane community centre/)
    assert.match(text, /With: Invented young person and parent/)
    // The alert sits at the top of the view, under its heading and above the deadlines.
    const order = await m.evaluate(() => {
      const a = document.querySelector("[data-testid=lone-alerts]")
      const h = [...document.querySelectorAll("h1")].find(x => x.textContent.includes("team’s deadlines"))
      const first = document.querySelector("[data-testid=team-group]")
      return Boolean(h.compareDocumentPosition(a) & Node.DOCUMENT_POSITION_FOLLOWING)
        && Boolean(a.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING)
    })
    assert.ok(order, "alerts come before the deadlines")
    await noAxeViolations(m, "the manager view with an alert")
    await screenshot360(m, "lone-working-manager-alert")

    // The administrator's console lists it too.
    const console_ = await app.server.admin("alerts")
    assert.match(console_, /OPEN/)
    assert.match(console_, /demo-ayo/)

    // The worker checks out: recorded as late.
    await w.getByTestId("lone-banner").getByRole("button", { name: "Check out" }).click()
    const said = w.getByTestId("lone-message")
    await said.waitFor({ timeout: TIMEOUT })
    assert.match(await said.textContent(), /recorded as late/)
    await w.getByTestId("lone-banner").waitFor({ state: "detached" })

    // The manager's view asks again when it comes back into focus: the alert is closed.
    await m.evaluate(() => window.dispatchEvent(new Event("focus")))
    await m.getByTestId("lone-late").filter({ hasText: DISPLAY_NAMES.ayo }).waitFor({ timeout: TIMEOUT })
    await m.getByTestId("lone-alert").waitFor({ state: "detached", timeout: TIMEOUT })
    assert.match(await app.server.admin("alerts"), /No open lone working alerts/)
    assert.match(await app.server.admin("alerts", "--all"), /checked out \d+ min late/)
    assert.ok(!app.server.running.logs().includes("Invented Lane"), "where is never logged")
  } finally {
    await worker.context.close()
    await manager.context.close()
  }
})

test("offline, a check-in is refused in plain words and nothing is queued", async () => {
  const worker = await phone("bea")
  try {
    const w = worker.page
    const session = await app.server.running.signIn("bea")
    await w.goto(`${app.server.url}#/checkin`)
    await w.getByRole("heading", { name: "Lone working" }).waitFor()
    await w.getByLabel("Where are you going?").fill("Invented Road")
    await w.getByLabel("Who will you be with?").fill("Invented family")
    await w.getByTestId("in-2-hours").click()
    await worker.context.setOffline(true)
    await w.getByTestId("check-in").click()
    const refused = w.getByTestId("checkin-not-sent")
    await refused.waitFor({ timeout: TIMEOUT })
    const text = await refused.textContent()
    assert.match(text, /NOT sent/)
    assert.match(text, /phone your manager/)
    assert.equal(await w.getByTestId("checkin-confirmed").count(), 0)
    assert.equal(await w.getByTestId("lone-banner").count(), 0, "no banner: not checked in")
    await noAxeViolations(w, "the refused check-in")
    await screenshot360(w, "lone-working-offline-refused")

    // Back online, nothing was sent behind the worker's back.
    await worker.context.setOffline(false)
    const mine = await fetch(new URL("/api/checkins/mine", app.server.url), { headers: { cookie: session.cookie } })
    assert.equal(mine.status, 200)
    assert.equal((await mine.json()).checkin, null)
    assert.equal(await w.getByTestId("lone-banner").count(), 0)
  } finally {
    await worker.context.close()
  }
})
