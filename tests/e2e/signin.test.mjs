// Sign-in in the PWA (docs/ACCESS.md), against the real server and headless Chromium: a
// device with no account shows only the sign-in screen and never connects; a wrong password
// is told in the error summary; the right one opens the case list, which survives a reload;
// signing out empties the device.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { startServer, tempDir, removeDir, TIMEOUT, DEMO_USERS } from "../interop/harness.mjs"
import { launch, axeViolations, signIn, choosePasscode, unlock, PASSCODES, DISPLAY_NAMES } from "./browser.mjs"

const dist = process.env.FIELDBOOK_DIST ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist")
/** A demo practitioner (the harness's server always has the demo accounts). */
const user = { ...DEMO_USERS.ayo, display_name: DISPLAY_NAMES.ayo }
let dir, server, browser

before(async () => {
  dir = await tempDir()
  server = await startServer(dir, ["--static-dir", dist])
  browser = await launch()
})

after(async () => {
  await browser?.close()
  await server?.stop()
  await removeDir(dir)
})

/** A fresh device (its own browser context: no account, no cases) that records every WebSocket it opens. */
async function device() {
  const context = await browser.newContext()
  const page = await context.newPage()
  const sockets = []
  page.on("websocket", ws => sockets.push(ws.url()))
  return { context, page, sockets }
}

const heading = page => page.getByRole("heading", { name: "Sign in to Fieldbook" })
const summary = page => page.locator("#error-summary")

test("a device with no account shows only the sign-in screen, and does not connect", async () => {
  const { context, page, sockets } = await device()
  await page.goto(server.url)
  await heading(page).waitFor({ timeout: TIMEOUT })
  assert.equal(await page.getByTestId("case-list").count(), 0, "no case list before sign-in")
  assert.equal(await page.getByTestId("sync-status").count(), 0, "no connection status before sign-in")
  assert.equal(await page.getByLabel("Username").getAttribute("autocomplete"), "username")
  assert.equal(await page.getByLabel("Password").getAttribute("autocomplete"), "current-password")
  assert.equal(await page.getByLabel("Password").getAttribute("type"), "password")

  // A link to any other page shows the sign-in screen too.
  await page.goto(`${server.url}#/settings`)
  await heading(page).waitFor()

  // Nothing typed: the summary names both fields and links to them.
  await page.getByRole("button", { name: "Sign in" }).click()
  await summary(page).filter({ hasText: "Enter your username" }).waitFor()
  assert.match(await summary(page).textContent(), /Enter your password/)
  await summary(page).getByRole("link", { name: "Enter your password" }).click()
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password")
  assert.deepEqual(await axeViolations(page), [])
  assert.deepEqual(sockets, [], "the app opened a WebSocket with no one signed in")
  await context.close()
})

test("a wrong password is refused in the error summary; the right one opens the case list", async () => {
  const { context, page, sockets } = await device()
  await page.goto(server.url)
  await heading(page).waitFor({ timeout: TIMEOUT })

  await signIn(page, user.username, `${user.password}-wrong`)
  await summary(page).filter({ hasText: "Enter a correct username and password" }).waitFor({ timeout: TIMEOUT })
  assert.equal(await page.getByLabel("Password").inputValue(), "", "the wrong password is cleared")
  assert.equal(await page.getByLabel("Username").inputValue(), user.username, "the username is kept")
  assert.equal(await page.getByTestId("case-list").count(), 0)
  assert.deepEqual(sockets, [], "a refused sign-in does not connect")

  const connected = page.waitForEvent("websocket", { timeout: TIMEOUT })
  await signIn(page, user.username, user.password)
  await choosePasscode(page, PASSCODES.ayo)
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await page.getByRole("heading", { name: "Due and overdue" }).waitFor()
  assert.equal((await page.getByTestId("user-name").textContent()).trim(), user.display_name)
  assert.match((await connected).url(), /\/sync$/)
  await page.getByTestId("sync-status").filter({ hasText: /Sending|Everything sent/ }).waitFor({ timeout: TIMEOUT })

  // The account is kept on the device: a reload opens it locked, the passcode opens the
  // cases, not the sign-in screen.
  await page.reload()
  await unlock(page, "ayo")
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  assert.equal(await heading(page).count(), 0)

  // The settings page says who is signed in, on which device, and signs out.
  await page.goto(`${server.url}#/settings`)
  assert.equal((await page.getByTestId("account-name").textContent()).trim(), user.display_name)
  assert.match(await page.getByTestId("account-device").textContent(), /Chrome/)
  await page.getByTestId("sign-out").click()
  await heading(page).waitFor({ timeout: TIMEOUT })
  assert.equal(await page.getByTestId("case-list").count(), 0, "no case shown once signed out")
  const session = await page.evaluate(async () => (await fetch("/api/session")).status)
  assert.equal(session, 401, "the server ended the session")

  // Signing out emptied the device: after a reload it is a new device (nothing of theirs
  // kept, not even their username), until someone signs in and chooses a passcode.
  await page.reload()
  await heading(page).waitFor({ timeout: TIMEOUT })
  assert.equal(await page.getByLabel("Username").inputValue(), "", "nothing of theirs is kept")
  await signIn(page, user.username, user.password)
  await choosePasscode(page, PASSCODES.ayo)
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await context.close()
})
