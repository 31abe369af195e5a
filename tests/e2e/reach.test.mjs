// Reachable moments on the phone (issue 13, items 1 and 6): someone else with edit rights on
// a case logs a time in custody on their phone, and after sync the allocated worker's home
// screen shows the follow-up; the worker's contact note that follows it up clears it. The
// demo case with three hospital attendances shows its pattern flag, and its additional
// needs show as a callout where people work with the young person. Real server, real
// Chromium, real IndexedDB; 360 px screenshots and axe-core on each new screen.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, createCase, screenshot360, signInAs, upToDate, useApp } from "./browser.mjs"

const app = useApp()

const PHONE = { viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB" }

async function phone(who) {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, who)
  return { context, page }
}

// London civil time, whatever the test machine's own time zone.
const LONDON = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
})
function londonParts(ms) {
  const p = Object.fromEntries(LONDON.formatToParts(new Date(ms)).map(x => [x.type, x.value]))
  return { y: p.year, m: p.month, d: p.day, h: p.hour, mi: p.minute }
}
/** The `datetime-local` value of instant `ms` on London's clocks. */
const localInput = ms => { const p = londonParts(ms); return `${p.y}-${p.m}-${p.d}T${p.h}:${p.mi}` }

const homeLine = (page, name) => page.getByTestId("due-line").filter({ hasText: name })

