// An erased case stays erased, in the PWA: a phone that was offline during the erasure, with
// an unsent note on the case, reconnects and deletes its copy instead of uploading it; a
// colleague's phone drops it; the server's store has no chunk of it and no device gets it.
// A restricted case shows its banner to the person named and is gone for the rest.
import { test } from "node:test"
import assert from "node:assert/strict"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { noRecordsOnDevice, recordsOnDevice, upToDate, useApp } from "./browser.mjs"

const app = useApp()

/** Rows the server's store holds for `id` (read with the sqlite3 tool, as an auditor would). */
function rowsOnServer(id) {
  const file = join(app.server.dir, "fieldbook.sqlite3")
  const sql = `SELECT (SELECT count(*) FROM chunks WHERE doc_id = '${id}') + (SELECT count(*) FROM sync_states WHERE doc_id = '${id}')`
  return new Promise((resolve, reject) => {
    execFile("sqlite3", ["-readonly", file, sql], (err, stdout, stderr) => err ? reject(new Error(stderr)) : resolve(Number(stdout.trim())))
  })
}

async function northCases() {
  const r = await runClient(app.server.wsUrl, ["cases"], "ayo")
  assert.equal(r.code, 0, r.stderr)
  return r.stdout.split("\n").map(l => l.replace(/^automerge:/, ""))
}

const removedNotice = page =>
  page.getByTestId("case-removed").filter({ hasText: "This case is no longer available on this device" })

test("a case erased while a phone was offline is deleted from it when it reconnects, and stays erased everywhere", async () => {
  const [x] = await northCases()
  const ayo = await app.phone("ayo")
  const bea = await app.phone("bea")
  for (const { page } of [ayo, bea]) {
    await page.goto(`${app.server.url}#/case/${x}`)
    await page.getByTestId("case-name").waitFor({ timeout: TIMEOUT })
  }
  assert.ok(await rowsOnServer(x) > 0, "the server holds the case before")
  assert.ok(Object.values(await recordsOnDevice(ayo.page, x)).reduce((a, b) => a + b) > 0, "Ayo's phone holds the case before")

  // Ayo's phone loses signal and a note is written on it; meanwhile the case is erased.
  await ayo.context.setOffline(true)
  await ayo.page.getByTestId("sync-status").filter({ hasText: /Offline/ }).waitFor({ timeout: TIMEOUT })
  await ayo.page.getByTestId("add-note").click()
  await ayo.page.getByLabel("What happened").fill("Written offline before the erasure")
  await ayo.page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await ayo.page.goto(`${app.server.url}#/case/${x}`)
  await app.server.admin("erase-case", x, "--reason", "Test erasure request (invented)")

  // Bea's phone, online, drops it.
  await removedNotice(bea.page).waitFor({ timeout: TIMEOUT })
  await noRecordsOnDevice(bea.page, x)

  // Ayo's phone comes back: it deletes its copy, unsent note and all, and uploads nothing.
  await ayo.context.setOffline(false)
  await removedNotice(ayo.page).waitFor({ timeout: TIMEOUT })
  await noRecordsOnDevice(ayo.page, x)
  await ayo.page.goto(`${app.server.url}#/`)
  await ayo.page.getByTestId("case-list").waitFor()
  assert.equal(await ayo.page.getByTestId("case-list").locator(`a[href$="#/case/${x}"]`).count(), 0)

  // The server: no row of it, the tombstone done, and nobody can fetch it.
  assert.equal(await rowsOnServer(x), 0, "no chunk or sync state of the erased case")
  const erasures = (await app.server.admin("erasures", "--json")).split("\n").filter(Boolean).map(l => JSON.parse(l))
  const mine = erasures.find(e => e.doc === x)
  assert.ok(mine?.content_removed, JSON.stringify(erasures))
  assert.equal(mine.reason, "Test erasure request (invented)")
  const fresh = await runClient(app.server.wsUrl, ["get", `automerge:${x}`], "bea")
  assert.equal(fresh.code, 3, `a fresh device cannot fetch it: ${fresh.stdout} ${fresh.stderr}`)
  await ayo.context.close()
  await bea.context.close()
})

test("a restricted case shows its banner to the person named and leaves everyone else's phone", async () => {
  const [, y] = await northCases()
  const ayo = await app.phone("ayo")
  const bea = await app.phone("bea")
  for (const { page } of [ayo, bea]) {
    await page.goto(`${app.server.url}#/case/${y}`)
    await page.getByTestId("case-name").waitFor({ timeout: TIMEOUT })
  }
  assert.equal(await bea.page.getByTestId("restricted").count(), 0, "no banner before")
  await app.server.admin("restrict-case", y, "--reason", "Test restriction request (invented)", "--allow", "demo-bea")
  await bea.page.getByTestId("restricted").filter({ hasText: "Restricted case" }).waitFor({ timeout: TIMEOUT })
  await removedNotice(ayo.page).waitFor({ timeout: TIMEOUT })
  // Nobody can change it: an edit is refused on the phone, so nothing waits to be sent.
  await bea.page.getByTestId("add-note").click()
  await bea.page.getByText("this case is restricted: nobody can change it").first().waitFor({ timeout: TIMEOUT })
  await upToDate(bea.page)
  await ayo.context.close()
  await bea.context.close()
})
