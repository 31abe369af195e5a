// First-visit transfer of the app shell from a running Fieldbook server: fetch index.html,
// then every JS, WASM and CSS file it references, once per Accept-Encoding, counting the
// bytes that actually cross the wire (response bodies as sent, headers excluded).
// Usage: node scripts/measure-transfer.mjs http://127.0.0.1:8080/
import http from "node:http"

const base = process.argv[2]
if (!base) {
  console.error("usage: node scripts/measure-transfer.mjs <server url>")
  process.exit(2)
}

function get(url, encoding) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { "accept-encoding": encoding } }, res => {
      let n = 0
      const chunks = []
      res.on("data", c => { n += c.length; chunks.push(c) })
      res.on("end", () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}`))
        else resolve({ bytes: n, encoding: res.headers["content-encoding"] ?? "identity", body: Buffer.concat(chunks) })
      })
    }).on("error", reject)
  })
}

const html = (await get(new URL("/", base), "identity")).body.toString("utf8")
const assets = [...new Set([...html.matchAll(/["'](\/[^"'?#]+\.(?:js|wasm|css))["']/g)].map(m => m[1]))]
const encodings = ["identity", "gzip", "br"]
const rows = []
for (const path of ["/", ...assets]) {
  const row = { path: path === "/" ? "/ (index.html)" : path.replace(/-[0-9a-f]{16}(?=[._])/, "-…") }
  for (const e of encodings) {
    const r = await get(new URL(path, base), e)
    if (e !== "identity" && r.encoding !== e) throw new Error(`${path}: asked for ${e}, got ${r.encoding}`)
    row[e] = r.bytes
  }
  rows.push(row)
}
const total = Object.fromEntries(encodings.map(e => [e, rows.reduce((s, r) => s + r[e], 0)]))
console.log("| file | raw | gzip -9 | brotli 11 |")
console.log("|---|---|---|---|")
for (const r of [...rows, { path: "**total first visit**", ...total }]) {
  console.log(`| ${r.path} | ${r.identity.toLocaleString("en-GB")} B | ${r.gzip.toLocaleString("en-GB")} B | ${r.br.toLocaleString("en-GB")} B |`)
}
