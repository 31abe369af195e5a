// "Find a case" on "Due and overdue" (issue 14): a person types part of a young person's
// name (or the name they are known by) and sees only the matching cases; clearing the
// field shows every case again; a search that matches nothing says so. The result is said
// in a polite live region, the field has a visible label, and the page passes axe at 360 px.
// Real server (demo caseload: Ayo has 5 cases), real Chromium, real IndexedDB.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, screenshot360, signInAs, useApp } from "./browser.mjs"

const app = useApp()

const PHONE = { viewport: { width: 360, height: 780 }, locale: "en-GB" }

test("typing part of a name shows only the matching cases; clearing shows all; no match says so", async t => {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, "ayo")
  await page
    .getByTestId("caseload-progress")
    .filter({ hasText: "All 5 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  // Lines the person can see (finding hides the others).
  const shown = page.locator("[data-testid=due-line]:visible [data-testid=case-link]")
  const results = page.getByTestId("find-results")
  await assert.doesNotReject(shown.nth(4).waitFor())
  const everyone = await shown.allTextContents()
  assert.equal(everyone.length, 5, everyone.join(", "))
  assert.ok(everyone.includes("Demo — Kasey Brightwater"), everyone.join(", "))

  // A search box with a visible label, announced politely.
  const find = page.getByRole("searchbox", { name: "Find a case" })
  await find.waitFor()
  assert.equal(await results.getAttribute("aria-live"), "polite")
  assert.equal(await results.textContent(), "", "nothing is said before anything is typed")

  // Part of the surname, in any case.
  await find.pressSequentially("BRIGHTW")
  await results.filter({ hasText: "1 case of 5 matches “BRIGHTW”" }).waitFor()
  assert.deepEqual(await shown.allTextContents(), ["Demo — Kasey Brightwater"])

  // Two words, one of them across the hyphen in a double-barrelled name.
  await find.fill("")
  await find.pressSequentially("rio halloran peck")
  await results.filter({ hasText: "1 case of 5 matches “rio halloran peck”" }).waitFor()
  assert.deepEqual(await shown.allTextContents(), ["Demo — Rio Halloran-Peck"])

  // The name they are known by.
  await find.fill("")
  await find.pressSequentially("tam")
  await results.filter({ hasText: "matches “tam”" }).waitFor()
  assert.deepEqual(await shown.allTextContents(), ["Demo — Tamsin Okonedo-Vale"])

  // Part of a name several share: every one of them, nobody else, in the list's order.
  await find.fill("")
  await find.pressSequentially("demo")
  await results.filter({ hasText: "5 cases of 5 match “demo”" }).waitFor()
  assert.deepEqual(await shown.allTextContents(), everyone)

  // Nothing matches: said in words, and no case is shown.
  await find.fill("")
  await find.pressSequentially("zzq")
  await results.filter({ hasText: "No cases match “zzq”" }).waitFor()
  assert.equal(await shown.count(), 0)
  t.diagnostic(`screenshot: ${await screenshot360(page, "find-no-match-360")}`)
  assert.deepEqual(await axeViolations(page), [])

  // Clearing the field shows every case again, in the same order.
  await find.fill("")
  await page.waitForFunction(() => document.querySelector("[data-testid=find-results]")?.textContent === "")
  assert.deepEqual(await shown.allTextContents(), everyone)

  await find.pressSequentially("kase")
  await results.filter({ hasText: "1 case of 5 matches “kase”" }).waitFor()
  assert.deepEqual(await shown.allTextContents(), ["Demo — Kasey Brightwater"])
  t.diagnostic(`screenshot: ${await screenshot360(page, "find-one-match-360")}`)
  assert.deepEqual(await axeViolations(page), [])

  // The result is a link to the case, as on the full list.
  await shown.first().click()
  await page.getByTestId("case-name").filter({ hasText: "Demo — Kasey Brightwater" }).waitFor()
  await context.close()
})
