// The clocks on the phone (issue 12): "Due and overdue" works offline and moves as time
// passes without a reload, recording a late return home interview with its reason clears
// it, and a manager sees the same clocks grouped by worker. The page's clock is set with
// Playwright's `page.clock` (`install({ time })`, then `setSystemTime` to jump two days),
// never by waiting: the app reads time only through `Date`, and its 5-second tick picks the
// jump up. Time keeps flowing from the set instant: with `setFixedTime` (`Date` frozen) the
// app's connection never finishes sending (its heartbeat and timeouts are measured with
// `Date.now()`), so a phone could not sign in or sync. Real server, real Chromium, real
// IndexedDB.
import { test } from "node:test"
import assert from "node:assert/strict"
import { mkdtemp } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { TIMEOUT } from "../interop/harness.mjs"
import { axeViolations, offline, signInAs, upToDate, useApp, DISPLAY_NAMES } from "./browser.mjs"

// The device locks after `idle_lock_secs` without input, comparing `Date.now()` with the
// last input: moving the page's fixed clock forward by two days would lock the app (and
// reload it) in the middle of the test. A 30-day idle lock keeps it open; the lease
// (14 days since the last contact) is not reached by a two-day move either.
process.env.FIELDBOOK_DEVICE_IDLE_LOCK_SECS = String(30 * 24 * 3600)
const app = useApp()

const PHONE = { viewport: { width: 360, height: 780 }, timezoneId: "Europe/London", locale: "en-GB" }

let shots
async function screenshot(page, name) {
  shots ??= await mkdtemp(path.join(tmpdir(), "fieldbook-clocks-shots-"))
  const file = path.join(shots, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  return file
}

// London civil time <-> instants, whatever the test machine's own time zone.
const LONDON = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/London", year: "numeric", month: "numeric", day: "numeric",
  hour: "numeric", minute: "numeric", hourCycle: "h23",
})
function londonParts(ms) {
  const p = Object.fromEntries(LONDON.formatToParts(new Date(ms)).map(x => [x.type, Number(x.value)]))
  return { y: p.year, m: p.month, d: p.day, h: p.hour, mi: p.minute }
}
/** The instant London's clocks show `h:mi` on date `day` ({y, m, d}): GMT or BST. */
function london(day, h, mi = 0) {
  for (const offset of [0, 1]) {
    const t = Date.UTC(day.y, day.m - 1, day.d, h - offset, mi)
    const p = londonParts(t)
    if (p.d === day.d && p.h === h && p.mi === mi) return t
  }
  throw new Error(`no ${h}:${mi} in London on ${JSON.stringify(day)}`)
}
/** `day` moved by `n` calendar days. */
function plusDays(day, n) {
  const t = new Date(Date.UTC(day.y, day.m - 1, day.d + n))
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() }
}
const iso = day => `${day.y}-${String(day.m).padStart(2, "0")}-${String(day.d).padStart(2, "0")}`
const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"]

// The Wednesday of this week in London (today, if today is one): near the real date, so
// the session and its lease behave as they would.
const TODAY = londonParts(Date.now())
const WEDNESDAY = plusDays(TODAY, -((new Date(Date.UTC(TODAY.y, TODAY.m - 1, TODAY.d)).getUTCDay() + 7 - 3) % 7))
const TUESDAY = plusDays(WEDNESDAY, -1)
const FRIDAY = plusDays(WEDNESDAY, 2)
const WEDNESDAY_NOON = london(WEDNESDAY, 12)
const FRIDAY_4PM = london(FRIDAY, 16)
const FRIDAY_WORDS = `Friday ${FRIDAY.d} ${MONTHS[FRIDAY.m - 1]}`

const homeLine = (page, name) => page.getByTestId("due-line").filter({ hasText: name })
const homeClock = (page, name) => homeLine(page, name).getByTestId("due-clock")

/** A phone whose page clock shows `at`, signed in as `who`. */
async function phoneAt(who, at) {
  const context = await app.browser.newContext(PHONE)
  const page = await context.newPage()
  await page.clock.install({ time: at })
  await signInAs(page, app.server.url, who)
  return { context, page }
}

/** Create a case for a 12-year-old (no transition-to-adulthood clock yet); returns its id. */
async function createCase(page, name) {
  await page.getByLabel("Name").fill(name)
  await page.getByLabel("Date of birth").fill(`${TODAY.y - 12}-01-15`)
  await page.getByRole("button", { name: "Create case" }).click()
  await page.getByTestId("case-name").filter({ hasText: name }).waitFor()
  return page.url().split("#/case/")[1]
}

