// The case file in headless Chromium against the real server: a 12-category risk assessment
// completed offline, a conflict on the overall level seen and settled on two devices, the
// missing-episode rule, the chronology across devices, and axe-core on every screen.
import { test } from "node:test"
import assert from "node:assert/strict"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { createCase, addNote, upToDate, axeViolations, useApp, offline, startAssessment, DISPLAY_NAMES, literally } from "./browser.mjs"

const CATEGORIES = [
  "missing", "coercion", "contact", "substances", "education", "online",
  "sexual-health", "health", "family", "offending", "isolation", "safeguarding",
]
const app = useApp()

const start = () => app.server.start()
const stop = () => app.server.stop()

/** A phone with the demo person `who` signed in (their name is the author of their changes), service worker ready. */
async function device(who) {
  return (await app.phone(who)).page
}

// Ayo and Bea are in the same team, so both may edit each other's cases.
const AYO = DISPLAY_NAMES.ayo
const BEA = DISPLAY_NAMES.bea

test("a 12-category risk assessment is completed offline, survives a reload, and is submitted", async () => {
  const page = await device("ayo")
  const id = await createCase(page, "Test Person Assessed")
  await upToDate(page)
  const aid = await startAssessment(page, app.server.url, id)
  await stop()
  await offline(page)
  const base = `${app.server.url}#/case/${id}/assessment/${aid}`
  for (const [i, cid] of CATEGORIES.entries()) {
    if (i === 6) {
      // Half-way through, the phone reloads the app with no signal.
      await page.reload()
    }
    await page.goto(`${base}/${cid}`)
    await page.getByLabel("Information and analysis").fill(`Observed for ${cid}.`)
    await page.getByLabel(["missing", "coercion", "contact", "offending"].includes(cid) ? "High" : "Emerging", { exact: true }).check()
  }
  await page.goto(`${base}/summary`)
  await page.getByLabel("Summary of concerns and analysis").fill("Pattern of missing with coercion.")
  await page.getByLabel("High", { exact: true }).check()
  await page.goto(`${base}/completed-by`)
  await page.getByLabel("Names and roles").fill("Worker A (social care), Officer B (youth justice)")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await page.reload()
  await page.goto(`${base}/check`)
  const check = page.getByTestId("check-list")
  await check.getByText("Observed for safeguarding.").waitFor()
  assert.equal(await check.getByText("Not rated").count(), 0)
  await page.getByText(/strongly suggest criminal exploitation/).first().waitFor()
  await page.getByTestId("submit-assessment").click()
  await page.getByTestId("assessment-history").getByText(/overall: High/).waitFor()
  assert.deepEqual(await axeViolations(page), [])
  // A practitioner cannot confirm the level: a High version waits for a child protection chair.
  await page.getByTestId("assessment-history").getByText(/waiting for review by a child protection chair/).waitFor()
  assert.equal(await page.getByTestId("review-link").count(), 0)

  await start()
  await upToDate(page)
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`])
  assert.equal(got.code, 0, got.stderr)
  const doc = JSON.parse(got.stdout)
  const a = doc.assessments.find(x => x.id === aid)
  assert.ok(a.submitted, "submitted on the server")
  assert.equal(a.overall.value, "high")
  assert.equal(a.confirmed, undefined, "not confirmed by the practitioner")
  assert.equal(a.review, undefined)
  assert.equal(a.categories.coercion.rating.value, "high")
  assert.equal(a.categories.safeguarding.text, "Observed for safeguarding.")
  await page.context().close()
})

test("two devices set different overall levels offline: both see both values and who set them, then settle", async () => {
  const a = await device("ayo")
  const b = await device("bea")
  const id = await createCase(a, "Test Person Disputed")
  const aid = await startAssessment(a, app.server.url, id)
  await upToDate(a)
  const summary = `#/case/${id}/assessment/${aid}/summary`
  await b.goto(app.server.url + summary)
  await b.getByLabel("Moderate", { exact: true }).waitFor({ timeout: TIMEOUT })
  await upToDate(b)

  await stop()
  await a.goto(app.server.url + summary)
  await a.getByLabel("High", { exact: true }).check()
  await b.getByLabel("Emerging", { exact: true }).check()
  for (const p of [a, b]) await p.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()

  await start()
  for (const p of [a, b]) {
    const conflict = p.getByTestId("conflict-overall")
    await conflict.waitFor({ timeout: TIMEOUT })
    const candidates = await conflict.getByTestId("candidate").allTextContents()
    assert.equal(candidates.length, 2, candidates.join(" | "))
    assert.ok(candidates.some(c => c.startsWith("High") && c.includes(`set by ${AYO}`)), candidates.join(" | "))
    assert.ok(candidates.some(c => c.startsWith("Emerging") && c.includes(`set by ${BEA}`)), candidates.join(" | "))
    await p.getByTestId("conflicts").waitFor()
  }
  assert.deepEqual(await axeViolations(b), [])
  await b.getByRole("button", { name: "Keep High" }).click()
  for (const p of [a, b]) {
    await p.getByTestId("conflict-overall").waitFor({ state: "detached", timeout: TIMEOUT })
    await p.getByText(new RegExp(`Set by ${literally(BEA)} at`)).waitFor({ timeout: TIMEOUT })
    assert.ok(await p.getByLabel("High", { exact: true }).isChecked())
  }
  await a.context().close()
  await b.context().close()
})

