// A device holding more cases than one list shows at once (issue 14: with a thousand cases,
// laying out hundreds of lines again made a keystroke in "Find a case" slow). Home shows the
// 25 most urgent and says so; "Show all" shows every one; a search shows its first 25
// matches and typing again goes back to that. "Your team’s deadlines" shows each worker's 25
// most urgent the same way. Real server seeded with invented demo cases
// (Ayo holds 30), real Chromium, real IndexedDB, 360 px.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, DISPLAY_NAMES, screenshot360, signInAs, useApp } from "./browser.mjs"

const app = useApp(["--demo-cases", "33"])

const PHONE = { viewport: { width: 360, height: 780 }, locale: "en-GB" }

/** A new phone at 360 px, signed in as Ayo, once all 30 of her cases are on it. */
async function ayoWithEveryCase() {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, "ayo")
  await page
    .getByTestId("caseload-progress")
    .filter({ hasText: "All 30 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  return { context, page }
}

test("a long caseload shows its 25 most urgent cases, says so, and shows every one when asked", async t => {
  const { context, page } = await ayoWithEveryCase()
  const shown = page.locator("[data-testid=due-line] [data-testid=case-link]")
  const more = page.getByTestId("find-more")
  // Only the lines shown are in the page.
  const showing = n => page.waitForFunction(
    n => document.querySelectorAll("[data-testid=due-line]").length === n, n)
  await more.filter({ hasText: "The 25 most urgent of 30 cases are shown." }).waitFor()
  await showing(25)
  const first = await shown.allTextContents()
  t.diagnostic(`screenshot: ${await screenshot360(page, "home-first-25-360")}`)
  assert.deepEqual(await axeViolations(page), [])

  await page.getByRole("button", { name: "Show all 30 cases" }).click()
  await more.waitFor({ state: "detached" })
  await showing(30)
  const order = await shown.allTextContents()
  assert.deepEqual(first, order.slice(0, 25), "the 25 shown first are the most urgent, in order")

  // A search matching more than 25 shows its first 25 matches, and can show them all.
  const find = page.getByRole("searchbox", { name: "Find a case" })
  const results = page.getByTestId("find-results")
  await find.pressSequentially("demo")
  await results.filter({ hasText: "30 cases of 30 match “demo”" }).waitFor()
  await more.filter({ hasText: "The first 25 are shown." }).waitFor()
  await showing(25)
  assert.deepEqual(await shown.allTextContents(), order.slice(0, 25))
  await page.getByRole("button", { name: "Show all 30 cases" }).click()
  await more.waitFor({ state: "detached" })
  await showing(30)

  // Typing again goes back to the first lines; a narrow search shows all it finds.
  await find.press("End")
  await find.pressSequentially(" a")
  await results.filter({ hasText: /“demo a”$/ }).waitFor()
  const found = Number((await results.textContent()).match(/^(\d+) cases? of 30/)[1])
  await showing(Math.min(found, 25))
  assert.equal(await more.count(), found > 25 ? 1 : 0)
  await find.fill("")
  await find.pressSequentially("kasey")
  await results.filter({ hasText: "1 case of 30 matches “kasey”" }).waitFor()
  assert.equal(await more.count(), 0, "nothing is left out")
  assert.deepEqual(await shown.allTextContents(), ["Demo — Kasey Brightwater"])
  await context.close()
})

test("your team’s deadlines shows each worker’s 25 most urgent cases and shows all when asked", async t => {
  const { context, page } = await ayoWithEveryCase()
  // Home first, in its order: the team view orders each worker's cases the same way.
  await page.getByRole("button", { name: "Show all 30 cases" }).click()
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=due-line]").length === 30)
  const homeOrder = await page.locator("[data-testid=due-line] [data-testid=case-link]").allTextContents()

  await page.evaluate(() => { location.hash = "#/team" })
  const group = page.getByTestId("team-group").filter({ has: page.getByRole("heading", { name: DISPLAY_NAMES.ayo }) })
  const lines = group.locator("[data-testid=due-line] [data-testid=case-link]")
  const more = group.getByTestId("team-more")
  await more.filter({ hasText: "The 25 most urgent of 30 cases are shown." }).waitFor()
  assert.equal(await lines.count(), 25, "only the lines shown are in the page")
  const first = await lines.allTextContents()
  assert.deepEqual(first, homeOrder.slice(0, 25), "the most urgent first, as on home")
  t.diagnostic(`screenshot: ${await screenshot360(page, "team-first-25-360")}`)
  assert.deepEqual(await axeViolations(page), [])

  await group.getByRole("button", { name: "Show all 30 cases" }).click()
  await more.waitFor({ state: "detached" })
  assert.equal(await lines.count(), 30)
  assert.deepEqual(await lines.allTextContents(), homeOrder, "every case, in the same order")
  await context.close()
})
