// The case list ("Due and overdue", home) with a big caseload in the real PWA in headless
// Chromium: how long home takes to show every case, and "Find a case" per keystroke.
//
// The server seeds N invented cases for Ayo (`--demo --demo-cases N+3`; the demo gives 3 to
// Cal); a new phone signs in and pulls them all ("All N cases … on this device"). Then:
//   - home: from leaving another screen for home (`#/`) to the frame after all N lines are
//     in the page (requestAnimationFrame, then a message posted from it, which runs once
//     that frame is painted), several times;
//   - "Your team’s deadlines" (`#/team`, the manager view), the same way, until its first
//     lines are painted;
//   - finding: keys typed through CDP into "Find a case" (parts of names read from the list,
//     one name taken back letter by letter to nothing, which shows all N again, and a search
//     that matches nothing). Per keystroke: from the `keydown` event's timeStamp (the key
//     reaching the page) to the paint after the results line says the search's result; and
//     the key's own work, the same without the idle wait for the display's next refresh
//     (see `work`), which is what "a keystroke fits in a 16 ms frame" is about.
// Builds without the field are measured for home only.
//
// Usage: node scripts/measure-find.mjs [--dist DIR] [--label TEXT] [--cases N] [--runs N]
//                                      [--delay MS] [--json]
// Prints Markdown (copy it into docs/PERFORMANCE.md with the date and command).
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import path from "node:path"

const { values: opt } = parseArgs({
  options: {
    dist: { type: "string" },
    label: { type: "string", default: "this build" },
    cases: { type: "string", default: "1000" },
    runs: { type: "string", default: "5" },
    delay: { type: "string", default: "100" },
    json: { type: "boolean", default: false },
  },
})
if (opt.dist) process.env.FIELDBOOK_DIST = path.resolve(opt.dist)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
process.env.FIELDBOOK_DIST ??= path.join(root, "dist")
const { launch, appServer, signInAs } = await import("../tests/e2e/browser.mjs")
const { TIMEOUT } = await import("../tests/interop/harness.mjs")

const CASES = Number(opt.cases)
const RUNS = Number(opt.runs)
const DELAY = Number(opt.delay)
// Lines home shows at once (`fieldbook_case::find::SHOWN_AT_ONCE`); the rest on request.
const LINES = Math.min(CASES, 25)

/**
 * A key's own cost on the main thread, without the idle wait for the display's next refresh
 * (at 60 Hz up to 16.7 ms, whatever the page does): from the key reaching the page to the end
 * of its script, plus the frame that shows the result, from that frame's start to painted.
 * When the result missed the first frame after the key, the whole time counts (key → painted).
 */
function work(k, events) {
  const timing = events.find(e => Math.abs(e.startTime - k.inputAt) < 0.5)
  if (!timing || k.frameNow !== k.firstFrame || timing.processingEnd > k.frameNow) return k.painted - k.key
  return (timing.processingEnd - k.key) + (k.painted - k.frameNow)
}

/** Runs in the page before the app: per keystroke in "Find a case", key → painted result. */
function probe() {
  const log = { keys: [], armed: false }
  window.__find = log
  let pending = null
  // Event Timing: when the `input` event's handlers (and the microtasks they queued) ended.
  // Reported only for events whose key → next paint is 16 ms or more.
  log.events = []
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      if (e.name === "input") log.events.push({ startTime: e.startTime, processingEnd: e.processingEnd })
    }
  }).observe({ type: "event", durationThreshold: 16, buffered: true })
  addEventListener("keydown", e => {
    if (log.armed && e.target?.id === "find-case") pending = { key: e.timeStamp }
  }, true)
  addEventListener("input", e => {
    if (!log.armed || e.target?.id !== "find-case" || !pending) return
    const rec = { ...pending, value: e.target.value, frame: null, painted: null, inputAt: null, firstFrame: null }
    pending = null
    log.keys.push(rec)
    rec.inputAt = e.timeStamp
    // The results line says this search's result (nothing, while nothing is typed).
    const shown = () => {
      const said = document.querySelector("[data-testid=find-results]")?.textContent ?? ""
      const v = rec.value.trim()
      return v === "" ? said === "" : said.includes(`“${v}”`)
    }
    const frame = t => {
      // A later key arrived first: this one is not counted (said in the output).
      if (log.keys.at(-1) !== rec) { rec.superseded = true; rec.painted = -1; return }
      const now = performance.now()
      rec.firstFrame ??= now
      if (!shown()) return requestAnimationFrame(frame)
      rec.frame = t
      rec.frameNow = now
      const ch = new MessageChannel()
      ch.port1.onmessage = () => { rec.painted = performance.now() }
      ch.port2.postMessage(null)
    }
    requestAnimationFrame(frame)
  }, true)
}

/**
 * In the page: go to another screen, then to `hash`, and time until `n` lines matching
 * `lines` are painted (`screen`: an element only that screen has, gone before timing).
 * Answers the milliseconds and how many lines the page then holds.
 */
async function timeScreen({ hash, screen, lines, n }) {
  location.hash = "#/settings"
  await new Promise(r => { const f = () => document.querySelector(screen) ? requestAnimationFrame(f) : r(); f() })
  await new Promise(r => setTimeout(r, 50))
  const t0 = performance.now()
  location.hash = hash
  return await new Promise(resolve => {
    const f = () => {
      if (document.querySelectorAll(lines).length < n) return requestAnimationFrame(f)
      const ch = new MessageChannel()
      ch.port1.onmessage = () => resolve({ ms: performance.now() - t0, lines: document.querySelectorAll("[data-testid=due-line]").length })
      ch.port2.postMessage(null)
    }
    requestAnimationFrame(f)
  })
}
const HOME = { hash: "#/", screen: "[data-testid=case-list]", lines: "[data-testid=due-line]" }
const TEAM = { hash: "#/team", screen: "[data-testid=team-group]", lines: "[data-testid=team-group] [data-testid=due-line]" }

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const ms = x => (x === undefined || x === null ? "-" : `${x.toFixed(1)} ms`)

