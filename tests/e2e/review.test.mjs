// Issue 12 in headless Chromium against the real server: a submitted assessment waits for
// the right reviewer and cannot be changed from any URL; the chair reviews it; a meeting
// with attendees and the plan as agreed; a CCE concerns record; a note's reachable-moment
// kind and new indicators; legal statuses that combine. axe-core and 360 px screenshots of
// the new screens (kept in a temporary directory, printed at the end).
import { test, after } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { TIMEOUT } from "../interop/harness.mjs"
import { createCase, upToDate, axeViolations, useApp, startAssessment, DISPLAY_NAMES, literally } from "./browser.mjs"

const app = useApp()

let shots
async function screenshot(page, name) {
  shots ??= await mkdtemp(path.join(tmpdir(), "fieldbook-review-shots-"))
  const size = page.viewportSize()
  await page.setViewportSize({ width: 360, height: 740 })
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true })
  if (size) await page.setViewportSize(size)
}
after(() => { if (shots) console.log(`screenshots in ${shots}`) })

/** Controls in the page's main content that could change something. */
const editControls = page => page.locator("main").locator("textarea, input, select, [data-testid=submit-assessment], [data-testid=check-answers], [data-testid=save-continue]")

/** `datetime-local` value for `ms` in the page's (local) time zone. */
const localInput = (page, ms) => page.evaluate(t => {
  const d = new Date(t)
  const p = n => String(n).padStart(2, "0")
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`
}, ms)

/** The first case in the signed-in person's list (a demo case: the demo chair may open it). */
async function firstDemoCase(page) {
  const link = page.getByTestId("case-list").getByRole("link").first()
  await link.waitFor({ timeout: TIMEOUT })
  return (await link.getAttribute("href")).split("#/case/")[1]
}

test("a submitted Moderate assessment waits for a child protection chair and cannot be changed; only the chair reviews it", async () => {
  const { page: a } = await app.phone("ayo")
  const id = await firstDemoCase(a)
  const aid = await startAssessment(a, app.server.url, id)
  const base = `${app.server.url}#/case/${id}/assessment/${aid}`
  const sections = await a.getByTestId("task-list").getByRole("link").evaluateAll(l => l.map(x => x.getAttribute("href").split("/").pop()))
  for (const cid of sections.slice(0, 12)) {
    await a.goto(`${base}/${cid}`)
    await a.getByLabel("Information and analysis").fill(`Seen for ${cid}.`)
    await a.getByLabel("Moderate", { exact: true }).check()
  }
  await a.goto(`${base}/summary`)
  await a.getByLabel("Summary of concerns and analysis").fill("Summary for review.")
  await a.getByLabel("Moderate", { exact: true }).check()
  await a.goto(`${base}/completed-by`)
  await a.getByLabel("Names and roles").fill("Worker A (social care)")
  await a.goto(`${base}/check`)
  // 1, 2, 3 and 10 all Moderate: the guidance's hint shows.
  await a.getByTestId("suggests-cce").filter({ hasText: /categories 1, 2, 3 and 10/ }).waitFor()
  await a.getByTestId("submit-assessment").click()
  // Back on the versions page, with no draft left (the demo case has an older version).
  await a.getByTestId("start-assessment").waitFor()

  // The check page says who must review it and by when (the review clock's words); the
  // practitioner has no way to the review.
  await a.goto(`${base}/check`)
  const waiting = a.getByTestId("review-waiting")
  await waiting.waitFor({ timeout: TIMEOUT })
  assert.match(await waiting.innerText(), /^Waiting for review by a child protection chair \((due|overdue) [^)]+\)$/)
  assert.match(await a.getByTestId("review-who").innerText(), /Only a child protection chair can review it/)
  assert.equal(await a.getByTestId("review-link").count(), 0)
  assert.match(await a.getByTestId("submitted-note").innerText(), /^This version was submitted on .+ and cannot be changed\. Start a new version to update it\.$/)

  // Typed straight into the address bar, a section of the submitted version has no inputs.
  for (const s of ["coercion", "summary", "completed-by"]) {
    await a.goto(`${base}/${s}`)
    await a.getByTestId("submitted-note").filter({ hasText: "cannot be changed. Start a new version to update it." }).waitFor({ timeout: TIMEOUT })
    await a.getByTestId("frozen-text").first().waitFor()
    assert.equal(await editControls(a).count(), 0, `${s}: nothing to edit`)
  }
  // The review page itself, for a practitioner: who reviews it, no form.
  await a.goto(`${base}/review`)
  await a.getByTestId("review-who").filter({ hasText: "reviewed by a child protection chair" }).waitFor({ timeout: TIMEOUT })
  assert.equal(await editControls(a).count(), 0, "no review form for a practitioner")
  assert.deepEqual(await axeViolations(a), [], "review page, practitioner")
  await screenshot(a, "review-practitioner")
  await upToDate(a)

  // The chair: "Review this assessment", the level and two decisions, preselected by level.
  const { page: c } = await app.phone("cy")
  await c.goto(`${base}/check`)
  await c.getByTestId("review-link").click({ timeout: TIMEOUT })
  await c.getByRole("heading", { name: "Review the risk assessment" }).waitFor()
  assert.ok(await c.getByLabel("Moderate", { exact: true }).isChecked(), "the submitted level is preselected")
  // Saving without the meeting decision is refused with a GOV.UK error summary.
  await c.getByTestId("save-review").click()
  await c.locator("#error-summary").getByText("Select whether a CCE multi-agency meeting is needed").waitFor()
  await c.getByRole("group", { name: "Is a CCE multi-agency meeting needed?" }).getByLabel("Yes", { exact: true }).check()
  assert.ok(await c.getByRole("group", { name: "Who chairs it" }).getByLabel("Team manager").isChecked(), "Moderate: the team manager chairs by default")
  await c.getByLabel("Note").fill("Agree Moderate; meeting within 15 days.")
  assert.deepEqual(await axeViolations(c), [], "review form, chair")
  await screenshot(c, "review-chair")
  await c.getByTestId("save-review").click()
  const status = c.getByTestId("review-status")
  await status.getByText(new RegExp(`^Reviewed by ${literally(DISPLAY_NAMES.cy)} \\(child protection chair\\) on .+: overall level Moderate\\.$`)).waitFor({ timeout: TIMEOUT })
  await status.getByText("A CCE multi-agency meeting is needed, chaired by team manager.").waitFor()
  await upToDate(c)
  // The practitioner's phone sees the review, and the waiting line is gone.
  await a.goto(`${base}/check`)
  await a.getByTestId("review-status").getByText(/^Reviewed by /).waitFor({ timeout: TIMEOUT })
  assert.equal(await a.getByTestId("review-waiting").count(), 0)
})

