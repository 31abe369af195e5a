// Reports (issue 13 items 7 and 8): the transfer bundle of a case prints (navigation and
// buttons hidden, every part shown; saved as a PDF in the artefacts), leaves relationships
// and places out unless chosen, and downloads as a CSV with a row per chronology entry; the
// monthly service dataset downloaded on the manager's phone is exactly what the server's
// `admin dataset --month` prints for the same month. Real server with the demo data, real
// Chromium, real IndexedDB; 360 px screenshots and axe-core on both screens.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdir, readFile, stat } from "node:fs/promises"
import { TIMEOUT } from "../interop/harness.mjs"
import { ARTEFACTS, axeViolations, createCase, screenshot360, signInAs, useApp } from "./browser.mjs"

const app = useApp()
const PHONE = { viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB", acceptDownloads: true }

// The demo's relationships document of every case names this person and this note.
const PERSON = "Football coach (invented)"
const PLACE_NOTE = "Seen here several evenings."

async function phone(who) {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await signInAs(page, app.server.url, who)
  return { context, page }
}

/** Click `button` and wait for the download it starts; resolves with {name, text}. */
async function downloaded(page, button) {
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: TIMEOUT }), button.click()])
  const file = await download.path()
  return { name: download.suggestedFilename(), text: await readFile(file, "utf8") }
}

/** RFC 4180 rows (quotes undone). */
function parseCsv(text) {
  const rows = []
  let row = [], cell = "", quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { cell += '"'; i++ }
      else if (c === '"') quoted = false
      else cell += c
    } else if (c === '"') quoted = true
    else if (c === ",") { row.push(cell); cell = "" }
    else if (c === "\r" && text[i + 1] === "\n") { /* CRLF */ }
    else if (c === "\n") { row.push(cell); rows.push(row); row = []; cell = "" }
    else cell += c
  }
  if (cell !== "" || row.length) { row.push(cell); rows.push(row) }
  return rows
}

