// Stock @automerge/automerge-repo 2.5.x peers and our native client, syncing through the
// real Fieldbook server binary on a temporary store.
import { test, before, after } from "node:test"
import assert from "node:assert/strict"
import { Repo } from "@automerge/automerge-repo"
import WebSocket from "ws"
import { startServer, runClient, jsRepo, serverHas, until, tempDir, removeDir, withTimeout, TIMEOUT } from "./harness.mjs"

let dir, server
const open = []
const peer = wsUrl => {
  const p = jsRepo(wsUrl)
  open.push(p)
  return p.repo
}

before(async () => {
  dir = await tempDir()
  server = await startServer(dir)
})

after(async () => {
  for (const p of open) await p.close()
  const exit = await server?.stop()
  if (exit && exit.code !== 0) console.error(server.logs())
  await removeDir(dir)
})

/** The HTTP status the server answers a plain WebSocket upgrade to `url` with (101: accepted). */
function upgradeStatus(url) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(url)
      ws.on("open", () => {
        ws.close()
        resolve(101)
      })
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode))
      ws.on("error", e => reject(e))
    }),
    TIMEOUT,
    "the upgrade answer",
  )
}

test("a stock client is refused without a ticket, accepted with one, and a ticket works once", async () => {
  assert.equal(await upgradeStatus(server.wsUrl), 401)
  const url = await server.ticketUrl()
  assert.equal(await upgradeStatus(url), 101)
  assert.equal(await upgradeStatus(url), 401, "a spent ticket")
})

test("a JS repo creates a case through our server and a second JS repo finds and edits it", async () => {
  const a = peer(await server.ticketUrl())
  const b = peer(await server.ticketUrl())
  const handleA = a.create({ title: "Interop check", notes: ["first contact at the library"] })
  await serverHas(a, handleA)

  const handleB = await b.find(handleA.url)
  assert.deepEqual(handleB.doc(), { title: "Interop check", notes: ["first contact at the library"] })

  handleB.change(d => d.notes.push("follow-up call"))
  await until(handleA, ["change"], () => handleA.doc().notes.length === 2, "B's note to reach A")
  assert.deepEqual(handleA.doc().notes, ["first contact at the library", "follow-up call"])
})

test("a document created by the Rust client is found by a JS repo, and a JS edit reaches Rust", async () => {
  const created = await runClient(server.wsUrl, ["create", "--title", "Made in Rust"])
  assert.equal(created.code, 0, created.stderr)
  assert.match(created.stdout, /^automerge:\w+$/)

  const js = peer(await server.ticketUrl())
  const handle = await js.find(created.stdout)
  assert.equal(handle.doc().title, "Made in Rust")
  handle.change(d => (d.editedBy = "js"))
  await serverHas(js, handle)

  const got = await runClient(server.wsUrl, ["get", created.stdout])
  assert.equal(got.code, 0, got.stderr)
  assert.deepEqual(JSON.parse(got.stdout), { title: "Made in Rust", editedBy: "js" })
})

test("a document created by a JS repo is read and edited by the Rust client", async () => {
  const js = peer(await server.ticketUrl())
  const handle = js.create({ title: "Made in JS", count: 3 })
  await serverHas(js, handle)

  const got = await runClient(server.wsUrl, ["get", handle.url])
  assert.equal(got.code, 0, got.stderr)
  assert.deepEqual(JSON.parse(got.stdout), { title: "Made in JS", count: 3 })

  const set = await runClient(server.wsUrl, ["set", handle.url, "reviewedBy", "rust"])
  assert.equal(set.code, 0, set.stderr)
  await until(handle, ["change"], () => handle.doc().reviewedBy === "rust", "the Rust edit to reach JS")
})

test("an unknown document is reported unavailable to both kinds of client", async () => {
  const offline = new Repo({ network: [] })
  const neverShared = offline.create({ secret: "never synced" }).url
  await offline.shutdown()
  const js = peer(await server.ticketUrl())
  const started = Date.now()
  await assert.rejects(js.find(neverShared), /unavailable/i)
  assert.ok(Date.now() - started < TIMEOUT)

  const got = await runClient(server.wsUrl, ["get", neverShared])
  assert.equal(got.code, 3, `expected exit 3, got ${got.code}: ${got.stderr}`)
})

test("documents survive a server restart on the same store", async () => {
  const js = peer(await server.ticketUrl())
  const handle = js.create({ title: "Survives restart", notes: ["written before the restart"] })
  await serverHas(js, handle)
  // Close every peer first: the stock adapter keeps redialling a vanished server, even
  // after its repo shuts down, which would keep this process alive.
  while (open.length) await open.pop().close()

  const exit = await server.stop("SIGTERM")
  assert.equal(exit.code, 0, server.logs())
  server = await startServer(dir)

  const fresh = peer(await server.ticketUrl())
  const found = await fresh.find(handle.url)
  assert.deepEqual(found.doc(), { title: "Survives restart", notes: ["written before the restart"] })
})

test("a case the server holds as one snapshot reaches fresh Rust and JS clients after a restart, and a JS edit still reaches Rust", async () => {
  const js = peer(await server.ticketUrl())
  // Invented text that compresses to well over 32 KiB, in one change: the server folds it
  // into one snapshot at once, which a client holding nothing is then sent without the
  // server loading the case.
  let text = ""
  for (let x = 2463534242; text.length < 100_000; ) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    text += String.fromCharCode(97 + ((x >>> 0) % 26))
  }
  const handle = js.create({ title: "A long invented case", body: text })
  await serverHas(js, handle)
  while (open.length) await open.pop().close()
  const exit = await server.stop("SIGTERM")
  assert.equal(exit.code, 0, server.logs())
  server = await startServer(dir)

  const rust = await runClient(server.wsUrl, ["get", handle.url])
  assert.equal(rust.code, 0, rust.stderr)
  assert.equal(JSON.parse(rust.stdout).body, text)

  const fresh = peer(await server.ticketUrl())
  const found = await fresh.find(handle.url)
  assert.equal(found.doc().body, text)
  found.change(d => (d.reviewedBy = "js"))
  await serverHas(fresh, found)
  const again = await runClient(server.wsUrl, ["get", handle.url])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(JSON.parse(again.stdout).reviewedBy, "js")
})
