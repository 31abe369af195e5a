// The app shell as Chromium sees it: installable as an app, and sent brotli-compressed.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import http from "node:http"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { brotliDecompressSync } from "node:zlib"
import { startServer, tempDir, removeDir } from "../interop/harness.mjs"
import { chromium } from "playwright-core"
import { launch, CHROMIUM, FLAGS } from "./browser.mjs"

const dist = process.env.FIELDBOOK_DIST ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist")
let dir, server, browser

before(async () => {
  dir = await tempDir()
  server = await startServer(dir, ["--static-dir", dist])
  browser = await launch()
})

after(async () => {
  await browser?.close()
  await server?.stop()
  await removeDir(dir)
})

test("Chromium reports no installability errors", async () => {
  // A real profile: Chromium never offers installation from an incognito-like context.
  const profile = await tempDir()
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: FLAGS })
  const page = await context.newPage()
  await page.goto(server.url)
  await page.evaluate(() => navigator.serviceWorker.ready)
  const cdp = await page.context().newCDPSession(page)
  const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors")
  assert.deepEqual(installabilityErrors, [])
  const manifest = await cdp.send("Page.getAppManifest")
  assert.deepEqual(manifest.errors, [])
  await context.close()
  await removeDir(profile)
})

/** GET a path with Accept-Encoding, returning the status, encoding and raw (still compressed) body. */
function getRaw(url, encoding) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { "accept-encoding": encoding } }, res => {
      const chunks = []
      res.on("data", c => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode, encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }))
    }).on("error", reject)
  })
}

test("the shell is sent brotli-compressed to browsers that accept it, and identical once decoded", async () => {
  const html = await readFile(path.join(dist, "index.html"), "utf8")
  const assets = [...html.matchAll(/["'](\/[^"'?#]+\.(?:js|wasm|css))["']/g)].map(m => m[1])
  assert.ok(assets.some(a => a.endsWith(".wasm")) && assets.some(a => a.endsWith(".js")), assets.join(", "))
  for (const asset of [...new Set(assets)]) {
    const raw = await readFile(path.join(dist, asset))
    const br = await getRaw(new URL(asset, server.url), "br")
    assert.equal(br.status, 200, asset)
    assert.equal(br.encoding, "br", asset)
    assert.ok(br.body.length < raw.length, `${asset}: ${br.body.length} >= ${raw.length}`)
    assert.ok(brotliDecompressSync(br.body).equals(raw), `${asset} decodes to the built file`)
    const plain = await getRaw(new URL(asset, server.url), "identity")
    assert.equal(plain.encoding, undefined, asset)
    assert.ok(plain.body.equals(raw), asset)
  }
})
