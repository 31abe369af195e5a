// The reference: the stock automerge-repo sync server (Node, from npm), set up the way the
// automerge-repo sync-server example does, on loopback with a filesystem store.
// Usage: node tests/bench/reference-server.mjs DATA_DIR   (prints its ws:// URL)
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketServerAdapter } from "@automerge/automerge-repo-network-websocket"
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs"

const dir = process.argv[2]
if (!dir) throw new Error("usage: reference-server.mjs DATA_DIR")
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 * 1024 * 1024 })
const repo = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(dir),
  peerId: `reference-server-${process.pid}`,
  sharePolicy: async () => false,
})
wss.on("listening", () => console.log(`reference sync server at ws://127.0.0.1:${wss.address().port}`))
const stop = async () => {
  await repo.shutdown()
  wss.close()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
