// Who sees what (docs/ACCESS.md), in real Chromium against the real server and its admin
// CLI: three signed-in workers and a manager. Ayo and Bea share the North team, Cal is in
// South, Mo manages both (the invented `--demo` accounts).
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { runClient, TIMEOUT } from "../interop/harness.mjs"
import { addNote, createCase, signIn, signInAs, upToDate, useApp, DISPLAY_NAMES } from "./browser.mjs"

const app = useApp()

const caseLinks = page => page.getByTestId("case-list").getByTestId("case-link")
const listed = async page => (await caseLinks(page).allTextContents()).sort()
/** The case list says all `n` cases (any number when `n` is omitted) are on the device. */
const progress = (page, n) =>
  page
    .getByTestId("caseload-progress")
    .filter({ hasText: n === undefined ? /All \d+ cases in your caseload are on this device/ : `All ${n} cases in your caseload are on this device` })

let shots
async function screenshot(page, name) {
  shots ??= await mkdtemp(path.join(tmpdir(), "fieldbook-access-shots-"))
  await page.setViewportSize({ width: 360, height: 740 })
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true })
}

test("each worker sees their team's cases; another team's case is not available; grants come and go; the audit names them", async () => {
  const { page: a } = await app.phone("ayo")
  const { page: b } = await app.phone("bea")
  const { page: c } = await app.phone("cal")
  const { page: m } = await app.phone("mo")
  for (const [page, n] of [[a, 5], [b, 5], [c, 3], [m, 8]]) {
    await progress(page, n).waitFor({ timeout: TIMEOUT })
  }
  const north = await listed(a)
  assert.deepEqual(await listed(b), north, "same team, same cases")
  const south = await listed(c)
  assert.ok(south.every(n => !north.includes(n)), "the teams' cases do not overlap")
  assert.deepEqual(await listed(m), [...north, ...south].sort(), "the manager sees both teams")
  await screenshot(c, "case-list-cal")

  // A case Ayo creates reaches Bea and Mo, never Cal.
  const id = await createCase(a, "Invented Access Person")
  await addNote(a, "First contact for the access test.")
  await upToDate(a)
  await caseLinks(b).filter({ hasText: "Invented Access Person" }).waitFor({ timeout: TIMEOUT })
  await caseLinks(m).filter({ hasText: "Invented Access Person" }).waitFor({ timeout: TIMEOUT })
  await b.goto(`${app.server.url}#/case/${id}`)
  await b.getByTestId("case-name").filter({ hasText: "Invented Access Person" }).waitFor({ timeout: TIMEOUT })
  // Bea, in the same team, may edit it: her note reaches Ayo's phone.
  await addNote(b, "Second contact, by a team colleague.")
  await upToDate(b)
  await a.getByTestId("note-text").filter({ hasText: "Second contact, by a team colleague." }).waitFor({ timeout: TIMEOUT })
  await progress(c, 3).waitFor()
  assert.ok(!(await listed(c)).includes("Invented Access Person"))

  // Cal opening Ayo's case link sees that it is not available.
  await c.goto(`${app.server.url}#/case/${id}`)
  await c.getByTestId("case-unavailable").waitFor({ timeout: TIMEOUT })
  assert.match(await c.getByTestId("case-unavailable").textContent(), /This case is not available/)
  await screenshot(c, "not-available-cal")

  // A read grant lists it for Cal; removing it takes it off Cal's device again.
  await c.goto(app.server.url)
  await app.server.admin("grants", "add", id, "--user", "demo-cal", "--access", "read")
  await caseLinks(c).filter({ hasText: "Invented Access Person" }).waitFor({ timeout: TIMEOUT })
  await progress(c, 4).waitFor({ timeout: TIMEOUT })
  // Read only: her phone refuses an edit (the server would), so nothing waits to be sent.
  await caseLinks(c).filter({ hasText: "Invented Access Person" }).click()
  await c.getByTestId("add-note").click()
  await c.getByText("you can read this case but not change it").first().waitFor({ timeout: TIMEOUT })
  await upToDate(c)
  await c.goto(app.server.url)
  await app.server.admin("grants", "remove", id, "--user", "demo-cal")
  await progress(c, 3).waitFor({ timeout: TIMEOUT })
  assert.ok(!(await listed(c)).includes("Invented Access Person"))
  await c.goto(`${app.server.url}#/case/${id}`)
  await c.getByTestId("case-removed").waitFor({ timeout: TIMEOUT })

  // The manager sees who has opened the file, on the case page.
  await m.goto(`${app.server.url}#/case/${id}`)
  const whoOpened = m.getByTestId("who-opened")
  await whoOpened.getByRole("cell", { name: DISPLAY_NAMES.bea }).first().waitFor({ timeout: TIMEOUT })

  // The admin CLI's audit lists the reads and the changes, with people and devices.
  const audit = await app.server.admin("audit", "--case", id, "--json")
  const rows = audit.trim().split("\n").map(l => JSON.parse(l))
  const by = (kind, who) =>
    rows.filter(r => r.kind === kind && r.username === `demo-${who}` && r.user_name === DISPLAY_NAMES[who])
  // Ayo's phone registered the case (it made it) and changed it; the others read it from
  // the server, and Bea changed it too.
  const expected = [
    ["case-registered", "ayo"], ["case-changed", "ayo"], ["case-read", "bea"], ["case-changed", "bea"],
    ["case-read", "mo"], ["case-read", "cal"],
  ]
  for (const [kind, who] of expected) {
    const found = by(kind, who)
    assert.ok(found.length > 0, `no ${kind} row for ${who}:\n${audit}`)
    // The PWA names its device from the browser's user agent.
    assert.ok(found.every(r => r.device && r.device_name === "Headless Chrome on Linux"), audit)
  }
  assert.notEqual(by("case-changed", "ayo")[0].device, by("case-changed", "bea")[0].device, "each phone is its own device")
  assert.ok(rows.some(r => r.kind === "grant-added") && rows.some(r => r.kind === "grant-removed"), audit)
})

