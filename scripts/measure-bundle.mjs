// Where the PWA's first-visit bytes go: the shipped WASM module's function bodies grouped by
// the crate in their name, each group brotli-compressed on its own (docs/PERFORMANCE.md,
// "First-visit transfer, cut").
//
// Usage: node scripts/measure-bundle.mjs [CARGO_WASM]
//   CARGO_WASM defaults to cargo's output of the last `trunk build --release`
//   (target/wasm32-unknown-unknown/wasm-release/fieldbook-app.wasm). It goes through what
//   Trunk does (wasm-bindgen, wasm-opt -Oz) twice: without names for the shipped size, and
//   with the name section kept (-g; the code is the same) to attribute the bytes.
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import zlib from "node:zlib"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const input = path.resolve(process.argv[2] ?? path.join(root, "target/wasm32-unknown-unknown/wasm-release/fieldbook-app.wasm"))
const wasmOpt = path.join(root, "node_modules/.bin/wasm-opt")
const features = ["--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals"]

const brotli = buf => zlib.brotliCompressSync(buf, {
  params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: buf.length },
}).length

const dir = mkdtempSync(path.join(tmpdir(), "fieldbook-bundle-"))
try {
  execFileSync("wasm-bindgen", ["--keep-debug", "--target", "web", "--no-typescript", "--out-dir", dir, input])
  const bound = path.join(dir, readdirSync(dir).find(f => f.endsWith("_bg.wasm")))
  execFileSync(wasmOpt, ["-Oz", ...features, bound, "-o", path.join(dir, "shipped.wasm")])
  execFileSync(wasmOpt, ["-Oz", "-g", ...features, bound, "-o", path.join(dir, "named.wasm")])
  const shipped = readFileSync(path.join(dir, "shipped.wasm"))
  const { bodies, data, names, imports } = parse(readFileSync(path.join(dir, "named.wasm")))

  const groups = new Map()
  const add = (group, bytes) => { if (!groups.has(group)) groups.set(group, []); groups.get(group).push(bytes) }
  bodies.forEach((body, i) => add(crateOf(names.get(imports + i) ?? "?"), body))
  data.forEach(d => add("data (strings, tables)", d))

  let rows = [...groups].map(([group, parts]) => ({ group, bytes: Buffer.concat(parts) }))
  const small = rows.filter(r => r.bytes.length < 15_000)
  rows = rows.filter(r => r.bytes.length >= 15_000)
  rows.push({ group: `${small.length} smaller groups (each under 15 KB raw)`, bytes: Buffer.concat(small.map(r => r.bytes)) })
  rows = rows.map(r => ({ ...r, br: brotli(r.bytes) })).sort((a, b) => b.br - a.br)
  const sumBr = rows.reduce((n, r) => n + r.br, 0)

  const kb = n => n.toLocaleString("en-GB") + " B"
  console.log(`Shipped module: ${kb(shipped.length)} raw, ${kb(brotli(shipped))} brotli 11 (${path.relative(root, input)})\n`)
  console.log("| part | raw | brotli alone | share |")
  console.log("|---|---|---|---|")
  for (const r of rows) console.log(`| ${r.group} | ${kb(r.bytes.length)} | ${kb(r.br)} | ${Math.round(100 * r.br / sumBr)}% |`)
  console.log(`| **sum of the parts** | ${kb(rows.reduce((n, r) => n + r.bytes.length, 0))} | ${kb(sumBr)} | |`)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

/** A function's crate: the first path segment of its name; for a standard-library generic,
 *  "std generic" (its type arguments are gone from the name). */
function crateOf(name) {
  const first = name.match(/^<?&?(?:mut |dyn )?([A-Za-z_][A-Za-z0-9_]*)::/)?.[1] ?? "unnamed"
  return ["core", "alloc", "std"].includes(first) ? "std generic" : first
}

/** The code bodies, data segments and function names of a module (the parts used here). */
function parse(b) {
  let i = 8
  const uleb = () => { let r = 0, s = 0, x; do { x = b[i++]; r += (x & 0x7f) * 2 ** s; s += 7 } while (x & 0x80); return r }
  const bodies = [], data = [], names = new Map()
  let imports = 0
  while (i < b.length) {
    const id = b[i++], size = uleb(), end = i + size
    if (id === 2) {
      for (let n = uleb(); n > 0; n--) {
        for (let k = 0; k < 2; k++) { const len = uleb(); i += len } // module and field names
        const kind = b[i++]
        if (kind === 0) { uleb(); imports++ }
        else if (kind === 1) { i++; const flags = uleb(); uleb(); if (flags & 1) uleb() }
        else if (kind === 2) { const flags = uleb(); uleb(); if (flags & 1) uleb() }
        else if (kind === 3) i += 2
      }
    } else if (id === 10) {
      for (let n = uleb(); n > 0; n--) { const len = uleb(); bodies.push(b.subarray(i, i + len)); i += len }
    } else if (id === 11) {
      for (let n = uleb(); n > 0; n--) {
        const flags = uleb()
        if (flags === 2) uleb()
        if (flags !== 1) { while (b[i] !== 0x0b) i++; i++ } // the offset expression
        const len = uleb(); data.push(b.subarray(i, i + len)); i += len
      }
    } else if (id === 0) {
      const len = uleb(), label = b.subarray(i, i + len).toString(); i += len
      while (label === "name" && i < end) {
        const sub = b[i++], subSize = uleb(), subEnd = i + subSize
        if (sub === 1) for (let n = uleb(); n > 0; n--) { const idx = uleb(), l = uleb(); names.set(idx, b.subarray(i, i + l).toString()); i += l }
        i = subEnd
      }
    }
    i = end
  }
  return { bodies, data, names, imports }
}
