// Move every inline <script> of a built index.html into its own file, so the server's
// Content-Security-Policy can forbid inline script entirely (script-src 'self', no hashes
// to keep in step with each build). Trunk writes one: the module that loads the WASM.
// The file is named after its content's hash like Trunk's own assets, so the service
// worker's cache and browsers never mix two builds.
import { createHash } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import path from "node:path"

const dir = process.argv[2]
if (!dir) {
  console.error("usage: node externalise-scripts.mjs <built app dir>")
  process.exit(2)
}
const index = path.join(dir, "index.html")
const html = await readFile(index, "utf8")
// Only scripts the browser would run: no type, a JavaScript type, or a module.
const runnable = attrs => {
  const type = attrs.match(/\btype\s*=\s*["']?([^"'\s>]+)/i)?.[1]?.toLowerCase()
  return type === undefined || type === "module" || /^(text|application)\/(x-)?(javascript|ecmascript)$/.test(type)
}
const files = []
const out = html.replace(/<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi, (whole, attrs, body) => {
  if (/\bsrc\s*=/i.test(attrs) || !runnable(attrs) || body.trim() === "") return whole
  const name = `boot-${createHash("sha256").update(body).digest("hex").slice(0, 16)}.js`
  files.push([name, body])
  return `<script${attrs} src="/${name}"></script>`
})
for (const [name, body] of files) await writeFile(path.join(dir, name), body)
if (files.length) await writeFile(index, out)
