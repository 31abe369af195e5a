// Connection health in real headless Chromium against the real server: the status follows
// the browser's offline switch and notices a silently dropped connection within 5 s,
// "Everything sent" means the server has it, and what is waiting is counted in records a
// worker made — and opening a case never makes anything to send.
import { test } from "node:test"
import assert from "node:assert/strict"
import net from "node:net"
import { ImmutableString } from "@automerge/automerge-repo"
import { runClient, jsRepo, serverHas, TIMEOUT } from "../interop/harness.mjs"
import { createCase, addNote, upToDate, waitingText, useApp, signInAs, DISPLAY_NAMES } from "./browser.mjs"

/** The acceptance bound: a dead connection shows as Offline within this long. */
const NOTICE_MS = 5_000
/** Reconnecting after a black hole can wait out a stalled attempt (10 s) plus backoff. */
const RECOVER_MS = 30_000

const app = useApp()

const status = page => page.getByTestId("sync-status")
const waiting = page => page.getByTestId("waiting")

/**
 * A TCP proxy in front of the server that can turn into a black hole: on `blackhole()` it
 * stops forwarding bytes both ways without closing any socket (like a phone whose network
 * vanished, or a NAT that forgot the flow), and accepts new connections without forwarding
 * anything either. After `restore()` new connections work; the old ones stay dead.
 */
async function blackHoleProxy(target) {
  const { hostname, port } = new URL(target)
  const links = new Set()
  let dark = false
  const listener = net.createServer(client => {
    const link = { client, dark }
    links.add(link)
    client.on("error", () => {})
    client.on("close", () => {
      links.delete(link)
      link.upstream?.destroy()
    })
    if (link.dark) return // swallowed: never forwarded, never closed
    const upstream = net.connect(Number(port), hostname)
    link.upstream = upstream
    upstream.on("error", () => {})
    upstream.on("close", () => {
      // A black hole says nothing: the client side is left open.
      if (!link.dark) client.destroy()
    })
    client.on("data", d => link.dark || upstream.write(d))
    upstream.on("data", d => link.dark || client.write(d))
  })
  await new Promise(resolve => listener.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${listener.address().port}/`,
    blackhole() {
      dark = true
      for (const l of links) l.dark = true
    },
    restore() {
      dark = false
    },
    async close() {
      for (const l of links) {
        l.client.destroy()
        l.upstream?.destroy()
      }
      await new Promise(resolve => listener.close(resolve))
    },
  }
}

/** Milliseconds from now until the status says Offline (the wait is the 5 s bound). */
async function offlineWithin(page, act) {
  const started = Date.now()
  await act()
  await status(page).filter({ hasText: "Offline" }).waitFor({ timeout: NOTICE_MS })
  return Date.now() - started
}

test("the browser's offline switch shows Offline at once, and online reconnects", async t => {
  const { context, page } = await app.phone("ayo")
  await createCase(page, "Test Person Switch")
  await upToDate(page)

  const took = await offlineWithin(page, () => context.setOffline(true))
  t.diagnostic(`Offline shown ${took} ms after the switch`)
  assert.ok(took < NOTICE_MS, `${took} ms`)
  assert.equal(await waitingText(page), "Nothing waiting to send")

  await context.setOffline(false)
  await upToDate(page)
  await context.close()
})

test("a silently dropped connection shows Offline within 5 s; a note waits as a note and is on the server when the page says so", async t => {
  const proxy = await blackHoleProxy(app.server.url)
  const context = await app.browser.newContext()
  try {
    // Signed in through the proxy (its own origin), so the session and the sync socket both
    // go through it.
    const page = await context.newPage()
    await signInAs(page, proxy.url, "ayo")
    const id = await createCase(page, "Test Person Dropped")
    await upToDate(page)
    assert.match(await waitingText(page), /^Everything sent (at|on) /)

    // The network vanishes without a word: no close, no error, the browser still "online".
    const took = await offlineWithin(page, () => proxy.blackhole())
    t.diagnostic(`Offline shown ${took} ms after the connection went dark`)
    assert.ok(took < NOTICE_MS, `${took} ms`)
    assert.equal(await page.evaluate(() => navigator.onLine), true, "the browser never knew")

    // A note typed now is one note waiting, however many keystrokes it took.
    const text = "Written while the connection was dead."
    await addNote(page, text)
    await page.getByTestId("note-text").filter({ hasText: text }).waitFor()
    await waiting(page).filter({ hasText: "1 note waiting to send" }).waitFor()
    assert.equal(await waitingText(page), "1 note waiting to send")
    await status(page).filter({ hasText: "Offline" }).waitFor()

    // The network comes back: "Everything sent" only once the server has acknowledged it,
    // so at that moment an independent client finds the note on the app.server.
    proxy.restore()
    await upToDate(page, RECOVER_MS)
    const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`])
    assert.equal(got.code, 0, got.stderr)
    assert.deepEqual(JSON.parse(got.stdout).notes.map(n => n.text), [text])
  } finally {
    await context.close()
    await proxy.close()
  }
})

