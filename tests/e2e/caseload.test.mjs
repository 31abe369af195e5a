// A new device learns the signed-in person's whole caseload from the server (with visible
// progress) and stays current: a case made elsewhere by Ayo (her CLI, her phone) reaches her
// devices and her team colleague Bea's, and nobody else's. Only the server writes the index.
import { test } from "node:test"
import assert from "node:assert/strict"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { createCase, signInAs, upToDate, useApp } from "./browser.mjs"

const app = useApp()

const caseLinks = page => page.getByTestId("case-list").getByTestId("case-link")
const allOnDevice = (page, n) =>
  page.getByTestId("caseload-progress").filter({ hasText: `All ${n} cases in your caseload are on this device` })

/** The caseload index of `who` as the server keeps it, through the CLI signed in as them. */
async function caseload(who) {
  const listed = await runClient(app.server.wsUrl, ["cases"], who)
  assert.equal(listed.code, 0, listed.stderr)
  return listed.stdout ? listed.stdout.split("\n") : []
}

test("a new device pulls the person's demo cases, showing progress, then stays current", async () => {
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
  await signInAs(page, app.server.url, "ayo")
  await allOnDevice(page, 5).waitFor({ timeout: TIMEOUT })
  assert.equal(await caseLinks(page).count(), 5)
  const names = await caseLinks(page).allTextContents()
  assert.ok(names.every(n => n.startsWith("Demo — ")), names.join(", "))
  const seen = await page.evaluate(() => window.__progress)
  assert.match(seen[0], /^Fetching cases from the server: \d of 5$/, seen.join(" | "))
  await upToDate(page)
  // Bea's phone: the same team, the same five.
  const { context: beaContext, page: bea } = await app.phone("bea")
  await allOnDevice(bea, 5).waitFor({ timeout: TIMEOUT })
  assert.deepEqual((await caseLinks(bea).allTextContents()).sort(), [...names].sort())

  // A case Ayo creates with the CLI shows up on her phone and Bea's without a reload.
  const made = await runClient(app.server.wsUrl, ["create-case", "--name", "Test Person Remote", "--dob", "2011-02-03"], "ayo")
  assert.equal(made.code, 0, made.stderr)
  for (const p of [page, bea]) {
    await caseLinks(p).filter({ hasText: "Test Person Remote" }).waitFor({ timeout: TIMEOUT })
    await allOnDevice(p, 6).waitFor({ timeout: TIMEOUT })
  }

  // A case created on Ayo's phone is listed by the server (the device never writes the
  // index, docs/ACCESS.md) and so reaches Bea; Cal, in the other team, gets neither.
  const local = await createCase(page, "Test Person Local")
  await upToDate(page)
  await caseLinks(bea).filter({ hasText: "Test Person Local" }).waitFor({ timeout: TIMEOUT })
  await allOnDevice(bea, 7).waitFor({ timeout: TIMEOUT })
  for (const who of ["ayo", "bea"]) {
    const urls = await caseload(who)
    assert.equal(urls.length, 7, urls.join("\n"))
    assert.ok(urls.includes(made.stdout) && urls.includes(`automerge:${local}`), urls.join("\n"))
  }
  const cal = await caseload("cal")
  assert.equal(cal.length, 3, cal.join("\n"))
  assert.ok(!cal.includes(made.stdout) && !cal.includes(`automerge:${local}`), cal.join("\n"))
  await context.close()
  await beaContext.close()
})
