// Issue 13 item 4 in headless Chromium: language prompts while typing free text. A phrase
// that recasts a child as responsible for their own exploitation is underlined in place and
// listed under the field with neutral wording; one tap puts the wording in (stored, so it is
// there after a reload), with the caret just after it; finding phrases never moves the caret;
// neutral words show nothing; every free-text field has the prompts, not only notes.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { ARTEFACTS, axeViolations, createCase, screenshot360, useApp } from "./browser.mjs"

const app = useApp()

const prompts = (page, field) => page.locator(`[id="${field}-wording"]`)
const items = (page, field) => prompts(page, field).getByTestId("wording-item")
const value = (page, field) => page.locator(`[id="${field}"]`).inputValue()
const caret = (page, field) =>
  page.evaluate(f => {
    const el = document.getElementById(f)
    return { start: el.selectionStart, end: el.selectionEnd, focused: document.activeElement === el }
  }, field)
/** The underlined words in the field's copy behind it, with how they are drawn. */
const marks = (page, field) =>
  page.evaluate(f => {
    const box = document.getElementById(f).closest(".fb-lang-field")
    return [...box.querySelectorAll("mark")].map(m => {
      const s = getComputedStyle(m)
      return { text: m.textContent, line: s.textDecorationLine, style: s.textDecorationStyle }
    })
  }, field)

async function newNote(page, name) {
  const id = await createCase(page, name)
  await page.getByTestId("add-note").click()
  await page.getByLabel("What happened").waitFor()
  return id
}

test("a blaming phrase in a note is underlined, one tap puts in the neutral wording, and it is stored", async () => {
  const { page } = await app.phone("ayo")
  await newNote(page, "Test Person Wording")
  const field = page.getByLabel("What happened")
  await field.click()
  await page.keyboard.type("He is putting himself at risk when he goes out")

  const item = items(page, "note-text").filter({ hasText: "putting himself at risk" })
  await item.waitFor({ timeout: TIMEOUT })
  await prompts(page, "note-text").getByText("Consider other wording").waitFor()
  assert.deepEqual(await marks(page, "note-text"), [{ text: "putting himself at risk", line: "underline", style: "wavy" }])
  // The copy lies exactly under the words: same box as the field.
  const [fieldBox, mirrorBox] = await Promise.all([
    field.boundingBox(),
    page.locator(".fb-lang-field:has(#note-text) .fb-lang-mirror").boundingBox(),
  ])
  const round = b => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, Math.round(v)]))
  assert.deepEqual(round(mirrorBox), round(fieldBox))
  assert.equal(await prompts(page, "note-text").getAttribute("aria-live"), "polite")
  assert.equal(await page.locator(".fb-lang-field:has(#note-text) .fb-lang-mirror").getAttribute("aria-hidden"), "true")
  // Typing was never interrupted: the text is as typed and saved as typed.
  assert.equal(await value(page, "note-text"), "He is putting himself at risk when he goes out")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()

  await screenshot360(page, "language-note-suggestion")
  await page.setViewportSize({ width: 360, height: 640 })
  await prompts(page, "note-text").scrollIntoViewIfNeeded()
  await page.screenshot({ path: `${ARTEFACTS}/screenshots/language-note-suggestion-view.png` })
  assert.deepEqual(await axeViolations(page), [])

  const use = item.getByRole("button", { name: "Use ‘being exposed to risk’ instead of ‘putting himself at risk’" })
  await use.click()
  await page.waitForFunction(() => document.getElementById("note-text").value === "He is being exposed to risk when he goes out")
  const after = "He is being exposed to risk".length
  assert.deepEqual(await caret(page, "note-text"), { start: after, end: after, focused: true })
  await items(page, "note-text").first().waitFor({ state: "detached" })
  assert.deepEqual(await marks(page, "note-text"), [])

  // Typing carries on right after the new words.
  await page.keyboard.type(" tonight")
  assert.equal(await value(page, "note-text"), "He is being exposed to risk tonight when he goes out")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()

  // Stored: a reload (the app opens locked and is unlocked) shows the new wording.
  await page.reload()
  await page.getByLabel("What happened").waitFor({ timeout: TIMEOUT })
  await page.waitForFunction(
    () => document.getElementById("note-text")?.value === "He is being exposed to risk tonight when he goes out",
    null,
    { timeout: TIMEOUT },
  )
  assert.equal(await items(page, "note-text").count(), 0)
  await page.context().close()
})

test("neutral words show no suggestion, and the same field does show one for a blaming phrase", async () => {
  const { page } = await app.phone("ayo")
  await newNote(page, "Test Person Neutral")
  await page.getByLabel("What happened").click()
  await page.keyboard.type("She chose the blue coat. Consent form signed by parent for the trip. Engagement with football has improved.")
  // Leaving the field shows every finding at once (none is held back as still being typed).
  await page.keyboard.press("Tab")
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  assert.equal(await items(page, "note-text").count(), 0)
  assert.deepEqual(await marks(page, "note-text"), [])
  assert.equal(await prompts(page, "note-text").getByText("Consider other wording").count(), 0)

  // The check above could fail: the same field, the same way, with a phrase.
  await page.getByLabel("What happened").click()
  await page.keyboard.press("End")
  await page.keyboard.type(" It was a lifestyle choice.")
  await page.keyboard.press("Tab")
  await items(page, "note-text").filter({ hasText: "lifestyle choice" }).waitFor()
  assert.equal(await items(page, "note-text").count(), 1)
  await page.context().close()
})

