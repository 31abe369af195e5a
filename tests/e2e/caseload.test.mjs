// A new device learns the whole caseload from the server (with visible progress), sees cases
// listed elsewhere as they appear, and never writes the index itself.
import { test } from "node:test"
import assert from "node:assert/strict"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { createCase, upToDate, useApp } from "./browser.mjs"

const app = useApp(["--demo"])

const caseLinks = page => page.getByTestId("case-list").getByRole("link")

test("a new device pulls every demo case, showing progress, then stays current", async () => {
  const context = await app.browser.newContext()
  // Record every text the progress line shows, from before the app starts.
  await context.addInitScript(() => {
    window.__progress = []
    new MutationObserver(() => {
      const el = document.querySelector("[data-testid=caseload-progress] p")
      const t = el?.textContent
      if (t && window.__progress.at(-1) !== t) window.__progress.push(t)
    }).observe(document, { subtree: true, childList: true, characterData: true })
  })
  const page = await context.newPage()
  await page.goto(app.server.url)
  await page.getByTestId("caseload-progress")
    .filter({ hasText: "All 8 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  assert.equal(await caseLinks(page).count(), 8)
  const names = await caseLinks(page).allTextContents()
  assert.ok(names.every(n => n.startsWith("Demo — ")), names.join(", "))
  const seen = await page.evaluate(() => window.__progress)
  assert.match(seen[0], /^Fetching cases from the server: \d of 8$/, seen.join(" | "))
  await upToDate(page)

  // A case created on another device shows up here without a reload.
  const made = await runClient(app.server.wsUrl, ["create-case", "--name", "Test Person Remote", "--dob", "2011-02-03"])
  assert.equal(made.code, 0, made.stderr)
  await caseLinks(page).filter({ hasText: "Test Person Remote" }).waitFor({ timeout: TIMEOUT })
  await page.getByTestId("caseload-progress").filter({ hasText: "All 9 cases" }).waitFor({ timeout: TIMEOUT })

  // A case created here is not listed by this device: only the server writes the index
  // (docs/ACCESS.md), so the other devices still see the same 9.
  await createCase(page, "Test Person Local")
  await upToDate(page)
  const listed = await runClient(app.server.wsUrl, ["cases"])
  assert.equal(listed.code, 0, listed.stderr)
  const urls = listed.stdout.split("\n")
  assert.equal(urls.length, 9, listed.stdout)
  assert.ok(urls.includes(made.stdout), listed.stdout)
  await context.close()
})
