// Shared helpers for tests that drive the real server binary and stock automerge-repo peers.
import { spawn, execFile } from "node:child_process"
import { mkdtemp, rm } from "node:fs/promises"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { createInterface } from "node:readline"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const SERVER_BIN = process.env.FIELDBOOK_SERVER_BIN ?? path.join(root, "target/debug/fieldbook-sync-server")
export const CLIENT_BIN = process.env.FIELDBOOK_CLIENT_BIN ?? path.join(root, "target/debug/fieldbook-client")
export const TIMEOUT = 15_000

export async function tempDir() {
  return mkdtemp(path.join(tmpdir(), "fieldbook-test-"))
}

export async function removeDir(dir) {
  await rm(dir, { recursive: true, force: true })
}

/**
 * The invented demo accounts every test server has (`--demo`; sync-server/src/demo.rs):
 * Ayo and Bea in the North team, Cal in the South team, Mo managing both.
 */
export const DEMO_USERS = {
  ayo: { username: "demo-ayo", password: "demo-only-ayo-password" },
  bea: { username: "demo-bea", password: "demo-only-bea-password" },
  cal: { username: "demo-cal", password: "demo-only-cal-password" },
  mo: { username: "demo-mo", password: "demo-only-mo-password" },
  cy: { username: "demo-cy", password: "demo-only-cy-password" },
}

/**
 * Start the server on a free port with the demo accounts; resolves once it has printed its
 * address. `server.signIn(who)` signs a demo person in over HTTP; `server.ticketUrl(who)`
 * is the sync URL with a fresh single-use ticket (what stock automerge-repo clients use).
 */
export async function startServer(dataDir, extraArgs = [], listen = "127.0.0.1:0", startTimeout = TIMEOUT) {
  extraArgs = extraArgs.includes("--demo") ? extraArgs : ["--demo", ...extraArgs]
  // The harness's own FIELDBOOK_* variables are not server settings, and the server refuses
  // unknown ones: keep them out of its environment.
  const { FIELDBOOK_DIST, FIELDBOOK_SERVER_BIN, FIELDBOOK_CLIENT_BIN, FIELDBOOK_CHROMIUM, ...env } = process.env
  const proc = spawn(SERVER_BIN, ["--listen", listen, "--data-dir", dataDir, ...extraArgs], {
    env: { ...env, FIELDBOOK_LOG: process.env.FIELDBOOK_LOG ?? "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stderr = ""
  proc.stderr.on("data", d => (stderr += d))
  const exited = new Promise(resolve => proc.once("exit", (code, signal) => resolve({ code, signal })))
  const line = await withTimeout(
    new Promise((resolve, reject) => {
      const rl = createInterface({ input: proc.stdout })
      rl.once("line", resolve)
      proc.once("exit", code => reject(new Error(`server exited (${code}) before starting:\n${stderr}`)))
    }),
    startTimeout,
    "server start",
  )
  const m = line.match(/running at (https?:\/\/\S+) \(sync endpoint (wss?:\/\/\S+)\)/)
  if (!m) throw new Error(`unexpected server banner: ${line}`)
  const url = m[1]
  const sessions = new Map()
  const signIn = async (who = "ayo") => {
    const { username, password } = DEMO_USERS[who]
    const res = await fetch(new URL("/api/session", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username, password, device_name: `test ${who}` }),
    })
    if (res.status !== 200) throw new Error(`sign-in as ${who} failed: ${res.status} ${await res.text()}`)
    const cookie = res.headers.get("set-cookie").split(";")[0]
    const session = { cookie, ...(await res.json()) }
    sessions.set(who, session)
    return session
  }
  return {
    url,
    wsUrl: m[2],
    logs: () => stderr,
    signIn,
    async ticketUrl(who = "ayo") {
      const session = sessions.get(who) ?? (await signIn(who))
      const res = await fetch(new URL("/api/tickets", url), { method: "POST", headers: { cookie: session.cookie } })
      if (res.status !== 200) throw new Error(`ticket for ${who} failed: ${res.status} ${await res.text()}`)
      const { ticket } = await res.json()
      return `${m[2]}?ticket=${encodeURIComponent(ticket)}`
    },
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      return withTimeout(exited, TIMEOUT, "server stop")
    },
  }
}

/**
 * Run the native CLI peer signed in as a demo person (`who`: a key of DEMO_USERS, or
 * `null` for no sign-in); resolves with {code, stdout, stderr}. The password goes through
 * an environment variable, as the CLI requires.
 */
export function runClient(wsUrl, args, who = "ayo") {
  const as = who ? DEMO_USERS[who] : null
  const signIn = as ? ["--username", as.username, "--password-env", "FB_TEST_PASSWORD"] : []
  const env = as ? { ...process.env, FB_TEST_PASSWORD: as.password } : process.env
  return new Promise(resolve => {
    execFile(CLIENT_BIN, ["--server", wsUrl, "--timeout", "15", ...signIn, ...args], { timeout: TIMEOUT * 2, env }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout: stdout.trim(), stderr })
    })
  })
}

/** Run the real admin CLI on the data directory `dataDir`; resolves with its stdout. */
export function runAdmin(dataDir, ...args) {
  return new Promise((resolve, reject) => {
    // The harness's own FIELDBOOK_* variables are not server settings (see startServer).
    const { FIELDBOOK_DIST, FIELDBOOK_SERVER_BIN, FIELDBOOK_CLIENT_BIN, FIELDBOOK_CHROMIUM, ...env } = process.env
    execFile(SERVER_BIN, ["admin", "--data-dir", dataDir, ...args], { timeout: TIMEOUT, env }, (err, stdout, stderr) => {
      if (err) reject(new Error(`admin ${args.join(" ")} failed: ${stderr}`))
      else resolve(stdout)
    })
  })
}

/** A stock automerge-repo peer with no storage, connected to our server. */
export function jsRepo(wsUrl) {
  const adapter = new WebSocketClientAdapter(wsUrl, 1000)
  const repo = new Repo({ network: [adapter] })
  return {
    repo,
    async close() {
      await repo.shutdown()
    },
  }
}

export function withTimeout(promise, ms, what) {
  let t
  return Promise.race([
    promise.finally(() => clearTimeout(t)),
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
    }),
  ])
}

/** Resolve when `pred()` holds, re-checking on each of `events` emitted by `emitter`. */
export function until(emitter, events, pred, what, ms = TIMEOUT) {
  return withTimeout(
    new Promise(resolve => {
      const check = () => {
        if (pred()) {
          for (const e of events) emitter.off(e, check)
          resolve()
        }
      }
      for (const e of events) emitter.on(e, check)
      check()
    }),
    ms,
    what,
  )
}

const sameHeads = (a, b) => a.length === b.length && [...a].sort().every((h, i) => h === [...b].sort()[i])

/**
 * Resolve once the server has acknowledged everything `handle` holds: the server advertises a
 * storageId in its `peer` message, and automerge-repo tracks that storage's heads per document.
 */
export function serverHas(repo, handle, what = "the server to acknowledge") {
  const done = () => {
    const server = Object.values(repo.peerMetadataByPeerId).find(m => m?.storageId)
    const info = server && handle.getSyncInfo(server.storageId)
    return Boolean(info && sameHeads(info.lastHeads, handle.heads()))
  }
  return until(handle, ["remote-heads", "change"], done, what)
}
