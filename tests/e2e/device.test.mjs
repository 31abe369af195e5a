// A lost phone leaks nothing (issue 11): the app locks after idle time, shows nothing of a
// case while locked, erases its copy after too many wrong passcodes (keeping unsent work,
// which signing in again recovers and sends), signs out only when everything is sent and
// then leaves nothing behind, "Exit this page" leaves for a neutral page that Back cannot
// undo, and a device an administrator removed deletes its copy at its next contact.
// Real server (with its admin CLI), real Chromium, real IndexedDB.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { runClient, TIMEOUT, DEMO_USERS } from "../interop/harness.mjs"
import {
  addNote, appServer, axeViolations, createCase, signIn, signInAs, choosePasscode, unlock, upToDate, useApp, PASSCODES,
} from "./browser.mjs"

const app = useApp()

let shots
async function screenshot(page, name) {
  shots ??= await mkdtemp(path.join(tmpdir(), "fieldbook-device-shots-"))
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true })
  return path.join(shots, `${name}.png`)
}

/** A phone whose reloads are NOT unlocked for it: these tests are about the lock. */
async function phone(url, who = "ayo") {
  const context = await app.browser.newContext()
  const page = await context.newPage()
  await signInAs(page, url, who, { auto: false })
  return { context, page }
}

/** The names of the IndexedDB databases this origin has. */
const databases = page => page.evaluate(async () => (await indexedDB.databases()).map(d => d.name))

const lockScreen = page => page.getByTestId("lock-screen")
const lockError = page => page.locator("#error-summary")

test("the app locks after the configured idle time, shows nothing of a case while locked, and unlocks to where it was", async t => {
  // A server whose policy locks after 4 idle seconds.
  process.env.FIELDBOOK_DEVICE_IDLE_LOCK_SECS = "4"
  const server = await appServer()
  try {
    await server.start()
  } finally {
    delete process.env.FIELDBOOK_DEVICE_IDLE_LOCK_SECS
  }
  const { context, page } = await phone(server.url)
  try {
    const NAME = "Invented Idlewild Person"
    const NOTE = "Met at the invented Quillfeather library"
    const id = await createCase(page, NAME)
    await addNote(page, NOTE)
    await page.getByTestId("note-text").filter({ hasText: NOTE }).waitFor()
    const before = Date.now()
    await lockScreen(page).waitFor({ timeout: TIMEOUT })
    t.diagnostic(`locked ${Date.now() - before} ms after the last interaction`)
    const shown = await page.evaluate(() => `${document.title}\n${document.body.innerText}`)
    for (const secret of [NAME, "Invented", NOTE, "Quillfeather", "Ayo Demo"]) {
      assert.ok(!shown.includes(secret), `the locked page shows ${secret}:\n${shown}`)
    }
    assert.equal(await page.title(), "Fieldbook")
    await page.getByRole("heading", { name: "Fieldbook is locked" }).waitFor()
    t.diagnostic(`screenshot: ${await screenshot(page, "locked")}`)
    assert.deepEqual(await axeViolations(page), [])

    await unlock(page, "ayo")
    assert.ok(page.url().endsWith(`#/case/${id}`), page.url())
    await page.getByTestId("note-text").filter({ hasText: NOTE }).waitFor({ timeout: TIMEOUT })
  } finally {
    await context.close()
    await server.close()
  }
})