/** Record a missing episode on the case page's form; returns its id. */
async function recordMissing(page, caseId, { went, back, offered }) {
  await page.goto(`${app.server.url}#/case/${caseId}/missing/new`)
  await page.getByLabel("When they went missing").fill(went)
  await page.getByLabel("Home", { exact: true }).check()
  await page.getByLabel("When they were found or returned (leave empty if still missing)").fill(back)
  if (offered) await page.getByLabel("When it was offered").fill(offered)
  await page.locator("input[name=rhi][value=pending]").check()
  await page.getByTestId("save-missing").click()
  const link = page.getByTestId("missing-list").getByRole("link").first()
  await link.waitFor({ timeout: TIMEOUT })
  return (await link.getAttribute("href")).split("/missing/")[1]
}

test("home says when the return home interview is due, offline, moves to overdue as time passes without a reload, and clears when it is recorded late with a reason", async t => {
  const { context, page } = await phoneAt("ayo", WEDNESDAY_NOON)
  try {
    const NAME = "Invented Clockwise Person"
    const id = await createCase(page, NAME)
    await upToDate(page)
    await context.setOffline(true)
    await offline(page)

    // Exploitation suspected (the "High risk of CCE" label): the interview is due within
    // 48 hours of the return, not 72.
    await page.getByText("Hazard labels", { exact: true }).click()
    await page.locator("input[name=hazard-high-cce][value=on]").check()
    await page.getByTestId("hazards").filter({ hasText: "High risk of CCE" }).waitFor()
    // Returned at 10:00 today; the interview offered at 11:00 (that clock is met), not yet done.
    const episode = await recordMissing(page, id, {
      went: `${iso(TUESDAY)}T22:00`,
      back: `${iso(WEDNESDAY)}T10:00`,
      offered: `${iso(WEDNESDAY)}T11:00`,
    })
    assert.match(await page.getByTestId("sync-status").textContent(), /Offline|Connecting/, "still offline")

    await page.goto(`${app.server.url}#/`)
    const due = `Return home interview (RHI) — due by 10:00 on ${FRIDAY_WORDS}`
    await homeClock(page, NAME).filter({ hasText: due }).waitFor({ timeout: TIMEOUT })
    assert.match(await homeClock(page, NAME).textContent(), /^Due soon/, "tagged in words, not only colour")
    assert.match(await homeLine(page, NAME).textContent(), /Age 1[12]\b/)
    assert.match(await homeLine(page, NAME).textContent(), /High risk of CCE/)
    t.diagnostic(`screenshot: ${await screenshot(page, "home-due-360")}`)
    assert.deepEqual(await axeViolations(page), [], "home")

    // The case's own deadlines: open ones with who acts, met ones under "Done".
    await page.goto(`${app.server.url}#/case/${id}/deadlines`)
    const rhi = page.getByTestId("deadlines-open").getByTestId("deadline").filter({ hasText: "Return home interview (RHI) —" })
    await rhi.waitFor({ timeout: TIMEOUT })
    assert.equal(await rhi.getByRole("link").getAttribute("href"), `#/case/${id}/missing/${episode}`)
    assert.match(await rhi.textContent(), /Who acts: /)
    t.diagnostic(`screenshot: ${await screenshot(page, "deadlines-360")}`)
    assert.deepEqual(await axeViolations(page), [], "deadlines")

    // Friday 16:00: six hours past due. The screen moves on by itself.
    await page.goto(`${app.server.url}#/`)
    await homeClock(page, NAME).filter({ hasText: due }).waitFor({ timeout: TIMEOUT })
    await page.evaluate(() => { window.__sameDocument = true })
    await page.clock.setSystemTime(FRIDAY_4PM)
    await homeClock(page, NAME)
      .filter({ hasText: "Return home interview (RHI) — overdue by 6 hours" })
      .waitFor({ timeout: TIMEOUT })
    assert.match(await homeClock(page, NAME).textContent(), /^Overdue/)
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload")
    t.diagnostic(`screenshot: ${await screenshot(page, "home-overdue-360")}`)

    // Completed at 15:00 on Friday, five hours late, with the reason.
    await page.goto(`${app.server.url}#/case/${id}/missing/${episode}`)
    await page.getByLabel("Completed", { exact: true }).check()
    await page.getByLabel("When it was completed").fill(`${iso(FRIDAY)}T15:00`)
    await page.locator("input[name=rhi-late-reason][value=not-engaged]").check()
    await page.locator("#rhi-late-text").fill("Invented: the family asked to meet on Friday afternoon.")
    await page.getByTestId("save-missing").click()
    await page.getByTestId("case-name").waitFor({ timeout: TIMEOUT })

    await page.goto(`${app.server.url}#/`)
    await homeClock(page, NAME).filter({ hasNotText: "Return home interview" }).waitFor({ timeout: TIMEOUT })
    await page.goto(`${app.server.url}#/case/${id}/deadlines`)
    await page.getByTestId("deadlines").waitFor()
    assert.equal(
      await page.getByTestId("deadlines-open").getByTestId("deadline").filter({ hasText: "Return home interview (RHI) —" }).count(),
      0,
      "the interview is no longer open",
    )
    await page.getByTestId("deadlines-done").locator("summary").click()
    await page.getByTestId("deadlines-done").getByTestId("deadline")
      .filter({ hasText: "Return home interview (RHI) —" })
      .filter({ hasText: "Young person or family could not be engaged in time" })
      .waitFor()
  } finally {
    await context.close()
  }
})

