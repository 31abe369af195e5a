// Nothing readable on the device: after writing invented fixtures, every IndexedDB record and
// every Cache Storage entry is read raw by the page (no key involved) and searched for them.
// Unlocking with the passcode shows everything again.
import { test } from "node:test"
import assert from "node:assert/strict"
import { TIMEOUT } from "../interop/harness.mjs"
import { addNote, createCase, signInAs, upToDate, unlock, useApp } from "./browser.mjs"

const app = useApp()

// Invented; distinctive enough that no other byte sequence on the device contains them.
const FIXTURES = ["Test Person Quillfeather", "marmalade lighthouse accordion", "Zephyrine"]

/**
 * Every IndexedDB database, object store, key and value and every Cache Storage entry of the
 * page's origin, as bytes (strings both UTF-8 and UTF-16LE, binary as is): what someone
 * holding the browser profile could read without the passcode.
 */
async function rawDevice(page) {
  return page.evaluate(async () => {
    const out = []
    const push = v => {
      if (v == null) return
      if (typeof v === "string") {
        out.push(Array.from(new TextEncoder().encode(v)))
        const u16 = new Uint8Array(v.length * 2)
        for (let i = 0; i < v.length; i++) { u16[2 * i] = v.charCodeAt(i) & 255; u16[2 * i + 1] = v.charCodeAt(i) >> 8 }
        out.push(Array.from(u16))
      } else if (v instanceof ArrayBuffer) out.push(Array.from(new Uint8Array(v)))
      else if (ArrayBuffer.isView(v)) out.push(Array.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)))
      else if (typeof v === "object") { for (const x of Object.values(v)) push(x); push(Object.keys(v).join("\n")) }
      else push(String(v))
    }
    let records = 0
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error) })
      for (const store of db.objectStoreNames) {
        const tx = db.transaction(store)
        const s = tx.objectStore(store)
        const [keys, values] = await Promise.all([s.getAllKeys(), s.getAll()].map(r => new Promise((ok, fail) => { r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error) })))
        records += keys.length
        keys.forEach(push)
        values.forEach(push)
      }
      db.close()
    }
    let cached = 0
    for (const name of await caches.keys()) {
      const cache = await caches.open(name)
      for (const req of await cache.keys()) {
        const res = await cache.match(req)
        push(req.url)
        push(await res.arrayBuffer())
        cached += 1
      }
    }
    push(document.title)
    return { chunks: out, records, cached }
  })
}

function occurrences({ chunks }, needle) {
  const variants = [Buffer.from(needle, "utf8"), Buffer.from(needle, "utf16le")]
  return chunks.filter(c => { const b = Buffer.from(c); return variants.some(v => b.includes(v)) }).length
}

test("no fixture string is readable in IndexedDB or Cache Storage; the passcode shows it all again", async () => {
  // Not auto-unlocked: this test unlocks by hand after the reload.
  const context = await app.browser.newContext()
  const page = await context.newPage()
  await signInAs(page, app.server.url, "ayo", { auto: false })
  const id = await createCase(page, FIXTURES[0])
  await addNote(page, `Met ${FIXTURES[2]} by the ${FIXTURES[1]}`)
  await upToDate(page)

  // Control: the scan finds a fixture written in plain form by the test itself.
  await page.evaluate(async word => {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open("scan-control"); r.onupgradeneeded = () => r.result.createObjectStore("plain"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error) })
    const tx = db.transaction("plain", "readwrite"); tx.objectStore("plain").put(new TextEncoder().encode(word), "k")
    await new Promise(ok => { tx.oncomplete = ok }); db.close()
  }, FIXTURES[1])
  const withControl = await rawDevice(page)
  assert.equal(occurrences(withControl, FIXTURES[1]), 1, "the scan sees a plain record")
  await page.evaluate(() => new Promise((ok, fail) => { const r = indexedDB.deleteDatabase("scan-control"); r.onsuccess = ok; r.onerror = () => fail(r.error) }))

  const raw = await rawDevice(page)
  assert.ok(raw.records > 5, `records read: ${raw.records}`)
  assert.ok(raw.cached > 0, `cache entries read: ${raw.cached}`)
  for (const f of FIXTURES) assert.equal(occurrences(raw, f), 0, `"${f}" is readable on the device`)

  // Locked after a reload (the keys lived only in the page), then unlocked: all there.
  await page.reload()
  await page.getByTestId("lock-screen").waitFor({ timeout: TIMEOUT })
  await unlock(page, "ayo")
  await page.goto(`${app.server.url}#/case/${id}`)
  await page.getByTestId("case-name").filter({ hasText: FIXTURES[0] }).waitFor({ timeout: TIMEOUT })
  await page.getByText(FIXTURES[1], { exact: false }).first().waitFor({ timeout: TIMEOUT })
  await context.close()
})