test("the transfer bundle prints, keeps relationships out unless chosen, and downloads its chronology", async t => {
  const { context, page } = await phone("ayo")
  try {
    const first = page.getByTestId("case-list").getByTestId("case-link").first()
    await first.waitFor({ timeout: TIMEOUT })
    const name = (await first.textContent()).trim()
    await first.click()
    await page.getByTestId("transfer-link").click()
    await page.getByRole("heading", { name: "Transfer bundle" }).waitFor({ timeout: TIMEOUT })
    const bundle = page.getByTestId("transfer-bundle")
    const chronology = bundle.locator("section[data-section=chronology]")
    await chronology.getByRole("heading", { name: "Chronology" }).waitFor({ timeout: TIMEOUT })
    const caseId = (await page.evaluate(() => location.hash)).split("/")[2]

    // Every part is there; relationships and places are not, nor their content.
    for (const part of ["profile", "hazards", "assessment", "plan", "missing", "nrm", "chronology"]) {
      assert.equal(await bundle.locator(`section[data-section=${part}]`).count(), 1, part)
    }
    assert.equal(await bundle.locator("section[data-section=network]").count(), 0)
    const shown = await bundle.textContent()
    assert.ok(!shown.includes(PERSON) && !shown.includes(PLACE_NOTE), "relationships left out by default")
    assert.match(await bundle.locator("section[data-section=assessment]").textContent(), /Trend across versions/)
    const entries = await chronology.locator("tbody tr").count()
    assert.ok(entries >= 5, `chronology has ${entries} entries`)
    // Who wrote each entry, with their team where known.
    assert.match(await chronology.textContent(), /Demo Worker \(outreach\)/)

    t.diagnostic(`screenshot: ${await screenshot360(page, "transfer-bundle-360")}`)
    assert.deepEqual(await axeViolations(page), [])

    // The CSV: no name of the child in the file name, one row per chronology entry.
    const csv = await downloaded(page, page.getByTestId("transfer-csv"))
    assert.match(csv.name, /^transfer-[A-Za-z0-9]{8}\.csv$/)
    assert.equal(csv.name, `transfer-${caseId.replace(/[^A-Za-z0-9]/g, "").slice(0, 8)}.csv`)
    for (const part of name.split(/\W+/).filter(w => w.length > 2 && w !== "Demo")) {
      assert.ok(!csv.name.includes(part), `file name holds ${part}`)
    }
    const rows = parseCsv(csv.text)
    assert.deepEqual(rows[0], ["section", "when", "what", "details", "author", "agency", "team"])
    assert.equal(rows.filter(r => r[0] === "Chronology").length, entries)
    assert.ok(!csv.text.includes(PERSON) && !csv.text.includes(PLACE_NOTE), "relationships not in the CSV")
    assert.ok(rows.every(r => r.length === 7), "every row has every column")

    // Printing: no navigation, no controls, every part on the page; saved as a PDF.
    await page.emulateMedia({ media: "print" })
    assert.equal(await page.locator(".fb-header").isVisible(), false, "header hidden")
    assert.equal(await page.locator("nav").count() === 0 || !(await page.locator("nav").first().isVisible()), true)
    assert.equal(await page.getByTestId("transfer-print").isVisible(), false, "buttons hidden")
    assert.equal(await page.getByTestId("exit-this-page").isVisible(), false, "exit button hidden")
    assert.equal(await page.getByTestId("unsent").isVisible(), false, "status banner hidden")
    assert.equal(await page.locator("#transfer-network").isVisible(), false, "choices hidden")
    for (const part of ["profile", "assessment", "plan", "missing", "nrm", "chronology"]) {
      assert.ok(await bundle.locator(`section[data-section=${part}]`).isVisible(), `${part} printed`)
    }
    const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
    assert.match(background, /^rgba?\(255, 255, 255/, "no dark background on paper")
    await mkdir(ARTEFACTS, { recursive: true })
    const pdf = `${ARTEFACTS}/transfer-bundle.pdf`
    await page.pdf({ path: pdf, format: "A4" })
    const bytes = await readFile(pdf)
    assert.ok((await stat(pdf)).size > 5000, "the PDF has content")
    assert.equal(bytes.subarray(0, 5).toString(), "%PDF-")
    t.diagnostic(`pdf: ${pdf}`)
    await page.emulateMedia({ media: "screen" })

    // Chosen: relationships and places come in (fetched from their own document).
    await page.getByLabel("Include relationships and places").check()
    const network = bundle.locator("section[data-section=network]")
    await network.getByText(PERSON, { exact: false }).waitFor({ timeout: TIMEOUT })
    const withNetwork = await downloaded(page, page.getByTestId("transfer-csv"))
    assert.ok(withNetwork.text.includes(PERSON), "chosen relationships are in the CSV")
    assert.equal(parseCsv(withNetwork.text).filter(r => r[0] === "Relationships and places").length, 2)
  } finally {
    await context.close()
  }
})

test("the dataset CSV on the manager's phone equals `admin dataset --month` for the demo data", async t => {
  const { context, page } = await phone("mo")
  try {
    // The demo manager manages both teams: all eight demo cases come to the phone.
    await page.getByTestId("caseload-progress")
      .filter({ hasText: "All 8 cases in your caseload are on this device" })
      .waitFor({ timeout: 4 * TIMEOUT })
    await page.getByTestId("team-link").click()
    await page.getByTestId("dataset-link").click()
    await page.getByRole("heading", { name: "Monthly service dataset" }).waitFor({ timeout: TIMEOUT })
    await page.getByTestId("dataset-summary").filter({ hasText: "8 cases counted" }).waitFor({ timeout: TIMEOUT })
    const month = await page.getByTestId("dataset-month").inputValue()
    assert.match(month, /^\d{4}-\d{2}$/)

    // Non-trivial numbers for the last complete month, each with its chart.
    const supported = page.locator("[data-measure=young-people-supported]")
    assert.notEqual((await supported.getByTestId("measure-value").textContent()).trim(), "0")
    const chart = supported.getByRole("img")
    assert.match(await chart.getAttribute("aria-label"), /last 6 months: /)
    assert.match(await page.locator("[data-measure=rhi-within-72h]").getByTestId("measure-value").textContent(), /^\d+ of \d+ \(\d+\.\d%\)$/)

    t.diagnostic(`screenshot: ${await screenshot360(page, "dataset-360")}`)
    assert.deepEqual(await axeViolations(page), [])

    const csv = await downloaded(page, page.getByTestId("dataset-csv"))
    assert.equal(csv.name, `service-dataset-${month}.csv`)
    const server = await app.server.admin("dataset", "--month", month)
    assert.equal(csv.text, server, "the phone and the server count the same")
    const rows = parseCsv(csv.text)
    assert.deepEqual(rows[0], ["month", "section", "measure_id", "measure", "count", "out_of", "percent"])
    assert.ok(rows.slice(1).every(r => r[0] === month))

    // Another month: the picker recomputes, and still matches the server.
    const [y, m] = month.split("-").map(Number)
    const before = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`
    await page.getByTestId("dataset-month").fill(before)
    await page.getByTestId("dataset-month").dispatchEvent("change")
    await page.getByTestId("dataset-summary").filter({ hasText: "8 cases counted" }).waitFor({ timeout: TIMEOUT })
    const earlier = await downloaded(page, page.getByTestId("dataset-csv"))
    assert.equal(earlier.name, `service-dataset-${before}.csv`)
    assert.equal(earlier.text, await app.server.admin("dataset", "--month", before))
  } finally {
    await context.close()
  }
})

test("a concern records its kinds and a note records an intelligence form, and both are kept", async t => {
  const { context, page } = await phone("ayo")
  try {
    await page.getByLabel("Name").waitFor({ timeout: TIMEOUT })
    const id = await createCase(page, "Invented Reports Person")
    // A concern with two kinds ticked.
    await page.getByTestId("record-concern").click()
    const hourAgo = new Intl.DateTimeFormat("sv-SE", {
      timeZone: "Europe/London", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).format(new Date(Date.now() - 3_600_000)).replace(" ", "T")
    await page.locator("#concern-date").fill(hourAgo)
    await page.getByLabel("What the concerns are").fill("Seen with older youths (invented).")
    await page.getByLabel("County lines").check()
    await page.getByLabel("Child criminal exploitation (CCE)").check()
    t.diagnostic(`screenshot: ${await screenshot360(page, "concern-kinds-360")}`)
    assert.deepEqual(await axeViolations(page), [])
    await page.getByTestId("save-concern").click()
    await page.getByTestId("concerns").getByRole("link").first().click()
    await page.getByLabel("County lines").waitFor({ timeout: TIMEOUT })
    assert.equal(await page.getByLabel("County lines").isChecked(), true)
    assert.equal(await page.getByLabel("Child criminal exploitation (CCE)").isChecked(), true)
    assert.equal(await page.getByLabel("Trafficking").isChecked(), false)
    // Untick one on the saved record: only that changes.
    await page.getByLabel("County lines").uncheck()
    await page.getByTestId("save-concern").click()
    await page.getByTestId("concerns").getByRole("link").first().click()
    await page.getByLabel("County lines").waitFor({ timeout: TIMEOUT })
    assert.equal(await page.getByLabel("County lines").isChecked(), false)
    assert.equal(await page.getByLabel("Child criminal exploitation (CCE)").isChecked(), true)

    // A note with "Intelligence form submitted to police", kept after a reload.
    await page.goto(`${app.server.url}/#/case/${id}`)
    await page.getByTestId("add-note").click()
    await page.getByLabel("What happened").fill("Shared what was seen with the police (invented).")
    await page.getByLabel("Intelligence form submitted to police").check()
    await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor({ timeout: TIMEOUT })
    const note = page.url()
    await page.reload()
    await page.goto(note)
    await page.getByLabel("Intelligence form submitted to police").waitFor({ timeout: TIMEOUT })
    await page.waitForFunction(() => document.querySelector("#note-intelligence")?.checked === true, null, { timeout: TIMEOUT })
  } finally {
    await context.close()
  }
})