test("a meeting with two attendees and the plan agreed is on the case page and in the chronology; the plan as agreed stays as it was", async () => {
  const { page } = await app.phone("ayo")
  const id = await createCase(page, "Test Person Meeting")
  await page.goto(`${app.server.url}#/case/${id}/plan`)
  await page.getByLabel("What is known about the exploitation and who is involved").fill("Known before the meeting.")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()

  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("record-meeting").click()
  await page.getByRole("heading", { name: "Record a meeting" }).waitFor()
  // Nothing filled in: the error summary lists what is needed.
  await page.getByTestId("save-meeting").click()
  await page.locator("#error-summary").getByText("Enter the date of the meeting").waitFor()
  await page.getByLabel("Date and time of the meeting").fill(await localInput(page, Date.now() - 2 * 3_600_000))
  await page.getByLabel("Strategy discussion").check()
  await page.getByLabel("Who chaired it").fill("Chair Example")
  const attendees = page.getByTestId("attendee")
  await attendees.nth(0).getByLabel("Name").fill("Attendee One")
  await attendees.nth(0).getByLabel("Agency").fill("Police")
  await page.getByTestId("add-attendee").click()
  await attendees.nth(1).getByLabel("Name").fill("Attendee Two")
  await attendees.nth(1).getByLabel("Agency").fill("School")
  await page.getByRole("group", { name: "Overall risk level agreed" }).getByLabel("High").check()
  await page.getByRole("group", { name: "Is a CCE multi-agency meeting needed?" }).getByLabel("Yes", { exact: true }).check()
  await page.getByRole("group", { name: "Who chairs it" }).getByLabel("Child protection chair").check()
  await page.getByLabel("Make an NRM referral").check()
  await page.getByLabel("An initial child protection conference (ICPC) was considered").check()
  await page.getByLabel("The safety plan as it stands was agreed at this meeting").check()
  await page.getByLabel("Decisions and actions").fill("Refer to NRM. Disrupt the flat.")
  assert.deepEqual(await axeViolations(page), [], "meeting form")
  await screenshot(page, "meeting")
  await page.getByTestId("save-meeting").click()

  const meetings = page.getByTestId("meetings")
  await meetings.getByText("Strategy discussion").waitFor({ timeout: TIMEOUT })
  assert.match(await meetings.innerText(), /level agreed: High · safety plan agreed · 2 attendees/)

  // The plan changes after the meeting; the plan as agreed does not.
  await page.goto(`${app.server.url}#/case/${id}/plan`)
  await page.getByLabel("What is known about the exploitation and who is involved").fill("Changed after the meeting.")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await page.goto(`${app.server.url}#/case/${id}`)
  await meetings.getByRole("link", { name: /Strategy discussion/ }).click()
  const agreed = page.getByTestId("plan-as-agreed")
  await agreed.getByText("See the plan as agreed").click()
  await agreed.getByText("Known before the meeting.").waitFor()
  assert.equal(await agreed.getByText("Changed after the meeting.").count(), 0)
  // The saved meeting reads back: both attendees, the decisions.
  assert.equal(await page.getByTestId("attendee").count(), 2)
  assert.equal(await page.getByTestId("attendee").nth(1).getByLabel("Agency").inputValue(), "School")
  assert.ok(await page.getByLabel("The safety plan as it stands was agreed at this meeting").isChecked())
  assert.ok(await page.getByLabel("An initial child protection conference (ICPC) was considered").isChecked())

  await page.goto(`${app.server.url}#/case/${id}/chronology`)
  await page.getByTestId("filter-events").click()
  await page.getByLabel("Meeting", { exact: true }).waitFor()
  await page.getByLabel("Concerns identified", { exact: true }).waitFor()
  await page.locator("[data-testid=chronology] tr[data-kind=meeting]").first().waitFor({ timeout: TIMEOUT })
  await upToDate(page)
})

