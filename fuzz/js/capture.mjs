// Seed frames from stock automerge-repo 2.5.6 peers: a Node server repo and a client repo
// talk over a real WebSocket; every frame either side receives is written to
// <corpus>/{frame_decode,engine_receive,sync_guard}/js-NNNN (scripts/fuzz.sh runs this).
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter, WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { WebSocketServer } from "ws"
import { decode } from "cbor-x"
import { mkdirSync, writeFileSync } from "node:fs"
import path from "node:path"

const root = process.argv[2] ?? "corpus"
const dirs = ["frame_decode", "engine_receive", "sync_guard"].map(t => path.join(root, t))
dirs.forEach(d => mkdirSync(d, { recursive: true }))
let n = 0
function keep(frame, toServer) {
  const name = `js-${String(n++).padStart(4, "0")}`
  writeFileSync(path.join(dirs[0], name), frame)
  if (toServer) writeFileSync(path.join(dirs[1], name), frame)
  try {
    const m = decode(frame)
    if ((m.type === "sync" || m.type === "request") && m.data) writeFileSync(path.join(dirs[2], name), m.data)
  } catch {}
}

const wss = new WebSocketServer({ port: 0 })
wss.on("connection", socket => socket.on("message", data => keep(Buffer.from(data), true)))
const server = new Repo({ network: [new WebSocketServerAdapter(wss)], peerId: "server", sharePolicy: async () => false })
const url = `ws://127.0.0.1:${wss.address().port}`

async function phone(edit) {
  const adapter = new WebSocketClientAdapter(url)
  const repo = new Repo({ network: [adapter], peerId: "phone" })
  await repo.networkSubsystem.whenReady()
  const socket = adapter.socket
  socket.addEventListener("message", e => keep(Buffer.from(e.data), false))
  await edit(repo)
  await new Promise(r => setTimeout(r, 500)) // let the sync exchange finish
  await repo.shutdown()
}

let docUrl
await phone(async repo => {
  const h = repo.create({ profile: { name: "Demo — Sam Example" }, notes: [] })
  for (let i = 0; i < 5; i++) h.change(d => d.notes.push({ type: "face to face", text: `Seen at the centre, visit ${i}.` }))
  docUrl = h.url
})
await phone(async repo => {
  const h = await repo.find(docUrl)
  h.change(d => d.notes.push({ type: "phone", text: "Called school; attendance improving." }))
})
await phone(async repo => {
  await repo.find(docUrl).catch(() => {})
})
await server.shutdown()
wss.close()
console.log(`wrote ${n} frames from stock automerge-repo peers to ${root}`)
process.exit(0)
