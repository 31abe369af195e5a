// A fast burst of typing is all on the device when the browser is killed 30 ms after the
// last key. Ten rounds, each a different text (65–95 characters) typed at 10 ms a key into a
// new contact note on a lived-in case (Ayo's demo caseload: five cases, every record type)
// while connected, so the server's replies are being stored too, as for a worker with
// signal; then SIGKILL. The server is stopped before the browser is relaunched with the same
// profile and the case read back: only the device's own store can answer.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { removeDir, TIMEOUT } from "../interop/harness.mjs"
import { chromium } from "playwright-core"
import { launchKillable, useApp, signInAs, autoUnlock, CHROMIUM, FLAGS } from "./browser.mjs"

const ROUNDS = 10
/** The crash: this long after the last key event has been handled by the page. */
const KILL_AFTER_MS = 30
const KEY_DELAY_MS = 10
const CASE = "Demo — Kasey Brightwater" // one of Ayo's

const app = useApp(["--demo"], { browser: false })

// Synthetic text only; a different sentence (and length) each round.
const WORDS = ["met", "him", "outside", "the", "chip", "shop", "on", "Station", "Road", "said", "he",
  "was", "fine", "but", "kept", "checking", "two", "phones", "Goodnight", "later"]
function burst(round) {
  const words = []
  for (let i = 0; words.join(" ").length < 60 + 3 * round; i++) words.push(WORDS[(round * 7 + i * 3) % WORDS.length])
  return `R${round} ${words.join(" ")}.`
}

/** Open the case and wait until the device has synced with the app.server. */
async function openOnline(page, id) {
  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("add-note").waitFor()
  // ("Up to date" is the wording before issue 8: the same test runs against an older build
  // as a control, see docs/PERFORMANCE.md.)
  await page.getByTestId("sync-status").filter({ hasText: /Everything sent|Up to date/ }).waitFor({ timeout: TIMEOUT })
}

/** The texts of this test's notes ("R<round> …") in the case, as loaded from the device. */
async function notesOnDevice(page, id) {
  await page.goto(`${app.server.url}#/case/${id}`).catch(() => {}) // server is down: the service worker answers
  await page.getByTestId("add-note").waitFor({ timeout: TIMEOUT }) // shown once the case is loaded
  const texts = await page.getByTestId("note-text").allTextContents()
  return texts.filter(t => /^R\d /.test(t)).sort()
}

test("a burst of typing survives the browser being killed 30 ms after the last key, 10 times", async t => {
  const profile = await mkdtemp(path.join(tmpdir(), "fieldbook-burst-"))
  let chrome
  try {
    // Ayo signed in on this phone earlier, in a browser session that ended normally.
    // Chromium writes cookies to disk lazily (about every 30 s), so a session cookie set
    // moments before a SIGKILL would be lost with it, and the phone would rightly ask her
    // to sign in again: not what this test is about.
    const earlier = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS })
    try {
      await signInAs(await earlier.newPage(), app.server.url, "ayo")
    } finally {
      await earlier.close()
    }

    chrome = await launchKillable(profile)
    let page = await chrome.context.newPage()
    autoUnlock(page, "ayo") // every restart opens the app locked
    await page.goto(app.server.url)
    await page.getByRole("link", { name: CASE }).click({ timeout: TIMEOUT })
    await page.getByTestId("case-name").filter({ hasText: CASE }).waitFor()
    const id = page.url().split("#/case/")[1]

    const typed = []
    const killDelays = []
    for (let round = 0; round < ROUNDS; round++) {
      await openOnline(page, id)
      await page.getByTestId("add-note").click()
      const field = page.getByLabel("What happened")
      await field.waitFor()
      await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
      await field.focus()
      const text = burst(round)
      await page.keyboard.type(text, { delay: KEY_DELAY_MS })
      const lastKey = performance.now()
      typed.push(text)
      // Deliberate: this is the crash being simulated, not a wait for anything.
      await sleep(KILL_AFTER_MS)
      const killedAfter = performance.now() - lastKey // SIGKILL goes out as kill() starts
      await chrome.kill()
      killDelays.push(killedAfter.toFixed(0))

      await app.server.stop()
      chrome = await launchKillable(profile)
      page = await chrome.context.newPage()
      autoUnlock(page, "ayo")
      const got = await notesOnDevice(page, id)
      assert.deepEqual(
        got,
        [...typed].sort(),
        `round ${round + 1}: browser killed ${killedAfter.toFixed(0)} ms after the last key of "${text}"`,
      )
      await app.server.start()
    }
    t.diagnostic(`killed this many ms after the last key: ${killDelays.join(", ")}`)
  } finally {
    await chrome?.kill()
    await removeDir(profile)
  }
})
