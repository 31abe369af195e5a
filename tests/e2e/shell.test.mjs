// The app shell as Chromium sees it: installable as an app, and sent brotli-compressed.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { readFile } from "node:fs/promises"
import http from "node:http"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { brotliDecompressSync } from "node:zlib"
import { execFile } from "node:child_process"
import { X509Certificate, createHash } from "node:crypto"
import { promisify } from "node:util"
import { startServer, tempDir, removeDir, withTimeout, TIMEOUT, DEMO_USERS } from "../interop/harness.mjs"
import { chromium } from "playwright-core"
import { launch, CHROMIUM, FLAGS, watchCsp, createCase, upToDate, signIn, choosePasscode, PASSCODES, DISPLAY_NAMES } from "./browser.mjs"

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

const POLICY = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; connect-src 'self'; worker-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'"

/**
 * Open the app, sign in (the sign-in screen and its request are under the policy too), sync a
 * case, wait for the service worker; returns the page's WebSocket URLs.
 */
async function bootAndSync(page, url, name) {
  const sockets = []
  page.on("websocket", ws => sockets.push(ws.url()))
  const response = await page.goto(url)
  await page.getByRole("heading", { name: "Sign in to Fieldbook" }).waitFor({ timeout: TIMEOUT })
  await signIn(page, DEMO_USERS.ayo.username, DEMO_USERS.ayo.password)
  await choosePasscode(page, PASSCODES.ayo)
  await page.getByTestId("case-list").waitFor({ timeout: TIMEOUT })
  await createCase(page, name)
  await upToDate(page) // the sync socket is open: connect-src 'self' admits it
  await page.evaluate(() => navigator.serviceWorker.ready)
  await page.goto(`${url}#/settings`)
  await page.getByTestId("account-name").filter({ hasText: DISPLAY_NAMES.ayo }).waitFor()
  return { response, sockets }
}

test("the app starts, syncs and registers its service worker under the Content-Security-Policy", async () => {
  const context = await browser.newContext()
  const csp = await watchCsp(context)
  const page = await context.newPage()
  const { response, sockets } = await bootAndSync(page, server.url, "Policy Test Child")
  const headers = response.headers()
  assert.equal(headers["content-security-policy"], POLICY)
  assert.equal(headers["strict-transport-security"], undefined, "no HSTS over plain HTTP")
  const html = await response.text()
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, "no inline script left in index.html")
  assert.ok(sockets.includes(server.wsUrl), sockets.join(", "))
  assert.deepEqual(csp.seen, [])

  // Control: the watcher does catch a violation when there is one.
  const next = csp.next()
  await page.evaluate(() => {
    new Image().src = "https://example.invalid/pixel.png"
  })
  const caught = await withTimeout(next, TIMEOUT, "the control violation")
  assert.ok(caught.directive === "img-src" || /img-src/.test(caught.console), JSON.stringify(caught))
  await context.close()
})

test("over HTTPS the app syncs through wss:// with the same policy and HSTS", async () => {
  const certDir = await tempDir()
  const dataDir = await tempDir()
  const cert = path.join(certDir, "cert.pem")
  const key = path.join(certDir, "key.pem")
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=Fieldbook test",
    "-addext", "subjectAltName=IP:127.0.0.1",
  ])
  // Chromium trusts exactly this key (by its SPKI hash), nothing else.
  const spki = new X509Certificate(await readFile(cert)).publicKey.export({ type: "spki", format: "der" })
  const pin = createHash("sha256").update(spki).digest("base64")
  const tls = await startServer(dataDir, ["--static-dir", dist, "--tls-cert", cert, "--tls-key", key])
  const secure = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...FLAGS, `--ignore-certificate-errors-spki-list=${pin}`],
  })
  try {
    assert.match(tls.url, /^https:\/\/127\.0\.0\.1:\d+\/$/)
    assert.match(tls.wsUrl, /^wss:\/\/127\.0\.0\.1:\d+\/sync$/)
    const context = await secure.newContext()
    const csp = await watchCsp(context)
    const page = await context.newPage()
    const { response, sockets } = await bootAndSync(page, tls.url, "Secure Test Child")
    assert.equal(response.headers()["content-security-policy"], POLICY)
    assert.equal(response.headers()["strict-transport-security"], "max-age=31536000")
    assert.ok(sockets.length > 0 && sockets.every(u => u === tls.wsUrl), sockets.join(", "))
    assert.deepEqual(csp.seen, [])
  } finally {
    await secure.close()
    await tls.stop()
    await removeDir(dataDir)
    await removeDir(certDir)
  }
})
