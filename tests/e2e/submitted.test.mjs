// Issue 8 in headless Chromium against the real server: a submitted risk assessment cannot
// be changed from any screen, and a colleague's offline edits made before their phone
// learned of the submission are kept in a new draft — never merged into the submitted
// version — on both phones.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { createCase, upToDate, axeViolations, useApp, startAssessment, DISPLAY_NAMES, literally } from "./browser.mjs"

const app = useApp()

/** Controls that could change something on the page's main content. */
const editControls = page => page.locator("main").locator("textarea, input, select, [data-testid=submit-assessment], [data-testid=check-answers], [data-testid=save-continue]")

const textOf = page => page.locator("#category-text, #summary").first()

test("a submitted version cannot be changed anywhere, and offline edits made before seeing the submission become a new draft on both phones", async () => {
  const A = await app.phone("ayo")
  const B = await app.phone("bea")
  const a = A.page
  const b = B.page
  const id = await createCase(a, "Test Person Submitted")
  const aid = await startAssessment(a, app.server.url, id)
  const base = `${app.server.url}#/case/${id}/assessment/${aid}`
  const sections = await a.getByTestId("task-list").getByRole("link").evaluateAll(l => l.map(x => x.getAttribute("href").split("/").pop()))
  const categories = sections.slice(0, 12)
  for (const cid of categories) {
    await a.goto(`${base}/${cid}`)
    await a.getByLabel("Information and analysis").fill(`A saw ${cid}.`)
    await a.getByLabel("Moderate", { exact: true }).check()
  }
  await a.goto(`${base}/summary`)
  await a.getByLabel("Summary of concerns and analysis").fill("A's summary.")
  await a.getByLabel("Moderate", { exact: true }).check()
  await a.goto(`${base}/completed-by`)
  await a.getByLabel("Names and roles").fill("Worker A (social care)")
  await upToDate(a)

  // Phone B has the draft open, then loses signal before the submission reaches it.
  await b.goto(`${base}/coercion`)
  await b.getByLabel("Information and analysis").and(b.locator("textarea")).waitFor()
  await b.waitForFunction(() => document.getElementById("category-text")?.value === "A saw coercion.", null, { timeout: TIMEOUT })
  await upToDate(b)
  await B.context.setOffline(true)
  await b.getByTestId("sync-status").filter({ hasText: /Offline/ }).waitFor()

  await a.goto(`${base}/check`)
  await a.getByTestId("submit-assessment").click()
  await a.getByTestId("assessment-history").getByText(/overall: Moderate/).waitFor()
  await upToDate(a)

  // B, still offline, keeps working on what it thinks is the draft.
  await b.getByLabel("Information and analysis").fill("A saw coercion. B: new older friends.")
  await b.getByLabel("High", { exact: true }).check()
  await b.goto(`${base}/summary`)
  await b.getByLabel("Summary of concerns and analysis").fill("A's summary. B adds money owed.")
  await b.getByLabel("High", { exact: true }).check()
  await B.context.setOffline(false)
  await upToDate(b)
  await upToDate(a)

  for (const p of [a, b]) {
    // The submitted version reads as submitted, on every screen, with nothing to edit.
    await p.goto(`${app.server.url}#/case/${id}/assessments`)
    const history = p.getByTestId("assessment-history")
    await history.getByText(/overall: Moderate/).waitFor({ timeout: TIMEOUT })
    await history.getByTestId("late-edits").waitFor({ timeout: TIMEOUT })
    assert.match(await history.getByTestId("late-edits").innerText(),
      new RegExp(String.raw`Changes made on another device after this version was submitted are kept in a new draft[\s\S]*Set by ${literally(DISPLAY_NAMES.bea)}`))
    assert.deepEqual(await axeViolations(p), [], "versions with late edits")
    for (const s of sections) {
      await p.goto(`${base}/${s}`)
      await p.getByTestId("submitted-note").waitFor({ timeout: TIMEOUT })
      assert.equal(await editControls(p).count(), 0, `${s}: nothing to edit`)
    }
    await p.goto(`${base}/coercion`)
    await p.getByTestId("frozen-text").getByText("A saw coercion.", { exact: true }).waitFor()
    assert.match(await p.getByTestId("frozen-rating").innerText(), new RegExp(`^Moderate \\(set by ${literally(DISPLAY_NAMES.ayo)}`))
    assert.deepEqual(await axeViolations(p), [], "a submitted section")
    await p.goto(`${base}/summary`)
    await p.getByTestId("frozen-text").getByText("A's summary.", { exact: true }).waitFor()
    assert.match(await p.getByTestId("frozen-rating").innerText(), /^Moderate/)
    await p.goto(`${base}/check`)
    await p.getByTestId("check-list").waitFor()
    await p.getByTestId("submitted-note").waitFor()
    assert.equal(await editControls(p).count(), 0, "check answers: nothing to submit")
    assert.equal(await p.getByTestId("check-list").getByRole("link", { name: /Change/ }).count(), 0)
    await p.getByTestId("check-list").getByText("A saw coercion.", { exact: true }).waitFor()
    assert.equal(await p.getByTestId("check-list").getByText(/B: new older friends/).count(), 0)
    await p.goto(base)
    await p.getByTestId("task-list").waitFor()
    await p.getByTestId("late-edits").waitFor()
    assert.equal(await editControls(p).count(), 0, "task list: no way to submit again")
  }

  // Phone A opens the late edits as a draft: B's changes are all there.
  await a.goto(`${app.server.url}#/case/${id}/assessments`)
  await a.getByTestId("open-late-edits").click()
  await a.getByTestId("task-list").waitFor()
  const draft = a.url().split("/assessment/")[1]
  assert.notEqual(draft, aid)
  const draftBase = `${app.server.url}#/case/${id}/assessment/${draft}`
  for (const p of [a, b]) {
    if (p === b) {
      // B learns of the draft by sync, and the offer on the submitted version goes away.
      await b.goto(`${app.server.url}#/case/${id}/assessments`)
      await b.getByTestId("continue-assessment").filter({ hasText: /made from changes after the version/ }).click({ timeout: TIMEOUT })
      await b.getByTestId("task-list").waitFor()
      assert.equal(b.url().split("/assessment/")[1], draft)
      await b.goto(`${app.server.url}#/case/${id}/assessments`)
      await b.getByTestId("late-edits").waitFor({ state: "detached", timeout: TIMEOUT })
    }
    await p.goto(`${draftBase}/coercion`)
    await p.waitForFunction(() => document.getElementById("category-text")?.value === "A saw coercion. B: new older friends.", null, { timeout: TIMEOUT })
    assert.ok(await p.getByLabel("High", { exact: true }).isChecked())
    await p.goto(`${draftBase}/summary`)
    await p.waitForFunction(() => document.getElementById("summary")?.value === "A's summary. B adds money owed.", null, { timeout: TIMEOUT })
    assert.ok(await p.getByLabel("High", { exact: true }).isChecked())
    assert.equal(await textOf(p).isEditable(), true, "the new draft is editable")
    // And the submitted version is still as it was.
    await p.goto(`${base}/summary`)
    await p.getByTestId("frozen-text").getByText("A's summary.", { exact: true }).waitFor({ timeout: TIMEOUT })
  }
  await A.context.close()
  await B.context.close()
})