test("a manager sees the caseload's clocks grouped by worker, with counts", async t => {
  // Ayo records a return on Tuesday at 10:00 with no interview offered yet: on Wednesday at
  // noon the offer (24 hours) is overdue and the interview (72 hours) due soon.
  const ayo = await phoneAt("ayo", WEDNESDAY_NOON)
  const NAME = "Invented Teamwork Person"
  try {
    const id = await createCase(ayo.page, NAME)
    await recordMissing(ayo.page, id, { went: `${iso(TUESDAY)}T01:00`, back: `${iso(TUESDAY)}T10:00` })
    await upToDate(ayo.page)
  } finally {
    await ayo.context.close()
  }

  const { context, page } = await phoneAt("mo", WEDNESDAY_NOON)
  try {
    await page.getByTestId("team-link").click()
    await page.getByRole("heading", { name: "Your team’s deadlines" }).waitFor()
    const group = page.getByTestId("team-group").filter({ has: page.getByRole("heading", { name: DISPLAY_NAMES.ayo }) })
    await group.getByTestId("due-line").filter({ hasText: NAME }).waitFor({ timeout: TIMEOUT })
    const line = group.getByTestId("due-line").filter({ hasText: NAME })
    assert.match(await line.getByTestId("due-clock").textContent(), /^OverdueReturn home interview \(RHI\) offer — overdue by 2 hours/)
    assert.equal(await line.getByTestId("due-more").textContent(), "+1 more due")
    // Ayo's demo cases are in the same group, so the counts are at least this case's.
    assert.match(await group.getByTestId("team-counts").textContent(), /^[1-9]\d* overdue, [1-9]\d* due soon$/)
    // Every worker in the caseload has a group of their own.
    assert.ok(await page.getByTestId("team-group").count() >= 2, "more than one worker")
    t.diagnostic(`screenshot: ${await screenshot(page, "team-360")}`)
    assert.deepEqual(await axeViolations(page), [], "manager view")

    // A practitioner's home has no link to it.
    const bea = await phoneAt("bea", WEDNESDAY_NOON)
    try {
      await bea.page.getByTestId("case-list").waitFor()
      assert.equal(await bea.page.getByTestId("team-link").count(), 0)
    } finally {
      await bea.context.close()
    }
  } finally {
    await context.close()
  }
})

test("times are London time whatever time zone the phone is set to", async () => {
  // A phone set to New York (five hours behind London in November, four in summer): the
  // return typed as 10:00 is 10:00 in London, and its deadline is said in London time.
  const context = await app.browser.newContext({ ...PHONE, timezoneId: "America/New_York" })
  const page = await context.newPage()
  try {
    await page.clock.install({ time: WEDNESDAY_NOON })
    await signInAs(page, app.server.url, "bea")
    const NAME = "Invented Elsewhere Person"
    const id = await createCase(page, NAME)
    await recordMissing(page, id, { went: `${iso(TUESDAY)}T22:00`, back: `${iso(WEDNESDAY)}T10:00` })
    const saturday = plusDays(WEDNESDAY, 3)
    const words = `Return home interview (RHI) — due by 10:00 on Saturday ${saturday.d} ${MONTHS[saturday.m - 1]}`
    await page.goto(`${app.server.url}#/`)
    await homeClock(page, NAME).filter({ hasText: "Return home interview (RHI) offer" }).waitFor({ timeout: TIMEOUT })
    await page.goto(`${app.server.url}#/case/${id}/deadlines`)
    await page.getByTestId("deadlines-open").getByTestId("deadline").filter({ hasText: words }).waitFor({ timeout: TIMEOUT })
    // And the form shows the return as it was typed, in London time.
    await page.goto(`${app.server.url}#/case/${id}`)
    const link = page.getByTestId("missing-list").getByRole("link").first()
    await link.click()
    assert.equal(
      await page.getByLabel("When they were found or returned (leave empty if still missing)").inputValue(),
      `${iso(WEDNESDAY)}T10:00`,
    )
  } finally {
    await context.close()
  }
})
