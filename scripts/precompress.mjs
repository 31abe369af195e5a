// Write <file>.br (brotli, quality 11) and <file>.gz (gzip -9) next to each compressible
// asset in a built app directory. Uses Node's own zlib: no extra tool to install.
import { readdir, readFile, writeFile } from "node:fs/promises"
import path from "node:path"
import { brotliCompressSync, gzipSync, constants } from "node:zlib"

const COMPRESSIBLE = /\.(wasm|js|mjs|css|html|webmanifest|json|svg|txt)$/
const dir = process.argv[2]
if (!dir) {
  console.error("usage: node precompress.mjs <built app dir>")
  process.exit(2)
}

async function* files(d) {
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = path.join(d, e.name)
    if (e.isDirectory()) yield* files(p)
    else if (COMPRESSIBLE.test(e.name)) yield p
  }
}

for await (const f of files(dir)) {
  const data = await readFile(f)
  const br = brotliCompressSync(data, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: 11,
      [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
    },
  })
  await writeFile(`${f}.br`, br)
  await writeFile(`${f}.gz`, gzipSync(data, { level: 9 }))
}