test("opening every screen of a synced case offline, and reloading, leaves nothing to send", async () => {
  // An older (schema 1) case, written by a stock automerge-repo peer: the kind a device
  // used to "upgrade" just by opening it.
  // It is Ayo's: the peer signs in as Ayo (a ticket), and the note names Ayo as its author
  // in a plain string (a JS string would be a text object), as the server insists.
  const js = jsRepo(await app.server.running.ticketUrl("ayo"))
  const handle = js.repo.create({
    profile: { name: "Test Person Older", knownAs: "TPO", dob: "2010-02-03" },
    notes: [{ id: "n1", at: new Date(1_700_000_000_000), kind: "Face-to-face", text: "An earlier visit.", by: new ImmutableString(DISPLAY_NAMES.ayo) }],
  })
  await serverHas(js.repo, handle)
  const id = handle.documentId
  await js.close()

  const { context, page } = await app.phone("ayo")
  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("case-name").filter({ hasText: "Test Person Older" }).waitFor({ timeout: TIMEOUT })
  await page.evaluate(() => navigator.serviceWorker.ready)
  await upToDate(page)

  await context.setOffline(true)
  await status(page).filter({ hasText: "Offline" }).waitFor()
  const screens = [
    [`#/case/${id}`, page.getByTestId("case-name")],
    [`#/case/${id}/profile`, page.getByRole("heading", { level: 1 })],
    [`#/case/${id}/note/n1`, page.getByLabel("What happened")],
    [`#/case/${id}/assessments`, page.getByRole("heading", { level: 1 })],
    [`#/case/${id}/plan`, page.getByRole("heading", { level: 1 })],
    [`#/case/${id}/missing/new`, page.getByRole("heading", { level: 1 })],
    [`#/case/${id}/chronology`, page.getByRole("heading", { level: 1 })],
    ["#/settings", page.getByRole("heading", { level: 1 })],
    ["#/", page.getByTestId("case-list")],
  ]
  for (const reload of [false, true]) {
    if (reload) {
      await page.goto(`${app.server.url}#/case/${id}`)
      await page.reload()
    }
    for (const [hash, shown] of screens) {
      await page.goto(`${app.server.url}${hash}`)
      await shown.first().waitFor()
      await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
      assert.equal(await waitingText(page), "Nothing waiting to send", `${hash} (reloaded: ${reload})`)
    }
  }

  // Back online the server's copy is as the stock peer wrote it: nothing was written.
  await context.setOffline(false)
  await upToDate(page)
  const got = await runClient(app.server.wsUrl, ["get", `automerge:${id}`])
  assert.equal(got.code, 0, got.stderr)
  const doc = JSON.parse(got.stdout)
  assert.equal(doc.schema, undefined, "no schema number was written")
  assert.deepEqual(Object.keys(doc).sort(), ["notes", "profile"])
  await context.close()
})