// Ayo's 5 are the demo's own; more need the demo's seeding option.
const server = await appServer(["--demo", ...(CASES === 5 ? [] : ["--demo-cases", String(CASES + 3)])], { startTimeout: 10 * 60_000 })
let browser
const out = { label: opt.label, cases: CASES }
try {
  await server.start()
  browser = await launch()
  const context = await browser.newContext({ viewport: { width: 360, height: 780 } })
  await context.addInitScript(probe)
  const page = await context.newPage()
  const t = Date.now()
  await signInAs(page, server.url, "ayo")
  await page.getByTestId("caseload-progress").filter({ hasText: `All ${CASES} cases` }).waitFor({ timeout: 30 * 60_000 })
  out.pullSeconds = (Date.now() - t) / 1000
  // Every case read (home says "Reading N more cases…" until then) and its first lines shown.
  await page.getByTestId("due-reading").waitFor({ state: "detached", timeout: TIMEOUT * 4 })
  await page.locator("[data-testid=due-line]").nth(LINES - 1).waitFor({ state: "attached", timeout: TIMEOUT * 4 })

  out.home = []
  for (let r = 0; r < RUNS; r++) out.home.push((await page.evaluate(timeScreen, { ...HOME, n: LINES })).ms)
  out.team = []
  for (let r = 0; r < RUNS; r++) out.team.push(await page.evaluate(timeScreen, { ...TEAM, n: LINES }))
  await page.evaluate(() => { location.hash = "#/" })
  await page.locator("[data-testid=due-line]").nth(LINES - 1).waitFor({ state: "attached", timeout: TIMEOUT * 4 })

  const find = page.locator("#find-case")
  if (await find.count()) {
    // From the first lines only, so builds that show every line and builds that show the
    // first 25 type the same queries.
    const names = (await page.getByTestId("case-link").allTextContents()).slice(0, LINES)
    const last = s => s.trim().split(/\s+/).at(-1)
    const first = s => s.replace(/^Demo — /, "").trim().split(/\s+/)[0]
    const queries = [...new Set([last(names[0]), first(names[Math.floor(names.length / 2)]), last(names.at(-1))])]
    await page.evaluate(() => { window.__find.armed = true })
    await find.focus()
    for (const q of queries) {
      await page.keyboard.type(q.toLowerCase(), { delay: DELAY })
      // Back to nothing, letter by letter: the last Backspace brings the first lines back.
      for (let i = 0; i < q.length; i++) await page.keyboard.press("Backspace", { delay: DELAY })
    }
    await page.keyboard.type("zzq", { delay: DELAY })
    for (let i = 0; i < 3; i++) await page.keyboard.press("Backspace", { delay: DELAY })
    await page.waitForFunction(() => window.__find.keys.every(k => k.painted !== null), null, { timeout: TIMEOUT })
    const { keys, events } = await page.evaluate(() => window.__find)
    out.queries = queries
    out.superseded = keys.filter(k => k.superseded).length
    out.keys = keys.filter(k => !k.superseded).map(k => ({ value: k.value, painted: k.painted - k.key, frame: k.frame - k.key, work: work(k, events) }))
  }
} finally {
  await browser?.close()
  await server.close()
}

if (opt.json) {
  console.log(JSON.stringify(out, null, 2))
} else {
  console.log(`"Due and overdue" with ${CASES} cases on the device, ${opt.label} (pulled in ${out.pullSeconds.toFixed(1)} s)\n`)
  console.log("| measure | n | p50 | p95 | max |")
  console.log("|---|---|---|---|---|")
  console.log(`| home: open until its lines are painted | ${out.home.length} | ${ms(pct(out.home, 50))} | ${ms(pct(out.home, 95))} | ${ms(Math.max(...out.home))} |`)
  const team = out.team.map(t => t.ms)
  console.log(`| your team’s deadlines: open until its first ${LINES} lines are painted (${out.team[0].lines} lines in the page) | ${team.length} | ${ms(pct(team, 50))} | ${ms(pct(team, 95))} | ${ms(Math.max(...team))} |`)
  if (out.keys) {
    const lat = out.keys.map(k => k.painted)
    const clear = out.keys.filter(k => k.value === "").map(k => k.painted)
    console.log(`| Find a case: key → result painted | ${lat.length} | ${ms(pct(lat, 50))} | ${ms(pct(lat, 95))} | ${ms(Math.max(...lat))} |`)
    const own = out.keys.map(k => k.work)
    console.log(`| Find a case: the key's own work (key → painted without the wait for the next refresh) | ${own.length} | ${ms(pct(own, 50))} | ${ms(pct(own, 95))} | ${ms(Math.max(...own))} |`)
    console.log(`| … of which the key that empties the field (the first ${LINES} of ${CASES} back) | ${clear.length} | ${ms(pct(clear, 50))} | ${ms(pct(clear, 95))} | ${ms(Math.max(...clear))} |`)
    if (out.superseded) console.log(`\n${out.superseded} keys were overtaken by the next before their result was painted (not counted).`)
    console.log(`\nQueries typed (${DELAY} ms between keys, then taken back letter by letter): ${out.queries.map(q => `“${q.toLowerCase()}”`).join(", ")}, “zzq”`)
  } else {
    console.log("\n(This build has no “Find a case” field.)")
  }
}