test("a CCE concerns record is saved and listed on the case page", async () => {
  const { page } = await app.phone("ayo")
  const id = await createCase(page, "Test Person Concern")
  await page.getByTestId("record-concern").click()
  await page.getByRole("heading", { name: "CCE concerns identified" }).waitFor()
  await page.getByTestId("save-concern").click()
  await page.locator("#error-summary").getByText("Enter what the concerns are").waitFor()
  await page.getByLabel("When the concerns came to light").fill(await localInput(page, Date.now() - 3_600_000))
  await page.getByLabel("What the concerns are").fill("Found with cash and a second phone.")
  assert.deepEqual(await axeViolations(page), [], "concern form")
  await screenshot(page, "concern")
  await page.getByTestId("save-concern").click()
  await page.getByTestId("concerns").getByText("Found with cash and a second phone.").waitFor({ timeout: TIMEOUT })
  await page.goto(`${app.server.url}#/case/${id}/chronology`)
  await page.locator("[data-testid=chronology] tr[data-kind=concern]").first().waitFor({ timeout: TIMEOUT })
})

test("a note's reachable-moment kind and two new indicators, and two legal statuses together, survive a reload", async () => {
  const { page } = await app.phone("ayo")
  const id = await createCase(page, "Test Person Vocabulary")
  await page.getByTestId("add-note").click()
  await page.getByLabel("What happened").fill("Seen at A&E after an assault.")
  await page.getByLabel("Drugs hidden inside their body").check()
  await page.getByLabel("New interest in making money").check()
  await page.getByLabel("This was a reachable moment").check()
  await page.getByLabel("Hospital or A&E attendance").check()
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  const note = page.url()
  await page.reload()
  await page.goto(note)
  await page.getByLabel("What happened").and(page.locator("textarea")).waitFor({ timeout: TIMEOUT })
  await page.waitForFunction(() => document.getElementById("note-text")?.value === "Seen at A&E after an assault.", null, { timeout: TIMEOUT })
  assert.ok(await page.getByLabel("Drugs hidden inside their body").isChecked())
  assert.ok(await page.getByLabel("New interest in making money").isChecked())
  assert.ok(await page.getByLabel("This was a reachable moment").isChecked())
  assert.ok(await page.getByLabel("Hospital or A&E attendance").isChecked())
  assert.equal(await page.getByLabel("Arrest or time in custody").isChecked(), false)

  await page.goto(`${app.server.url}#/case/${id}/profile`)
  await page.getByRole("heading", { name: "About the young person" }).waitFor()
  await page.getByLabel("Looked after").check()
  await page.getByLabel("Care order").check()
  await page.getByLabel("At risk of exclusion").check()
  await page.getByLabel("Transition-to-adulthood worker").fill("Transition Worker Example")
  await page.getByLabel("Level from another area's tool (as stated)").fill("Very high")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  assert.deepEqual(await axeViolations(page), [], "profile")
  await screenshot(page, "profile")
  await page.reload()
  await page.goto(`${app.server.url}#/case/${id}/profile`)
  await page.waitForFunction(() => document.getElementById("profile-externalLevel")?.value === "Very high", null, { timeout: TIMEOUT })
  assert.ok(await page.getByLabel("Looked after").isChecked(), "looked after")
  assert.ok(await page.getByLabel("Care order").isChecked(), "and a care order")
  assert.equal(await page.getByLabel("Child in need").isChecked(), false)
  assert.ok(await page.getByLabel("At risk of exclusion").isChecked())
  await upToDate(page)
})