test("wrong passcodes warn, then erase the device's copy except unsent work, which signing in again recovers and sends", async () => {
  const { context, page } = await phone(app.server.url)
  const id = await createCase(page, "Invented Wipe Person")
  await upToDate(page)
  await context.setOffline(true)
  const NOTE = "Written offline, kept through the wipe"
  await addNote(page, NOTE)
  await page.getByTestId("waiting").filter({ hasText: "1 note waiting to send" }).waitFor({ timeout: TIMEOUT })

  await page.reload() // offline: the service worker serves the app, which opens locked
  await lockScreen(page).waitFor({ timeout: TIMEOUT })
  const attempt = async n => {
    await page.getByLabel("Passcode", { exact: true }).fill(`wrong-passcode-${n}`)
    await page.getByRole("button", { name: "Unlock" }).click()
    // Each answer clears the field (or leaves the lock screen, after the last one).
    await page.waitForFunction(() => (document.getElementById("passcode")?.value ?? "") === "", null, { timeout: TIMEOUT })
  }
  await attempt(1)
  await lockError(page).filter({ hasText: "The passcode is not right." }).waitFor()
  assert.doesNotMatch(await lockError(page).textContent(), /attempts? left/, "no warning while 3 or more remain")
  await attempt(2)
  await attempt(3)
  await lockError(page).filter({ hasText: "2 attempts left. After that this device's copy of your cases will be erased." }).waitFor()
  await attempt(4)
  await lockError(page).filter({ hasText: "1 attempt left." }).waitFor()
  await attempt(5)
  const notice = page.getByTestId("lock-notice")
  await notice.filter({ hasText: "This device's copy was erased after 5 wrong passcodes." }).waitFor({ timeout: TIMEOUT })
  assert.match(await notice.textContent(), /1 case has changes not yet sent\. They are kept, encrypted, until you sign in again\./)
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor()

  // A reload still asks for sign-in (the passcode is gone), not the passcode.
  await page.reload()
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor({ timeout: TIMEOUT })
  assert.equal(await lockScreen(page).count(), 0)

  await context.setOffline(false)
  await signIn(page, DEMO_USERS.ayo.username, DEMO_USERS.ayo.password)
  await choosePasscode(page, PASSCODES.ayo)
  // Back on the case it was showing, with the kept note, which now goes.
  await page.getByTestId("note-text").filter({ hasText: NOTE }).waitFor({ timeout: TIMEOUT })
  await upToDate(page)
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`], "ayo")
  assert.equal(got.code, 0, got.stderr)
  assert.ok(got.stdout.includes(NOTE), `the kept note reached the server:\n${got.stdout}`)

  // The new passcode works.
  await page.reload()
  await unlock(page, "ayo")
  await page.getByTestId("note-text").filter({ hasText: NOTE }).waitFor({ timeout: TIMEOUT })
  await context.close()
})

test("signing out is refused while anything is unsent, then deletes the device's database", async () => {
  const { context, page } = await phone(app.server.url)
  await createCase(page, "Invented Signout Person")
  await upToDate(page)
  await context.setOffline(true)
  await addNote(page, "Written offline before signing out")
  await page.getByTestId("waiting").filter({ hasText: "1 note waiting to send" }).waitFor({ timeout: TIMEOUT })
  await page.goto(`${app.server.url}#/settings`)
  await page.getByTestId("sign-out").click()
  await page.getByTestId("sign-out-problem").filter({ hasText: "You cannot sign out yet" }).waitFor({ timeout: TIMEOUT })
  assert.ok((await databases(page)).includes("fieldbook-v2"))

  await context.setOffline(false)
  await upToDate(page)
  await page.getByTestId("sign-out").click()
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor({ timeout: TIMEOUT })
  const left = await databases(page)
  assert.ok(!left.includes("fieldbook-v2") && !left.includes("fieldbook"), `the device's databases are gone: ${left}`)
  const session = await page.evaluate(async () => (await fetch("/api/session")).status)
  assert.equal(session, 401, "the server ended the session")
  await context.close()
})

test("Exit this page leaves for a neutral page at once; Back shows the lock screen, not the case", async () => {
  const { context, page } = await phone(app.server.url)
  const NAME = "Invented Exitway Person"
  await createCase(page, NAME)
  assert.deepEqual(await axeViolations(page), [], "the case page with Exit this page")
  await page.getByTestId("exit-this-page").click()
  await page.waitForURL(/\/exit\.html$/, { timeout: TIMEOUT })
  assert.equal(await page.title(), "Weather")
  const exitText = await page.evaluate(() => document.body.innerText)
  assert.ok(!/Fieldbook|Invented/.test(exitText), exitText)

  await page.goBack()
  await lockScreen(page).waitFor({ timeout: TIMEOUT })
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(NAME))
  await page.goForward()
  await page.waitForURL(/\/exit\.html$/, { timeout: TIMEOUT })
  await page.goBack()
  await lockScreen(page).waitFor({ timeout: TIMEOUT })

  // Three presses of Shift do the same. (Unlocked where Back led, then on the case page:
  // the exit replaces the page it leaves, so Back goes to the entry before it.)
  await unlock(page, "ayo")
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await page.getByRole("link", { name: NAME }).click()
  await page.getByTestId("case-name").filter({ hasText: NAME }).waitFor({ timeout: TIMEOUT })
  for (let i = 0; i < 3; i++) await page.keyboard.press("Shift")
  await page.waitForURL(/\/exit\.html$/, { timeout: TIMEOUT })
  await page.goBack()
  await lockScreen(page).waitFor({ timeout: TIMEOUT })
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(NAME))
  await context.close()
})

test("a device an administrator removed deletes its copy at its next contact", async () => {
  const { context, page } = await phone(app.server.url, "bea")
  await createCase(page, "Invented Revoked Person")
  await upToDate(page)
  const device = await page.evaluate(async () => (await (await fetch("/api/session")).json()).device.id)
  await app.server.admin("devices", "revoke", device)
  // The phone's next contact: the server has closed its connection, or it comes back online.
  await context.setOffline(true)
  await context.setOffline(false)
  await page.getByTestId("device-removed").waitFor({ timeout: TIMEOUT })
  assert.match(await page.getByTestId("device-removed").textContent(), /This device has been removed from Fieldbook by an administrator\./)
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes("Invented Revoked Person"))
  const left = await databases(page)
  assert.ok(!left.includes("fieldbook-v2"), `the device's database is gone: ${left}`)
  await context.close()
})

