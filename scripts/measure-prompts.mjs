// What the language prompts cost a keystroke, in the real PWA in headless Chromium.
//
// Serves a built PWA (default `dist/`, or --dist DIR) from the real server with the demo
// accounts, creates a case, adds a contact note and fills "What happened" with about 5,000
// words, then types keys into the middle of it. Each key is timed in the page from just
// before its `input` event to the next macrotask, i.e. everything the app does for it
// synchronously: the edit saved to the document, the phrases found, the underlines drawn.
// Two notes of the same length side by side in one run: one with a blaming phrase in every
// sentence (the most the prompts can do) and the control, one with no phrase (what saving
// costs without any prompt to draw).
//
// Usage: node scripts/measure-prompts.mjs [--dist DIR] [--words N] [--keys N] [--runs N]
// Prints a Markdown table (copy it into docs/PERFORMANCE.md with the date and command).
import { parseArgs } from "node:util"
import { fileURLToPath } from "node:url"
import path from "node:path"

const { values: opt } = parseArgs({
  options: {
    dist: { type: "string" },
    words: { type: "string", default: "5000" },
    keys: { type: "string", default: "20" },
    runs: { type: "string", default: "3" },
  },
})
if (opt.dist) process.env.FIELDBOOK_DIST = path.resolve(opt.dist)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
process.env.FIELDBOOK_DIST ??= path.join(root, "dist")
// Imported after FIELDBOOK_DIST is set: appServer reads it.
const { launch, appServer, signInAs, createCase } = await import("../tests/e2e/browser.mjs")
const { TIMEOUT } = await import("../tests/interop/harness.mjs")

const WORDS = Number(opt.words)
const KEYS = Number(opt.keys)
const RUNS = Number(opt.runs)
const SCENARIOS = [
  ["a phrase in every sentence", "We met at the youth club and he is putting himself at risk when he goes to the flat with older males. "],
  ["no phrase (control)", "We met at the youth club and he talked about going to the flat with his friends from school today. "],
]

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]
}

const server = await appServer(["--demo"])
let browser
try {
  await server.start()
  browser = await launch()
  const context = await browser.newContext({ viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB" })
  const page = await context.newPage()
  await signInAs(page, server.url, "ayo")
  const results = []
  for (const [label, sentence] of SCENARIOS) {
    const perSentence = sentence.trim().split(/\s+/).length
    const text = sentence.repeat(Math.ceil(WORDS / perSentence))
    const times = []
    let found = 0
    for (let run = 0; run < RUNS; run++) {
      await page.evaluate(() => { location.hash = "#/" })
      await page.getByRole("button", { name: "Create case" }).waitFor({ timeout: TIMEOUT })
      await createCase(page, `Measure Person ${results.length}-${run}`)
      await page.getByTestId("add-note").click()
      await page.getByLabel("What happened").fill(text)
      await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor({ timeout: TIMEOUT })
      const at = Math.floor(text.length / 2)
      const r = await page.evaluate(async ({ at, keys }) => {
        const el = document.getElementById("note-text")
        el.focus()
        const out = []
        for (let i = 0; i < keys; i++) {
          const t0 = performance.now()
          el.setRangeText("x", at + i, at + i, "end")
          el.dispatchEvent(new InputEvent("input", { bubbles: true, inputType: "insertText", data: "x" }))
          await new Promise(r => setTimeout(r, 0))
          out.push(performance.now() - t0)
        }
        const items = document.querySelectorAll('[id="note-text-wording"] [data-testid="wording-item"]').length
        return { out, items }
      }, { at, keys: KEYS })
      times.push(...r.out)
      found = r.items
    }
    results.push({ label, words: text.trim().split(/\s+/).length, found, times })
  }
  console.log(`Run on ${new Date().toISOString().slice(0, 10)}, ${(await import("node:os")).cpus().length} cores, headless Chromium, 360 px; milliseconds per keystroke, ${KEYS * RUNS} keystrokes per row`)
  console.log("")
  console.log("| note | words | phrases listed | p50 | p95 | max |")
  console.log("|---|---|---|---|---|---|")
  for (const r of results) {
    console.log(`| ${r.label} | ${r.words} | ${r.found} | ${quantile(r.times, 0.5).toFixed(1)} | ${quantile(r.times, 0.95).toFixed(1)} | ${Math.max(...r.times).toFixed(1)} |`)
  }
  await context.close()
} finally {
  await browser?.close()
  await server.close()
}
