// A case the caseload index stops listing (access lost: a grant removed with the admin CLI)
// is deleted from the device: from IndexedDB, from the case list, and an open case page says
// so. A case created on the device and not yet listed when the index changes stays.
import { test } from "node:test"
import assert from "node:assert/strict"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { createCase, noRecordsOnDevice, recordsOnDevice, useApp } from "./browser.mjs"

const app = useApp()

const caseLinks = page => page.getByTestId("case-list").getByTestId("case-link")
const allOnDevice = (page, n) =>
  page.getByTestId("caseload-progress").filter({ hasText: `All ${n} cases in your caseload are on this device` })

test("a case whose grant is removed is deleted from the device; one created here and not yet listed is kept", async () => {
  // Cal (South team) is lent one of Ayo's North cases with a read grant.
  const north = await runClient(app.server.wsUrl, ["cases"], "ayo")
  assert.equal(north.code, 0, north.stderr)
  const id = north.stdout.split("\n")[0].replace(/^automerge:/, "")
  const { context, page } = await app.phone("cal")
  await allOnDevice(page, 3).waitFor({ timeout: TIMEOUT })
  const own = await caseLinks(page).allTextContents()
  await app.server.admin("grants", "add", id, "--user", "demo-cal", "--access", "read")
  await allOnDevice(page, 4).waitFor({ timeout: TIMEOUT })
  const link = page.getByTestId("case-list").locator(`a[href$="#/case/${id}"]`)
  const name = await link.textContent()
  assert.ok(name.startsWith("Demo — ") && !own.includes(name), name)
  await link.click()
  await page.getByTestId("case-name").filter({ hasText: name }).waitFor()
  const { chunks } = await recordsOnDevice(page, id)
  assert.ok(chunks > 0, "the case is stored on the device before it is unlisted")

  // Offline, Cal's phone makes a case of its own (the server cannot list it yet) and goes
  // back to the lent case; meanwhile the grant is removed.
  await context.setOffline(true)
  await page.getByTestId("sync-status").filter({ hasText: /Offline/ }).waitFor({ timeout: TIMEOUT })
  await page.goto(`${app.server.url}#/`)
  const mine = await createCase(page, "Test Person Local")
  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("case-name").filter({ hasText: name }).waitFor()
  await app.server.admin("grants", "remove", id, "--user", "demo-cal")
  await context.setOffline(false)

  // The open page says so, and IndexedDB no longer holds any of it.
  await page.getByTestId("case-removed")
    .filter({ hasText: "This case is no longer available on this device" })
    .waitFor({ timeout: TIMEOUT })
  await noRecordsOnDevice(page, id)

  // Off the list; the case created here stays, on the device too (and the server, once it
  // has it, lists it as Cal's).
  await page.goto(`${app.server.url}#/`)
  await allOnDevice(page, 4).waitFor({ timeout: TIMEOUT })
  const names = await caseLinks(page).allTextContents()
  assert.deepEqual(names.sort(), [...own, "Test Person Local"].sort())
  assert.ok((await recordsOnDevice(page, mine)).chunks > 0)

  // After a reload (everything read back from IndexedDB) it does not come back.
  await page.reload()
  await allOnDevice(page, 4).waitFor({ timeout: TIMEOUT })
  const after = await caseLinks(page).allTextContents()
  assert.deepEqual(after.sort(), [...own, "Test Person Local"].sort())
  assert.deepEqual(await recordsOnDevice(page, id), { chunks: 0, states: 0 })
  await context.close()
})