test("a custody logged on another phone puts a follow-up on the worker's home screen, and the contact note that follows it up clears it", async t => {
  const NAME = "Invented Reachable Person"
  const ayo = await phone("ayo")
  const bea = await phone("bea")
  try {
    const id = await createCase(ayo.page, NAME)
    await upToDate(ayo.page)

    // Bea (same team, edit rights) opens the case and logs a custody an hour ago.
    await bea.page.goto(`${app.server.url}#/case/${id}`)
    await bea.page.getByTestId("case-name").filter({ hasText: NAME }).waitFor({ timeout: TIMEOUT })
    await bea.page.getByRole("link", { name: "Log a reachable moment" }).first().click()
    await bea.page.getByRole("heading", { name: "Log a reachable moment" }).waitFor()

    // Nothing filled in: an error summary at the top, each error linking to its field.
    await bea.page.getByTestId("save-moment").click()
    const summary = bea.page.locator("#error-summary")
    await summary.getByText("There is a problem").waitFor()
    for (const e of ["Select what kind of moment it was", "Enter when it happened", "Enter what happened"]) {
      await summary.getByRole("link", { name: e }).waitFor()
    }
    await summary.getByRole("link", { name: "Select what kind of moment it was" }).click()
    assert.equal(await bea.page.evaluate(() => document.activeElement?.id), "moment-kind", "the link goes to the field")
    t.diagnostic(`screenshot: ${await screenshot360(bea.page, "reach-moment-errors-360")}`)
    assert.deepEqual(await axeViolations(bea.page), [], "moment screen with errors")

    // A time later than now is refused.
    await bea.page.getByLabel("Arrest or time in custody").check()
    await bea.page.getByLabel("When it happened").fill(localInput(Date.now() + 2 * 3600_000))
    await bea.page.getByLabel("What happened").fill("Invented: held overnight at the (invented) Larkfield custody suite; the custody sergeant called.")
    await bea.page.getByTestId("save-moment").click()
    await summary.getByRole("link", { name: "When it happened must be now or in the past" }).waitFor()

    const at = Date.now() - 3600_000
    await bea.page.getByLabel("When it happened").fill(localInput(at))
    t.diagnostic(`screenshot: ${await screenshot360(bea.page, "reach-moment-360")}`)
    assert.deepEqual(await axeViolations(bea.page), [], "moment screen")
    await bea.page.getByTestId("save-moment").click()

    // Back on the case page: the moment is listed with its follow-up, 24 hours on.
    const { h, mi } = londonParts(at)
    const due = `due by ${h}:${mi}`
    const listed = bea.page.getByTestId("moments").getByTestId("moment")
    await listed.filter({ hasText: "Arrest or time in custody" }).filter({ hasText: due }).waitFor({ timeout: TIMEOUT })
    const href = await listed.getByRole("link").getAttribute("href")
    assert.match(href, new RegExp(`^#/case/${id}/moment/[0-9a-f]+$`))
    await upToDate(bea.page)

    // Ayo's home screen, after sync: the follow-up, in words, with a link to the moment.
    await ayo.page.goto(`${app.server.url}#/`)
    const line = homeLine(ayo.page, NAME)
    const followUp = `Follow-up: Arrest or time in custody — ${due}`
    await line.getByTestId("due-clock").filter({ hasText: followUp }).waitFor({ timeout: TIMEOUT })
    assert.match(await line.getByTestId("due-clock").textContent(), /^Due soon/, "tagged in words, not only colour")
    assert.equal(await line.getByTestId("due-moment").getAttribute("href"), href)
    t.diagnostic(`screenshot: ${await screenshot360(ayo.page, "reach-home-follow-up-360")}`)

    // The case's deadlines and the team view say the same.
    await ayo.page.goto(`${app.server.url}#/case/${id}/deadlines`)
    const deadline = ayo.page.getByTestId("deadlines-open").getByTestId("deadline").filter({ hasText: followUp })
    await deadline.waitFor({ timeout: TIMEOUT })
    assert.match(await deadline.textContent(), /Who acts: Allocated worker/)
    assert.equal(await deadline.getByRole("link", { name: "Reachable moment" }).getAttribute("href"), href)
    await ayo.page.goto(`${app.server.url}#/team`)
    await ayo.page.getByTestId("team-group").getByTestId("due-line").filter({ hasText: NAME })
      .getByTestId("due-clock").filter({ hasText: followUp }).waitFor({ timeout: TIMEOUT })

    // The chronology shows the moment.
    await ayo.page.goto(`${app.server.url}#/case/${id}/chronology`)
    await ayo.page.getByTestId("chronology").locator("tr[data-kind=moment]").filter({ hasText: "Arrest or time in custody" }).waitFor({ timeout: TIMEOUT })

    // Ayo visits and writes the contact note that follows it up.
    await ayo.page.goto(`${app.server.url}#/case/${id}`)
    await ayo.page.getByTestId("add-note").click()
    const question = ayo.page.getByTestId("note-follow-up-of")
    await question.waitFor({ timeout: TIMEOUT })
    assert.match(await question.textContent(), /Does this contact follow up a reachable moment\?/)
    await question.getByLabel(/^Yes: Arrest or time in custody, .* \(follow-up due\)$/).check()
    await ayo.page.getByLabel("What happened").fill("Invented: met at the custody suite's exit and talked about who could help.")
    await ayo.page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
    await ayo.page.getByTestId("note-done").click()

    // The task leaves "Due and overdue" (the case's next clock, the transition to adulthood
    // at 17, takes its place) and shows as done in the case's deadlines.
    await ayo.page.goto(`${app.server.url}#/`)
    await homeLine(ayo.page, NAME).getByTestId("due-clock").filter({ hasNotText: "Follow-up" }).waitFor({ timeout: TIMEOUT })
    assert.equal(await homeLine(ayo.page, NAME).getByTestId("due-moment").count(), 0)
    assert.doesNotMatch(await homeLine(ayo.page, NAME).textContent(), /Follow-up/)
    await ayo.page.goto(`${app.server.url}#/case/${id}/deadlines`)
    await ayo.page.getByTestId("deadlines").waitFor({ timeout: TIMEOUT })
    assert.equal(await ayo.page.getByTestId("deadlines-open").getByTestId("deadline").filter({ hasText: "Follow-up" }).count(), 0)
    await ayo.page.getByTestId("deadlines-done").locator("summary").click()
    await ayo.page.getByTestId("deadlines-done").getByTestId("deadline")
      .filter({ hasText: /^Follow-up: Arrest or time in custody — done / }).waitFor()
    await upToDate(ayo.page)

    // Bea's phone sees it done.
    await bea.page.goto(`${app.server.url}${href}`)
    await bea.page.getByTestId("moment-follow-up").filter({ hasText: /^Follow-up: done / }).waitFor({ timeout: TIMEOUT })
  } finally {
    await ayo.context.close()
    await bea.context.close()
  }
})

