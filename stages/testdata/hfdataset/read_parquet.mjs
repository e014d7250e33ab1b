// Reads every .parquet file under a folder with hyparquet (a third-party
// JavaScript Parquet reader, not srdpo's) and prints, as one JSON document,
// each file's sha256, its key-value metadata and its rows: the expected
// output of srdpo's Hugging Face export test (stages/export_hf_test.go).
//
//   npm install --prefix /tmp/hp hyparquet@1.33.0
//   NODE_PATH=/tmp/hp/node_modules node read_parquet.mjs DIR > expected.json
import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { parquetMetadata, parquetReadObjects } = await import(require.resolve('hyparquet'))

function walk(dir) {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : (p.endsWith('.parquet') ? [p] : [])
  })
}

// BigInts (int64) become numbers: the test's ids and counts are small.
const plain = (v) => JSON.parse(JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x)))

const root = process.argv[2]
const files = []
for (const path of walk(root)) {
  const bytes = readFileSync(path)
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const meta = parquetMetadata(file)
  const kv = {}
  for (const { key, value } of meta.key_value_metadata || []) {
    if (key !== 'ARROW:schema') kv[key] = value
  }
  const rows = await parquetReadObjects({ file })
  files.push({
    path: relative(root, path),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    metadata: kv,
    rows: plain(rows),
  })
}
process.stdout.write(JSON.stringify({ reader: 'hyparquet 1.33.0', files }, null, 1) + '\n')