test("an edit made offline before the session expired reaches the server after signing in again", async () => {
  const { context, page } = await app.phone("ayo")
  await progress(page).waitFor({ timeout: TIMEOUT })
  const id = await createCase(page, "Invented Offline Person")
  await upToDate(page)

  await context.setOffline(true)
  await page.getByTestId("sync-status").filter({ hasText: /Offline/ }).waitFor({ timeout: TIMEOUT })
  await addNote(page, "Written on the bus, before the sign-in ran out.")
  await app.server.admin("sessions", "expire", "demo-ayo")
  await context.setOffline(false)

  const banner = page.getByTestId("signed-out")
  await banner.waitFor({ timeout: TIMEOUT })
  assert.match(await banner.textContent(), /Your sign-in has ended/)
  // Signed out, the device still counts the note as waiting (the count follows writes by a
  // moment, so wait for it rather than read it).
  await page.getByTestId("waiting").filter({ hasText: "1 note waiting to send" }).waitFor({ timeout: TIMEOUT })
  await screenshot(page, "signed-out-ayo")
  // The note is still on the device and not sent.
  const notSent = await runClient(app.server.wsUrl, ["get", `automerge:${id}`], "bea")
  assert.equal(notSent.code, 0, notSent.stderr)
  assert.ok(!notSent.stdout.includes("Written on the bus"), "the server has the note before sign-in")

  await banner.getByRole("link", { name: "Sign in" }).click()
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor()
  await screenshot(page, "sign-in-again-ayo")
  await signIn(page, "demo-ayo", "demo-only-ayo-password")
  // Signed in again as the same person: the banner goes, nothing was lost, and it sends.
  await banner.waitFor({ state: "detached", timeout: TIMEOUT })
  await page.goto(app.server.url)
  await upToDate(page)
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`], "bea")
  assert.equal(got.code, 0, got.stderr)
  assert.ok(got.stdout.includes("Written on the bus, before the sign-in ran out."), got.stdout)
})

test("signing in as someone else on a fresh device shows only their own cases", async () => {
  const context = await app.browser.newContext()
  const page = await context.newPage()
  await signInAs(page, app.server.url, "cal")
  await progress(page, 3).waitFor({ timeout: TIMEOUT })
  assert.equal(await caseLinks(page).count(), 3)
  await context.close()
})