test("the demo cases show a hospital pattern on the case page and home, and learning needs where people work with the young person", async t => {
  const PATTERN = "Demo — Rio Halloran-Peck"
  const NEEDS = "Demo — Kasey Brightwater"
  const { context, page } = await phone("ayo")
  const caseId = async name => {
    await page.goto(`${app.server.url}#/`)
    const link = homeLine(page, name).getByTestId("case-link")
    await link.waitFor({ timeout: TIMEOUT })
    return (await link.getAttribute("href")).split("#/case/")[1]
  }
  try {
    // Home: the flag in words on the case's line, and its open follow-up as the most urgent.
    const line = homeLine(page, PATTERN)
    await line.waitFor({ timeout: TIMEOUT })
    await line.getByTestId("pattern-flag").filter({ hasText: "Pattern: 3 hospital attendances in 90 days" }).waitFor()
    await line.getByTestId("due-clock").filter({ hasText: "Follow-up: Hospital or A&E attendance — due by" }).waitFor()
    const rio = await caseId(PATTERN)
    assert.match(await homeLine(page, PATTERN).getByTestId("due-moment").getAttribute("href"), new RegExp(`^#/case/${rio}/moment/demo-moment-1-3$`))
    t.diagnostic(`screenshot: ${await screenshot360(page, "reach-home-pattern-360")}`)
    assert.deepEqual(await axeViolations(page), [], "home with a pattern flag")

    // The case page: the flag at the top, in words, and the moments with their follow-ups.
    await page.goto(`${app.server.url}#/case/${rio}`)
    const flags = page.getByTestId("pattern-flags")
    await flags.getByTestId("pattern-flag").filter({ hasText: "Pattern: 3 hospital attendances in 90 days" }).waitFor({ timeout: TIMEOUT })
    assert.equal(await flags.getAttribute("aria-label"), "Patterns")
    assert.equal(await page.getByTestId("moments").getByTestId("moment").count(), 4)
    t.diagnostic(`screenshot: ${await screenshot360(page, "reach-case-pattern-360")}`)
    assert.deepEqual(await axeViolations(page), [], "case page with a pattern flag")

    // A note on that case offers the open moment and the recent one already followed up.
    await page.goto(`${app.server.url}#/case/${rio}/note/demo-note-1-0`)
    const question = page.getByTestId("note-follow-up-of")
    await question.waitFor({ timeout: TIMEOUT })
    await question.getByLabel(/^Yes: Hospital or A&E attendance, .* \(follow-up due\)$/).waitFor()
    await question.getByLabel(/^Yes: Arrest or time in custody, .* \(already followed up\)$/).waitFor()
    assert.equal(await question.getByLabel("No", { exact: true }).isChecked(), true)
    // No needs recorded for Rio: no callout.
    assert.equal(await page.getByTestId("needs-callout").count(), 0)

    // Kasey's needs: a callout at the top of the contact note screen.
    const kasey = await caseId(NEEDS)
    await page.goto(`${app.server.url}#/case/${kasey}/note/demo-note-0-0`)
    const callout = page.getByTestId("needs-callout")
    await callout.waitFor({ timeout: TIMEOUT })
    assert.match(await callout.textContent(), /^Communication and learning needs.*processes spoken information slowly/)
    await page.getByLabel("What happened").waitFor()
    t.diagnostic(`screenshot: ${await screenshot360(page, "reach-note-needs-360")}`)
    assert.deepEqual(await axeViolations(page), [], "note screen with the needs callout")

    // The missing episode (return home interview) and moment screens show it too.
    await page.goto(`${app.server.url}#/case/${kasey}/missing/new`)
    await page.getByRole("heading", { name: "Missing episode" }).waitFor({ timeout: TIMEOUT })
    await page.getByTestId("needs-callout").filter({ hasText: "processes spoken information slowly" }).waitFor()
    await page.goto(`${app.server.url}#/case/${kasey}/moment/new`)
    await page.getByRole("heading", { name: "Log a reachable moment" }).waitFor({ timeout: TIMEOUT })
    await page.getByTestId("needs-callout").filter({ hasText: "processes spoken information slowly" }).waitFor()
    t.diagnostic(`screenshot: ${await screenshot360(page, "reach-moment-needs-360")}`)
    assert.deepEqual(await axeViolations(page), [], "moment screen with the needs callout")

    // Rio's missing episode screen: nothing shown where nothing is recorded.
    await page.goto(`${app.server.url}#/case/${rio}/missing/new`)
    await page.getByRole("heading", { name: "Missing episode" }).waitFor({ timeout: TIMEOUT })
    assert.equal(await page.getByTestId("needs-callout").count(), 0)
  } finally {
    await context.close()
  }
})
