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
// Shut down without `process.exit`: `repo.shutdown()` resolves when its own flush is written,
// but a throttled save of the same document may still be mid-`writeFile` (truncated to 0 bytes,
// not yet rewritten); exiting then left empty snapshot files that the next start could not
// load, so a pull after a restart waited forever. Node exits by itself once every write is done.
const stop = async () => {
  await repo.shutdown()
  wss.close()
  for (const client of wss.clients) client.terminate()
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
