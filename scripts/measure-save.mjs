// Keystroke → committed-on-device latency of the real PWA in headless Chromium.
//
// Serves a built PWA (default `dist/`, or --dist DIR) from the real server with the demo
// caseload, opens a demo case, adds a contact note and types into "What happened" through
// CDP key events, several runs per scenario. An init script (no app changes needed, so the
// same script measures any build) timestamps, in the page:
//   - each keystroke: the `keydown` event's timeStamp (when the key reached the page);
//   - the `input` event: when its handlers start and when they have all run (synchronous cost);
//   - every readwrite IndexedDB transaction: created, commit() called, `complete` fired, and
//     which of the note's incremental chunks (one per keystroke) it carries.
// A keystroke's latency runs from its keydown to the `complete` event of the transaction
// holding its chunk. The commit (after which a killed browser keeps the keystroke) happened
// before that event reached the page, so this is an upper bound. (A Worker polling the
// database from a second connection sees commits a few ms sooner, but its reads compete with
// the writes and lengthen the tail, so it is not used.)
//
// With --cases N (and --big-case-notes M) the server seeds a big invented caseload
// (`--demo-cases`, `--demo-big-case-notes`): the device pulls all N of Ayo's cases before typing
// starts, and the note is typed into Kasey's case, which then holds M more contact notes
// (issue 14: 500 cases loaded and a 1,000-note case open). `--profile FILE` records a
// Chromium CPU profile (CDP) of the first scenario, from its first key to its last run's
// last save (so the re-renders between runs, "Done", the case page and "Add contact note",
// are in it too).
//
// Usage: node scripts/measure-save.mjs [--dist DIR] [--label TEXT] [--runs N] [--chars N]
//                                      [--cases N] [--big-case-notes M] [--profile FILE]
//                                      [--durability default|relaxed|strict]
// Prints a Markdown table (copy it into docs/PERFORMANCE.md with the date and command).
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import path from "node:path"

const { values: opt } = parseArgs({
  options: {
    dist: { type: "string" },
    label: { type: "string", default: "this build" },
    runs: { type: "string", default: "5" },
    chars: { type: "string", default: "60" },
    // Exploration only: force a durability hint on every readwrite transaction.
    durability: { type: "string", default: "" },
    cases: { type: "string", default: "" },
    "big-case-notes": { type: "string", default: "0" },
    profile: { type: "string", default: "" },
    json: { type: "boolean", default: false },
  },
})
if (opt.dist) process.env.FIELDBOOK_DIST = path.resolve(opt.dist)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
process.env.FIELDBOOK_DIST ??= path.join(root, "dist")
// Imported after FIELDBOOK_DIST is set: appServer reads it.
const { launch, appServer, signInAs } = await import("../tests/e2e/browser.mjs")
const { TIMEOUT } = await import("../tests/interop/harness.mjs")

const RUNS = Number(opt.runs)
const CHARS = Number(opt.chars)
const CASE = "Demo — Kasey Brightwater"
// Ayo's caseload: the demo's 5, or N of a bigger seeded one (the demo gives 3 to Cal).
const CASES = opt.cases ? Number(opt.cases) : 5
const BIG_NOTES = Number(opt["big-case-notes"])
const SEED = opt.cases ? ["--demo-cases", String(CASES + 3), "--demo-big-case-notes", String(BIG_NOTES)] : []

