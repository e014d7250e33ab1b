// Third-party reader for Hugging Face style Parquet dataset folders.
//
// Usage: node read_parquet.mjs DIR > expected.json
//
// Reads every *.parquet file under DIR (recursively, sorted by relative path
// in plain code-unit order) with the npm package `hyparquet` and prints one
// JSON document:
//
//   {"files": [{"path": "data/train-00000-of-00001.parquet",
//               "sha256": "<hex of the file bytes>",
//               "huggingface": <parsed `huggingface` key-value metadata, or null>,
//               "schema": [<one entry per Parquet schema element below the root>],
//               "rows": [<row objects>]}]}
//
// Value mapping (deterministic, lossless where JSON allows):
//   - BigInt (INT64 etc.): a JSON number when it is a safe integer
//     (|v| <= 2^53-1), otherwise a decimal string.
//   - Floats: JSON numbers (FLOAT columns show the exact float32 value as a
//     double, e.g. 0.1f -> 0.10000000149011612); NaN/Infinity/-Infinity are
//     written as the strings "NaN", "Infinity", "-Infinity"; -0 becomes 0.
//   - Byte arrays without a string annotation: {"$base64": "..."}.
//   - Dates/timestamps: ISO-8601 strings.
//   - undefined: null.
// Object keys keep the Parquet schema order; the output is pretty-printed
// with two-space indentation and ends with a newline.
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

// ESM ignores NODE_PATH, so resolve the package by hand: first the normal
// lookup (node_modules next to this file or above it), then every directory
// listed in NODE_PATH (either a node_modules dir or a project dir holding one).
async function importPkg(name) {
  try {
    return await import(name)
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err
    for (const dir of (process.env.NODE_PATH || '').split(path.delimiter).filter(Boolean)) {
      try {
        const resolved = createRequire(path.join(path.resolve(dir), '_')).resolve(name)
        return await import(pathToFileURL(resolved).href)
      } catch {}
    }
    throw new Error(`cannot find npm package '${name}': install it (npm install ${name}) and set NODE_PATH to its node_modules directory`)
  }
}

if (!process.argv[2] || process.argv.length > 3) {
  console.error('usage: node read_parquet.mjs DIR > expected.json')
  process.exit(2)
}

const { parquetMetadata, parquetReadObjects, parquetSchema } = await importPkg('hyparquet')

function listParquet(root) {
  const out = []
  const walk = rel => {
    const abs = rel ? path.join(root, rel) : root
    for (const ent of readdirSync(abs, { withFileTypes: true })) {
      const childRel = rel ? `${rel}/${ent.name}` : ent.name
      let isDir = ent.isDirectory()
      let isFile = ent.isFile()
      if (ent.isSymbolicLink()) {
        const st = statSync(path.join(root, childRel))
        isDir = st.isDirectory()
        isFile = st.isFile()
      }
      if (isDir) walk(childRel)
      else if (isFile && ent.name.endsWith('.parquet')) out.push(childRel)
    }
  }
  walk('')
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}

function normalize(v) {
  if (v === undefined || v === null) return null
  if (typeof v === 'bigint') {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()
  }
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN'
    if (v === Infinity) return 'Infinity'
    if (v === -Infinity) return '-Infinity'
    if (Object.is(v, -0)) return 0
    return v
  }
  if (typeof v === 'string' || typeof v === 'boolean') return v
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString()
  if (v instanceof Uint8Array) return { $base64: Buffer.from(v).toString('base64') }
  if (ArrayBuffer.isView(v)) return Array.from(v, normalize) // typed arrays
  if (Array.isArray(v)) return v.map(normalize)
  if (typeof v === 'object') {
    const o = {}
    for (const k of Object.keys(v)) o[k] = normalize(v[k])
    return o
  }
  return String(v)
}

const SCHEMA_FIELDS = [
  'type', 'type_length', 'repetition_type', 'converted_type', 'logical_type',
  'scale', 'precision', 'field_id', 'num_children',
]

function schemaEntries(metadata) {
  const out = []
  const visit = (node, prefix) => {
    for (const child of node.children) {
      const el = child.element
      const p = prefix ? `${prefix}.${el.name}` : el.name
      const entry = { path: p, name: el.name }
      for (const f of SCHEMA_FIELDS) if (el[f] !== undefined) entry[f] = normalize(el[f])
      out.push(entry)
      visit(child, p)
    }
  }
  visit(parquetSchema(metadata), '')
  return out
}

function huggingfaceMeta(metadata) {
  const kv = (metadata.key_value_metadata || []).find(e => e.key === 'huggingface')
  if (!kv || kv.value === undefined) return null
  try {
    return JSON.parse(kv.value)
  } catch {
    return { $unparsed: kv.value }
  }
}

async function readFile(root, rel) {
  const bytes = readFileSync(path.join(root, rel))
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
  const metadata = parquetMetadata(file)
  // utf8:false keeps un-annotated BYTE_ARRAY columns (datasets `binary`) as
  // bytes; STRING/UTF8-annotated columns are still decoded to strings.
  const rows = await parquetReadObjects({ file, metadata, utf8: false })
  return {
    path: rel,
    sha256,
    huggingface: huggingfaceMeta(metadata),
    schema: schemaEntries(metadata),
    rows: rows.map(normalize),
  }
}

async function main() {
  const root = process.argv[2]
  const files = []
  for (const rel of listParquet(root)) files.push(await readFile(root, rel))
  process.stdout.write(JSON.stringify({ files }, null, 2) + '\n')
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : String(err))
  process.exit(1)
})
