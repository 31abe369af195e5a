// The PWA in real headless Chromium against the real server: offline start, offline edits,
// two devices merging, and surviving a killed app.browser.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { runClient, removeDir, TIMEOUT } from "../interop/harness.mjs"
import { launchKillable, createCase, addNote, upToDate, useApp, signInAs, autoUnlock } from "./browser.mjs"

const app = useApp()

const start = () => app.server.start()
const stop = () => app.server.stop()

const noteTexts = page => page.getByTestId("note-text").allTextContents()

test("works offline: loads from the service worker, keeps notes, syncs when the server returns", async () => {
  const { context, page } = await app.phone("ayo")
  const id = await createCase(page, "Offline Test Child")
  await upToDate(page)
  await page.evaluate(() => navigator.serviceWorker.ready)

  await stop()
  await page.reload()
  await page.getByTestId("case-name").filter({ hasText: "Offline Test Child" }).waitFor()
  await page.getByTestId("sync-status").filter({ hasText: /Offline|Connecting/ }).waitFor()
  await addNote(page, "Written with no signal at the skate park.")
  await page.getByTestId("waiting").filter({ hasText: "1 note waiting to send" }).waitFor()
  await page.reload()
  await page.getByTestId("case-name").filter({ hasText: "Offline Test Child" }).waitFor()
  await page.getByTestId("note-text").first().waitFor()
  assert.deepEqual(await noteTexts(page), ["Written with no signal at the skate park."])

  await start()
  await upToDate(page)
  // Verified through an independent client, not the page's own memory.
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`])
  assert.equal(got.code, 0, got.stderr)
  assert.equal(JSON.parse(got.stdout).notes[0].text, "Written with no signal at the skate park.")
  await context.close()
})

test("two devices edit the same case offline and converge with both notes and merged text", async () => {
  // Ayo's case; Bea is in the same team, so her phone may edit it too.
  const { page: a } = await app.phone("ayo")
  const { page: b } = await app.phone("bea")
  const id = await createCase(a, "Two Device Child")
  await addNote(a, "Shared start")
  await upToDate(a)
  await b.goto(`${app.server.url}#/case/${id}`)
  await b.getByTestId("note-text").filter({ hasText: "Shared start" }).waitFor()
  await b.evaluate(() => navigator.serviceWorker.ready)
  await upToDate(b)

  await stop()
  await a.getByTestId("sync-status").filter({ hasText: /Offline|Connecting/ }).waitFor()
  await b.getByTestId("sync-status").filter({ hasText: /Offline|Connecting/ }).waitFor()
  // Both edit the shared note's text, and each adds a note of its own.
  for (const [page, edit] of [[a, "Shared start, A was here"], [b, "B says: Shared start"]]) {
    await page.getByRole("link", { name: /Face-to-face/ }).first().click()
    await page.getByLabel("What happened").fill(edit)
    await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
    await page.getByTestId("note-done").click()
  }
  await addNote(a, "Note from device A")
  await addNote(b, "Note from device B")

  await start()
  for (const page of [a, b]) {
    await upToDate(page)
    await page.getByTestId("note-text").filter({ hasText: "Note from device A" }).waitFor({ timeout: TIMEOUT })
    await page.getByTestId("note-text").filter({ hasText: "Note from device B" }).waitFor({ timeout: TIMEOUT })
  }
  const [ta, tb] = [(await noteTexts(a)).sort(), (await noteTexts(b)).sort()]
  assert.deepEqual(ta, tb)
  const shared = ta.find(t => t.includes("Shared start"))
  assert.equal(shared, "B says: Shared start, A was here")
})

test("a note survives the browser being killed right after typing", async () => {
  const profile = await mkdtemp(path.join(tmpdir(), "fieldbook-profile-"))
  let chrome = await launchKillable(profile)
  let page = await chrome.context.newPage()
  await signInAs(page, app.server.url, "ayo")
  const id = await createCase(page, "Durable Child")
  await page.getByTestId("add-note").click()
  await page.getByLabel("What happened").pressSequentially("Typed just before the crash")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await stop() // so the note can only come back from the device itself
  await chrome.kill()

  chrome = await launchKillable(profile)
  page = await chrome.context.newPage()
  autoUnlock(page, "ayo") // the restarted browser opens the app locked
  await page.goto(`${app.server.url}#/case/${id}`).catch(() => {}) // server is down: the service worker answers
  await page.getByTestId("note-text").filter({ hasText: "Typed just before the crash" }).waitFor({ timeout: TIMEOUT })
  await chrome.kill()
  await start()
  await removeDir(profile)
})