test("an interview completed after it was due asks why it was late, and keeps the answer", async () => {
  const { page } = await app.phone("ayo")
  const id = await createCase(page, "Test Person Late Interview")
  await page.goto(`${app.server.url}#/case/${id}/missing/new`)
  const returned = Date.now() - 6 * 86_400_000
  await page.getByLabel("When they went missing").fill(await localInput(page, returned - 12 * 3_600_000))
  await page.getByLabel("Home", { exact: true }).check()
  await page.getByLabel(/When they were found or returned/).fill(await localInput(page, returned))
  await page.getByLabel("Completed", { exact: true }).check()
  // Within 72 hours: nothing more to say.
  await page.getByLabel("When it was completed").fill(await localInput(page, returned + 24 * 3_600_000))
  assert.equal(await page.getByTestId("rhi-late").count(), 0)
  // Four days after the return: late.
  await page.getByLabel("When it was completed").fill(await localInput(page, returned + 4 * 86_400_000))
  await page.getByTestId("rhi-late").getByText("The interview was late. Why?").waitFor()
  await page.getByTestId("save-missing").click()
  const summary = page.locator("#error-summary")
  await summary.getByText("Select why the return home interview was late").waitFor()
  await summary.getByRole("link").click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), "rhi-late-reason", "its link goes to the question")
  await page.locator("#rhi-late-reason-other").check()
  await page.getByTestId("save-missing").click()
  await summary.getByText("Enter why the return home interview was late").waitFor()
  await page.locator("#rhi-late-text").fill("The family were away until the weekend")
  assert.deepEqual(await axeViolations(page), [], "missing episode with a late interview")
  await page.getByTestId("save-missing").click()
  await page.getByTestId("missing-list").getByRole("link", { name: /Missing from home/ }).click()
  await page.getByTestId("rhi-late").waitFor({ timeout: TIMEOUT })
  assert.ok(await page.locator("#rhi-late-reason-other").isChecked())
  assert.equal(await page.locator("#rhi-late-text").inputValue(), "The family were away until the weekend")
})