test("phrases found while typing in the middle of a note never move the caret", async () => {
  const { page } = await app.phone("ayo")
  await newNote(page, "Test Person Caret")
  const start = "Met at school. She was uncooperative today."
  await page.getByLabel("What happened").fill(start)
  await items(page, "note-text").filter({ hasText: "She was uncooperative" }).waitFor()

  // Put the caret after "Met at school." and type a sentence with another phrase, one key
  // at a time; the caret must follow the typing, never jump.
  const at = "Met at school.".length
  await page.evaluate(n => {
    const el = document.getElementById("note-text")
    el.focus()
    el.setSelectionRange(n, n)
  }, at)
  const typed = " He is putting himself at risk."
  for (const [i, ch] of [...typed].entries()) {
    await page.keyboard.type(ch)
    const c = await caret(page, "note-text")
    assert.deepEqual(c, { start: at + i + 1, end: at + i + 1, focused: true }, `after ${JSON.stringify(typed.slice(0, i + 1))}`)
  }
  // The new phrase is found while the worker is still in the field, and the caret stays.
  await items(page, "note-text").filter({ hasText: "putting himself at risk" }).waitFor()
  assert.equal(await items(page, "note-text").count(), 2)
  assert.deepEqual(await caret(page, "note-text"), { start: at + typed.length, end: at + typed.length, focused: true })
  await page.keyboard.type(" Later")
  assert.equal(await value(page, "note-text"), "Met at school. He is putting himself at risk. Later She was uncooperative today.")
  await page.context().close()
})

test("other free-text fields have the prompts: the safety plan and a one-line field", async () => {
  const { page } = await app.phone("ayo")
  const id = await createCase(page, "Test Person Plan")
  await page.goto(`${app.server.url}#/case/${id}/plan`)
  const known = page.getByLabel("What is known about the exploitation and who is involved")
  await known.click()
  await page.keyboard.type("They made a bad choice and are putting themselves in danger with older males.")
  const item = items(page, "plan-known").filter({ hasText: "putting themselves in danger" })
  await item.waitFor({ timeout: TIMEOUT })
  // Advice with no words to insert is shown as advice, without a button.
  const choice = items(page, "plan-known").filter({ hasText: "made a bad choice" })
  await choice.getByText("describe what happened and who was involved").waitFor()
  assert.equal(await choice.getByRole("button").count(), 0)
  assert.deepEqual(
    (await marks(page, "plan-known")).map(m => m.text),
    ["made a bad choice", "putting themselves in danger"],
  )

  await item.getByRole("button", { name: /^Use ‘being placed at risk by adults’/ }).click()
  const want = "They made a bad choice and are being placed at risk by adults with older males."
  await page.waitForFunction(w => document.getElementById("plan-known").value === w, want)
  const after = "They made a bad choice and are being placed at risk by adults".length
  assert.deepEqual(await caret(page, "plan-known"), { start: after, end: after, focused: true })
  await page.getByTestId("saved").filter({ hasText: "Saved on this device" }).waitFor()
  await page.reload()
  await page.waitForFunction(w => document.getElementById("plan-known")?.value === w, want, { timeout: TIMEOUT })

  // A one-line field: the place of a contact note.
  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("add-note").click()
  await page.getByLabel("Where").fill("Park, where he chose to go")
  await page.getByLabel("Where").press("Tab")
  await items(page, "note-place").filter({ hasText: "chose to" }).waitFor()
  assert.deepEqual((await marks(page, "note-place")).map(m => m.text), ["chose to"])
  await items(page, "note-place").getByRole("button", { name: /^Use ‘went on to’/ }).click()
  await page.waitForFunction(() => document.getElementById("note-place").value === "Park, where he went on to go")
  await page.context().close()
})

test("at 360 px the underline follows wrapping and scrolling of a long note", async () => {
  const { page } = await app.phone("ayo", { viewport: { width: 360, height: 780 } })
  await newNote(page, "Test Person Scroll")
  const long = Array.from({ length: 30 }, (_, i) => `Line ${i + 1}: we talked about school, football and the bus home.`).join("\n")
  await page.getByLabel("What happened").fill(long)
  await page.getByLabel("What happened").click()
  await page.keyboard.press("Control+End")
  await page.keyboard.type("\nAt the end he said he is putting himself at risk by going to the flat, and the worker wrote it down.")
  await items(page, "note-text").filter({ hasText: "putting himself at risk" }).waitFor({ timeout: TIMEOUT })
  // The copy has the same layout as the text box: same width for text, same height of
  // wrapped text, scrolled to the same place (the text box has scrolled to the end).
  const layout = () =>
    page.evaluate(() => {
      const t = document.getElementById("note-text")
      const m = t.closest(".fb-lang-field").querySelector(".fb-lang-mirror")
      const mark = m.querySelector("mark").getBoundingClientRect()
      const box = t.getBoundingClientRect()
      return {
        text: [t.clientWidth, t.scrollHeight, t.scrollTop],
        copy: [m.clientWidth, m.scrollHeight, m.scrollTop],
        scrolled: t.scrollTop > 0,
        markInView: mark.top >= box.top && mark.bottom <= box.bottom,
      }
    })
  let got = await layout()
  assert.deepEqual(got.copy, got.text)
  assert.ok(got.scrolled, "the long note scrolls inside its box")
  assert.ok(got.markInView, "the underlined phrase is in view where the text is")
  await page.locator(".fb-lang-field:has(#note-text)").screenshot({ path: `${ARTEFACTS}/screenshots/language-underline-scrolled.png` })
  // Scrolled back to the top by the worker: the copy follows.
  await page.locator("#note-text").evaluate(t => { t.scrollTop = 0 })
  await page.waitForFunction(() => {
    const t = document.getElementById("note-text")
    return t.closest(".fb-lang-field").querySelector(".fb-lang-mirror").scrollTop === t.scrollTop
  })
  got = await layout()
  assert.deepEqual(got.copy, got.text)
  assert.ok(!got.markInView, "the phrase scrolled out of view with the text")
  await page.context().close()
})
