// Headless Chromium for end-to-end tests: Debian's build driven by playwright-core.
import { chromium } from "playwright-core"
import { spawn } from "node:child_process"
import { createServer } from "node:net"
import { readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import assert from "node:assert/strict"
import { before, after } from "node:test"
import { withTimeout, TIMEOUT, startServer, tempDir, removeDir, DEMO_USERS, runAdmin } from "../interop/harness.mjs"

// The app shows and reads every time as London time. Run the browsers (which inherit this
// environment) and these tests' own date arithmetic in London too, so what a test types
// into a time field and what it expects back agree in summer as in winter.
process.env.TZ = "Europe/London"

export const CHROMIUM = process.env.FIELDBOOK_CHROMIUM ?? "/usr/bin/chromium"
export const FLAGS = [
  "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.on("error", reject)
  })
}

/**
 * A Chromium process we own (so a test can SIGKILL it) with a persistent profile,
 * driven over CDP.
 */
export async function launchKillable(profileDir) {
  const proc = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profileDir}`, "--remote-debugging-port=0", "about:blank"], {
    stdio: ["ignore", "ignore", "pipe"],
  })
  const exited = new Promise(resolve => proc.once("exit", resolve))
  // Chromium announces its debugging endpoint on stderr once it is ready.
  const wsEndpoint = await withTimeout(
    new Promise((resolve, reject) => {
      let buf = ""
      proc.stderr.on("data", d => {
        buf += d
        const m = buf.match(/DevTools listening on (ws:\/\/\S+)/)
        if (m) resolve(m[1])
      })
      proc.once("exit", code => reject(new Error(`Chromium exited (${code}): ${buf}`)))
    }),
    TIMEOUT,
    "Chromium to start",
  )
  const browser = await chromium.connectOverCDP(wsEndpoint)
  return {
    browser,
    context: browser.contexts()[0],
    async kill() {
      proc.kill("SIGKILL")
      await exited
    },
  }
}

/** Page helpers for the Fieldbook UI. */
export async function createCase(page, name) {
  await page.getByLabel("Name").fill(name)
  await page.getByLabel("Known as").fill(name.split(" ")[0])
  await page.getByLabel("Date of birth").fill("2010-05-17")
  await page.getByRole("button", { name: "Create case" }).click()
  await page.getByTestId("case-name").filter({ hasText: name }).waitFor()
  return page.url().split("#/case/")[1]
}

export async function addNote(page, text) {
  await page.getByTestId("add-note").click()
  await page.getByLabel("What happened").waitFor()
  await page.getByLabel("Where").fill("Example Park")
  await page.getByLabel("What happened").fill(text)
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await page.getByTestId("note-done").click()
}

/** The server has confirmed everything this device holds (and it is still connected). */
export async function upToDate(page, timeout = TIMEOUT) {
  await page.getByTestId("sync-status").filter({ hasText: "Everything sent" }).waitFor({ timeout })
  await page.getByTestId("waiting").filter({ hasText: /^Everything sent (at|on) / }).waitFor({ timeout })
}

/** What the banner says is waiting to reach the server (or when everything was sent). */
export function waitingText(page) {
  return page.getByTestId("waiting").textContent()
}

/** Fill in and send the sign-in form (the page shows "Sign in to Fieldbook"). */
export async function signIn(page, username, password) {
  await page.getByLabel("Username").fill(username)
  await page.getByLabel("Password").fill(password)
  await page.getByRole("button", { name: "Sign in" }).click()
}

/** The passcode each demo person chooses for their device (invented, like the people). */
export const PASSCODES = {
  ayo: "demo-passcode-ayo",
  bea: "demo-passcode-bea",
  cal: "demo-passcode-cal",
  mo: "demo-passcode-mo",
  cy: "demo-passcode-cy",
}

/** Fill in "Choose a passcode for this device" (after signing in on a new device). */
export async function choosePasscode(page, passcode) {
  await page.getByRole("heading", { name: "Choose a passcode for this device" }).waitFor({ timeout: TIMEOUT })
  await page.getByLabel("Passcode", { exact: true }).fill(passcode)
  await page.getByLabel("Confirm passcode").fill(passcode)
  await page.getByRole("button", { name: "Save passcode" }).click()
}

/** The app shows "Fieldbook is locked": enter `who`'s passcode and wait until it opens. */
export async function unlock(page, who = "ayo", timeout = TIMEOUT) {
  const lock = page.getByTestId("lock-screen")
  await lock.waitFor({ timeout })
  await page.getByLabel("Passcode", { exact: true }).fill(PASSCODES[who])
  await page.getByRole("button", { name: "Unlock" }).click()
  await lock.waitFor({ state: "detached", timeout })
}

/**
 * Every time `page` loads the app afresh (a reload, a restart, a navigation that is not
 * only a fragment change), the app opens locked: unlock it as `who` would. Tests that are
 * about the lock itself do not use this.
 */
export function autoUnlock(page, who = "ayo") {
  page.on("load", () => {
    if (!page.url().startsWith("http") || page.url().includes("exit.html")) return
    // A page that does not lock (the sign-in page, a closed page) leaves nothing to do.
    unlock(page, who).catch(() => {})
  })
}

/**
 * Open the app on `page` and sign in as the demo person `who` (a key of DEMO_USERS: ayo,
 * bea, cal, mo), choosing their passcode for the device; resolves once their case list
 * shows and the service worker is ready. Unless `auto` is false, later loads of the page
 * are unlocked as they would be by the person (`autoUnlock`).
 */
export async function signInAs(page, baseUrl, who = "ayo", { auto = true } = {}) {
  const { username, password } = DEMO_USERS[who]
  await page.goto(baseUrl)
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor({ timeout: TIMEOUT })
  await signIn(page, username, password)
  await choosePasscode(page, PASSCODES[who])
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await page.evaluate(() => navigator.serviceWorker.ready)
  if (auto) autoUnlock(page, who)
}

/** `text` as a regular expression matching it literally (display names hold brackets). */
export const literally = text => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** The display name the app shows (and records as the author) for the demo person `who`. */
export const DISPLAY_NAMES = {
  ayo: "Ayo Demo (practitioner, North)",
  bea: "Bea Demo (practitioner, North)",
  cal: "Cal Demo (practitioner, South)",
  mo: "Mo Demo (manager, North and South)",
  cy: "Cy Demo (child protection chair)",
}

const AXE = fileURLToPath(new URL("../../node_modules/axe-core/axe.min.js", import.meta.url))
let axeSource

/** Run axe-core (WCAG 2.1 A and AA rules) on the page as it is; returns the violations. */
export async function axeViolations(page) {
  // Evaluated through DevTools, not added as a <script> element: the server's
  // Content-Security-Policy blocks inline scripts, as it should.
  axeSource ??= await readFile(AXE, "utf8")
  await page.evaluate(axeSource)
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  )
  return result.violations.map(v => `${v.id}: ${v.help} — ${v.nodes.map(n => n.target.join(" ")).join(", ")}`)
}

/**
 * Record every Content-Security-Policy violation on every page of `context`, from the
 * `securitypolicyviolation` event (the document's own report) and from the console, where
 * Chromium also reports what the policy blocks. `seen` is the live list; `next()` resolves
 * with the next violation recorded.
 */
export async function watchCsp(context) {
  const violations = []
  let waiting = []
  const record = v => {
    violations.push(v)
    for (const resolve of waiting) resolve(v)
    waiting = []
  }
  // A binding and an init script come in through DevTools, so the policy does not stop them.
  await context.exposeBinding("__fieldbookCspViolation", ({ page }, v) => record({ page: page.url(), ...v }))
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", e =>
      // eslint-disable-next-line no-undef
      __fieldbookCspViolation({ directive: e.effectiveDirective, blocked: e.blockedURI, sample: e.sample }),
    )
  })
  context.on("console", msg => {
    if (msg.type() === "error" && /Content Security Policy/i.test(msg.text())) record({ console: msg.text() })
  })
  return { seen: violations, next: () => new Promise(resolve => waiting.push(resolve)) }
}

/**
 * The real server with the built PWA on a fixed port (a page reconnects to the same address
 * after a restart) and its own data directory. `stop()` insists on a clean exit.
 */
export async function appServer(extraArgs = [], { startTimeout = TIMEOUT } = {}) {
  // FIELDBOOK_DIST lets a developer test a build kept elsewhere (e.g. `trunk build --dist`).
  const dist = process.env.FIELDBOOK_DIST ?? fileURLToPath(new URL("../../dist", import.meta.url))
  const dir = await tempDir()
  const port = await freePort()
  let running
  return {
    get url() { return running.url },
    get wsUrl() { return running.wsUrl },
    /** The server's data directory (for the admin CLI). */
    dir,
    /** Run the real admin CLI on this server's data directory, as an administrator would. */
    admin: (...args) => runAdmin(dir, ...args),
    /** The running server (sign-in and tickets: `signIn`, `ticketUrl`). */
    get running() { return running },
    async start() {
      running = await startServer(dir, ["--static-dir", dist, ...extraArgs], `127.0.0.1:${port}`, startTimeout)
    },
    async stop() {
      const exit = await running.stop()
      assert.equal(exit.code, 0, running.logs())
    },
    async close() {
      await running?.stop()
      await removeDir(dir)
    },
  }
}

/**
 * The setup most test files share: the app server (started, with `extraArgs`) and, unless
 * `browser: false`, headless Chromium; both closed after the file's tests. Call it at the top
 * level of a test file; `server` and `browser` are set once its `before` hook has run.
 */
export function useApp(extraArgs = [], { browser = true } = {}) {
  const app = {
    server: undefined,
    browser: undefined,
    /**
     * A phone: its own browser context (so it can go offline alone), the app loaded and the
     * demo person `who` (ayo, bea, cal or mo) signed in.
     */
    async phone(who = "ayo", contextOptions = {}) {
      const context = await app.browser.newContext(contextOptions)
      const page = await context.newPage()
      await signInAs(page, app.server.url, who)
      return { context, page }
    },
  }
  // Every page a test opens in `app.browser` is watched: a screen the policy breaks fails
  // the file.
  const cspSeen = []
  before(async () => {
    app.server = await appServer(extraArgs)
    await app.server.start()
    if (browser) {
      app.browser = await launch()
      const newContext = app.browser.newContext.bind(app.browser)
      app.browser.newContext = async options => {
        const context = await newContext(options)
        cspSeen.push((await watchCsp(context)).seen)
        return context
      }
    }
  })
  after(async () => {
    await app.browser?.close()
    await app.server?.close()
    assert.deepEqual(cspSeen.flat(), [], "Content-Security-Policy violations")
  })
  return app
}

/**
 * Runs in the page: chunks and sync states of document `id` in the app's IndexedDB. With
 * `untilNone`, counts again at each animation frame until none is left (`waitForFunction`
 * cannot do this: it takes the promise an async predicate returns as truthy, and passes).
 */
async function countRecords({ id, untilNone }) {
  for (;;) {
    const db = await new Promise((ok, fail) => {
      const open = indexedDB.open("fieldbook-v2")
      open.onsuccess = () => ok(open.result)
      open.onerror = () => fail(open.error)
    })
    let c
    try {
      const tx = db.transaction(["chunks", "sync_states"])
      const range = IDBKeyRange.bound(`${id}/`, `${id}/\uffff`)
      const chunks = tx.objectStore("chunks").count(range)
      const states = tx.objectStore("sync_states").count(range)
      await new Promise((ok, fail) => { tx.oncomplete = ok; tx.onerror = () => fail(tx.error) })
      c = { chunks: chunks.result, states: states.result }
    } finally {
      db.close()
    }
    if (!untilNone || c.chunks + c.states === 0) return c
    await new Promise(requestAnimationFrame)
  }
}

/** How many records of document `id` the device holds: `{ chunks, states }`. */
export function recordsOnDevice(page, id) {
  return page.evaluate(countRecords, { id, untilNone: false })
}

/** Wait until the device holds no record of document `id`. */
export function noRecordsOnDevice(page, id, timeout = TIMEOUT) {
  return withTimeout(
    page.evaluate(countRecords, { id, untilNone: true }),
    timeout,
    `no record of ${id} on the device`,
  )
}

/** The page has noticed it has no connection. */
export function offline(page) {
  return page.getByTestId("sync-status").filter({ hasText: /Offline|Connecting/ }).waitFor()
}

/** Start a new risk assessment on the case; returns its id (from the task list's URL). */
export async function startAssessment(page, baseUrl, caseId) {
  await page.goto(`${baseUrl}#/case/${caseId}/assessments`)
  await page.getByTestId("start-assessment").click()
  await page.getByTestId("task-list").waitFor()
  return page.url().split("/assessment/")[1]
}

/** Where end-to-end screenshots go (kept after the run, for people to look at):
 * `$E2E_ARTEFACTS/screenshots`, by default `target/e2e-artefacts/screenshots`. */
export const ARTEFACTS = process.env.E2E_ARTEFACTS
  ?? fileURLToPath(new URL("../../target/e2e-artefacts", import.meta.url))

/** A full-page screenshot at 360 px wide (a small phone), saved as `<name>.png` in the
 * artefacts; returns the file's path. */
export async function screenshot360(page, name) {
  const { mkdir } = await import("node:fs/promises")
  const dir = `${ARTEFACTS}/screenshots`
  await mkdir(dir, { recursive: true })
  const size = page.viewportSize()
  await page.setViewportSize({ width: 360, height: size?.height ?? 780 })
  const file = `${dir}/${name}.png`
  await page.screenshot({ path: file, fullPage: true })
  if (size && size.width !== 360) await page.setViewportSize(size)
  return file
}