/** Runs in the page before the app: timestamps keys, input handlers and IDB transactions. */
function probe(forceDurability) {
  const log = { inputs: [], chunks: [], txs: [], doc: null, armed: false }
  window.__probe = log
  let lastKey = null
  addEventListener("keydown", e => { if (log.armed) lastKey = e.timeStamp }, true)
  addEventListener("input", e => {
    if (!log.armed || e.target?.id !== "note-text") return
    log.inputs.push({ key: lastKey, start: performance.now(), end: null, len: e.target.value.length })
  }, true)
  // Registered after the app's (delegated, on window) listener: runs once it has returned.
  log.arm = doc => {
    log.doc = doc
    log.inputs.length = log.chunks.length = log.txs.length = 0
    if (!log.tail) {
      log.tail = e => {
        const i = log.inputs.at(-1)
        if (i && e.target?.id === "note-text" && i.end === null) i.end = performance.now()
      }
      addEventListener("input", log.tail)
    }
    log.armed = true
  }
  const tx = IDBDatabase.prototype.transaction
  IDBDatabase.prototype.transaction = function (stores, mode, options) {
    if (mode === "readwrite" && forceDurability) options = { ...(options ?? {}), durability: forceDurability }
    const t = options === undefined ? tx.call(this, stores, mode) : tx.call(this, stores, mode, options)
    if (mode === "readwrite" && log.armed) {
      const rec = { created: performance.now(), commit: null, complete: null, aborted: false, chunks: 0, ops: 0, bytes: 0, snapshot: false, durability: t.durability }
      log.txs.push(rec)
      t.__rec = rec
      t.addEventListener("complete", () => { rec.complete = performance.now() })
      t.addEventListener("abort", () => { rec.aborted = true })
    }
    return t
  }
  const commit = IDBTransaction.prototype.commit
  IDBTransaction.prototype.commit = function () {
    if (this.__rec) this.__rec.commit = performance.now()
    return commit.call(this)
  }
  for (const name of ["put", "delete"]) {
    const orig = IDBObjectStore.prototype[name]
    IDBObjectStore.prototype[name] = function (...args) {
      const rec = this.transaction.__rec
      if (rec) {
        rec.ops++
        const key = name === "put" ? String(args[1]) : ""
        if (name === "put") rec.bytes += args[0]?.byteLength ?? 0
        if (key.includes("/snapshot/")) rec.snapshot = true
        if (log.doc && key.startsWith(`${log.doc}/incremental/`)) {
          rec.chunks++
          log.chunks.push(rec)
        }
      }
      return orig.apply(this, args)
    }
  }
  /** Per keystroke, once every chunk is committed; null while some are still pending. */
  log.result = () => {
    if (log.chunks.length < log.inputs.length || log.chunks.some(r => r.complete === null && !r.aborted)) return null
    return {
      chunks: log.chunks.length,
      inputs: log.inputs.length,
      txs: log.txs.length,
      chunkTxs: new Set(log.chunks).size,
      // Each write transaction's life, and the main thread's pause between one finishing and
      // the next starting while writes were waiting (re-rendering, bookkeeping).
      txOpen: log.txs.filter(t => t.complete !== null).map(t => t.complete - t.created),
      txGap: log.txs.slice(1).map((t, i) => t.created - log.txs[i].complete).filter(g => g >= 0),
      durability: [...new Set(log.txs.map(t => t.durability))],
      keys: log.inputs.map((inp, k) => {
        const t = log.chunks[k]
        return {
          latency: t.complete - inp.key,
          queued: inp.start - inp.key,
          handler: inp.end - inp.start,
          toTx: t.created - inp.start,
          toCommitCall: t.commit === null ? null : t.commit - t.created,
          commitToComplete: t.complete - (t.commit ?? t.created),
          batch: t.chunks,
          aborted: t.aborted,
          txOps: t.ops,
          txBytes: t.bytes,
          txSnapshot: t.snapshot,
        }
      }),
    }
  }
}

const WORDS = "met at the library after school said the older lads keep asking him to carry a bag home".split(" ")
function text(n, seed) {
  let s = ""
  for (let i = seed; s.length < n; i++) s += (s ? " " : "") + WORDS[(i * 7) % WORDS.length]
  return s.slice(0, n)
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}
const med = xs => pct(xs.filter(x => x !== null), 50)
const ms = x => (x === undefined || x === null ? "-" : `${x.toFixed(1)} ms`)

async function typeRuns(page, caseId, delay, seed, profile) {
  const keys = []
  let txs = 0, chunks = 0, chunkTxs = 0
  const txOpen = [], txGap = []
  const durability = new Set()
  for (let r = 0; r < RUNS; r++) {
    await page.getByTestId("add-note").click()
    await page.getByLabel("What happened").waitFor()
    await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
    await page.evaluate(doc => window.__probe.arm(doc), caseId)
    await page.getByLabel("What happened").focus()
    const typed = text(CHARS, seed + r)
    if (profile && r === 0) await profile.start()
    await page.keyboard.type(typed, { delay })
    const res = await (await page.waitForFunction(() => window.__probe.result(), null, { timeout: TIMEOUT * 4, polling: 50 })).jsonValue()
    if (res.inputs !== typed.length || res.chunks !== res.inputs) {
      throw new Error(`expected ${typed.length} keystrokes with one chunk each, saw ${res.inputs} inputs and ${res.chunks} chunks`)
    }
    if (profile && r === RUNS - 1) await profile.stop()
    if (res.keys.some(k => k.aborted)) throw new Error("a save transaction aborted")
    await page.evaluate(() => { window.__probe.armed = false })
    keys.push(...res.keys)
    txs += res.txs
    chunks += res.chunks
    chunkTxs += res.chunkTxs
    txOpen.push(...res.txOpen)
    txGap.push(...res.txGap)
    res.durability.forEach(d => durability.add(d))
    await page.getByTestId("note-done").click()
    await page.getByTestId("case-name").waitFor()
  }
  return { keys, txs, chunks, chunkTxs, txOpen, txGap, durability: [...durability] }
}

/** A CPU profile of the page over CDP, written to `file` (open it in Chrome's DevTools). */
async function profiler(context, page, file) {
  const cdp = await context.newCDPSession(page)
  await cdp.send("Profiler.enable")
  await cdp.send("Profiler.setSamplingInterval", { interval: 200 })
  return {
    start: () => cdp.send("Profiler.start"),
    async stop() {
      const { profile } = await cdp.send("Profiler.stop")
      const { writeFile } = await import("node:fs/promises")
      await writeFile(file, JSON.stringify(profile))
      console.error(`CPU profile: ${file}`)
    },
  }
}

