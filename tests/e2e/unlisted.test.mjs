// A case the caseload index stops listing (access lost) is deleted from the device: from
// IndexedDB, from the case list, and an open case page says so. A case created on the device
// and never listed stays.
import { test } from "node:test"
import assert from "node:assert/strict"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { createCase, useApp } from "./browser.mjs"

const app = useApp(["--demo"])

const caseLinks = page => page.getByTestId("case-list").getByRole("link")

/** Records of document `id` in the app's IndexedDB: [chunks, sync states]. */
function storedRecords(page, id) {
  return page.evaluate(id => new Promise((resolve, reject) => {
    const open = indexedDB.open("fieldbook")
    open.onerror = () => reject(open.error)
    open.onsuccess = () => {
      const db = open.result
      const tx = db.transaction(["chunks", "sync_states"])
      const range = IDBKeyRange.bound(`${id}/`, `${id}/\uffff`)
      const chunks = tx.objectStore("chunks").count(range)
      const states = tx.objectStore("sync_states").count(range)
      tx.oncomplete = () => { db.close(); resolve([chunks.result, states.result]) }
      tx.onerror = () => { db.close(); reject(tx.error) }
    }
  }), id)
}

test("a case unlisted from the caseload index is deleted from the device; one created here is kept", async () => {
  const context = await app.browser.newContext()
  const page = await context.newPage()
  await page.goto(app.server.url)
  await page.getByTestId("caseload-progress")
    .filter({ hasText: "All 8 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  const mine = await createCase(page, "Test Person Local")

  await page.goto(`${app.server.url}#/`)
  await caseLinks(page).first().waitFor()
  assert.equal(await caseLinks(page).count(), 9)
  const link = caseLinks(page).filter({ hasText: "Demo — " }).first()
  const name = await link.textContent()
  const id = (await link.getAttribute("href")).split("#/case/")[1]
  assert.ok(id && id !== mine, id)
  await link.click()
  await page.getByTestId("case-name").filter({ hasText: name }).waitFor()
  const [chunks] = await storedRecords(page, id)
  assert.ok(chunks > 0, "the case is stored on the device before it is unlisted")

  const unlisted = await runClient(app.server.wsUrl, ["unlist", `automerge:${id}`])
  assert.equal(unlisted.code, 0, unlisted.stderr)

  // The open page says so, and IndexedDB no longer holds any of it.
  await page.getByTestId("case-removed")
    .filter({ hasText: "This case is no longer available on this device" })
    .waitFor({ timeout: TIMEOUT })
  await page.waitForFunction(async id => {
    const open = indexedDB.open("fieldbook")
    const db = await new Promise((ok, fail) => { open.onsuccess = () => ok(open.result); open.onerror = () => fail(open.error) })
    const tx = db.transaction(["chunks", "sync_states"])
    const range = IDBKeyRange.bound(`${id}/`, `${id}/\uffff`)
    const counts = [tx.objectStore("chunks").count(range), tx.objectStore("sync_states").count(range)]
    await new Promise((ok, fail) => { tx.oncomplete = ok; tx.onerror = () => fail(tx.error) })
    db.close()
    return counts.every(c => c.result === 0)
  }, id, { timeout: TIMEOUT })

  // Off the list; the case created here (never listed) stays, on the device too.
  await page.goto(`${app.server.url}#/`)
  await page.getByTestId("caseload-progress")
    .filter({ hasText: "All 7 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  const names = await caseLinks(page).allTextContents()
  assert.equal(names.length, 8, names.join(", "))
  assert.ok(!names.includes(name), names.join(", "))
  assert.ok(names.includes("Test Person Local"), names.join(", "))
  assert.ok((await storedRecords(page, mine))[0] > 0)

  // After a reload (everything read back from IndexedDB) it does not come back.
  await page.reload()
  await page.getByTestId("caseload-progress")
    .filter({ hasText: "All 7 cases in your caseload are on this device" })
    .waitFor({ timeout: TIMEOUT })
  const after = await caseLinks(page).allTextContents()
  assert.equal(after.length, 8, after.join(", "))
  assert.ok(!after.includes(name), after.join(", "))
  assert.deepEqual(await storedRecords(page, id), [0, 0])
  await context.close()
})