test("a missing episode whose interview was not completed cannot be saved without a reason", async () => {
  const page = await device("ayo")
  const id = await createCase(page, "Test Person Missing")
  await page.goto(`${app.server.url}#/case/${id}/missing/new`)
  const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10)
  await page.getByLabel("When they went missing").fill(`${day}T10:00`)
  await page.getByLabel("Care", { exact: true }).check()
  await page.getByLabel(/When they were found or returned/).fill(`${day}T22:00`)
  await page.getByLabel("Not completed", { exact: true }).check()
  assert.deepEqual(await axeViolations(page), [])
  await page.getByTestId("save-missing").click()
  const summary = page.locator("#error-summary")
  await summary.getByText("Select why the return home interview was not completed").waitFor()
  // The summary takes focus (so a screen reader announces it).
  await page.waitForFunction(() => document.activeElement?.id === "error-summary")
  assert.deepEqual(await axeViolations(page), [])
  await summary.getByRole("link").click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), "rhi-reason", "its link goes to the field")
  assert.match(page.url(), /missing\/new$/, "not saved")

  await page.getByLabel("Other", { exact: true }).check()
  await page.getByTestId("save-missing").click()
  await summary.getByText("Enter why the return home interview was not completed").waitFor()
  await page.getByLabel("Reason in your words").fill("Moved out of area the next morning")
  await page.getByTestId("save-missing").click()
  await page.getByTestId("missing-list").getByText(/Missing from care/).waitFor()
  const patterns = page.getByTestId("missing-patterns")
  await patterns.getByText("1 in the last 30 days, 1 in the last 90, 1 in all").waitFor()
  await patterns.getByText("Usually away about 12 hours (median)").waitFor()
  await patterns.getByText("1 return with no completed return home interview").waitFor()
  assert.deepEqual(await axeViolations(page), [], "case page with missing patterns")
  await page.context().close()
})