test("a device that has not reached the server for longer than its lease does not open with the passcode; signing in does", async () => {
  const { context, page } = await phone(app.server.url)
  const NAME = "Invented Leaseholder Person"
  await createCase(page, NAME)
  await upToDate(page)
  await page.goto(`${app.server.url}#/`)
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  // Offline from here, so the page records no newer contact; then the last contact is
  // moved 15 days back (the lock facts are plain: counters and ids, readable while locked).
  await context.setOffline(true)
  await page.getByTestId("sync-status").filter({ hasText: /Offline/ }).waitFor({ timeout: TIMEOUT })
  const moved = await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open("fieldbook-v2")
        open.onerror = () => reject(open.error)
        open.onsuccess = () => {
          const db = open.result
          const tx = db.transaction("meta", "readwrite")
          const meta = tx.objectStore("meta")
          const get = meta.get("lock_facts")
          get.onsuccess = () => {
            const facts = JSON.parse(get.result)
            if (typeof facts.last_contact_ms !== "number") return reject(new Error(`no last contact: ${get.result}`))
            facts.last_contact_ms -= 15 * 24 * 3600 * 1000
            meta.put(JSON.stringify(facts), "lock_facts")
          }
          tx.oncomplete = () => { db.close(); resolve(true) }
          tx.onerror = () => reject(tx.error)
        }
      }),
  )
  assert.ok(moved)
  await page.reload()
  const notice = page.getByTestId("lock-notice")
  await notice.filter({ hasText: "This device has not reached the server for more than 14 days. Connect to the internet and sign in to unlock." }).waitFor({ timeout: TIMEOUT })
  assert.equal(await lockScreen(page).count(), 0, "no passcode field")
  assert.ok(!(await page.evaluate(() => document.body.innerText)).includes(NAME))

  await context.setOffline(false)
  await signIn(page, DEMO_USERS.ayo.username, DEMO_USERS.ayo.password)
  // The passcode still works, so none is asked for: the app opens.
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await page.getByRole("link", { name: NAME }).waitFor({ timeout: TIMEOUT })
  await upToDate(page)
  await page.reload()
  await unlock(page, "ayo")
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await context.close()
})

test("choosing a passcode: too short or not confirmed is refused in the error summary", async () => {
  const context = await app.browser.newContext()
  const page = await context.newPage()
  await page.goto(app.server.url)
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor({ timeout: TIMEOUT })
  await signIn(page, DEMO_USERS.mo.username, DEMO_USERS.mo.password)
  await page.getByRole("heading", { name: "Choose a passcode for this device" }).waitFor({ timeout: TIMEOUT })
  const summary = page.locator("#error-summary")
  const choose = async (a, b) => {
    await page.getByLabel("Passcode", { exact: true }).fill(a)
    await page.getByLabel("Confirm passcode").fill(b)
    await page.getByRole("button", { name: "Save passcode" }).click()
  }
  await choose("12345", "12345")
  await summary.filter({ hasText: "Passcode must be 6 characters or more" }).waitFor()
  await choose(PASSCODES.mo, `${PASSCODES.mo}x`)
  await summary.filter({ hasText: "Passcodes do not match" }).waitFor()
  assert.deepEqual(await axeViolations(page), [])
  assert.equal(await page.getByTestId("case-list").count(), 0, "no case before a passcode is set")
  await choose(PASSCODES.mo, PASSCODES.mo)
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await context.close()
})

test("the app locks once it has been in the background longer than the grace the server sets", async t => {
  process.env.FIELDBOOK_DEVICE_HIDDEN_GRACE_SECS = "2"
  const server = await appServer()
  try {
    await server.start()
  } finally {
    delete process.env.FIELDBOOK_DEVICE_HIDDEN_GRACE_SECS
  }
  const { context, page } = await phone(server.url)
  try {
    const NAME = "Invented Backgrounded Person"
    await createCase(page, NAME)
    // The page is hidden, as when the worker switches apps. Headless Chromium keeps every
    // page visible (another tab in front or a minimised window changes nothing), so the
    // page's visibility is set as the browser would report it, and its event fired.
    await page.evaluate(() => {
      Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" })
      Object.defineProperty(document, "hidden", { configurable: true, get: () => true })
      document.dispatchEvent(new Event("visibilitychange"))
    })
    const hiddenAt = Date.now()
    await lockScreen(page).waitFor({ timeout: TIMEOUT })
    t.diagnostic(`locked ${Date.now() - hiddenAt} ms after being hidden (grace 2 s)`)
    const shown = await page.evaluate(() => `${document.title}\n${document.body.innerText}`)
    assert.ok(!shown.includes(NAME), shown)
    await unlock(page, "ayo")
    await page.getByTestId("case-name").filter({ hasText: NAME }).waitFor({ timeout: TIMEOUT })
  } finally {
    await context.close()
    await server.close()
  }
})