// Seeding a big caseload takes the server a while before it listens.
const server = await appServer(["--demo", ...SEED], { startTimeout: opt.cases ? 10 * 60_000 : TIMEOUT })
let browser
const rows = []
try {
  await server.start()
  browser = await launch()
  const context = await browser.newContext()
  await context.addInitScript(probe, opt.durability || null)
  const page = await context.newPage()
  await signInAs(page, server.url, "ayo")
  const pulled = Date.now()
  await page.getByTestId("caseload-progress").filter({ hasText: `All ${CASES} cases` }).waitFor({ timeout: opt.cases ? 30 * 60_000 : TIMEOUT })
  if (opt.cases) console.error(`${CASES} cases on the device after ${((Date.now() - pulled) / 1000).toFixed(1)} s`)
  // Both the old and the new status wording, so any build can be measured.
  await page.getByTestId("sync-status").filter({ hasText: /Up to date|Everything sent/ }).waitFor({ timeout: TIMEOUT })
  // Home shows only the most urgent cases of a big caseload: find the case by name first
  // (builds without "Find a case" show every case).
  const find = page.locator("#find-case")
  if (await find.count()) await find.fill(CASE.replace(/^Demo — /, ""))
  await page.getByRole("link", { name: CASE }).click()
  await page.getByTestId("case-name").filter({ hasText: CASE }).waitFor({ timeout: TIMEOUT * 4 })
  const caseId = page.url().split("#/case/")[1]

  const scenarios = [
    { name: "burst, 10 ms between keys, online", delay: 10, online: true },
    { name: "typing, 100 ms between keys, online", delay: 100, online: true },
    { name: "burst, 10 ms between keys, offline", delay: 10, online: false },
  ]
  let seed = 0
  let profile = opt.profile ? await profiler(context, page, opt.profile) : null
  for (const sc of scenarios) {
    if (!sc.online) {
      await server.stop()
      await page.getByTestId("sync-status").filter({ hasText: /Offline|Connecting/ }).waitFor()
    }
    const r = await typeRuns(page, caseId, sc.delay, (seed += RUNS), profile)
    profile = null
    const lat = r.keys.map(k => k.latency)
    rows.push({
      scenario: sc.name,
      keystrokes: r.keys.length,
      p50: pct(lat, 50),
      p95: pct(lat, 95),
      max: Math.max(...lat),
      queued: med(r.keys.map(k => k.queued)),
      handler: med(r.keys.map(k => k.handler)),
      toTx: med(r.keys.map(k => k.toTx)),
      toCommitCall: med(r.keys.map(k => k.toCommitCall)),
      commitToComplete: med(r.keys.map(k => k.commitToComplete)),
      txOpen: med(r.txOpen),
      txGap: med(r.txGap),
      perTx: r.chunks / r.chunkTxs,
      txs: r.txs,
      durability: r.durability.join("/"),
      // The slowest keystrokes, for finding where the tail comes from.
      slowest: opt.json ? [...r.keys].sort((a, b) => b.latency - a.latency).slice(0, 8) : undefined,
    })
  }
} finally {
  await browser?.close()
  await server.close()
}

if (opt.json) {
  console.log(JSON.stringify({ label: opt.label, runs: RUNS, chars: CHARS, cases: CASES, bigCaseNotes: BIG_NOTES, rows }, null, 2))
} else {
  const load = opt.cases ? `, ${CASES} cases on the device, typing into a case with ${BIG_NOTES} more notes` : ""
  console.log(`Keystroke → committed in IndexedDB, ${opt.label}${load} (${RUNS} runs × ${CHARS} keys per scenario)\n`)
  console.log("| scenario | keys | p50 | p95 | max | keys per write | write transactions |")
  console.log("|---|---|---|---|---|---|---|")
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${r.keystrokes} | ${ms(r.p50)} | ${ms(r.p95)} | ${ms(r.max)} | ${r.perTx.toFixed(1)} | ${r.txs} |`)
  }
  console.log("\nBreakdown (medians): keydown → input handler starts | handler | handler start → its transaction created | created → commit() | commit() → `complete` | a transaction's life | main thread's pause between transactions while writes waited | durability\n")
  console.log("| scenario | key→handler | handler | →tx | tx→commit() | commit()→complete | tx life | gap | durability |")
  console.log("|---|---|---|---|---|---|---|---|---|")
  for (const r of rows) {
    console.log(`| ${r.scenario} | ${ms(r.queued)} | ${ms(r.handler)} | ${ms(r.toTx)} | ${ms(r.toCommitCall)} | ${ms(r.commitToComplete)} | ${ms(r.txOpen)} | ${ms(r.txGap)} | ${r.durability} |`)
  }
}