test("the chronology shows events from both devices in time order, and every screen passes axe", async () => {
  const a = await device("ayo")
  const b = await device("bea")
  const id = await createCase(a, "Test Person Timeline")
  await upToDate(a)
  assert.deepEqual(await axeViolations(a), [], "case page")
  await b.goto(`${app.server.url}#/case/${id}`)
  await b.getByTestId("case-name").waitFor()

  await addNote(a, "Note written on device A")
  await a.getByTestId("add-note").click()
  await a.getByLabel("What happened").waitFor()
  assert.deepEqual(await axeViolations(a), [], "note form")
  await a.getByTestId("note-done").click()

  await b.goto(`${app.server.url}#/case/${id}/missing/new`)
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
  await b.getByLabel("When they went missing").fill(`${day}T09:00`)
  await b.getByLabel("Home", { exact: true }).check()
  await b.getByTestId("save-missing").click()
  await b.getByTestId("missing-list").waitFor()
  await upToDate(a)
  await upToDate(b)

  await a.goto(`${app.server.url}#/case/${id}/chronology`)
  const table = a.getByTestId("chronology")
  await table.locator("tr[data-kind=missing]").waitFor({ timeout: TIMEOUT })
  await table.locator("tr[data-kind=contact]").first().waitFor()
  const rows = await table.locator("tbody tr").evaluateAll(trs => trs.map(tr => [tr.dataset.kind, tr.cells[0].textContent]))
  const kinds = rows.map(r => r[0])
  assert.ok(kinds.indexOf("missing") < kinds.indexOf("contact"), JSON.stringify(rows))
  const times = rows.map(([, t]) => {
    const [, dd, mm, yyyy, hh, mi] = t.match(/(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d)/)
    return Date.parse(`${yyyy}-${mm}-${dd}T${hh}:${mi}`)
  })
  assert.deepEqual(times, [...times].sort((x, y) => x - y), JSON.stringify(rows))
  assert.deepEqual(await axeViolations(a), [], "chronology")

  // Filtering by type (the filters are folded under "Filter events").
  await a.getByTestId("filter-events").click()
  await a.getByLabel("Contact", { exact: true }).uncheck()
  await table.locator("tr[data-kind=contact]").first().waitFor({ state: "detached" })
  assert.ok((await table.locator("tr[data-kind=missing]").count()) > 0)

  await a.goto(app.server.url)
  await a.getByTestId("case-list").waitFor()
  assert.deepEqual(await axeViolations(a), [], "case list")
  const aid = await startAssessment(a, app.server.url, id)
  assert.deepEqual(await axeViolations(a), [], "assessment task list")
  await a.goto(`${app.server.url}#/case/${id}/assessment/${aid}/coercion`)
  await a.getByLabel("Information and analysis").waitFor()
  assert.deepEqual(await axeViolations(a), [], "assessment category")
  await a.goto(`${app.server.url}#/case/${id}/assessment/${aid}/check`)
  await a.getByTestId("check-list").waitFor()
  assert.deepEqual(await axeViolations(a), [], "check answers")
  await a.goto(`${app.server.url}#/case/${id}/plan`)
  await a.getByLabel("Next review").waitFor()
  assert.deepEqual(await axeViolations(a), [], "safety plan")
  await a.goto(`${app.server.url}#/case/${id}/profile`)
  await a.getByLabel("In their own words").fill("I want to be a mechanic.")
  await a.getByLabel("Child in need").check()
  assert.deepEqual(await axeViolations(a), [], "profile")
  await upToDate(a)
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`])
  const profile = JSON.parse(got.stdout).profile
  // Legal statuses are ticked (they combine): `legalStatuses: { <id>: true }`.
  assert.deepEqual([profile.voice, profile.legalStatuses], ["I want to be a mechanic.", { cin: true }])
  await a.context().close()
  await b.context().close()
})

test("a link the app does not understand shows Page not found, never a page for an impossible id", async () => {
  const page = await device("ayo")
  const id = await createCase(page, "Test Person Routed")
  const notFound = page.getByRole("heading", { level: 1, name: "Page not found" })
  for (const hash of ["#/nowhere", "#/case/not-a-case-id", `#/case/${id}/note/bad%20id`, `#/case/${id}/assessment/a1/no-such-section`, `#/case/${id}/plan/extra`]) {
    await page.goto(`${app.server.url}${hash}`)
    await notFound.waitFor()
    assert.equal(await page.getByTestId("case-list").count(), 0, hash)
  }
  // Control: a real page of the same case opens, and the way back from Not found works.
  await page.goto(`${app.server.url}#/case/${id}/plan`)
  await page.getByRole("heading", { level: 1, name: "Safety plan" }).waitFor()
  assert.equal(await notFound.count(), 0)
  await page.goto(`${app.server.url}#/nowhere`)
  await page.getByRole("link", { name: "Go to your cases" }).click()
  await page.getByTestId("case-list").getByRole("link", { name: "Test Person Routed" }).waitFor()
})
