// "Find a case" on "Due and overdue" (issue 14): a person types part of a young person's
// name (or the name they are known by) and sees only the matching cases; clearing the
// field shows every case again; a search that matches nothing says so. The result is said
// in a polite live region, the field has a visible label, and the page passes axe at 360 px.
// Real server (demo caseload: Ayo has 5 cases), real Chromium, real IndexedDB.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, screenshot360, signInAs, upToDate, useApp } from "./browser.mjs"

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

// Home keeps each case as it last read it, across screens (issue 14: opening home with 1,000
// cases re-read every one), and reads again only a case whose document moved: a name
// changed on the case's own screen, or by a colleague on another phone while this one was
// elsewhere, is found at once when the person comes back.
test("home shows at once a name changed on another screen, or on another phone while this one was elsewhere", async () => {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, "ayo")
  const all = page.getByTestId("caseload-progress").filter({ hasText: "All 5 cases in your caseload are on this device" })
  await all.waitFor({ timeout: TIMEOUT })
  const shown = page.locator("[data-testid=due-line]:visible [data-testid=case-link]")
  const results = page.getByTestId("find-results")
  const find = page.getByRole("searchbox", { name: "Find a case" })
  await shown.nth(4).waitFor()

  // On this phone: Kasey's profile, then home again.
  await find.pressSequentially("kasey")
  await shown.filter({ hasText: "Demo — Kasey Brightwater" }).click()
  await page.getByTestId("case-name").filter({ hasText: "Demo — Kasey Brightwater" }).waitFor()
  const kasey = page.url().split("#/case/")[1]
  await page.goto(`${app.server.url}#/case/${kasey}/profile`)
  await page.getByLabel("Known as").fill("Invented Zephyr")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await page.goto(`${app.server.url}#/`)
  await find.pressSequentially("zephyr")
  await results.filter({ hasText: "1 case of 5 matches “zephyr”" }).waitFor({ timeout: TIMEOUT })
  assert.deepEqual(await shown.allTextContents(), ["Demo — Kasey Brightwater"])

  // Another phone (the same worker's) renames what Rio is known by while this one shows
  // another screen; home, opened again, finds the new name.
  await page.goto(`${app.server.url}#/settings`)
  const other = await app.browser.newContext(PHONE)
  const phone = await other.newPage()
  await signInAs(phone, app.server.url, "ayo")
  await phone.getByTestId("caseload-progress").filter({ hasText: "All 5 cases in your caseload are on this device" }).waitFor({ timeout: TIMEOUT })
  await phone.getByRole("searchbox", { name: "Find a case" }).pressSequentially("rio")
  await phone.locator("[data-testid=due-line]:visible [data-testid=case-link]").filter({ hasText: "Demo — Rio Halloran-Peck" }).click()
  await phone.getByTestId("case-name").filter({ hasText: "Demo — Rio Halloran-Peck" }).waitFor()
  const rio = phone.url().split("#/case/")[1]
  await phone.goto(`${app.server.url}#/case/${rio}/profile`)
  await phone.getByLabel("Known as").fill("Invented Quillon")
  await phone.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await upToDate(phone)
  await other.close()

  await page.goto(`${app.server.url}#/`)
  await find.pressSequentially("quillon")
  await results.filter({ hasText: "1 case of 5 matches “quillon”" }).waitFor({ timeout: TIMEOUT })
  assert.deepEqual(await shown.allTextContents(), ["Demo — Rio Halloran-Peck"])
  await context.close()
})
