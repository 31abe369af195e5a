// A device holding more cases than one list shows at once (issue 14: with a thousand cases,
// laying out hundreds of lines again made a keystroke in "Find a case" slow). Home shows the
// 50 most urgent and says so; "Show all" shows every one; a search shows its first 50
// matches and typing again goes back to that. Real server seeded with invented demo cases
// (Ayo holds 60), real Chromium, real IndexedDB, 360 px.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, screenshot360, signInAs, useApp } from "./browser.mjs"

const app = useApp(["--demo-cases", "63"])

const PHONE = { viewport: { width: 360, height: 780 }, locale: "en-GB" }

test("a long caseload shows its 50 most urgent cases, says so, and shows every one when asked", async t => {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, "ayo")
  await page
    .getByTestId("caseload-progress")
    .filter({ hasText: "All 60 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  const shown = page.locator("[data-testid=due-line] [data-testid=case-link]")
  const more = page.getByTestId("find-more")
  // Only the lines shown are in the page.
  const showing = n => page.waitForFunction(
    n => document.querySelectorAll("[data-testid=due-line]").length === n, n)
  await more.filter({ hasText: "The 50 most urgent of 60 cases are shown." }).waitFor()
  await showing(50)
  const first = await shown.allTextContents()
  t.diagnostic(`screenshot: ${await screenshot360(page, "home-first-50-360")}`)
  assert.deepEqual(await axeViolations(page), [])

  await page.getByRole("button", { name: "Show all 60 cases" }).click()
  await more.waitFor({ state: "detached" })
  await showing(60)
  const order = await shown.allTextContents()
  assert.deepEqual(first, order.slice(0, 50), "the 50 shown first are the most urgent, in order")

  // A search matching more than 50 shows its first 50 matches, and can show them all.
  const find = page.getByRole("searchbox", { name: "Find a case" })
  const results = page.getByTestId("find-results")
  await find.pressSequentially("demo")
  await results.filter({ hasText: "60 cases of 60 match “demo”" }).waitFor()
  await more.filter({ hasText: "The first 50 are shown." }).waitFor()
  await showing(50)
  assert.deepEqual(await shown.allTextContents(), order.slice(0, 50))
  await page.getByRole("button", { name: "Show all 60 cases" }).click()
  await more.waitFor({ state: "detached" })
  await showing(60)

  // Typing again goes back to the first lines; a narrow search shows all it finds.
  await find.press("End")
  await find.pressSequentially(" a")
  await results.filter({ hasText: /“demo a”$/ }).waitFor()
  const found = Number((await results.textContent()).match(/^(\d+) cases? of 60/)[1])
  await showing(Math.min(found, 50))
  assert.equal(await more.count(), found > 50 ? 1 : 0)
  await find.fill("")
  await find.pressSequentially("kasey")
  await results.filter({ hasText: "1 case of 60 matches “kasey”" }).waitFor()
  assert.equal(await more.count(), 0, "nothing is left out")
  assert.deepEqual(await shown.allTextContents(), ["Demo — Kasey Brightwater"])
  await context.close()
})
